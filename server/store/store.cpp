#include "store/store.hpp"

namespace dozor::server {

bool IsValidContractStatus(std::string_view value) {
  return value == "prospect" || value == "remediation" || value == "active" || value == "ended";
}

bool IsValidContractType(std::string_view value) {
  return value == "technical" || value == "application" || value == "complex";
}

bool IsAllowedContractMove(std::string_view from, std::string_view to) {
  // prospect -> remediation | active; remediation -> active | prospect; active -> ended;
  // ended -> prospect (re-audit of a former client).
  return (from == "prospect" && (to == "remediation" || to == "active")) ||
         (from == "remediation" && (to == "active" || to == "prospect")) ||
         (from == "active" && to == "ended") || (from == "ended" && to == "prospect");
}

}  // namespace dozor::server
