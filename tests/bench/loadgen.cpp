// dozor-loadgen: simulates many agents against a real dozor-server over the agent contract
// (proto/contract/dozor/v1/agent.proto: Enroll, then one Connect stream per agent) and measures
// what the server sustains: acked reports per second, send->ack latency, failed streams, unacked
// reports.
//
// Every stream is a grpc::ClientBidiReactor, so 10,000 streams run on gRPC's own few threads; the
// only threads of ours are main (the cadence schedule and progress), one connector that paces
// stream opening (--connect-rate) and a short-lived pool for enrolment.
#include <absl/synchronization/mutex.h>
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "dozor/common/crypto.hpp"
#include "dozor/common/files.hpp"
#include "dozor/common/result.hpp"
#include "dozor/common/version.hpp"
#include "dozor/contract/grpc_status.hpp"
#include "dozor/v1/agent.grpc.pb.h"

namespace dozor::bench {
namespace {

using dozor::v1::AgentMessage;
using dozor::v1::AgentService;
using dozor::v1::ServerMessage;
using SteadyClock = std::chrono::steady_clock;

constexpr int kMaxEnrollConcurrency = 64;
constexpr size_t kMaxReportedFailures = 5;
constexpr size_t kMaxIdentitiesFileBytes = 64 * 1024 * 1024;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch())
      .count();
}

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

enum class Mode { kThroughput, kCadence };

struct Options {
  std::string server;
  bool insecure = false;
  std::string ca_file;
  std::string server_name;
  std::string token;
  int agents = 100;
  std::string identities_file;
  Mode mode = Mode::kThroughput;
  int window = 32;
  double interval_seconds = 60;
  double duration_seconds = 30;
  double warmup_seconds = -1;  // < 0: automatic
  double drain_seconds = 10;
  int values = 50;
  double connect_rate = 500;
  int connections = 0;  // 0: one TCP connection per agent, like real agents
  std::string summary_json;
  bool enroll_only = false;
  // Fault tests: streams that end are opened again and unacked reports resent with their seq.
  bool reconnect = false;
  bool report_on_reconnect = false;
  double backlog_minutes = 0;
  int backoff_initial_ms = 1000;
  int backoff_max_ms = 300000;
  std::string agents_json;
  std::string status_file;
};

// ---------------------------------------------------------------- latency histogram

// Log-linear buckets over microseconds (32 sub-buckets per power of two, ~3 % resolution),
// lock-free so gRPC threads record acks without contending.
class LatencyHistogram {
 public:
  void Record(int64_t micros) {
    uint64_t value = micros < 0 ? 0 : static_cast<uint64_t>(micros);
    buckets_[Index(value)].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    uint64_t seen = max_.load(std::memory_order_relaxed);
    while (value > seen && !max_.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
    }
  }

  uint64_t Count() const { return count_.load(); }
  uint64_t MaxMicros() const { return max_.load(); }

  // Upper bound of the bucket holding the q-quantile (never above the exact maximum).
  uint64_t QuantileMicros(double q) const {
    uint64_t total = Count();
    if (total == 0) {
      return 0;
    }
    auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total)));
    rank = std::max<uint64_t>(rank, 1);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      cumulative += buckets_[i].load(std::memory_order_relaxed);
      if (cumulative >= rank) {
        return std::min(UpperBound(i), MaxMicros());
      }
    }
    return MaxMicros();
  }

 private:
  static constexpr size_t kLinear = 64;
  static constexpr size_t kSubBuckets = 32;
  static constexpr size_t kBuckets = kLinear + 58 * kSubBuckets;

  static size_t Index(uint64_t value) {
    if (value < kLinear) {
      return value;
    }
    int shift = std::bit_width(value) - 6;  // value >> shift is in [32, 64)
    size_t index = kLinear + static_cast<size_t>(shift - 1) * kSubBuckets +
                   static_cast<size_t>((value >> shift) - kSubBuckets);
    return std::min(index, kBuckets - 1);
  }

  static uint64_t UpperBound(size_t index) {
    if (index < kLinear) {
      return index;
    }
    size_t shift = (index - kLinear) / kSubBuckets + 1;
    uint64_t mantissa = (index - kLinear) % kSubBuckets + kSubBuckets;
    return ((mantissa + 1) << shift) - 1;
  }

  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> max_{0};
};

// ---------------------------------------------------------------- shared run state

struct Stats {
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> acked{0};
  std::atomic<uint64_t> stored{0};
  std::atomic<uint64_t> duplicate{0};
  std::atomic<uint64_t> rejected{0};
  std::atomic<uint64_t> unexpected_acks{0};
  std::atomic<uint64_t> abandoned{0};  // unacked when their stream ended (no --reconnect)
  std::atomic<uint64_t> generated{0};  // reports created (each with its own seq)
  std::atomic<uint64_t> resent{0};     // sends of a report already sent in an earlier stream
  // Unacked reports the next StreamAccepted said were committed (their acks were lost).
  std::atomic<uint64_t> committed_on_accept{0};
  std::atomic<uint64_t> accept_timeouts{0};  // streams given up before StreamAccepted
  // StreamAccepted said the server committed a seq this run never generated.
  std::atomic<uint64_t> server_ahead{0};
  std::atomic<uint64_t> streams_started{0};   // first streams of the agents
  std::atomic<uint64_t> sessions_started{0};  // every stream, reconnects included
  std::atomic<uint64_t> session_ends{0};      // streams that ended while the run went on
  std::atomic<uint64_t> open_sessions{0};     // accepted and not ended yet
  std::atomic<uint64_t> acked_sessions{0};    // open and got at least one ack
  std::atomic<bool> stopping{false};          // final cancellation: no more reconnects
  std::atomic<uint64_t> streams_accepted{0};
  std::atomic<uint64_t> streams_failed{0};
  std::atomic<uint64_t> streams_settled{0};  // accepted or failed before acceptance
  std::atomic<bool> recording{false};        // latencies count only after the warm-up
  std::atomic<bool> stop_sending{false};
  LatencyHistogram latency;

  std::mutex failures_mutex;
  std::vector<std::string> failures;  // first few, for the summary
  std::string first_rejection;

  std::mutex done_mutex;
  std::condition_variable done_cv;
  uint64_t streams_done = 0;  // sessions whose OnDone ran

  void NoteFailure(const std::string& what) {
    std::lock_guard lock(failures_mutex);
    if (failures.size() < kMaxReportedFailures) {
      failures.push_back(what);
    }
  }
};

struct Identity {
  std::string agent_id;
  std::string agent_secret;
  std::string hostname;
  std::string machine_id;
};

// ---------------------------------------------------------------- realistic health samples

// How many of each repeated item a sample carries. The default --values 50 gives 6 filesystems,
// 2 disks, 2 NICs, 5+5 top processes and 2 temperatures: 52 changing metric values (free bytes and
// inodes per filesystem, throughput per disk and NIC, CPU and RSS per process) next to their
// near-constant labels and totals, roughly what the real agent sends.
struct SampleShape {
  int filesystems = 6;
  int disks = 2;
  int nics = 2;
  int top_cpu = 5;
  int top_memory = 5;
  int temperatures = 2;

  int MetricValues() const {
    return 10 + 2 * filesystems + 2 * disks + 2 * nics + 2 * (top_cpu + top_memory) + temperatures;
  }
};

SampleShape ShapeForValues(int values) {
  SampleShape shape;
  // 10 scalars + disks, NICs and temperatures (10) are fixed; the rest (minus 2, so that 50 gives
  // the default shape) is split between filesystems and processes as in the default, 12 to 20.
  int rest = std::max(0, values - 18);
  shape.filesystems = std::max(1, static_cast<int>(std::lround(rest * 12.0 / 32.0 / 2.0)));
  int processes =
      std::max(0, static_cast<int>(std::lround((rest - 2.0 * shape.filesystems) / 2.0)));
  shape.top_cpu = (processes + 1) / 2;
  shape.top_memory = processes / 2;
  return shape;
}

