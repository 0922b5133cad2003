#include "core/agent.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "collectors/caches.hpp"
#include "dozor/common/files.hpp"
#include "dozor/common/path_text.hpp"
#include "dozor/common/version.hpp"
#include "dozor/contract/text_repair.hpp"
#include "platform/self_usage.hpp"

namespace dozor::agent {

namespace {
using SteadyClock = std::chrono::steady_clock;

// status.json is rewritten only when its content changed: after every health sample and inventory,
// and when the stream client reports a change (connected, lost, acked), but at most once per
// kStatusMinInterval, so a burst of acks after a reconnect costs one write, not hundreds. After a
// sample the write waits for its ack (at most kStatusSettle), so one write (and one fsync) covers
// both instead of one each. An idle agent wakes only for its health samples;
// kStatusSafetyPeriod is a net for changes nobody announced.
constexpr auto kStatusMinInterval = std::chrono::seconds(5);
constexpr auto kStatusSettle = std::chrono::seconds(2);
constexpr auto kStatusSafetyPeriod = std::chrono::seconds(60);

int64_t MonotonicMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             SteadyClock::now().time_since_epoch())
      .count();
}

SelfLimits LimitsFromConfig(const AgentConfig& config) {
  SelfLimits limits;
  limits.max_rss_bytes = static_cast<uint64_t>(config.max_rss_mb) << 20;
  limits.max_cpu_percent = config.max_cpu_percent;
  return limits;
}
CollectContext ContextFromConfig(const AgentConfig& config) {
  CollectContext context;
  context.root = config.root;
  context.collect_smart = config.collect_smart;
  if (config.root == "/" || config.root.empty()) {
    context.root = "/";
    // apt-get simulation can take many seconds on a loaded machine; it is cached between runs.
    context.run_command = SystemCommandRunner(60000);
  }
  return context;
}
}  // namespace

ChannelOptions ServerChannelOptions(const AgentConfig& config, const AgentIdentity& identity) {
  ChannelOptions options;
  options.server_address =
      config.server_address.empty() ? identity.server_address : config.server_address;
  options.tls_ca_file = config.tls_ca_file;
  options.tls_server_name = config.tls_server_name;
  options.insecure = config.insecure;
  options.allow_plaintext_remote = config.allow_plaintext_remote;
  return options;
}

Agent::Agent(AgentConfig config, AgentIdentity identity)
    : config_(std::move(config)),
      identity_(std::move(identity)),
      collectors_(ContextFromConfig(config_),
                  CollectorDeadlines::FromTimeoutSeconds(config_.collector_timeout_seconds)),
      health_interval_s_(config_.health_interval_seconds),
      inventory_interval_s_(config_.inventory_interval_seconds),
      limiter_(LimitsFromConfig(config_)) {}

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
    spdlog::warn("ignoring malformed {}", PathToUtf8(IntervalsFile()));
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
    spdlog::info("server asked for a collection now: inventory and health (command {})",
                 command.id());
    inventory_requested_ = true;
  } else if (command.has_set_intervals()) {
    const auto& set = command.set_intervals();
    if (set.health_interval_seconds() >= 10 && set.health_interval_seconds() <= 86400) {
      health_interval_s_ = static_cast<int>(set.health_interval_seconds());
    }
    if (set.inventory_interval_seconds() >= 60 && set.inventory_interval_seconds() <= 604800) {
      inventory_interval_s_ = static_cast<int>(set.inventory_interval_seconds());
    }
    spdlog::info("server set intervals: health {} s, inventory {} s (command {})",
                 health_interval_s_, inventory_interval_s_, command.id());
    intervals_changed_ = true;
  } else {
    spdlog::warn("ignoring unknown command {} from the server", command.id());
  }
  wake_.notify_all();
}

