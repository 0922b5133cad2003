#include "collectors/collector.hpp"
#include "collectors/linux/firewall_linux.hpp"

namespace dozor::agent {

// The common collectors, then "security": on Linux the host firewall's ruleset.
std::vector<InventoryCollector> PlatformInventoryCollectors() {
  std::vector<InventoryCollector> collectors = CommonInventoryCollectors();
  collectors.push_back({"security", [](const CollectContext& ctx, dozor::v1::Inventory* inventory) {
                          return CollectHostFirewall(ctx, inventory->mutable_security());
                        }});
  return collectors;
}

}  // namespace dozor::agent