// xorshift64*: cheap, deterministic per agent, good enough to make samples differ.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ULL + 1) {}
  uint64_t Next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1DULL;
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  double Around(double center, double spread) { return center + (Uniform() * 2 - 1) * spread; }

 private:
  uint64_t state_;
};

double Round(double value, double step) { return std::round(value / step) * step; }

constexpr std::array<const char*, 8> kMounts = {
    "/", "/boot", "/var", "/home", "/srv", "/var/lib/postgresql", "/backup", "/tmp"};
constexpr std::array<const char*, 10> kProcesses = {
    "postgres", "rphost",  "java",    "nginx", "ragent",
    "rmngr",    "dockerd", "python3", "sshd",  "systemd-journald"};

// Builds one sample for agent `agent_index`: labels and totals depend only on the agent, the
// metrics wander per call, rounded to the precision a real collector reports.
void FillHealthSample(const SampleShape& shape, uint64_t agent_index, Rng& rng,
                      dozor::v1::HealthSample* sample) {
  Rng fixed(agent_index);  // same labels and totals in every sample of this agent
  uint64_t memory_total = (4ULL + fixed.Next() % 60) << 30;
  sample->set_cpu_percent(Round(std::clamp(rng.Around(25, 20), 0.0, 100.0), 0.1));
  sample->set_cpu_iowait_percent(Round(std::clamp(rng.Around(2, 2), 0.0, 100.0), 0.1));
  double load = rng.Around(1.5, 1.0);
  sample->set_load1(Round(std::max(0.0, load), 0.01));
  sample->set_load5(Round(std::max(0.0, load * 0.9), 0.01));
  sample->set_load15(Round(std::max(0.0, load * 0.8), 0.01));
  sample->set_memory_total_bytes(memory_total);
  sample->set_memory_available_bytes(
      static_cast<uint64_t>(static_cast<double>(memory_total) * rng.Around(0.4, 0.1)) & ~4095ULL);
  sample->set_swap_total_bytes(2ULL << 30);
  sample->set_swap_free_bytes(((2ULL << 30) - (rng.Next() % (64ULL << 20))) & ~4095ULL);
  sample->set_process_count(static_cast<uint32_t>(150 + rng.Next() % 50));
  sample->set_interval_seconds(60);

  for (int i = 0; i < shape.filesystems; ++i) {
    auto* fs = sample->add_filesystems();
    std::string mount = i < static_cast<int>(kMounts.size()) ? kMounts[static_cast<size_t>(i)]
                                                             : "/data" + std::to_string(i);
    fs->set_mount_point(mount);
    fs->set_device("/dev/sda" + std::to_string(i + 1));
    fs->set_fs_type(i % 3 == 2 ? "xfs" : "ext4");
    uint64_t total = (8ULL + fixed.Next() % 500) << 30;
    uint64_t free =
        static_cast<uint64_t>(static_cast<double>(total) * rng.Around(0.45, 0.02)) & ~4095ULL;
    fs->set_total_bytes(total);
    fs->set_free_bytes(free);
    fs->set_available_bytes(free - std::min(free, total / 20));
    uint64_t inodes = total >> 14;
    fs->set_inodes_total(inodes);
    fs->set_inodes_free(inodes - inodes / 10 - rng.Next() % 1000);
  }
  for (int i = 0; i < shape.disks; ++i) {
    auto* disk = sample->add_disks();
    disk->set_device(i == 0 ? "sda" : "sd" + std::string(1, static_cast<char>('a' + i)));
    disk->set_read_bytes_per_s(Round(std::max(0.0, rng.Around(2e6, 2e6)), 512));
    disk->set_write_bytes_per_s(Round(std::max(0.0, rng.Around(4e6, 4e6)), 512));
    disk->set_reads_per_s(Round(std::max(0.0, rng.Around(40, 40)), 0.1));
    disk->set_writes_per_s(Round(std::max(0.0, rng.Around(80, 80)), 0.1));
    disk->set_busy_percent(Round(std::clamp(rng.Around(10, 10), 0.0, 100.0), 0.1));
  }
  for (int i = 0; i < shape.nics; ++i) {
    auto* nic = sample->add_networks();
    nic->set_interface(i == 0 ? "eth0" : "eth" + std::to_string(i));
    nic->set_rx_bytes_per_s(Round(std::max(0.0, rng.Around(5e5, 5e5)), 1));
    nic->set_tx_bytes_per_s(Round(std::max(0.0, rng.Around(3e5, 3e5)), 1));
    nic->set_rx_errors(rng.Next() % 50 == 0 ? 1 : 0);
  }
  auto add_process = [&](dozor::v1::ProcessUsage* process, int i) {
    process->set_pid(static_cast<uint32_t>(300 + fixed.Next() % 30000));
    process->set_name(kProcesses[static_cast<size_t>(i) % kProcesses.size()]);
    process->set_cpu_percent(Round(std::max(0.0, rng.Around(20.0 / (i + 1), 5)), 0.1));
    process->set_rss_bytes(
        static_cast<uint64_t>(std::max(4096.0, rng.Around(400e6 / (i + 1), 20e6))) & ~4095ULL);
  };
  for (int i = 0; i < shape.top_cpu; ++i) {
    add_process(sample->add_top_cpu(), i);
  }
  for (int i = 0; i < shape.top_memory; ++i) {
    add_process(sample->add_top_memory(), i + 3);
  }
  for (int i = 0; i < shape.temperatures; ++i) {
    auto* temperature = sample->add_temperatures();
    temperature->set_sensor(i == 0 ? "coretemp/Package id 0" : "nvme/Composite");
    temperature->set_celsius(Round(rng.Around(45, 5), 1));
  }
}

void FillReport(const SampleShape& shape, uint64_t agent_index, uint64_t seq, Rng& rng,
                AgentMessage* message, int64_t collected_at_ms = 0) {
  auto* report = message->mutable_report();
  report->set_seq(seq);
  report->set_collected_at_ms(collected_at_ms != 0 ? collected_at_ms : WallMs());
  report->set_agent_version(std::string("loadgen/") + kVersion);
  FillHealthSample(shape, agent_index, rng, report->mutable_health());
  auto* status = report->add_collectors();
  status->set_name("health");
  status->set_ok(true);
  status->set_duration_ms(static_cast<uint32_t>(5 + rng.Next() % 20));
}

// ---------------------------------------------------------------- one simulated agent

struct RunConfig {
  Mode mode = Mode::kThroughput;
  int window = 32;
  SampleShape shape;
  bool reconnect = false;
  bool report_on_reconnect = false;
  int64_t backlog_ms = 0;  // throughput mode: the first sample is stamped this long ago
  int backoff_initial_ms = 1000;
  int backoff_max_ms = 300000;
};

// DOZOR_LOADGEN_TRACE=1: one stderr line per stream accepted and ended, per agent (fault
// tests: which session of which agent held what).
bool TraceSessions() {
  static const bool on = std::getenv("DOZOR_LOADGEN_TRACE") != nullptr;
  return on;
}

class AgentStream;

// A report generated and not acked yet. Kept across streams like the real agent's spool, so with
// --reconnect a report whose stream died is sent again with the same seq and the same bytes.
struct Unacked {
  uint64_t seq = 0;
  uint64_t sent_in_session = 0;  // session number of its last send; 0: not sent yet
  int64_t sent_ns = 0;
  std::shared_ptr<AgentMessage> message;
};

// One simulated agent across all its streams. Everything below `mutex` is guarded by it, including
// the state of the current AgentStream (one lock per agent: the stream and the cadence timer
// never race on two locks).
struct AgentState {
  AgentState(uint64_t agent_index, const Identity& agent_identity)
      : index(agent_index), identity(agent_identity), rng(agent_index * 7919 + 17) {}

  const uint64_t index;
  const Identity& identity;

