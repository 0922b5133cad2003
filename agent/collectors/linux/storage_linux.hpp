// Linux storage arrays and UPS monitoring (storage_linux.cpp), a part of the hardware collector.
#pragma once

#include "collectors/collector.hpp"

namespace dozor::agent {

// Appends the host's md arrays, ZFS pools and hardware RAID virtual drives to
// out->storage_arrays, and fills out->power (checked, and the UPSes NUT or apcupsd watch).
// Best effort: what cannot be read is left out or noted in out->unavailable; never fails.
// out->container must already be set (a container does not look for its host's UPS).
void CollectStorageAndPower(const CollectContext& ctx, dozor::v1::Hardware* out);

}  // namespace dozor::agent
