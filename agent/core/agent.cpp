#include "core/agent.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "dozor/common/files.hpp"
#include "dozor/common/version.hpp"

namespace dozor::agent {

namespace {
using SteadyClock = std::chrono::steady_clock;
}  // namespace

Agent::Agent(AgentConfig config, AgentIdentity identity)
    : config_(std::move(config)),
      identity_(std::move(identity)),
      health_interval_s_(config_.health_interval_seconds),
      inventory_interval_s_(config_.inventory_interval_seconds) {
  context_.root = config_.root;
  context_.collect_smart = config_.collect_smart;
  if (config_.root == "/" || config_.root.empty()) {
    context_.root = "/";
    // apt-get simulation can take many seconds on a loaded machine; it is cached between runs.
    context_.run_command = SystemCommandRunner(60000);
  }
}

Agent::~Agent() { Stop(); }

void Agent::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
}

std::filesystem::path Agent::IntervalsFile() const { return config_.state_dir / "intervals.json"; }

// Intervals set by the server survive a restart; the config file's values apply until then.
void Agent::LoadPersistedIntervals() {
  auto text = ReadFile(IntervalsFile(), 4096);
  if (!text.ok()) return;
  auto json = nlohmann::json::parse(*text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    spdlog::warn("ignoring malformed {}", IntervalsFile().string());
    return;
  }
  int health = json.value("health_interval_seconds", 0);
  int inventory = json.value("inventory_interval_seconds", 0);
  if (health >= 10 && health <= 86400) health_interval_s_ = health;
  if (inventory >= 60 && inventory <= 604800) inventory_interval_s_ = inventory;
}

void Agent::PersistIntervals() {
  nlohmann::json json{{"health_interval_seconds", health_interval_s_},
                      {"inventory_interval_seconds", inventory_interval_s_}};
  auto written = WriteFileAtomic(IntervalsFile(), json.dump(), 0600);
  if (!written.ok()) spdlog::warn("cannot persist intervals: {}", written.error().message);
}

void Agent::OnCommand(const dozor::v1::Command& command) {
  std::lock_guard lock(mutex_);
  if (command.has_collect_inventory()) {
    spdlog::info("server asked for an inventory now (command {})", command.id());
    inventory_requested_ = true;
  } else if (command.has_set_intervals()) {
    const auto& set = command.set_intervals();
    if (set.health_interval_seconds() >= 10 && set.health_interval_seconds() <= 86400) {
      health_interval_s_ = static_cast<int>(set.health_interval_seconds());
    }
    if (set.inventory_interval_seconds() >= 60 && set.inventory_interval_seconds() <= 604800) {
      inventory_interval_s_ = static_cast<int>(set.inventory_interval_seconds());
    }
    spdlog::info("server set intervals: health {} s, inventory {} s (command {})", health_interval_s_,
                 inventory_interval_s_, command.id());
    intervals_changed_ = true;
  } else {
    spdlog::warn("ignoring unknown command {} from the server", command.id());
  }
  wake_.notify_all();
}

void Agent::SpoolReport(dozor::v1::Report report, const char* what) {
  report.set_agent_version(kVersion);
  auto appended = spool_->Append(&report);
  if (!appended.ok()) {
    // Nothing was stored (e.g. disk full): say so loudly; the next interval tries again.
    spdlog::error("cannot spool {}: {}", what, appended.error().message);
    return;
  }
  client_->Wake();
}

void Agent::CollectAndSpoolInventory() {
  auto started = SteadyClock::now();
  InventoryRun run = CollectInventory(context_);
  dozor::v1::Report report;
  report.set_collected_at_ms(context_.clock->NowMs());
  *report.mutable_inventory() = std::move(run.inventory);
  for (auto& status : run.statuses) {
    if (!status.ok()) spdlog::warn("collector {} failed: {}", status.name(), status.error());
    *report.add_collectors() = std::move(status);
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - started).count();
  spdlog::info("inventory collected in {} ms ({} packages)", ms, report.inventory().software().packages_size());
  SpoolReport(std::move(report), "inventory");
}

void Agent::SampleAndSpoolHealth() {
  std::vector<std::string> errors;
  auto started = SteadyClock::now();
  auto sample = sampler_->Sample(&errors);
  dozor::v1::Report report;
  report.set_collected_at_ms(context_.clock->NowMs());
  auto* status = report.add_collectors();
  status->set_name("health");
  status->set_duration_ms(static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - started).count()));
  if (!sample.ok()) {
    spdlog::warn("health sample failed: {}", sample.error().message);
    return;
  }
  std::string joined;
  for (const auto& error : errors) joined += (joined.empty() ? "" : "; ") + error;
  status->set_ok(errors.empty());
  status->set_error(joined);
  *report.mutable_health() = std::move(*sample);
  report.mutable_health()->set_interval_seconds(static_cast<uint32_t>(health_interval_s_));
  SpoolReport(std::move(report), "health sample");
}

int Agent::Run() {
  std::string warning;
  auto spool = Spool::Open(SpoolOptions{config_.state_dir / "spool.db", config_.spool_max_bytes}, &warning);
  if (!spool.ok()) {
    spdlog::critical("cannot open the spool: {}", spool.error().message);
    return 1;
  }
  if (!warning.empty()) spdlog::warn("{}", warning);
  spool_ = std::move(spool).value();
  LoadPersistedIntervals();

  StreamClientOptions options;
  // The configured address wins; otherwise the one the agent enrolled with.
  options.channel.server_address =
      config_.server_address.empty() ? identity_.server_address : config_.server_address;
  options.channel.tls_ca_file = config_.tls_ca_file;
  options.channel.tls_server_name = config_.tls_server_name;
  options.channel.insecure = config_.insecure;
  options.agent_id = identity_.agent_id;
  options.agent_secret = identity_.agent_secret;
  client_ = std::make_unique<StreamClient>(options, *spool_, [this](const dozor::v1::Command& command) {
    OnCommand(command);
  });
  sampler_ = MakeHealthSampler(context_);
  std::vector<std::string> ignored;
  (void)sampler_->Sample(&ignored);  // prime the counters so the first real sample has rates

  spdlog::info("dozor-agent {} started: agent {} ({}), server {}, state {}, root {}", kVersion,
               identity_.agent_id, identity_.organization, options.channel.server_address,
               config_.state_dir.string(), context_.root.string());
  client_->Start();

  auto next_inventory = SteadyClock::now();
  auto next_health = SteadyClock::now() + std::chrono::seconds(health_interval_s_);
  while (true) {
    bool do_inventory = false;
    bool do_health = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, std::min(next_inventory, next_health), [&] {
        return stopping_ || inventory_requested_ || intervals_changed_;
      });
      if (stopping_) break;
      if (intervals_changed_) {
        intervals_changed_ = false;
        next_health = std::min(next_health, SteadyClock::now() + std::chrono::seconds(health_interval_s_));
        next_inventory = std::min(next_inventory, SteadyClock::now() + std::chrono::seconds(inventory_interval_s_));
        lock.unlock();
        PersistIntervals();
        lock.lock();
      }
      auto now = SteadyClock::now();
      do_inventory = inventory_requested_ || now >= next_inventory;
      do_health = now >= next_health;
      inventory_requested_ = false;
      if (do_inventory) next_inventory = now + std::chrono::seconds(inventory_interval_s_);
      if (do_health) next_health = now + std::chrono::seconds(health_interval_s_);
    }
    if (do_inventory) CollectAndSpoolInventory();
    if (do_health) SampleAndSpoolHealth();
  }
  spdlog::info("dozor-agent stopping");
  client_->Stop();
  return 0;
}

}  // namespace dozor::agent