void Agent::SpoolReport(dozor::v1::Report report, const char* what) {
  report.set_agent_version(kVersion);
  // The collection boundary: a text field that is not UTF-8 would make the spooled report
  // unreadable (protobuf refuses to parse it), so it is escaped here, never dropped later.
  if (size_t repaired = RepairInvalidText(&report); repaired > 0) {
    spdlog::debug("{}: {} text values were not valid UTF-8 and were escaped", what, repaired);
  }
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
  InventoryRun run = collectors_.CollectInventory();
  dozor::v1::Report report;
  report.set_collected_at_ms(collectors_.context().clock->NowMs());
  *report.mutable_inventory() = std::move(run.inventory);
  for (auto& status : run.statuses) {
    if (!status.ok()) spdlog::warn("collector {} failed: {}", status.name(), status.error());
    RecordCollector(status);
    *report.add_collectors() = std::move(status);
  }
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - started).count();
  const int packages = report.inventory().software().packages_size();
  // Logged once the report is in the spool, so whoever reads the log (an operator, the e2e tests)
  // never sees "collected" for an inventory the spool does not hold yet.
  SpoolReport(std::move(report), "inventory");
  spdlog::info("inventory collected in {} ms ({} packages)", ms, packages);
  // An inventory (and sending it) runs every few hours and touches code and heap nothing else
  // needs: the next health tick, when it has long been sent, gives that back.
  trim_after_inventory_ = true;
}

void Agent::SampleAndSpoolHealth() {
  std::vector<std::string> errors;
  auto started = SteadyClock::now();
  auto sample = collectors_.SampleHealth(&errors);
  dozor::v1::Report report;
  report.set_collected_at_ms(collectors_.context().clock->NowMs());
  auto* status = report.add_collectors();
  status->set_name("health");
  status->set_duration_ms(static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - started).count()));
  if (!sample.ok()) {
    spdlog::warn("health sample failed: {}", sample.error().message);
    status->set_ok(false);
    status->set_error(sample.error().message);
    RecordCollector(*status);
    return;
  }
  std::string joined;
  for (const auto& error : errors) joined += (joined.empty() ? "" : "; ") + error;
  status->set_ok(errors.empty());
  status->set_error(joined);
  RecordCollector(*status);
  *report.mutable_health() = std::move(*sample);
  report.mutable_health()->set_interval_seconds(
      static_cast<uint32_t>(EffectiveHealthIntervalSeconds()));
  SpoolReport(std::move(report), "health sample");
}

int Agent::EffectiveHealthIntervalSeconds() const {
  // Called with mutex_ held or from the scheduler thread, the only writer besides OnCommand.
  return limiter_.shedding() ? health_interval_s_ * 2 : health_interval_s_;
}

void Agent::RecordCollector(const dozor::v1::CollectorStatus& status) {
  CollectorResult& result = collector_results_[status.name()];
  result.name = status.name();
  result.ok = status.ok();
  result.error = status.error();
  result.duration_ms = status.duration_ms();
  result.at_ms = collectors_.context().clock->NowMs();
}

bool Agent::CheckSelfLimits() {
  auto reading = platform::ReadSelfUsage();
  if (!reading.ok()) {
    spdlog::debug("cannot read own usage: {}", reading.error().message);
    return true;
  }
  const SelfLimitDecision decision =
      limiter_.Observe(SelfUsage{MonotonicMs(), reading->rss_bytes, reading->cpu_time_ms});
  last_limits_ = decision;
  if (decision.started) {
    spdlog::warn(
        "self-limits: {}; shedding work (no inventory, health every {} s, caches dropped) "
        "until back under the limits",
        decision.reason, health_interval_s_ * 2);
    DropCollectorCaches();
    collectors_.ReleaseHealthMemory();
    platform::ReleaseFreeHeap();
  }
  if (decision.recovered) {
    spdlog::info(
        "self-limits: back under the limits (RSS {} MiB, CPU {:.1f}%); resuming normal "
        "work",
        decision.rss_bytes >> 20, decision.cpu_percent);
    if (inventory_deferred_) {
      std::lock_guard lock(mutex_);
      inventory_requested_ = true;
      inventory_deferred_ = false;
    }
  }
  if (decision.exit) {
    spdlog::critical(
        "self-limits: memory {} MiB has stayed above {:.0f}x the limit of {} MiB; "
        "exiting so the service manager restarts the agent (spooled reports are kept)",
        decision.rss_bytes >> 20, limiter_.limits().fatal_memory_factor, config_.max_rss_mb);
    return false;
  }
  return true;
}