  std::mutex mutex;
  Rng rng;
  bool seq_known = false;  // next_seq comes from the first StreamAccepted
  bool dead = false;       // without --reconnect: its only stream ended
  uint64_t next_seq = 1;
  uint64_t first_seq = 0;  // first seq generated in this run; 0: none yet
  // Cadence ticks before the first StreamAccepted (their wall times): numbered once the server
  // says where to start, stamped with the time they were due, as a spool would hold them (the
  // server refuses health samples collected less than 0.5 s apart).
  std::deque<int64_t> due_unnumbered;
  int64_t last_collected_ms = 0;  // of the newest report generated
  std::deque<Unacked> unacked;    // in seq order
  uint64_t generated = 0;
  uint64_t stored = 0;
  uint64_t duplicate = 0;
  uint64_t rejected = 0;
  uint64_t committed_on_accept = 0;
  uint64_t unexpected_acks = 0;
  uint64_t sessions = 0;
  int backoff_attempt = 0;
  std::unique_ptr<AgentStream> stream;  // the current one, if any

  // Numbers the next report, or counts it as due until the server told us where to start.
  void GenerateLocked(const RunConfig& config, Stats& stats, int64_t collected_at_ms = 0) {
    if (!seq_known) {
      due_unnumbered.push_back(WallMs());
      return;
    }
    auto message = std::make_shared<AgentMessage>();
    uint64_t seq = next_seq++;
    // Like a real agent (whose floor is 1 s), two samples are never stamped less than a second
    // apart: the server refuses samples closer than 0.5 s. In throughput mode the simulated clock
    // therefore runs ahead of the wall clock (by ~1 h for 20 s at 185 reports/s per agent, within
    // the server's 24 h skew allowance).
    int64_t at = collected_at_ms != 0 ? collected_at_ms : WallMs();
    if (config.backlog_ms > 0 && collected_at_ms == 0) {
      // A spool replayed after an outage: stamps start in the past and step 1 s per report.
      at = last_collected_ms != 0 ? last_collected_ms + 1000 : WallMs() - config.backlog_ms;
    }
    if (last_collected_ms != 0 && at < last_collected_ms + 1000) at = last_collected_ms + 1000;
    FillReport(config.shape, index, seq, rng, message.get(), at);
    last_collected_ms = message->report().collected_at_ms();
    if (first_seq == 0) {
      first_seq = seq;
    }
    unacked.push_back(Unacked{seq, 0, 0, std::move(message)});
    ++generated;
    stats.generated.fetch_add(1, std::memory_order_relaxed);
  }

  // Exponential backoff with jitter in [base/2, base], like the real agent's stream client.
  int NextBackoffMsLocked(const RunConfig& config, bool session_was_healthy) {
    if (session_was_healthy) {
      backoff_attempt = 0;
    }
    int64_t base = config.backoff_initial_ms;
    for (int i = 0; i < backoff_attempt && base < config.backoff_max_ms; ++i) {
      base *= 2;
    }
    base = std::min<int64_t>(base, config.backoff_max_ms);
    ++backoff_attempt;
    int64_t half = base / 2;
    return static_cast<int>(half +
                            static_cast<int64_t>(rng.Next() % static_cast<uint64_t>(half + 1)));
  }
};

// Streams that ended wait here a while before they are destroyed (off gRPC's threads, and never
// inside their own OnDone); agents that need a new stream wait for their backoff to pass.
struct Reconnects {
  std::mutex mutex;
  std::multimap<int64_t, size_t> due;  // not-before time (ns) -> agent index
  std::deque<std::pair<int64_t, std::unique_ptr<AgentStream>>> ended;
};

// One Connect stream of an agent. Reactions may run concurrently on gRPC threads; the state is
// under the agent's mutex and Start* calls are issued outside it. At most one write is
// outstanding: a new one starts only from OnWriteDone, an ack, StreamAccepted or the cadence timer
// when none is. A hold keeps OnDone from running while the timer thread may still start a write;
// it is released once the read side ended and no write is being issued.
class AgentStream : public grpc::ClientBidiReactor<AgentMessage, ServerMessage> {
 public:
  AgentStream(AgentState& agent, uint64_t session, std::shared_ptr<grpc::Channel> channel,
              const RunConfig& config, Stats& stats, Reconnects& reconnects)
      : agent_(agent),
        session_(session),
        channel_(std::move(channel)),
        stub_(AgentService::NewStub(channel_)),
        config_(config),
        stats_(stats),
        reconnects_(reconnects) {
    context_.AddMetadata("authorization",
                         "Dozor " + agent.identity.agent_id + ":" + agent.identity.agent_secret);
  }

  void Start() {
    started_ns_ = NowNs();
    stub_->async()->Connect(&context_, this);
    AddHold();
    StartRead(&incoming_);
    StartCall();
  }

  // Cadence mode: the agent's report is due now (caller holds the agent's mutex); returns what
  // to write, if a write may start.
  std::shared_ptr<AgentMessage> NextWriteLocked() {
    if (!accepted_ || writing_ || read_closed_ || write_failed_) {
      return nullptr;
    }
    if (config_.mode == Mode::kThroughput && !stats_.stop_sending.load(std::memory_order_relaxed) &&
        InFlightLocked() < static_cast<size_t>(config_.window)) {
      agent_.GenerateLocked(config_, stats_);
    }
    for (auto& report : agent_.unacked) {
      if (report.sent_in_session == session_) {
        continue;
      }
      if (report.sent_in_session != 0) {
        stats_.resent.fetch_add(1, std::memory_order_relaxed);
      }
      report.sent_in_session = session_;
      report.sent_ns = NowNs();
      writing_ = true;
      stats_.sent.fetch_add(1, std::memory_order_relaxed);
      return report.message;
    }
    return nullptr;
  }

  // Only the thread that got `message` from NextWriteLocked may call this; writing_ keeps every
  // other thread from starting a second write meanwhile. `message` stays alive in unacked (or
  // here, if an ack removed it) until OnWriteDone.
  void Write(std::shared_ptr<AgentMessage> message) {
    if (!message) {
      return;
    }
    AgentMessage* raw = message.get();
    {
      std::lock_guard lock(agent_.mutex);
      current_write_ = std::move(message);
    }
    StartWrite(raw);
  }

  void Cancel() { context_.TryCancel(); }

