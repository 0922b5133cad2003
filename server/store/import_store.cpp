#include "store/import_store.hpp"

#include "dozor/common/crypto.hpp"

namespace dozor::server {

std::string ImportedAgentId(int64_t org_id, std::string_view machine_id) {
  const std::string key = std::to_string(org_id) + ":" + std::string(machine_id);
  return "snap-" + Sha256Hex(key).substr(0, 16);
}

}  // namespace dozor::server
