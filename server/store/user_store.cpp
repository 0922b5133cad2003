#include "store/user_store.hpp"

namespace dozor::server {

std::string_view ToString(AssignmentKind kind) {
  return kind == AssignmentKind::kPrimary ? "primary" : "backup";
}

std::optional<AssignmentKind> ParseAssignmentKind(std::string_view text) {
  if (text == "primary") return AssignmentKind::kPrimary;
  if (text == "backup") return AssignmentKind::kBackup;
  return std::nullopt;
}

std::string_view ToString(SessionKind kind) {
  return kind == SessionKind::kBrowser ? "browser" : "cli";
}

}  // namespace dozor::server
