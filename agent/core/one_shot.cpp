#include "core/one_shot.hpp"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "collectors/collector.hpp"
#include "collectors/health.hpp"
#include "core/collector_supervisor.hpp"
#include "dozor/common/files.hpp"
#include "dozor/common/path_text.hpp"
#include "dozor/common/version.hpp"
#include "dozor/contract/snapshot_file.hpp"
#include "dozor/contract/text_repair.hpp"
#include "platform/host.hpp"

namespace dozor::agent {
namespace {

constexpr size_t kMaxTokenBytes = 512;

Status ValidateToken(const std::string& token) {
  if (token.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "--token must not be empty");
  }
  if (token.size() > kMaxTokenBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "--token is too long");
  }
  for (char c : token) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "--token contains a space or control character (copy it exactly)");
    }
  }
  return OkStatus();
}

}  // namespace

Result<OneShotSummary> CollectSnapshotFile(const OneShotOptions& options) {
  DOZOR_RETURN_IF_ERROR(ValidateToken(options.token));
  std::error_code ec;
  if (!std::filesystem::is_directory(options.root, ec)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "root " + PathToUtf8(options.root) + " is not a directory");
  }
  if (options.output.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "-o FILE is required");
  }
  CollectContext context;
  context.root = options.root;
  if (context.IsRealRoot()) {
    context.run_command = SystemCommandRunner(60000);
  }

  CollectorSupervisor collectors(context);

  SnapshotContents contents;
  contents.agent_version = kVersion;
  InventoryRun run = collectors.CollectInventory();
  dozor::v1::Report& inventory = contents.inventory_report;
  inventory.set_seq(1);
  inventory.set_collected_at_ms(context.clock->NowMs());
  inventory.set_agent_version(kVersion);
  *inventory.mutable_inventory() = std::move(run.inventory);
  OneShotSummary summary;
  for (auto& status : run.statuses) {
    summary.failed_collectors += status.ok() ? 0 : 1;
    *inventory.add_collectors() = std::move(status);
  }
  (void)RepairInvalidText(&inventory);  // as Agent::SpoolReport: the file must parse on import

  if (options.health) {
    // After the inventory, so its own work does not show up as the host's load.
    std::vector<std::string> errors;
    (void)collectors.SampleHealth(&errors);
    std::this_thread::sleep_for(std::chrono::milliseconds(options.health_interval_ms));
    errors.clear();
    auto started = std::chrono::steady_clock::now();
    auto sample = collectors.SampleHealth(&errors);
    dozor::v1::CollectorStatus status;
    status.set_name("health");
    status.set_duration_ms(
        static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now() - started)
                                  .count()));
    if (sample.ok()) {
      std::string joined;
      for (const auto& error : errors) {
        joined += (joined.empty() ? "" : "; ") + error;
      }
      status.set_ok(errors.empty());
      status.set_error(joined);
      dozor::v1::Report health;
      health.set_seq(2);
      health.set_collected_at_ms(context.clock->NowMs());
      health.set_agent_version(kVersion);
      *health.mutable_health() = std::move(*sample);
      health.mutable_health()->set_interval_seconds(
          static_cast<uint32_t>(std::max(1, (options.health_interval_ms + 999) / 1000)));
      *health.add_collectors() = status;
      (void)RepairInvalidText(&health);
      contents.health_report = std::move(health);
      summary.health = true;
    } else {
      // No health report to carry it: the failure is recorded with the inventory's statuses.
      status.set_ok(false);
      status.set_error(sample.error().message);
      *inventory.add_collectors() = std::move(status);
      ++summary.failed_collectors;
    }
  }

  const auto& os = inventory.inventory().os();
  contents.hostname = os.hostname();
  if (contents.hostname.empty() && context.IsRealRoot()) {
    contents.hostname = platform::Hostname();
  }
  contents.machine_id = os.machine_id();
  if (contents.machine_id.empty()) {
    auto machine_id = platform::ReadMachineId(context.root);
    if (machine_id.ok()) {
      contents.machine_id = *machine_id;
    }
  }
  contents.created_at_ms = context.clock->NowMs();

  DOZOR_ASSIGN_OR_RETURN(std::string json, BuildSnapshotJson(contents, options.token));
  auto written = WriteFileAtomic(options.output, json, 0600);
  if (!written.ok()) {
    return written.error().Wrap("cannot write " + PathToUtf8(options.output));
  }
  summary.packages = inventory.inventory().software().packages_size();
  summary.hostname = contents.hostname;
  summary.file_bytes = json.size();
  // Shown to the user to compare with what `dozorctl import` reports.
  auto parsed = nlohmann::json::parse(json, nullptr, false);
  if (parsed.is_object() && parsed.contains("sha256") && parsed["sha256"].is_string()) {
    summary.sha256 = parsed["sha256"].get<std::string>();
  }
  return summary;
}

}  // namespace dozor::agent
