#include "store/store.hpp"

namespace dozor::server {

bool IsValidContractStatus(std::string_view value) {
  return value == "prospect" || value == "remediation" || value == "active" || value == "ended";
}

bool IsValidContractType(std::string_view value) {
  return value == "technical" || value == "application" || value == "complex";
}

}  // namespace dozor::server
