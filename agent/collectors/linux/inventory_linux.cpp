#include "collectors/collector.hpp"

namespace dozor::agent {

std::vector<InventoryCollector> PlatformInventoryCollectors() {
  return CommonInventoryCollectors();
}

}  // namespace dozor::agent
