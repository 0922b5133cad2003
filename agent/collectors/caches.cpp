#include "collectors/caches.hpp"

namespace dozor::agent {

void DropCollectorCaches() { DropPendingUpdatesCache(); }

}  // namespace dozor::agent
