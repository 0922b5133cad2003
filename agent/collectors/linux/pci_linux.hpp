// Linux PCI devices and their drivers (pci_linux.cpp), a part of the hardware collector.
#pragma once

#include "collectors/collector.hpp"

namespace dozor::agent {

// Appends the PCI functions of /sys/bus/pci/devices (in address order, at most 512) to
// out->pci_devices with their ids, class, bound driver, and vendor and device names from
// pci.ids when it is installed. Best effort: no sysfs (a container) gives none; never fails.
void CollectPciDevices(const CollectContext& ctx, dozor::v1::Hardware* out);

}  // namespace dozor::agent
