#include <chrono>
#include <exception>

#include "collectors/collector.hpp"

namespace dozor::agent {
namespace {

template <typename Fn>
dozor::v1::CollectorStatus RunIsolated(const char* name, Fn&& fn) {
  dozor::v1::CollectorStatus status;
  status.set_name(name);
  auto started = std::chrono::steady_clock::now();
  try {
    Status result = fn();
    status.set_ok(result.ok());
    if (!result.ok()) {
      status.set_error(result.error().ToString());
    }
  } catch (const std::exception& e) {
    status.set_ok(false);
    status.set_error(std::string("collector threw: ") + e.what());
  } catch (...) {
    status.set_ok(false);
    status.set_error("collector threw an unknown exception");
  }
  auto elapsed = std::chrono::steady_clock::now() - started;
  status.set_duration_ms(static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
  return status;
}

}  // namespace

InventoryRun CollectInventory(const CollectContext& ctx) {
  InventoryRun run;
  auto& inv = run.inventory;
  run.statuses.push_back(
      RunIsolated("hardware", [&] { return CollectHardware(ctx, inv.mutable_hardware()); }));
  run.statuses.push_back(
      RunIsolated("os", [&] { return CollectOperatingSystem(ctx, inv.mutable_os()); }));
  run.statuses.push_back(
      RunIsolated("network", [&] { return CollectNetwork(ctx, inv.mutable_network()); }));
  run.statuses.push_back(
      RunIsolated("software", [&] { return CollectSoftware(ctx, inv.mutable_software()); }));
  return run;
}

}  // namespace dozor::agent
