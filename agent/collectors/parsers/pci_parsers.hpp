// Pure helpers for the PCI inventory: sysfs id values, the PCI class names, and vendor/device
// names looked up in pci.ids while it streams past. No I/O here; linux/hardware_linux.cpp feeds
// them /sys/bus/pci/devices/<address>/ values and the pci.ids file in chunks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "collectors/parsers/text.hpp"

namespace dozor::agent {

// A sysfs id attribute ("0x8086\n") as lowercase hex without the prefix, zero-padded to `digits`
// ("8086"; class "0x010601" -> "010601"); "" when it is not a hex number of at most that many
// digits.
std::string NormalizePciId(std::string_view sysfs_value, size_t digits);

// A readable name for a 6-hex-digit class code: the subclass's where an auditor tells devices
// apart by it ("SATA controller", "NVMe controller", "RAID bus controller", "Ethernet controller",
// "USB controller", "VGA compatible controller", "PCI bridge", ...), else the base class's ("Mass
// storage controller", "Network controller", "Bridge", ...). "" for an unknown or malformed code.
std::string PciClassName(std::string_view class_code);

// Looks up the names of a known set of vendor and device ids in pci.ids (the pciutils database,
// "vvvv  Vendor" lines, "\tdddd  Device" lines under them, "\t\t" subsystem lines and the "C"
// class section at the end) fed in chunks of any size. Only the names asked for are kept, never
// the 1.3 MB file: memory is the wanted ids plus one line. A line longer than kMaxLineBytes is
// skipped; so is anything that does not look like pci.ids. Ids are 4 lowercase hex digits.
class PciIdsLookup {
 public:
  static constexpr size_t kMaxLineBytes = 1024;

  // vendor id -> the device ids wanted under it.
  using Wanted = std::map<std::string, std::set<std::string>>;
  explicit PciIdsLookup(Wanted wanted) : wanted_(std::move(wanted)) {}

  void Feed(std::string_view chunk);
  void Finish();

  // "" when pci.ids does not list it.
  [[nodiscard]] std::string VendorName(const std::string& vendor_id) const;
  [[nodiscard]] std::string DeviceName(const std::string& vendor_id,
                                       const std::string& device_id) const;

 private:
  void Line(std::string_view line);

  Wanted wanted_;
  std::map<std::string, std::string> vendor_names_;
  std::map<std::pair<std::string, std::string>, std::string> device_names_;
  std::string current_vendor_;  // the vendor whose device lines follow, "" when not wanted
  bool in_class_section_ = false;
  ChunkLineSplitter lines_{kMaxLineBytes};
};

}  // namespace dozor::agent