void Agent::UpdateStatusFile() {
  RuntimeStatus status;
  status.pid = platform::ProcessId();
  status.started_at_ms = started_at_ms_;
  status.agent_version = kVersion;
  status.server_address =
      config_.server_address.empty() ? identity_.server_address : config_.server_address;
  {
    std::lock_guard lock(mutex_);
    status.health_interval_seconds = EffectiveHealthIntervalSeconds();
  }
  const StreamClientStatus client = client_->status();
  status.connected = client.connected;
  status.last_send_ok_ms = client.last_ack_ms > 0 ? client.last_ack_ms : previous_last_send_ms_;
  status.last_connect_ms = client.last_connect_ms;
  status.last_error = client.last_error;
  auto stats = spool_->Stats();
  if (stats.ok()) {
    status.spool_reports = stats->count;
    status.spool_bytes = stats->bytes;
    status.spool_dropped_health = stats->dropped_health_total;
    status.spool_dropped_awaiting_server = stats->dropped_awaiting_server;
  }
  for (const auto& [name, result] : collector_results_) {
    status.collectors.push_back(result);
  }
  status.shedding = limiter_.shedding();
  status.shed_reason = last_limits_.reason;
  status.rss_bytes = last_limits_.rss_bytes;
  status.cpu_percent = last_limits_.cpu_percent;
  status.max_rss_mb = config_.max_rss_mb;
  status.max_cpu_percent = config_.max_cpu_percent;
  // Compared without the timestamp, so an idle agent does not rewrite (and fsync) the file.
  const std::string content = SerializeRuntimeStatus(status);
  if (content == last_status_written_) {
    return;
  }
  status.updated_at_ms = collectors_.context().clock->NowMs();
  auto saved = SaveRuntimeStatus(config_.state_dir, status);
  if (!saved.ok()) {
    spdlog::warn("cannot write the status file: {}", saved.error().message);
    return;
  }
  last_status_written_ = content;
}

