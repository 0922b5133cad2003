#include "collectors/collector.hpp"

namespace dozor::agent {

std::vector<InventoryCollector> CommonInventoryCollectors() {
  return {
      {"hardware",
       [](const CollectContext& ctx, dozor::v1::Inventory* inventory) {
         return CollectHardware(ctx, inventory->mutable_hardware());
       }},
      {"os",
       [](const CollectContext& ctx, dozor::v1::Inventory* inventory) {
         return CollectOperatingSystem(ctx, inventory->mutable_os());
       }},
      {"network",
       [](const CollectContext& ctx, dozor::v1::Inventory* inventory) {
         return CollectNetwork(ctx, inventory->mutable_network());
       }},
      {"software",
       [](const CollectContext& ctx, dozor::v1::Inventory* inventory) {
         return CollectSoftware(ctx, inventory->mutable_software());
       }},
  };
}

}  // namespace dozor::agent