  // A stream the server has not accepted within the agent's accept deadline (caller holds the
  // agent's mutex): true once, and the caller cancels it; the agent then reconnects.
  bool TakeAcceptOverdueLocked(int64_t now_ns) {
    if (accepted_ || read_closed_ || given_up_ || now_ns - started_ns_ <= kAcceptDeadlineNs) {
      return false;
    }
    given_up_ = true;
    return true;
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      std::lock_guard lock(agent_.mutex);
      read_closed_ = true;
      if (!config_.reconnect) {
        // These can no longer be acked; the drain at the end need not wait for them.
        agent_.dead = true;
        stats_.abandoned.fetch_add(agent_.unacked.size());
        agent_.unacked.clear();
      }
      MaybeReleaseHoldLocked();
      return;
    }
    std::shared_ptr<AgentMessage> message;
    bool protocol_error = false;
    {
      std::lock_guard lock(agent_.mutex);
      if (incoming_.has_accepted()) {
        if (!accepted_) {
          AcceptLocked(incoming_.accepted().last_committed_seq());
        }
      } else if (incoming_.has_ack()) {
        if (!accepted_) {
          protocol_error = true;
        } else {
          HandleAckLocked(incoming_.ack());
        }
      }
      if (!protocol_error) {
        message = NextWriteLocked();
      }
    }
    if (protocol_error) {
      stats_.NoteFailure("agent " + std::to_string(agent_.index) + ": ack before StreamAccepted");
      context_.TryCancel();
      return;
    }
    StartRead(&incoming_);
    Write(std::move(message));
  }

  void OnWriteDone(bool ok) override {
    std::shared_ptr<AgentMessage> message;
    std::shared_ptr<AgentMessage> written;  // released outside the lock
    {
      std::lock_guard lock(agent_.mutex);
      writing_ = false;
      written = std::move(current_write_);
      if (!ok) {
        write_failed_ = true;  // the read side will end with the stream's status
        MaybeReleaseHoldLocked();
        return;
      }
      message = NextWriteLocked();
      if (!message) {
        MaybeReleaseHoldLocked();
      }
    }
    Write(std::move(message));
  }

  void OnDone(const grpc::Status& status) override {
    Stats& stats = stats_;  // `this` may be destroyed by another thread once it is handed over
    const bool stopping = stats.stopping.load();
    std::unique_ptr<AgentStream> self;
    int delay_ms = 0;
    {
      std::lock_guard lock(agent_.mutex);
      if (session_ == 1 && !accepted_) {
        stats_.streams_settled.fetch_add(1);
      }
      if (TraceSessions()) {
        std::fprintf(stderr, "trace: agent %llu session %llu done: %s; %llu acks, %zu unacked\n",
                     static_cast<unsigned long long>(agent_.index),
                     static_cast<unsigned long long>(session_),
                     dozor::DescribeGrpcStatus(status).c_str(),
                     static_cast<unsigned long long>(acks_), agent_.unacked.size());
      }
      if (accepted_) {
        stats_.open_sessions.fetch_sub(1);
      }
      if (acks_ > 0) {
        stats_.acked_sessions.fetch_sub(1);
      }
      if (!stopping) {
        if (config_.reconnect) {
          stats_.session_ends.fetch_add(1);
          delay_ms = agent_.NextBackoffMsLocked(config_, acks_ > 0);
        } else {
          stats_.streams_failed.fetch_add(1);
          stats_.NoteFailure("agent " + std::to_string(agent_.index) + ": " +
                             dozor::DescribeGrpcStatus(status));
        }
      }
      if (agent_.stream.get() == this) {
        self = std::move(agent_.stream);
      }
    }
    {
      // From here on nothing of this object is touched: another thread destroys it later.
      std::lock_guard lock(reconnects_.mutex);
      int64_t now = NowNs();
      if (!stopping && config_.reconnect) {
        reconnects_.due.emplace(now + static_cast<int64_t>(delay_ms) * 1'000'000, agent_.index);
      }
      if (self) {
        reconnects_.ended.emplace_back(now, std::move(self));
      }
    }
    std::lock_guard lock(stats.done_mutex);
    ++stats.streams_done;
    stats.done_cv.notify_all();
  }

 private:
  size_t InFlightLocked() const {
    size_t count = 0;
    for (const auto& report : agent_.unacked) {
      count += report.sent_in_session == session_ ? 1 : 0;
    }
    return count;
  }

  void AcceptLocked(uint64_t last_committed_seq) {
    accepted_ = true;
    if (TraceSessions()) {
      std::fprintf(
          stderr,
          "trace: agent %llu session %llu accepted, server has up to %llu; %zu unacked (first "
          "%llu)\n",
          static_cast<unsigned long long>(agent_.index), static_cast<unsigned long long>(session_),
          static_cast<unsigned long long>(last_committed_seq), agent_.unacked.size(),
          static_cast<unsigned long long>(agent_.unacked.empty() ? 0 : agent_.unacked.front().seq));
    }
    stats_.open_sessions.fetch_add(1);
    if (session_ == 1) {
      stats_.streams_accepted.fetch_add(1);
      stats_.streams_settled.fetch_add(1);
    }
    if (!agent_.seq_known) {
      agent_.seq_known = true;
      agent_.next_seq = last_committed_seq + 1;
      for (int64_t due_ms : std::exchange(agent_.due_unnumbered, {})) {
        agent_.GenerateLocked(config_, stats_, due_ms);
      }
      return;
    }
    // The server committed these, but their acks were lost with the previous stream.
    while (!agent_.unacked.empty() && agent_.unacked.front().seq <= last_committed_seq) {
      agent_.unacked.pop_front();
      ++agent_.committed_on_accept;
      stats_.committed_on_accept.fetch_add(1);
    }
    if (agent_.next_seq <= last_committed_seq) {
      stats_.server_ahead.fetch_add(1);
      stats_.NoteFailure("agent " + std::to_string(agent_.index) + ": server says seq " +
                         std::to_string(last_committed_seq) + " is committed, only " +
                         std::to_string(agent_.next_seq - 1) + " were generated");
      agent_.next_seq = last_committed_seq + 1;
    }
    // Not within a second of the previous one: no real agent samples faster (and the server
    // refuses samples under 0.5 s apart).
    if (config_.report_on_reconnect && config_.mode == Mode::kCadence && agent_.unacked.empty() &&
        !stats_.stop_sending.load() && WallMs() - agent_.last_collected_ms >= 1000) {
      agent_.GenerateLocked(config_, stats_);  // the health tick that fell into the outage
    }
  }

  void HandleAckLocked(const dozor::v1::Ack& ack) {
    int64_t now = NowNs();
    auto it = agent_.unacked.begin();
    while (it != agent_.unacked.end() &&
           (it->seq != ack.seq() || it->sent_in_session != session_)) {
      ++it;
    }
    if (it == agent_.unacked.end()) {
      ++agent_.unexpected_acks;
      stats_.unexpected_acks.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (stats_.recording.load(std::memory_order_relaxed)) {
      stats_.latency.Record((now - it->sent_ns) / 1000);
    }
    agent_.unacked.erase(it);
    if (acks_++ == 0) {
      stats_.acked_sessions.fetch_add(1);
    }
    stats_.acked.fetch_add(1, std::memory_order_relaxed);
    switch (ack.outcome()) {
      case dozor::v1::Ack::STORED:
        ++agent_.stored;
        stats_.stored.fetch_add(1, std::memory_order_relaxed);
        break;
      case dozor::v1::Ack::DUPLICATE:
        ++agent_.duplicate;
        stats_.duplicate.fetch_add(1, std::memory_order_relaxed);
        break;
      default: {
        ++agent_.rejected;
        if (stats_.rejected.fetch_add(1) == 0) {
          std::lock_guard lock(stats_.failures_mutex);
          stats_.first_rejection = "seq " + std::to_string(ack.seq()) + ": " + ack.reason();
        }
        break;
      }
    }
  }

  void MaybeReleaseHoldLocked() {
    if (read_closed_ && !writing_ && !hold_released_) {
      hold_released_ = true;
      RemoveHold();
    }
  }

  AgentState& agent_;
  const uint64_t session_;  // 1 for the agent's first stream
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<AgentService::Stub> stub_;
  const RunConfig& config_;
  Stats& stats_;
  Reconnects& reconnects_;
  grpc::ClientContext context_;
  ServerMessage incoming_;

  // The agent's (StreamClientOptions::accept_timeout_ms).
  static constexpr int64_t kAcceptDeadlineNs = 60'000'000'000;
  int64_t started_ns_ = 0;
  bool given_up_ = false;  // guarded by agent_.mutex

  // Guarded by agent_.mutex.
  bool accepted_ = false;
  bool read_closed_ = false;
  bool write_failed_ = false;
  bool hold_released_ = false;
  bool writing_ = false;  // a write is outstanding (or about to be started)
  uint64_t acks_ = 0;     // in this stream: evidence that it works
  std::shared_ptr<AgentMessage> current_write_;
};

// ---------------------------------------------------------------- channels and enrolment

Result<std::shared_ptr<grpc::ChannelCredentials>> MakeCredentials(const Options& options) {
  if (options.insecure) {
    return grpc::InsecureChannelCredentials();
  }
  grpc::SslCredentialsOptions ssl;
  if (!options.ca_file.empty()) {
    DOZOR_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadFile(options.ca_file, 1024 * 1024));
  }
  return grpc::SslCredentials(ssl);
}