int Agent::Run() {
  auto agent_lock = AgentLock::Acquire(config_.state_dir);
  if (!agent_lock.ok()) {
    spdlog::critical("{}", agent_lock.error().message);
    return 1;
  }
  started_at_ms_ = collectors_.context().clock->NowMs();
  // The last send of the previous run stays the last send until this run sends something.
  if (auto text = ReadFile(config_.state_dir / kStatusFileName, kMaxStatusFileBytes); text.ok()) {
    if (auto previous = ParseRuntimeStatus(*text); previous.ok()) {
      previous_last_send_ms_ = previous->last_send_ok_ms;
    }
  }
  std::string warning;
  auto spool =
      Spool::Open(SpoolOptions{config_.state_dir / "spool.db", config_.spool_max_bytes}, &warning);
  if (!spool.ok()) {
    spdlog::critical("cannot open the spool: {}", spool.error().message);
    return 1;
  }
  if (!warning.empty()) spdlog::warn("{}", warning);
  spool_ = std::move(spool).value();
  LoadPersistedIntervals();

  StreamClientOptions options;
  options.channel = ServerChannelOptions(config_, identity_);
  options.agent_id = identity_.agent_id;
  options.agent_secret = identity_.agent_secret;
  options.on_status_change = [this] {
    {
      std::lock_guard lock(mutex_);
      stream_status_changed_ = true;
    }
    wake_.notify_all();
  };
  client_ = std::make_unique<StreamClient>(
      options, *spool_, [this](const dozor::v1::Command& command) { OnCommand(command); });
  std::vector<std::string> ignored;
  // Prime the counters so the first real sample has rates.
  (void)collectors_.SampleHealth(&ignored);

  spdlog::info(
      "dozor-agent {} started: agent {} ({}), server {}, state {}, root {}, limits {} MiB / "
      "{}% CPU, code {}",
      kVersion, identity_.agent_id, identity_.organization, options.channel.server_address,
      PathToUtf8(config_.state_dir), PathToUtf8(collectors_.context().root), config_.max_rss_mb,
      config_.max_cpu_percent,
      code_laid_out_for_ticks_ ? "laid out for ticks (trimmed after each)"
                               : "not laid out (trimmed after inventories)");
  client_->Start();
  UpdateStatusFile();

  int exit_code = 0;
  auto next_inventory = SteadyClock::now();
  auto next_health = SteadyClock::now() + std::chrono::seconds(health_interval_s_);
  auto last_status_check = SteadyClock::now();
  auto next_status_check = last_status_check + kStatusSafetyPeriod;
  while (true) {
    bool do_inventory = false;
    bool do_health = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, std::min({next_inventory, next_health, next_status_check}), [&] {
        return stopping_ || inventory_requested_ || intervals_changed_ || stream_status_changed_;
      });
      if (stopping_) break;
      if (stream_status_changed_) {
        stream_status_changed_ = false;
        next_status_check = std::min(next_status_check, last_status_check + kStatusMinInterval);
      }
      if (intervals_changed_) {
        intervals_changed_ = false;
        next_health =
            std::min(next_health, SteadyClock::now() + std::chrono::seconds(health_interval_s_));
        next_inventory = std::min(next_inventory,
                                  SteadyClock::now() + std::chrono::seconds(inventory_interval_s_));
        lock.unlock();
        PersistIntervals();
        lock.lock();
      }
      auto now = SteadyClock::now();
      do_inventory = inventory_requested_ || now >= next_inventory;
      // "Collect now" (a verification asked on the server) is a fresh look at the whole host:
      // a health sample too, not only the inventory.
      do_health = inventory_requested_ || now >= next_health;
      inventory_requested_ = false;
      if (do_inventory) next_inventory = now + std::chrono::seconds(inventory_interval_s_);
      if (do_health) next_health = now + std::chrono::seconds(EffectiveHealthIntervalSeconds());
    }
    if (do_inventory && limiter_.shedding()) {
      // Inventory (and its smartctl / apt-get / dnf runs) is the expensive part: run it once the
      // agent is back under its limits.
      if (!inventory_deferred_) spdlog::info("inventory deferred: shedding work (self-limits)");
      inventory_deferred_ = true;
      do_inventory = false;
    }
    if (do_inventory) CollectAndSpoolInventory();
    if (do_health) {
      if (trim_after_inventory_) {
        trim_after_inventory_ = false;
        platform::ReleaseFreeHeap();
        platform::TrimWorkingSet();
      }
      SampleAndSpoolHealth();
      {
        // The next tick was set from this tick's start, but the sample is stamped when it is
        // taken: a collection slowed by a loaded host would put the next stamp closer than the
        // server's minimum spacing (500 ms, report_admission.hpp) at the shortest interval the
        // config allows (1 s), and the server refuses such a sample. So the next one also waits
        // three quarters of an interval after this one was taken.
        std::lock_guard lock(mutex_);
        next_health = std::max(
            next_health, SteadyClock::now() +
                             std::chrono::milliseconds(EffectiveHealthIntervalSeconds() * 750LL));
      }
      const bool was_shedding = limiter_.shedding();
      if (!CheckSelfLimits()) {
        exit_code = 1;
        break;
      }
      if (was_shedding != limiter_.shedding()) {
        // The doubled (or restored) interval applies from this tick on.
        std::lock_guard lock(mutex_);
        next_health = SteadyClock::now() + std::chrono::seconds(EffectiveHealthIntervalSeconds());
      }
    }
    if (do_inventory || do_health) {
      next_status_check = std::min(next_status_check, SteadyClock::now() + kStatusSettle);
      trim_after_settle_ = code_laid_out_for_ticks_;
    }
    if (SteadyClock::now() >= next_status_check) {
      UpdateStatusFile();
      last_status_check = SteadyClock::now();
      next_status_check = last_status_check + kStatusSafetyPeriod;
      if (trim_after_settle_) {
        // The tick's work is done (sampled, spooled, sent, acknowledged, status written): the
        // code it does not run every time goes out of the working set. The release build packs
        // the code a tick runs into one range that stays (deploy/bolt/bolt-agent.sh), so the next
        // tick maps back little, and the idle agent holds little more than its heap and that
        // range: tests/bench/README.md, "the agent's footprint". Without that layout the tick's
        // code is spread over megabytes, and the trim waits for an inventory instead.
        trim_after_settle_ = false;
        platform::TrimWorkingSet(platform::TrimScope::kProgramColdCode);
      }
    }
  }
  spdlog::info("dozor-agent stopping");
  client_->Stop();
  UpdateStatusFile();
  return exit_code;
}

}  // namespace dozor::agent
