#include "store/user_store.hpp"

#include "domain/user_profile.hpp"

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

Status CheckUserField(std::string_view value, std::string_view what, size_t max_bytes) {
  if (value.size() > max_bytes) {
    return MakeError(ErrorCode::kInvalidArgument, std::string(what) + " must be at most " +
                                                      std::to_string(max_bytes) + " bytes");
  }
  return OkStatus();
}

Status CheckNewUser(const NewUser& user) {
  if (user.login.empty() || user.login.size() > 64) {
    return MakeError(ErrorCode::kInvalidArgument, "login must be 1-64 bytes");
  }
  if (user.display_name.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "display_name must not be empty");
  }
  DOZOR_RETURN_IF_ERROR(CheckUserField(user.display_name, "display_name", kMaxUserFieldBytes));
  DOZOR_RETURN_IF_ERROR(CheckEmail(user.email));
  DOZOR_RETURN_IF_ERROR(CheckTelegramChatId(user.telegram_chat_id));
  DOZOR_RETURN_IF_ERROR(CheckTimeZone(user.time_zone));
  DOZOR_RETURN_IF_ERROR(CheckLanguage(user.language));
  if ((user.role == UserRole::kClient) != user.org_id.has_value()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "a client user needs its organisation (org); admins and engineers have none");
  }
  return OkStatus();
}

Status CheckUserPatch(const UserPatch& patch) {
  if (patch.display_name) {
    if (patch.display_name->empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "display_name must not be empty");
    }
    DOZOR_RETURN_IF_ERROR(CheckUserField(*patch.display_name, "display_name", kMaxUserFieldBytes));
  }
  if (patch.email) DOZOR_RETURN_IF_ERROR(CheckEmail(*patch.email));
  if (patch.telegram_chat_id) DOZOR_RETURN_IF_ERROR(CheckTelegramChatId(*patch.telegram_chat_id));
  if (patch.language) DOZOR_RETURN_IF_ERROR(CheckLanguage(*patch.language));
  if (patch.time_zone) DOZOR_RETURN_IF_ERROR(CheckTimeZone(*patch.time_zone));
  if (patch.quiet_hours) DOZOR_RETURN_IF_ERROR(CheckQuietHours(*patch.quiet_hours));
  return OkStatus();
}

}  // namespace dozor::server
