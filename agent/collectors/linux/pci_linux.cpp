#include "collectors/linux/pci_linux.hpp"

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "collectors/linux/fs_util.hpp"
#include "collectors/parsers/pci_parsers.hpp"

namespace dozor::agent {
namespace pci_linux {

namespace fs = std::filesystem;

// A server has tens of functions, a big one a few hundred (SR-IOV virtual functions add more):
// enough for an inventory without letting a pathological sysfs grow the message.
constexpr size_t kMaxPciDevices = 512;
constexpr size_t kMaxPciDirectoryEntries = 8192;
// pci.ids is about 1.3 MB today; a file many times that is not pciutils'.
constexpr size_t kMaxPciIdsBytes = 8 * 1024 * 1024;

// pciutils' own locations: Debian and Ubuntu (pci.ids package), RHEL/SUSE (hwdata).
constexpr const char* kPciIdsPaths[] = {"/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids",
                                        "/usr/share/pci.ids"};

std::string DriverName(const fs::path& device_dir) {
  std::error_code ec;
  fs::path target = fs::read_symlink(device_dir / "driver", ec);
  return ec ? std::string() : target.filename().string();
}

void NameDevices(const CollectContext& ctx, dozor::v1::Hardware* out, size_t first) {
  std::map<std::string, std::set<std::string>> wanted;
  for (int i = static_cast<int>(first); i < out->pci_devices_size(); ++i) {
    const dozor::v1::PciDevice& device = out->pci_devices(i);
    if (!device.vendor_id().empty()) {
      wanted[device.vendor_id()].insert(device.device_id());
    }
  }
  if (wanted.empty()) {
    return;
  }
  for (const char* candidate : kPciIdsPaths) {
    fs::path path = ctx.Path(candidate);
    if (!PathExists(path)) {
      continue;
    }
    PciIdsLookup lookup(std::move(wanted));
    Status read = ReadFileInChunks(path, kMaxPciIdsBytes,
                                   [&](std::string_view chunk) { lookup.Feed(chunk); });
    lookup.Finish();
    if (!read.ok() && read.error().code != ErrorCode::kResourceExhausted) {
      out->add_unavailable("pci.ids: " + read.error().message);
    }
    for (int i = static_cast<int>(first); i < out->pci_devices_size(); ++i) {
      dozor::v1::PciDevice* device = out->mutable_pci_devices(i);
      device->set_vendor_name(lookup.VendorName(device->vendor_id()));
      device->set_device_name(lookup.DeviceName(device->vendor_id(), device->device_id()));
    }
    return;  // the first pci.ids found is the one lspci uses
  }
}

}  // namespace pci_linux

void CollectPciDevices(const CollectContext& ctx, dozor::v1::Hardware* out) {
  namespace fs = std::filesystem;
  fs::path root = ctx.Path("/sys/bus/pci/devices");
  std::vector<std::string> names = ListNamesOrEmpty(root, pci_linux::kMaxPciDirectoryEntries);
  const size_t first = static_cast<size_t>(out->pci_devices_size());
  for (const std::string& name : names) {
    if (name.empty() || name.front() == '.') {
      continue;
    }
    if (static_cast<size_t>(out->pci_devices_size()) - first >= pci_linux::kMaxPciDevices) {
      out->add_unavailable("PCI devices: more than " + std::to_string(pci_linux::kMaxPciDevices) +
                           ", the rest left out");
      break;
    }
    fs::path dir = root / name;
    std::string vendor = NormalizePciId(ReadSysfsValue(dir / "vendor"), 4);
    if (vendor.empty()) {
      continue;  // not a PCI function's directory
    }
    dozor::v1::PciDevice* device = out->add_pci_devices();
    device->set_address(name);
    device->set_vendor_id(vendor);
    device->set_device_id(NormalizePciId(ReadSysfsValue(dir / "device"), 4));
    device->set_class_code(NormalizePciId(ReadSysfsValue(dir / "class"), 6));
    device->set_class_name(PciClassName(device->class_code()));
    device->set_subsystem_vendor_id(NormalizePciId(ReadSysfsValue(dir / "subsystem_vendor"), 4));
    device->set_subsystem_device_id(NormalizePciId(ReadSysfsValue(dir / "subsystem_device"), 4));
    device->set_driver(pci_linux::DriverName(dir));
  }
  pci_linux::NameDevices(ctx, out, first);
}

}  // namespace dozor::agent
