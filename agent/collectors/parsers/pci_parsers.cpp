#include "collectors/parsers/pci_parsers.hpp"

#include <algorithm>

#include "collectors/parsers/text.hpp"

namespace dozor::agent {
namespace pci_detail {

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool IsHexId(std::string_view text, size_t digits) {
  return text.size() == digits && std::all_of(text.begin(), text.end(), IsHexDigit);
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// pci.ids "id  Name": the id, two blanks, the name (the file uses exactly two spaces; a tab or
// single space is tolerated). False when the line does not start with a `digits`-long hex id.
bool SplitIdLine(std::string_view line, size_t digits, std::string* id, std::string_view* name) {
  if (line.size() <= digits || !IsHexId(line.substr(0, digits), digits) ||
      (line[digits] != ' ' && line[digits] != '\t')) {
    return false;
  }
  *id = Lower(line.substr(0, digits));
  *name = Trim(line.substr(digits));
  return true;
}

struct ClassName {
  uint32_t code;  // class << 8 | subclass, or class << 8 | 0xff for the base class's name
  const char* name;
};

// The PCI SIG's class codes (pci.ids "C" section names). Subclasses only where the kind of device
// matters to an inventory reader: storage interfaces, network kinds, displays, bridges, USB.
constexpr ClassName kClassNames[] = {
    {0x00ff, "Unclassified device"},
    {0x01ff, "Mass storage controller"},
    {0x0100, "SCSI storage controller"},
    {0x0101, "IDE interface"},
    {0x0104, "RAID bus controller"},
    {0x0106, "SATA controller"},
    {0x0107, "Serial Attached SCSI controller"},
    {0x0108, "Non-Volatile memory controller"},
    {0x02ff, "Network controller"},
    {0x0200, "Ethernet controller"},
    {0x0207, "Infiniband controller"},
    {0x0280, "Network controller"},
    {0x03ff, "Display controller"},
    {0x0300, "VGA compatible controller"},
    {0x0302, "3D controller"},
    {0x04ff, "Multimedia controller"},
    {0x0403, "Audio device"},
    {0x05ff, "Memory controller"},
    {0x06ff, "Bridge"},
    {0x0600, "Host bridge"},
    {0x0601, "ISA bridge"},
    {0x0604, "PCI bridge"},
    {0x07ff, "Communication controller"},
    {0x0700, "Serial controller"},
    {0x08ff, "Generic system peripheral"},
    {0x09ff, "Input device controller"},
    {0x0aff, "Docking station"},
    {0x0bff, "Processor"},
    {0x0cff, "Serial bus controller"},
    {0x0c03, "USB controller"},
    {0x0c05, "SMBus"},
    {0x0c04, "Fibre Channel"},
    {0x0dff, "Wireless controller"},
    {0x0eff, "Intelligent controller"},
    {0x0fff, "Satellite communications controller"},
    {0x10ff, "Encryption controller"},
    {0x11ff, "Signal processing controller"},
    {0x12ff, "Processing accelerators"},
    {0x13ff, "Non-Essential Instrumentation"},
    {0x40ff, "Coprocessor"},
};

const char* FindClassName(uint32_t code) {
  for (const ClassName& entry : kClassNames) {
    if (entry.code == code) return entry.name;
  }
  return nullptr;
}

}  // namespace pci_detail

std::string NormalizePciId(std::string_view sysfs_value, size_t digits) {
  std::string_view value = Trim(sysfs_value);
  if (value.starts_with("0x") || value.starts_with("0X")) value.remove_prefix(2);
  if (value.empty() || value.size() > digits ||
      !std::all_of(value.begin(), value.end(), pci_detail::IsHexDigit)) {
    return {};
  }
  return std::string(digits - value.size(), '0') + pci_detail::Lower(value);
}

std::string PciClassName(std::string_view class_code) {
  if (!pci_detail::IsHexId(class_code, 6)) return {};
  uint32_t base = 0;
  uint32_t sub = 0;
  if (!ParseNumber(class_code.substr(0, 2), &base, 16) ||
      !ParseNumber(class_code.substr(2, 2), &sub, 16)) {
    return {};
  }
  if (const char* name = pci_detail::FindClassName(base << 8 | sub)) return name;
  if (const char* name = pci_detail::FindClassName(base << 8 | 0xff)) return name;
  return {};
}

void PciIdsLookup::Feed(std::string_view chunk) {
  // No pci.ids line is longer than kMaxLineBytes: such a line is not worth holding.
  lines_.Feed(
      chunk, [this](std::string_view line) { Line(line); }, [] {});
}

void PciIdsLookup::Finish() {
  lines_.Finish([this](std::string_view line) { Line(line); });
}

void PciIdsLookup::Line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty() || line.front() == '#' || in_class_section_) return;
  if (line.starts_with("C ")) {
    // The class section closes the vendor list; its "\t01  ..." lines are not devices.
    in_class_section_ = true;
    current_vendor_.clear();
    return;
  }
  std::string id;
  std::string_view name;
  if (line.front() != '\t') {
    current_vendor_.clear();
    if (!pci_detail::SplitIdLine(line, 4, &id, &name) || wanted_.count(id) == 0) return;
    vendor_names_[id] = std::string(name);
    current_vendor_ = std::move(id);
    return;
  }
  if (current_vendor_.empty() || line.size() < 2 || line[1] == '\t') return;  // subsystem lines
  if (!pci_detail::SplitIdLine(line.substr(1), 4, &id, &name)) return;
  const std::set<std::string>& devices = wanted_[current_vendor_];
  if (devices.count(id) > 0) device_names_[{current_vendor_, id}] = std::string(name);
}

std::string PciIdsLookup::VendorName(const std::string& vendor_id) const {
  auto it = vendor_names_.find(vendor_id);
  return it == vendor_names_.end() ? std::string() : it->second;
}

std::string PciIdsLookup::DeviceName(const std::string& vendor_id,
                                     const std::string& device_id) const {
  auto it = device_names_.find({vendor_id, device_id});
  return it == device_names_.end() ? std::string() : it->second;
}

}  // namespace dozor::agent