std::shared_ptr<grpc::Channel> MakeChannel(const Options& options,
                                           const std::shared_ptr<grpc::ChannelCredentials>& creds,
                                           int channel_index, int session = 0) {
  grpc::ChannelArguments args;
  // A distinct argument gives each channel its own subchannel, i.e. its own TCP connection. A
  // reconnecting agent gets a fresh one per stream, as the real agent does, so gRPC's own
  // subchannel backoff does not add to ours.
  args.SetInt("dozor.loadgen.channel", channel_index);
  args.SetInt("dozor.loadgen.session", session);
  // The agent's keepalive (agent/transport/channel.cpp): a connection that silently died (lost
  // packets, a partition) is noticed within 70 s, as a real agent notices it.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  if (!options.server_name.empty()) {
    args.SetSslTargetNameOverride(options.server_name);
  }
  // "--server a:1,b:2" spreads the agents over replicas, and a reconnecting agent (a new
  // session) moves on to the next one, as the real agent does after a failed session.
  std::vector<std::string> addresses;
  std::string_view rest = options.server;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    addresses.emplace_back(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  if (addresses.empty()) {
    addresses.push_back(options.server);
  }
  const size_t pick =
      (static_cast<size_t>(channel_index) + static_cast<size_t>(session)) % addresses.size();
  return grpc::CreateCustomChannel(addresses[pick], creds, args);
}

Result<std::vector<Identity>> LoadIdentities(const std::string& path) {
  std::vector<Identity> identities;
  if (path.empty() || !std::filesystem::exists(path)) {
    return identities;
  }
  DOZOR_ASSIGN_OR_RETURN(std::string text, ReadFile(path, kMaxIdentitiesFileBytes));
  std::istringstream lines(text);
  std::string line;
  int line_number = 0;
  while (std::getline(lines, line)) {
    ++line_number;
    if (line.empty()) {
      continue;
    }
    auto json = nlohmann::json::parse(line, nullptr, false);
    if (json.is_discarded() || !json.is_object() || !json.contains("agent_id") ||
        !json.contains("agent_secret") || !json["agent_id"].is_string() ||
        !json["agent_secret"].is_string()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       path + ":" + std::to_string(line_number) + ": not an identity JSON line");
    }
    Identity identity;
    identity.agent_id = json["agent_id"].get<std::string>();
    identity.agent_secret = json["agent_secret"].get<std::string>();
    identity.hostname = json.value("hostname", "");
    identity.machine_id = json.value("machine_id", "");
    identities.push_back(std::move(identity));
  }
  return identities;
}

Status SaveIdentities(const std::string& path, const std::vector<Identity>& identities) {
  std::string text;
  for (const auto& identity : identities) {
    nlohmann::json json{{"agent_id", identity.agent_id},
                        {"agent_secret", identity.agent_secret},
                        {"hostname", identity.hostname},
                        {"machine_id", identity.machine_id}};
    text += json.dump();
    text += '\n';
  }
  return WriteFileAtomic(path, text, 0600);
}

// Enrolls agents [first, count) with up to kMaxEnrollConcurrency concurrent Enroll calls.
Status EnrollMissing(const Options& options, const std::shared_ptr<grpc::Channel>& channel,
                     std::vector<Identity>& identities, size_t count) {
  size_t first = identities.size();
  if (first >= count) {
    return OkStatus();
  }
  identities.resize(count);
  auto run_id = RandomHex(4);
  if (!run_id.ok()) {
    return run_id.error();
  }
  std::atomic<size_t> next{first};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::string first_error;
  std::atomic<size_t> enrolled{0};
  auto worker = [&] {
    auto stub = AgentService::NewStub(channel);
    while (!failed.load()) {
      size_t index = next.fetch_add(1);
      if (index >= count) {
        return;
      }
      auto machine_id = RandomHex(16);
      dozor::v1::EnrollRequest request;
      request.set_token(options.token);
      request.set_hostname("loadgen-" + *run_id + "-" + std::to_string(index));
      request.set_machine_id(machine_id.ok() ? *machine_id : std::to_string(index));
      request.set_agent_version(std::string("loadgen/") + kVersion);
      request.set_os("linux");
      dozor::v1::EnrollResponse response;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      grpc::Status status = stub->Enroll(&context, request, &response);
      if (!status.ok()) {
        std::lock_guard lock(error_mutex);
        if (!failed.exchange(true)) {
          first_error = "Enroll failed: " + dozor::DescribeGrpcStatus(status);
        }
        return;
      }
      Identity& identity = identities[index];
      identity.agent_id = response.agent_id();
      identity.agent_secret = response.agent_secret();
      identity.hostname = request.hostname();
      identity.machine_id = request.machine_id();
      enrolled.fetch_add(1);
    }
  };
  auto started = SteadyClock::now();
  size_t threads = std::min<size_t>(kMaxEnrollConcurrency, count - first);
  std::vector<std::thread> pool;
  for (size_t i = 0; i < threads; ++i) {
    pool.emplace_back(worker);
  }
  for (auto& thread : pool) {
    thread.join();
  }
  // Keep only a contiguous prefix of successful enrolments so the cache stays index-aligned.
  size_t good = first;
  while (good < identities.size() && !identities[good].agent_id.empty()) {
    ++good;
  }
  identities.resize(good);
  double seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
  std::cerr << "dozor-loadgen: enrolled " << enrolled.load() << " agents in " << seconds << " s\n";
  if (!options.identities_file.empty()) {
    DOZOR_RETURN_IF_ERROR(SaveIdentities(options.identities_file, identities));
  }
  if (failed.load()) {
    return MakeError(ErrorCode::kUnavailable, first_error);
  }
  return OkStatus();
}

// ---------------------------------------------------------------- the run

struct Summary {
  double elapsed_seconds = 0;
  double connect_seconds = -1;
  double window_seconds = 0;
  uint64_t window_acked = 0;
  uint64_t not_acked = 0;
  uint64_t never_sent = 0;
  bool all_done = true;
};

double Seconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }

// SIGTERM / SIGINT end the load phase early; the drain and the summary still run.
std::atomic<bool> g_stop_requested{false};

extern "C" void RequestStop(int /*signal*/) { g_stop_requested.store(true); }

void WriteAgentsJson(const std::string& path, std::vector<std::unique_ptr<AgentState>>& agents) {
  std::string text;
  for (auto& agent : agents) {
    std::lock_guard lock(agent->mutex);
    nlohmann::json json{{"index", agent->index},
                        {"agent_id", agent->identity.agent_id},
                        {"first_seq", agent->first_seq},
                        {"last_seq", agent->seq_known ? agent->next_seq - 1 : 0},
                        {"generated", agent->generated},
                        {"stored", agent->stored},
                        {"duplicate", agent->duplicate},
                        {"rejected", agent->rejected},
                        {"committed_on_accept", agent->committed_on_accept},
                        {"unacked", agent->unacked.size()},
                        {"due_unnumbered", agent->due_unnumbered.size()},
                        {"unexpected_acks", agent->unexpected_acks},
                        {"sessions", agent->sessions}};
    text += json.dump();
    text += '\n';
  }
  auto written = WriteFileAtomic(path, text, 0644);
  if (!written.ok()) {
    std::cerr << "dozor-loadgen: " << written.error().message << "\n";
  }
}

