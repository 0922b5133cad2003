// The Windows inventory collectors: each builds a windows::Machine (the live sources, or a capture
// under ctx.root for `dozor-agent collect --root`) and hands it to the part's builder
// (collectors/windows_model/windows_inventory.hpp), where all the logic lives.
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "collectors/caches.hpp"
#include "collectors/collector.hpp"
#include "collectors/windows/file_source_windows.hpp"
#include "collectors/windows/registry_source_windows.hpp"
#include "collectors/windows/security_windows.hpp"
#include "collectors/windows/system_source_windows.hpp"
#include "collectors/windows/wmi_source_windows.hpp"
#include "collectors/windows_model/fixture_machine.hpp"
#include "collectors/windows_model/windows_inventory.hpp"

namespace dozor::agent {
namespace {

// The live machine's sources for one collector run, created and destroyed on the collector's
// thread (the WMI source joins that thread to COM for the run). The update cache behind
// Win32System is process-wide; the rest is cheap to make per run.
struct LiveMachine {
  windows::WmiCimSource cim;
  windows::Win32Registry registry;
  windows::Win32Files files;
  windows::Win32System system;
};

// Runs `build` on the machine ctx describes. No exception leaves a collector: a builder's
// surprise (a JSON type error on an odd WMI value, no memory) becomes the part's error.
template <typename Build>
Status WithMachine(const CollectContext& ctx, std::string_view part, Build&& build) {
  try {
    const int64_t now_s = ctx.clock->NowSeconds();
    if (ctx.IsRealRoot()) {
      LiveMachine live;
      windows::Machine machine{.cim = &live.cim,
                               .registry = &live.registry,
                               .files = &live.files,
                               .system = &live.system,
                               .now_s = now_s};
      return build(machine);
    }
    DOZOR_ASSIGN_OR_RETURN(std::unique_ptr<windows::FixtureMachine> fixture,
                           windows::FixtureMachine::Open(ctx.root, now_s));
    windows::Machine machine = fixture->machine();
    return build(machine);
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, std::string(part) + " collector failed: " + e.what());
  }
}

}  // namespace

Status CollectHardware(const CollectContext& ctx, dozor::v1::Hardware* out) {
  return WithMachine(ctx, "hardware", [out](windows::Machine& machine) {
    return windows::BuildHardware(machine, out);
  });
}

Status CollectOperatingSystem(const CollectContext& ctx, dozor::v1::OperatingSystem* out) {
  return WithMachine(ctx, "os", [out](windows::Machine& machine) {
    return windows::BuildOperatingSystem(machine, out);
  });
}

Status CollectNetwork(const CollectContext& ctx, dozor::v1::Network* out) {
  return WithMachine(ctx, "network", [out](windows::Machine& machine) {
    return windows::BuildNetwork(machine, out);
  });
}

Status CollectSoftware(const CollectContext& ctx, dozor::v1::Software* out) {
  return WithMachine(ctx, "software", [out](windows::Machine& machine) {
    return windows::BuildSoftware(machine, out);
  });
}

Status CollectSecurity(const CollectContext& ctx, dozor::v1::Security* out) {
  return WithMachine(ctx, "security", [out](windows::Machine& machine) {
    return windows::BuildSecurity(machine, out);
  });
}

std::vector<InventoryCollector> PlatformInventoryCollectors() {
  std::vector<InventoryCollector> collectors = CommonInventoryCollectors();
  collectors.push_back({"security", [](const CollectContext& ctx, dozor::v1::Inventory* inventory) {
                          return CollectSecurity(ctx, inventory->mutable_security());
                        }});
  return collectors;
}

void DropPendingUpdatesCache() {
  // Only the update titles go: the background search and the counts the next inventory reports
  // stay (the update agent's own large objects are already released after every search).
  windows::CompactWindowsUpdateCache();
}

}  // namespace dozor::agent
