// Pure parsers for hardware inventory text: /proc/cpuinfo, /proc/meminfo,
// smartctl --json and DMI values. No I/O here; the Linux collector
// (linux/hardware_linux.cpp) feeds them file contents.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "dozor/common/result.hpp"
#include "dozor/v1/agent.pb.h"

namespace dozor::agent {

struct CpuInfo {
  std::string model;
  uint32_t sockets = 0;  // distinct "physical id"; 1 when the field is absent (ARM, VMs)
  uint32_t cores = 0;    // distinct (physical id, core id); = threads when core ids are absent
  uint32_t threads = 0;  // "processor" entries
  double mhz = 0;        // first "cpu MHz" value; 0 when not reported (most ARM kernels)
  bool hypervisor_flag = false;  // x86 "flags" contains "hypervisor"
  // The first processor's identity (x86): "vendor_id", "cpu family", "model", "stepping",
  // "cache size" (KiB) and "microcode"; empty / 0 when absent (ARM and most VMs' microcode).
  std::string vendor;
  uint32_t family = 0;
  uint32_t model_number = 0;
  uint32_t stepping = 0;
  uint32_t cache_kb = 0;
  std::string microcode;
};

// Never fails: unknown layouts give zero counts. Model falls back to
// "Hardware", "Processor", "cpu model", "cpu" and finally the ARM "CPU
// implementer"/"CPU part" ids.
CpuInfo ParseCpuinfo(std::string_view text);

// MemTotal in bytes; kInvalidArgument when the line is missing or malformed.
Result<uint64_t> ParseMeminfoTotal(std::string_view text);

// SwapTotal in bytes; 0 when the line is missing or malformed (no swap configured reads the
// same: "SwapTotal: 0 kB").
uint64_t ParseMeminfoSwapTotal(std::string_view text);

// The container runtime from what the kernel and the runtimes leave behind: /.dockerenv
// (docker), /run/.containerenv (podman), /run/systemd/container (written by systemd-nspawn, lxc,
// podman: its text), and PID 1's environment (NUL-separated, "container=lxc"). "" when none says
// so. A value is kept only when it is a short lower-case word, as the runtimes write it.
std::string DetectContainer(bool dockerenv, bool containerenv, std::string_view systemd_container,
                            std::string_view pid1_environ);

// Fills disk->smart_status, smart_message, smart_attributes, power_on_hours (-1
// unknown), temperature_c (-1000 unknown), and model/serial when they are still
// empty, from `smartctl --json -H -A -i` output. `exit_code` is smartctl's
// bitmask: the JSON is parsed whatever it is, the bits only add detail. NVMe
// health log fields become attributes with id 0 named after the smartctl key
// (media_errors, percentage_used, ...). kInvalidArgument (and smart_status
// "unknown") when the text is not smartctl JSON.
Status ParseSmartctlJson(std::string_view json, int exit_code, dozor::v1::BlockDevice* disk);

// "MM/DD/YYYY" (and "MM/DD/YY", 2-digit years < 70 are 20YY) -> "YYYY-MM-DD";
// values already in ISO form pass through; anything else is returned trimmed
// and unchanged.
std::string NormalizeBiosDate(std::string_view raw);

// SMBIOS chassis type number ("23") -> name ("Rack Mount Chassis"); unknown
// numbers stay as is.
std::string ChassisTypeName(std::string_view number);

// True for the filler strings firmware vendors leave in DMI ("To Be Filled By
// O.E.M.", ...).
bool IsPlaceholderDmiValue(std::string_view value);

// Hypervisor name from DMI vendor/product ("kvm", "vmware", "hyper-v", ...);
// empty for hardware.
std::string HypervisorFromDmi(std::string_view sys_vendor, std::string_view product_name,
                              std::string_view bios_vendor);

}  // namespace dozor::agent