int Run(const Options& options) {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  auto creds = MakeCredentials(options);
  if (!creds.ok()) {
    std::cerr << "dozor-loadgen: --ca: " << creds.error().message << "\n";
    return 2;
  }
  auto identities = LoadIdentities(options.identities_file);
  if (!identities.ok()) {
    std::cerr << "dozor-loadgen: " << identities.error().message << "\n";
    return 2;
  }
  auto agents = static_cast<size_t>(options.agents);
  if (identities->size() < agents) {
    if (options.token.empty()) {
      std::cerr << "dozor-loadgen: " << identities->size() << " cached identities, " << agents
                << " needed: pass --token to enroll the rest\n";
      return 2;
    }
    auto enroll_channel = MakeChannel(options, *creds, -1);
    auto enrolled = EnrollMissing(options, enroll_channel, *identities, agents);
    if (!enrolled.ok()) {
      std::cerr << "dozor-loadgen: " << enrolled.error().message << "\n";
      return 1;
    }
  }
  if (options.enroll_only) {
    return 0;
  }

  RunConfig config;
  config.mode = options.mode;
  config.window = options.window;
  config.shape = ShapeForValues(options.values);
  config.reconnect = options.reconnect;
  config.report_on_reconnect = options.report_on_reconnect;
  config.backlog_ms = static_cast<int64_t>(options.backlog_minutes * 60'000);
  config.backoff_initial_ms = options.backoff_initial_ms;
  config.backoff_max_ms = std::max(options.backoff_max_ms, options.backoff_initial_ms);
  AgentMessage example;
  Rng example_rng(1);
  FillReport(config.shape, 0, 1, example_rng, &example);
  size_t report_bytes = example.ByteSizeLong();

  size_t channel_count =
      options.connections > 0 ? std::min(static_cast<size_t>(options.connections), agents) : agents;
  std::vector<std::shared_ptr<grpc::Channel>> shared_channels;
  if (options.connections > 0) {
    for (size_t i = 0; i < channel_count; ++i) {
      shared_channels.push_back(MakeChannel(options, *creds, static_cast<int>(i)));
    }
  }

  Stats stats;
  Reconnects reconnects;
  std::vector<std::unique_ptr<AgentState>> states;
  states.reserve(agents);
  for (size_t i = 0; i < agents; ++i) {
    states.push_back(std::make_unique<AgentState>(i, (*identities)[i]));
  }

  // Opens the agent's next stream (its first, or a reconnect after its backoff).
  auto open_session = [&](size_t index) {
    AgentState& agent = *states[index];
    AgentStream* stream = nullptr;
    {
      std::lock_guard lock(agent.mutex);
      if (agent.stream) {
        return;  // still has one
      }
      uint64_t session = ++agent.sessions;
      auto channel = shared_channels.empty() ? MakeChannel(options, *creds, static_cast<int>(index),
                                                           static_cast<int>(session))
                                             : shared_channels[index % channel_count];
      agent.stream =
          std::make_unique<AgentStream>(agent, session, channel, config, stats, reconnects);
      stream = agent.stream.get();
    }
    stats.sessions_started.fetch_add(1);
    stream->Start();
  };

  std::signal(SIGTERM, RequestStop);
  std::signal(SIGINT, RequestStop);
  const int64_t start_ns = NowNs();
  const int64_t end_ns = options.duration_seconds > 0
                             ? start_ns + static_cast<int64_t>(options.duration_seconds * 1e9)
                             : INT64_MAX;
  std::atomic<bool> stop_connecting{false};
  std::thread connector([&] {
    // Paced in 10 ms slices so a large fleet does not arrive as one thundering herd; reconnects
    // share the same rate.
    const double per_ns = options.connect_rate / 1e9;
    size_t opened = 0;
    double reconnect_budget = 0;
    int64_t last_ns = NowNs();
    int64_t last_overdue_check_ns = last_ns;
    while (!stop_connecting.load()) {
      int64_t now = NowNs();
      auto allowed = static_cast<size_t>(static_cast<double>(now - start_ns) * per_ns) + 1;
      while (opened < std::min(allowed, agents)) {
        open_session(opened);
        stats.streams_started.fetch_add(1);
        ++opened;
      }
      reconnect_budget = std::min(reconnect_budget + static_cast<double>(now - last_ns) * per_ns,
                                  std::max(1.0, options.connect_rate / 50));
      last_ns = now;
      std::vector<size_t> due;
      std::deque<std::pair<int64_t, std::unique_ptr<AgentStream>>> expired;
      {
        std::lock_guard lock(reconnects.mutex);
        while (!reconnects.due.empty() && reconnects.due.begin()->first <= now &&
               reconnect_budget >= 1) {
          due.push_back(reconnects.due.begin()->second);
          reconnects.due.erase(reconnects.due.begin());
          reconnect_budget -= 1;
        }
        // OnDone returned long ago: nothing references these any more.
        while (!reconnects.ended.empty() && reconnects.ended.front().first < now - 2'000'000'000) {
          expired.push_back(std::move(reconnects.ended.front()));
          reconnects.ended.pop_front();
        }
      }
      expired.clear();
      for (size_t index : due) {
        open_session(index);
      }
      if (config.reconnect && now - last_overdue_check_ns >= 1'000'000'000) {
        // Streams live until this thread destroys them (`ended`), so a pointer taken under the
        // agent's mutex stays valid for the cancel.
        last_overdue_check_ns = now;
        for (auto& state : states) {
          AgentStream* overdue = nullptr;
          {
            std::lock_guard lock(state->mutex);
            if (state->stream && state->stream->TakeAcceptOverdueLocked(now)) {
              overdue = state->stream.get();
            }
          }
          if (overdue != nullptr) {
            stats.accept_timeouts.fetch_add(1);
            overdue->Cancel();
          }
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });

  auto unresolved = [&] {
    return stats.generated.load() -
           std::min(stats.generated.load(),
                    stats.acked.load() + stats.abandoned.load() + stats.committed_on_accept.load());
  };
  const char* phase = "running";
  auto write_status = [&] {
    if (options.status_file.empty()) {
      return;
    }
    nlohmann::json json{{"elapsed_seconds", Seconds(NowNs() - start_ns)},
                        {"phase", phase},
                        {"agents", agents},
                        {"streams_accepted", stats.streams_accepted.load()},
                        {"open_sessions", stats.open_sessions.load()},
                        {"acked_sessions", stats.acked_sessions.load()},
                        {"sessions_started", stats.sessions_started.load()},
                        {"session_ends", stats.session_ends.load()},
                        {"generated", stats.generated.load()},
                        {"sent", stats.sent.load()},
                        {"acked", stats.acked.load()},
                        {"stored", stats.stored.load()},
                        {"duplicate", stats.duplicate.load()},
                        {"rejected", stats.rejected.load()},
                        {"committed_on_accept", stats.committed_on_accept.load()},
                        {"unacked", unresolved()}};
    auto written = WriteFileAtomic(options.status_file, json.dump() + "\n", 0644);
    if (!written.ok()) {
      std::cerr << "dozor-loadgen: " << written.error().message << "\n";
    }
  };

  const double interval_ns = options.interval_seconds * 1e9;
  uint64_t ticks = 0;  // cadence: tick k goes to agent k % N at start + k * interval / N
  Summary summary;
  int64_t connected_ns = 0;
  int64_t measure_start_ns = 0;
  uint64_t acked_at_measure_start = 0;
  int64_t next_progress_ns = start_ns + 5'000'000'000LL;
  int64_t next_status_ns = start_ns;
  uint64_t acked_at_last_progress = 0;
  auto progress = [&](int64_t now) {
    if (now >= next_status_ns) {
      write_status();
      next_status_ns = now + 1'000'000'000LL;
    }
    if (now < next_progress_ns) {
      return;
    }
    uint64_t acked = stats.acked.load();
    std::fprintf(
        stderr,
        "[%5.1fs] streams accepted %llu open %llu ended %llu, acked %llu (%.0f/s last 5 s), "
        "unacked %llu\n",
        Seconds(now - start_ns), static_cast<unsigned long long>(stats.streams_accepted.load()),
        static_cast<unsigned long long>(stats.open_sessions.load()),
        static_cast<unsigned long long>(stats.session_ends.load() + stats.streams_failed.load()),
        static_cast<unsigned long long>(acked),
        static_cast<double>(acked - acked_at_last_progress) / 5.0,
        static_cast<unsigned long long>(unresolved()));
    acked_at_last_progress = acked;
    next_progress_ns += 5'000'000'000LL;
  };
  while (true) {
    int64_t now = NowNs();
    if (now >= end_ns || g_stop_requested.load()) {
      break;
    }
    if (connected_ns == 0 && stats.streams_settled.load() >= agents) {
      connected_ns = now;
      double warmup =
          options.warmup_seconds >= 0
              ? options.warmup_seconds
              : std::min(5.0,
                         0.2 * (options.duration_seconds > 0 ? options.duration_seconds : 25.0));
      measure_start_ns = now + static_cast<int64_t>(warmup * 1e9);
    }
    if (measure_start_ns != 0 && now >= measure_start_ns && !stats.recording.load()) {
      acked_at_measure_start = stats.acked.load();
      measure_start_ns = now;
      stats.recording.store(true);
    }
    if (options.mode == Mode::kCadence) {
      while (true) {
        auto due = start_ns + static_cast<int64_t>(static_cast<double>(ticks) * interval_ns /
                                                   static_cast<double>(agents));
        if (due > now) {
          break;
        }
        AgentState& agent = *states[ticks % agents];
        AgentStream* stream = nullptr;
        std::shared_ptr<AgentMessage> message;
        {
          std::lock_guard lock(agent.mutex);
          // Without --reconnect an agent whose stream has not started or has ended sends nothing.
          if ((agent.sessions > 0 || config.reconnect) && !agent.dead) {
            // A report sent at once on reconnect takes the place of a tick due within a second.
            const bool just_reported =
                config.report_on_reconnect && WallMs() - agent.last_collected_ms < 1000;
            if (!just_reported) {
              agent.GenerateLocked(config, stats);
            }
            if (agent.stream) {
              stream = agent.stream.get();
              message = stream->NextWriteLocked();
            }
          }
        }
        if (message) {
          stream->Write(std::move(message));
        }
        ++ticks;
      }
    }
    progress(now);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }

  // Stop generating, then measure the window before the drain adds its tail of acks.
  stats.stop_sending.store(true);
  int64_t measure_end_ns = NowNs();
  summary.elapsed_seconds = Seconds(measure_end_ns - start_ns);
  uint64_t acked_at_end = stats.acked.load();
  if (stats.recording.load()) {
    summary.window_seconds = Seconds(measure_end_ns - measure_start_ns);
    summary.window_acked = acked_at_end - acked_at_measure_start;
  } else {
    // The connect phase or warm-up outlasted the run: fall back to the whole run.
    summary.window_seconds = summary.elapsed_seconds;
    summary.window_acked = acked_at_end;
  }
  if (connected_ns != 0) {
    summary.connect_seconds = Seconds(connected_ns - start_ns);
  }
  if (!stats.recording.load()) {
    stats.recording.store(true);  // at least the drain's latencies
  }

  // Drain: give outstanding reports time to be acked (with --reconnect, streams keep reopening).
  phase = "draining";
  int64_t drain_end = NowNs() + static_cast<int64_t>(options.drain_seconds * 1e9);
  while (NowNs() < drain_end && unresolved() > 0) {
    progress(NowNs());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // No reconnects from here on; streams are only destroyed by the connector, stopped first.
  stats.stopping.store(true);
  stop_connecting.store(true);
  connector.join();
  std::vector<AgentStream*> open_streams;
  uint64_t due_unnumbered = 0;
  for (auto& agent : states) {
    std::lock_guard lock(agent->mutex);
    due_unnumbered += agent->due_unnumbered.size();
    if (agent->stream) {
      open_streams.push_back(agent->stream.get());
    }
  }
  for (AgentStream* stream : open_streams) {
    stream->Cancel();
  }
  {
    std::unique_lock lock(stats.done_mutex);
    summary.all_done = stats.done_cv.wait_for(lock, std::chrono::seconds(15), [&] {
      return stats.streams_done >= stats.sessions_started.load();
    });
  }
  // With --reconnect: never acked nor found committed (lost). Without: every report sent whose ack
  // did not come, also those abandoned with their stream.
  summary.not_acked = config.reconnect ? unresolved()
                                       : stats.generated.load() -
                                             std::min(stats.generated.load(), stats.acked.load());
  summary.never_sent = due_unnumbered;
  phase = "done";
  write_status();
  if (!options.agents_json.empty()) {
    WriteAgentsJson(options.agents_json, states);
  }

  // ---------------------------------------------------------------- summary
  auto ms = [](uint64_t micros) { return static_cast<double>(micros) / 1000.0; };
  double window_rate = summary.window_seconds > 0
                           ? static_cast<double>(summary.window_acked) / summary.window_seconds
                           : 0;
  double overall_rate =
      summary.elapsed_seconds > 0 ? static_cast<double>(acked_at_end) / summary.elapsed_seconds : 0;
  const auto& latency = stats.latency;
  std::printf("==== dozor-loadgen summary ====\n");
  if (options.mode == Mode::kThroughput) {
    std::printf("mode               throughput, window %d reports in flight per stream\n",
                options.window);
  } else {
    std::printf("mode               cadence, one report per agent every %.1f s (expected %.1f/s)\n",
                options.interval_seconds, static_cast<double>(agents) / options.interval_seconds);
  }
  std::printf("server             %s (%s), %zu TCP connection(s)\n", options.server.c_str(),
              options.insecure ? "plaintext" : "TLS", channel_count);
  std::printf(
      "report             %zu bytes, %d metric values (%d fs, %d disks, %d nics, %d+%d procs)\n",
      report_bytes, config.shape.MetricValues(), config.shape.filesystems, config.shape.disks,
      config.shape.nics, config.shape.top_cpu, config.shape.top_memory);
  std::printf("agents             %zu: streams started %llu, accepted %llu, failed %llu\n", agents,
              static_cast<unsigned long long>(stats.streams_started.load()),
              static_cast<unsigned long long>(stats.streams_accepted.load()),
              static_cast<unsigned long long>(stats.streams_failed.load()));
  if (summary.connect_seconds >= 0) {
    std::printf("connect phase      %.2f s\n", summary.connect_seconds);
  } else {
    std::printf("connect phase      not finished within the run\n");
  }
  std::printf("run                %.1f s, measured window %.1f s\n", summary.elapsed_seconds,
              summary.window_seconds);
  std::printf("reports sent       %llu\n", static_cast<unsigned long long>(stats.sent.load()));
  std::printf("reports acked      %llu (stored %llu, duplicate %llu, rejected %llu)\n",
              static_cast<unsigned long long>(stats.acked.load()),
              static_cast<unsigned long long>(stats.stored.load()),
              static_cast<unsigned long long>(stats.duplicate.load()),
              static_cast<unsigned long long>(stats.rejected.load()));
  std::printf("acked reports/s    %.1f in the measured window, %.1f over the whole run\n",
              window_rate, overall_rate);
  std::printf("ack latency ms     p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  (%llu acks)\n",
              ms(latency.QuantileMicros(0.50)), ms(latency.QuantileMicros(0.90)),
              ms(latency.QuantileMicros(0.99)), ms(latency.MaxMicros()),
              static_cast<unsigned long long>(latency.Count()));
  std::printf("not acked at end   %llu (plus %llu due but never sent)\n",
              static_cast<unsigned long long>(summary.not_acked),
              static_cast<unsigned long long>(summary.never_sent));
  if (config.reconnect) {
    std::printf(
        "reconnect          %llu streams opened, %llu ended during the run; generated %llu, "
        "resent %llu, committed with the ack lost %llu, not accepted within 60 s %llu\n",
        static_cast<unsigned long long>(stats.sessions_started.load()),
        static_cast<unsigned long long>(stats.session_ends.load()),
        static_cast<unsigned long long>(stats.generated.load()),
        static_cast<unsigned long long>(stats.resent.load()),
        static_cast<unsigned long long>(stats.committed_on_accept.load()),
        static_cast<unsigned long long>(stats.accept_timeouts.load()));
  }
  if (stats.server_ahead.load() > 0) {
    std::printf("server ahead       %llu streams accepted with a committed seq never generated\n",
                static_cast<unsigned long long>(stats.server_ahead.load()));
  }
  if (stats.unexpected_acks.load() > 0) {
    std::printf("unexpected acks    %llu\n",
                static_cast<unsigned long long>(stats.unexpected_acks.load()));
  }
  std::printf("failed streams     %llu\n",
              static_cast<unsigned long long>(stats.streams_failed.load()));
  {
    std::lock_guard lock(stats.failures_mutex);
    for (const auto& failure : stats.failures) {
      std::printf("  %s\n", failure.c_str());
    }
    if (!stats.first_rejection.empty()) {
      std::printf("first rejection    %s\n", stats.first_rejection.c_str());
    }
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  double own_cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                   static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  std::printf(
      "loadgen itself     %.1f CPU s, peak RSS %.1f MB (it shares the machine with the server)\n",
      own_cpu, static_cast<double>(usage.ru_maxrss) / 1024.0);
  if (!summary.all_done) {
    std::printf("WARNING: some streams did not finish within 15 s of cancellation\n");
  }
  std::printf("===============================\n");

  if (!options.summary_json.empty()) {
    nlohmann::json json{
        {"mode", options.mode == Mode::kThroughput ? "throughput" : "cadence"},
        {"agents", agents},
        {"report_bytes", report_bytes},
        {"metric_values", config.shape.MetricValues()},
        {"elapsed_seconds", summary.elapsed_seconds},
        {"connect_seconds", summary.connect_seconds},
        {"window_seconds", summary.window_seconds},
        {"sent", stats.sent.load()},
        {"acked", stats.acked.load()},
        {"stored", stats.stored.load()},
        {"duplicate", stats.duplicate.load()},
        {"rejected", stats.rejected.load()},
        {"acked_per_second_window", window_rate},
        {"acked_per_second_overall", overall_rate},
        {"latency_ms",
         {{"p50", ms(latency.QuantileMicros(0.5))},
          {"p90", ms(latency.QuantileMicros(0.9))},
          {"p99", ms(latency.QuantileMicros(0.99))},
          {"max", ms(latency.MaxMicros())}}},
        {"not_acked", summary.not_acked},
        {"streams_failed", stats.streams_failed.load()},
        {"generated", stats.generated.load()},
        {"resent", stats.resent.load()},
        {"sessions_started", stats.sessions_started.load()},
        {"session_ends", stats.session_ends.load()},
        {"committed_on_accept", stats.committed_on_accept.load()},
        {"accept_timeouts", stats.accept_timeouts.load()},
        {"unexpected_acks", stats.unexpected_acks.load()},
        {"server_ahead", stats.server_ahead.load()},
        {"never_sent", summary.never_sent},
    };
    auto written = WriteFileAtomic(options.summary_json, json.dump(2) + "\n", 0644);
    if (!written.ok()) {
      std::cerr << "dozor-loadgen: " << written.error().message << "\n";
    }
  }

  bool ok = stats.streams_failed.load() == 0 && stats.rejected.load() == 0 &&
            stats.streams_accepted.load() > 0;
  if (config.reconnect) {
    // Every report generated was acked (or found committed on reconnect): none lost.
    ok = ok && summary.not_acked == 0 && summary.never_sent == 0 &&
         stats.server_ahead.load() == 0 && stats.unexpected_acks.load() == 0;
  }
  std::fflush(stdout);
  if (!summary.all_done) {
    // Reactors still referenced by gRPC must not be destroyed: leave without destructors.
    std::_Exit(ok ? 0 : 1);
  }
  for (auto& agent : states) {
    agent->stream.reset();
  }
  reconnects.ended.clear();
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace dozor::bench

int main(int argc, char** argv) {
  dozor::bench::Options options;
  CLI::App app{
      "dozor-loadgen: simulated agents against a real dozor-server (see tests/bench/README.md)"};
  app.add_option("--server", options.server,
                 "Agent gRPC address HOST:PORT, or several replicas HOST:PORT,HOST:PORT")
      ->required();
  auto* insecure = app.add_flag("--insecure", options.insecure, "Plaintext gRPC (loopback)");
  app.add_option("--ca", options.ca_file, "PEM CA file to verify the server")->excludes(insecure);
  app.add_option("--server-name", options.server_name, "Name expected in the server certificate");
  app.add_option("--token", options.token, "Enrollment token (dozorctl token create --org ORG)");
  app.add_option("--agents", options.agents, "Simulated agents (one stream each)")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--identities", options.identities_file,
                 "JSON-lines cache of enrolled identities; missing ones are enrolled and appended");
  std::string mode = "throughput";
  app.add_option("--mode", mode,
                 "throughput: keep --window reports in flight per stream; "
                 "cadence: one report per agent every --interval-seconds")
      ->check(CLI::IsMember({"throughput", "cadence"}));
  app.add_option("--window", options.window, "Throughput mode: reports in flight per stream")
      ->check(CLI::Range(1, 100000));
  app.add_option("--backlog-minutes", options.backlog_minutes,
                 "Throughput mode: stamp each agent's first sample this many minutes ago and the "
                 "next ones 1 s apart (a spool replayed after an outage) instead of starting at "
                 "the wall clock and running ahead of it")
      ->check(CLI::Range(0.0, 1440.0));
  app.add_option("--interval-seconds", options.interval_seconds,
                 "Cadence mode: seconds between one agent's reports")
      ->check(CLI::Range(0.001, 86400.0));
  app.add_option("--duration", options.duration_seconds,
                 "Seconds of load, then stop (0: until SIGTERM or SIGINT, which also end a timed "
                 "run early)")
      ->check(CLI::Range(0.0, 31536000.0));
  app.add_option("--warmup-seconds", options.warmup_seconds,
                 "Seconds after all streams are accepted before measuring (default: 20 % of "
                 "--duration, at most 5)");
  app.add_option("--drain-seconds", options.drain_seconds,
                 "Seconds to wait for outstanding acks at the end")
      ->check(CLI::Range(0.0, 600.0));
  app.add_option("--values", options.values, "Approximate metric values per health sample")
      ->check(CLI::Range(10, 10000));
  app.add_option("--connect-rate", options.connect_rate, "Streams opened per second")
      ->check(CLI::Range(1.0, 1e6));
  app.add_option("--connections", options.connections,
                 "TCP connections shared by the streams (default: one per agent)")
      ->check(CLI::Range(0, 1000000));
  app.add_flag("--enroll-only", options.enroll_only,
               "Enroll missing identities into --identities and exit (no streams)");
  app.add_option("--summary-json", options.summary_json, "Also write the summary as JSON here");
  app.add_flag("--reconnect", options.reconnect,
               "A stream that ends is opened again after a backoff (like the agent's) and its "
               "unacked reports are sent again with their seq; exit 1 if any report is left "
               "unacked at the end");
  app.add_flag("--report-on-reconnect", options.report_on_reconnect,
               "Cadence mode: a reconnected agent with nothing unacked sends one report at once");
  app.add_option("--backoff-initial-ms", options.backoff_initial_ms,
                 "Reconnect backoff: first delay (jittered to 50-100 %), doubling")
      ->check(CLI::Range(1, 3600000));
  app.add_option("--backoff-max-ms", options.backoff_max_ms, "Reconnect backoff: largest delay")
      ->check(CLI::Range(1, 3600000));
  app.add_option("--agents-json", options.agents_json,
                 "At the end write one JSON line per agent: agent_id, first/last seq generated, "
                 "acks by outcome, unacked");
  app.add_option("--status-file", options.status_file,
                 "Rewrite this JSON file every second: open and acked streams, counts");
  app.set_version_flag("--version", dozor::kVersion);
  CLI11_PARSE(app, argc, argv);
  options.mode = mode == "cadence" ? dozor::bench::Mode::kCadence : dozor::bench::Mode::kThroughput;
  return dozor::bench::Run(options);
}
