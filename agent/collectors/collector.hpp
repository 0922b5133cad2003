// What every collector gets, and the table of inventory collectors.
//
// Collectors read the machine only through CollectContext: every path is resolved under `root`
// (default "/") and every external command goes through `run_command`
// (platform/command_runner.hpp), so tests run collectors on fixture trees under tests/fixtures/
// with canned command output.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "dozor/common/clock.hpp"
#include "dozor/common/result.hpp"
#include "dozor/v1/agent.pb.h"
#include "platform/command_runner.hpp"

namespace dozor::agent {

struct CollectContext {
  std::filesystem::path root = "/";
  const Clock* clock = &SystemClock::Instance();
  CommandRunner run_command;  // empty: no external commands available
  bool collect_smart = true;  // run smartctl per disk (config collectors.smart)

  // "/proc/cpuinfo" -> root/proc/cpuinfo
  [[nodiscard]] std::filesystem::path Path(std::string_view absolute) const {
    std::string_view relative = absolute;
    while (!relative.empty() && relative.front() == '/') relative.remove_prefix(1);
    return root / relative;
  }
  [[nodiscard]] bool IsRealRoot() const { return root == "/"; }
};

// Platform collectors: each fills its part of the inventory. Implemented per OS in
// linux/*_linux.cpp and windows/*_windows.cpp; declared once here.
Status CollectHardware(const CollectContext& ctx, dozor::v1::Hardware* out);
Status CollectOperatingSystem(const CollectContext& ctx, dozor::v1::OperatingSystem* out);
Status CollectNetwork(const CollectContext& ctx, dozor::v1::Network* out);
Status CollectSoftware(const CollectContext& ctx, dozor::v1::Software* out);

// One inventory collector: fills its own part of the inventory it is given, nothing else.
struct InventoryCollector {
  std::string name;
  std::function<Status(const CollectContext&, dozor::v1::Inventory*)> collect;
};

// This platform's inventory collectors, in the order they run (linux/inventory_linux.cpp,
// windows/inventory_windows.cpp: Windows adds "security"). They are run, each in isolation and
// with a deadline, by core/collector_supervisor.hpp.
std::vector<InventoryCollector> PlatformInventoryCollectors();

// The collectors every OS has (hardware, os, network, software; collectors/inventory.cpp), in
// order: what PlatformInventoryCollectors starts from.
std::vector<InventoryCollector> CommonInventoryCollectors();

}  // namespace dozor::agent
