#include "collectors/parsers/hardware_parsers.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <utility>

#include "collectors/parsers/text.hpp"

namespace dozor::agent {
namespace {

constexpr size_t kMaxSmartctlJsonBytes = 16 * 1024 * 1024;

// Numbers in cpuinfo and DMI text may carry blanks, and hex ids a "0x" prefix.
template <typename T>
bool ParseLooseNumber(std::string_view text, T* out, int base = 10) {
  text = Trim(text);
  if (base == 16 && (text.starts_with("0x") || text.starts_with("0X"))) {
    text.remove_prefix(2);
  }
  return ParseNumber(text, out, base);
}

std::string ArmImplementerName(uint32_t implementer) {
  switch (implementer) {
    case 0x41:
      return "ARM";
    case 0x42:
      return "Broadcom";
    case 0x43:
      return "Cavium";
    case 0x46:
      return "Fujitsu";
    case 0x48:
      return "HiSilicon";
    case 0x4e:
      return "NVIDIA";
    case 0x50:
      return "APM";
    case 0x51:
      return "Qualcomm";
    case 0x61:
      return "Apple";
    case 0xc0:
      return "Ampere";
    default:
      return "";
  }
}

std::string ArmPartName(uint32_t implementer, uint32_t part) {
  if (implementer == 0x41) {
    switch (part) {
      case 0xd03:
        return "Cortex-A53";
      case 0xd04:
        return "Cortex-A35";
      case 0xd05:
        return "Cortex-A55";
      case 0xd07:
        return "Cortex-A57";
      case 0xd08:
        return "Cortex-A72";
      case 0xd09:
        return "Cortex-A73";
      case 0xd0a:
        return "Cortex-A75";
      case 0xd0b:
        return "Cortex-A76";
      case 0xd0c:
        return "Neoverse-N1";
      case 0xd40:
        return "Neoverse-V1";
      case 0xd49:
        return "Neoverse-N2";
      case 0xd4f:
        return "Neoverse-V2";
      default:
        return "";
    }
  }
  if (implementer == 0xc0 && part == 0xac3) {
    return "Ampere-1";
  }
  return "";
}

struct CpuinfoScratch {
  std::string model_name, hardware, processor_name, cpu_model, cpu;
  uint32_t arm_implementer = 0, arm_part = 0;
  bool have_arm_ids = false;
};

}  // namespace

CpuInfo ParseCpuinfo(std::string_view text) {
  CpuInfo info;
  CpuinfoScratch scratch;
  std::set<std::string> physical_ids;
  std::set<std::pair<std::string, std::string>> cores;
  // Per-processor block state: "physical id" and "core id" belong to the block
  // they appear in.
  std::string physical_id, core_id;
  bool in_block = false;
  bool mhz_seen = false;
  auto finish_block = [&] {
    if (!in_block) {
      return;
    }
    if (!physical_id.empty()) {
      physical_ids.insert(physical_id);
    }
    if (!core_id.empty()) {
      cores.emplace(physical_id, core_id);
    }
    physical_id.clear();
    core_id.clear();
    in_block = false;
  };

  ForEachLine(text, [&](std::string_view line) {
    std::string_view key, value;
    if (!SplitKeyValue(line, ':', &key, &value)) {
      return;
    }
    if (key == "processor") {
      uint32_t index = 0;
      if (ParseLooseNumber(value, &index)) {
        finish_block();
        in_block = true;
        ++info.threads;
        return;
      }
      // Old 32-bit ARM kernels: "processor : 0" blocks plus a "Processor :
      // ARMv7 ..." model line (different case); anything non-numeric here is
      // treated as a model name.
      if (scratch.processor_name.empty()) {
        scratch.processor_name = value;
      }
      return;
    }
    if (key == "physical id") {
      physical_id = value;
    } else if (key == "core id") {
      core_id = value;
    } else if (key == "model name" && scratch.model_name.empty()) {
      scratch.model_name = value;
    } else if (key == "Hardware" && scratch.hardware.empty()) {
      scratch.hardware = value;
    } else if (key == "Processor" && scratch.processor_name.empty()) {
      scratch.processor_name = value;
    } else if (key == "cpu model" && scratch.cpu_model.empty()) {
      scratch.cpu_model = value;
    } else if (key == "cpu" && scratch.cpu.empty()) {
      scratch.cpu = value;
    } else if (key == "cpu MHz" && !mhz_seen) {
      double mhz = 0;
      if (ParseLooseNumber(value, &mhz)) {
        info.mhz = mhz;
        mhz_seen = true;
      }
    } else if (key == "vendor_id" && info.vendor.empty()) {
      info.vendor = value.substr(0, 64);
    } else if (key == "cpu family" && info.family == 0) {
      ParseLooseNumber(value, &info.family);
    } else if (key == "model" && info.model_number == 0) {
      ParseLooseNumber(value, &info.model_number);
    } else if (key == "stepping" && info.stepping == 0) {
      ParseLooseNumber(value, &info.stepping);
    } else if (key == "cache size" && info.cache_kb == 0) {
      // "8192 KB" (x86); other units are not what the kernel prints here.
      std::string_view size = value;
      if (size.ends_with("KB")) size = Trim(size.substr(0, size.size() - 2));
      ParseLooseNumber(size, &info.cache_kb);
    } else if (key == "microcode" && info.microcode.empty()) {
      info.microcode = value.substr(0, 32);
    } else if (key == "CPU implementer" && !scratch.have_arm_ids) {
      scratch.have_arm_ids = ParseLooseNumber(value, &scratch.arm_implementer, 16);
    } else if (key == "CPU part" && scratch.have_arm_ids && scratch.arm_part == 0) {
      ParseLooseNumber(value, &scratch.arm_part, 16);
    } else if (key == "flags") {
      // Word match: "hypervisor" must not be a substring of another flag.
      if (ContainsWord(value, "hypervisor")) {
        info.hypervisor_flag = true;
      }
    }
  });
  finish_block();

  if (!scratch.model_name.empty()) {
    info.model = scratch.model_name;
  } else if (!scratch.hardware.empty()) {
    info.model = scratch.hardware;
  } else if (!scratch.processor_name.empty()) {
    info.model = scratch.processor_name;
  } else if (!scratch.cpu_model.empty()) {
    info.model = scratch.cpu_model;
  } else if (!scratch.cpu.empty()) {
    info.model = scratch.cpu;
  } else if (scratch.have_arm_ids) {
    std::string vendor = ArmImplementerName(scratch.arm_implementer);
    std::string part = ArmPartName(scratch.arm_implementer, scratch.arm_part);
    if (!vendor.empty() && !part.empty()) {
      info.model = vendor + " " + part;
    } else {
      char part_id[16];
      std::snprintf(part_id, sizeof(part_id), "0x%03x", scratch.arm_part);
      char implementer_id[16];
      std::snprintf(implementer_id, sizeof(implementer_id), "0x%02x", scratch.arm_implementer);
      info.model = (vendor.empty() ? std::string("ARM implementer ") + implementer_id : vendor) +
                   " part " + part_id;
    }
  }

  if (info.threads > 0) {
    info.sockets = physical_ids.empty() ? 1 : static_cast<uint32_t>(physical_ids.size());
    info.cores = cores.empty() ? info.threads : static_cast<uint32_t>(cores.size());
  }
  return info;
}

Result<uint64_t> ParseMeminfoTotal(std::string_view text) {
  std::optional<uint64_t> total;
  ForEachLine(text, [&](std::string_view line) {
    if (total || !line.starts_with("MemTotal:")) {
      return;
    }
    std::string_view rest = Trim(line.substr(9));
    uint64_t multiplier = 1;
    if (rest.ends_with("kB")) {
      multiplier = 1024;
      rest = Trim(rest.substr(0, rest.size() - 2));
    }
    uint64_t value = 0;
    if (ParseLooseNumber(rest, &value) &&
        value <= std::numeric_limits<uint64_t>::max() / multiplier) {
      total = value * multiplier;
    }
  });
  if (!total) {
    return MakeError(ErrorCode::kInvalidArgument, "meminfo: no valid MemTotal line");
  }
  return *total;
}

uint64_t ParseMeminfoSwapTotal(std::string_view text) {
  uint64_t total = 0;
  ForEachLine(text, [&](std::string_view line) {
    if (total != 0 || !line.starts_with("SwapTotal:")) {
      return;
    }
    std::string_view rest = Trim(line.substr(10));
    if (!rest.ends_with("kB")) {
      return;
    }
    uint64_t kib = 0;
    if (ParseLooseNumber(Trim(rest.substr(0, rest.size() - 2)), &kib) &&
        kib <= std::numeric_limits<uint64_t>::max() / 1024) {
      total = kib * 1024;
    }
  });
  return total;
}

std::string DetectContainer(bool dockerenv, bool containerenv, std::string_view systemd_container,
                            std::string_view pid1_environ) {
  auto plausible = [](std::string_view name) {
    return !name.empty() && name.size() <= 32 && std::all_of(name.begin(), name.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
  };
  std::string_view told = Trim(systemd_container);
  if (plausible(told)) return std::string(told);
  std::string_view environ_value;
  ForEachWord(
      pid1_environ, [](char c) { return c == '\0'; },
      [&](std::string_view entry) {
        if (entry.starts_with("container=")) {
          environ_value = entry.substr(10);
          return false;
        }
        return true;
      });
  if (plausible(environ_value)) return std::string(environ_value);
  if (containerenv) return "podman";
  if (dockerenv) return "docker";
  return "";
}

namespace {

using nlohmann::json;

int64_t JsonInt(const json& value, int64_t fallback) {
  if (value.is_number_unsigned()) {
    uint64_t raw = value.get<uint64_t>();
    return raw > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
               ? std::numeric_limits<int64_t>::max()
               : static_cast<int64_t>(raw);
  }
  if (value.is_number_integer()) {
    return value.get<int64_t>();
  }
  if (value.is_number_float()) {
    return static_cast<int64_t>(value.get<double>());
  }
  return fallback;
}

const json* Child(const json& object, const char* key) {
  if (!object.is_object()) {
    return nullptr;
  }
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string JsonString(const json& object, const char* key) {
  const json* value = Child(object, key);
  return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
}

uint32_t ClampU32(int64_t value) {
  return static_cast<uint32_t>(std::clamp<int64_t>(value, 0, std::numeric_limits<uint32_t>::max()));
}

constexpr const char* kNvmeHealthKeys[] = {
    "critical_warning",   "available_spare",     "available_spare_threshold", "percentage_used",
    "media_errors",       "num_err_log_entries", "unsafe_shutdowns",          "power_cycles",
    "data_units_written", "data_units_read",
};

}  // namespace

Status ParseSmartctlJson(std::string_view text, int exit_code, dozor::v1::BlockDevice* disk) {
  disk->set_power_on_hours(-1);
  disk->set_temperature_c(-1000);
  disk->clear_smart_attributes();
  if (text.size() > kMaxSmartctlJsonBytes) {
    disk->set_smart_status("unknown");
    disk->set_smart_message("smartctl output too large");
    return MakeError(ErrorCode::kResourceExhausted, "smartctl output too large");
  }
  json doc = json::parse(text.begin(), text.end(), nullptr,
                         /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    disk->set_smart_status("unknown");
    disk->set_smart_message("smartctl output is not JSON (exit status " +
                            std::to_string(exit_code) + ")");
    return MakeError(ErrorCode::kInvalidArgument, "smartctl output is not JSON");
  }

  // Error messages smartctl attached (permission denied, unknown USB bridge,
  // ...).
  std::string messages;
  if (const json* smartctl = Child(doc, "smartctl"); smartctl != nullptr) {
    if (const json* list = Child(*smartctl, "messages"); list != nullptr && list->is_array()) {
      for (const json& message : *list) {
        std::string line = JsonString(message, "string");
        if (!line.empty()) {
          AppendJoined(&messages, line);
        }
      }
    }
  }

  if (disk->model().empty()) {
    disk->set_model(JsonString(doc, "model_name"));
  }
  if (disk->serial().empty()) {
    disk->set_serial(JsonString(doc, "serial_number"));
  }

  bool smart_unsupported = false;
  if (const json* support = Child(doc, "smart_support"); support != nullptr) {
    const json* available = Child(*support, "available");
    smart_unsupported = available != nullptr && available->is_boolean() && !available->get<bool>();
  }

  std::string status = "unknown";
  if (const json* smart_status = Child(doc, "smart_status"); smart_status != nullptr) {
    const json* passed = Child(*smart_status, "passed");
    if (passed != nullptr && passed->is_boolean()) {
      status = passed->get<bool>() ? "passed" : "failed";
    }
  }
  constexpr int kDiskFailingBit = 1 << 3;
  if (status == "unknown" && (exit_code & kDiskFailingBit) != 0) {
    status = "failed";
  } else if (status == "unknown" && smart_unsupported) {
    status = "not_supported";
  }

  if (const json* ata = Child(doc, "ata_smart_attributes"); ata != nullptr) {
    if (const json* table = Child(*ata, "table"); table != nullptr && table->is_array()) {
      for (const json& row : *table) {
        if (!row.is_object()) {
          continue;
        }
        auto* attribute = disk->add_smart_attributes();
        const json* id = Child(row, "id");
        attribute->set_id(id != nullptr ? ClampU32(JsonInt(*id, 0)) : 0);
        attribute->set_name(JsonString(row, "name"));
        const json* value = Child(row, "value");
        const json* worst = Child(row, "worst");
        const json* thresh = Child(row, "thresh");
        attribute->set_value(value != nullptr ? ClampU32(JsonInt(*value, 0)) : 0);
        attribute->set_worst(worst != nullptr ? ClampU32(JsonInt(*worst, 0)) : 0);
        attribute->set_threshold(thresh != nullptr ? ClampU32(JsonInt(*thresh, 0)) : 0);
        if (const json* raw = Child(row, "raw"); raw != nullptr) {
          if (const json* raw_value = Child(*raw, "value"); raw_value != nullptr) {
            attribute->set_raw(JsonInt(*raw_value, 0));
          }
        }
      }
    }
  }

  if (const json* nvme = Child(doc, "nvme_smart_health_information_log"); nvme != nullptr) {
    for (const char* key : kNvmeHealthKeys) {
      const json* value = Child(*nvme, key);
      if (value == nullptr || !value->is_number()) {
        continue;
      }
      auto* attribute = disk->add_smart_attributes();
      attribute->set_id(0);
      attribute->set_name(key);
      attribute->set_raw(JsonInt(*value, 0));
    }
    if (const json* hours = Child(*nvme, "power_on_hours"); hours != nullptr) {
      disk->set_power_on_hours(JsonInt(*hours, -1));
    }
    if (const json* temperature = Child(*nvme, "temperature"); temperature != nullptr) {
      disk->set_temperature_c(static_cast<int32_t>(JsonInt(*temperature, -1000)));
    }
    const json* warning = Child(*nvme, "critical_warning");
    if (status == "unknown" && warning != nullptr && JsonInt(*warning, 0) != 0) {
      status = "failed";
    }
  }

  if (const json* power_on = Child(doc, "power_on_time"); power_on != nullptr) {
    if (const json* hours = Child(*power_on, "hours"); hours != nullptr) {
      disk->set_power_on_hours(JsonInt(*hours, -1));
    }
  }
  if (const json* temperature = Child(doc, "temperature"); temperature != nullptr) {
    if (const json* current = Child(*temperature, "current"); current != nullptr) {
      int64_t celsius = JsonInt(*current, -1000);
      disk->set_temperature_c(static_cast<int32_t>(std::clamp<int64_t>(celsius, -1000, 1000)));
    }
  }

  disk->set_smart_status(status);
  if (status == "not_supported" && messages.empty()) {
    messages = "device does not support SMART";
  }
  disk->set_smart_message(messages);
  return OkStatus();
}

std::string NormalizeBiosDate(std::string_view raw) {
  std::string_view text = Trim(raw);
  int year = 0, month = 0, day = 0;
  auto valid = [&] { return month >= 1 && month <= 12 && day >= 1 && day <= 31 && year >= 1970; };
  // ISO already: YYYY-MM-DD.
  if (text.size() == 10 && text[4] == '-' && text[7] == '-' &&
      ParseLooseNumber(text.substr(0, 4), &year) && ParseLooseNumber(text.substr(5, 2), &month) &&
      ParseLooseNumber(text.substr(8, 2), &day) && valid()) {
    return std::string(text);
  }
  size_t first = text.find('/');
  size_t second = first == std::string_view::npos ? first : text.find('/', first + 1);
  if (second != std::string_view::npos && ParseLooseNumber(text.substr(0, first), &month) &&
      ParseLooseNumber(text.substr(first + 1, second - first - 1), &day)) {
    std::string_view year_text = text.substr(second + 1);
    if (ParseLooseNumber(year_text, &year) && (year_text.size() == 4 || year_text.size() == 2)) {
      if (year_text.size() == 2) {
        year += year < 70 ? 2000 : 1900;
      }
      if (valid()) {
        char buffer[48];
        std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02d", year, month, day);
        return buffer;
      }
    }
  }
  return std::string(text);
}

std::string ChassisTypeName(std::string_view number) {
  static constexpr const char* kNames[] = {"",  // 0 is not defined
                                           "Other",
                                           "Unknown",
                                           "Desktop",
                                           "Low Profile Desktop",
                                           "Pizza Box",
                                           "Mini Tower",
                                           "Tower",
                                           "Portable",
                                           "Laptop",
                                           "Notebook",
                                           "Hand Held",
                                           "Docking Station",
                                           "All in One",
                                           "Sub Notebook",
                                           "Space-saving",
                                           "Lunch Box",
                                           "Main Server Chassis",
                                           "Expansion Chassis",
                                           "SubChassis",
                                           "Bus Expansion Chassis",
                                           "Peripheral Chassis",
                                           "RAID Chassis",
                                           "Rack Mount Chassis",
                                           "Sealed-case PC",
                                           "Multi-system chassis",
                                           "Compact PCI",
                                           "Advanced TCA",
                                           "Blade",
                                           "Blade Enclosure",
                                           "Tablet",
                                           "Convertible",
                                           "Detachable",
                                           "IoT Gateway",
                                           "Embedded PC",
                                           "Mini PC",
                                           "Stick PC"};
  uint32_t index = 0;
  if (ParseLooseNumber(number, &index) && index >= 1 && index < std::size(kNames)) {
    return kNames[index];
  }
  return std::string(Trim(number));
}

bool IsPlaceholderDmiValue(std::string_view value) {
  std::string lowered(Trim(value));
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static constexpr std::string_view kPlaceholders[] = {"",
                                                       "to be filled by o.e.m.",
                                                       "default string",
                                                       "not specified",
                                                       "not applicable",
                                                       "system serial number",
                                                       "system product name",
                                                       "system manufacturer",
                                                       "base board serial number",
                                                       "0123456789",
                                                       "none",
                                                       "n/a",
                                                       "o.e.m.",
                                                       "oem",
                                                       "00000000-0000-0000-0000-000000000000",
                                                       "03000200-0400-0500-0006-000700080009"};
  return std::find(std::begin(kPlaceholders), std::end(kPlaceholders), lowered) !=
         std::end(kPlaceholders);
}

std::string HypervisorFromDmi(std::string_view sys_vendor, std::string_view product_name,
                              std::string_view bios_vendor) {
  auto contains = [](std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
  };
  if (contains(sys_vendor, "VMware") || contains(product_name, "VMware")) {
    return "vmware";
  }
  if (contains(sys_vendor, "innotek") || contains(product_name, "VirtualBox")) {
    return "virtualbox";
  }
  if (contains(sys_vendor, "Microsoft Corporation") && contains(product_name, "Virtual Machine")) {
    return "hyper-v";
  }
  if (contains(sys_vendor, "Xen") || contains(bios_vendor, "Xen")) {
    return "xen";
  }
  if (contains(sys_vendor, "Parallels")) {
    return "parallels";
  }
  if (contains(sys_vendor, "Amazon EC2")) {
    return "amazon";
  }
  if (contains(sys_vendor, "Google") || contains(product_name, "Google Compute Engine")) {
    return "google";
  }
  if (contains(sys_vendor, "QEMU") || contains(product_name, "KVM") ||
      contains(product_name, "OpenStack") || contains(sys_vendor, "OpenStack") ||
      contains(sys_vendor, "DigitalOcean") || contains(bios_vendor, "SeaBIOS") ||
      contains(sys_vendor, "Red Hat") || contains(bios_vendor, "EFI Development Kit II") ||
      contains(sys_vendor, "Bochs")) {
    return "kvm";
  }
  return "";
}

}  // namespace dozor::agent
