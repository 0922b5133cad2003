// What `dozor-agent status` shows, and the state the running agent leaves for it.
//
// The running agent holds an exclusive lock (platform/file_lock.hpp) on <state_dir>/agent.lock
// for its lifetime (a second agent on the same state dir refuses to start) and keeps
// <state_dir>/status.json (mode 0600, written atomically when something changed, at most every
// 5 s). `status` reads both: the lock says whether an agent runs, the file says what it last did.
// Identity comes from identity.json. Documented in docs/agent-config.md ("Status").
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/identity.hpp"
#include "dozor/common/result.hpp"
#include "platform/file_lock.hpp"

namespace dozor::agent {

inline constexpr const char* kStatusFileName = "status.json";
inline constexpr const char* kLockFileName = "agent.lock";
inline constexpr std::string_view kStatusFormat = "dozor.agent-status/v1";
inline constexpr size_t kMaxStatusFileBytes = 1 << 20;
// `status` exit codes.
inline constexpr int kStatusExitHealthy = 0;
inline constexpr int kStatusExitNotEnrolled = 1;
inline constexpr int kStatusExitUnhealthy = 3;  // not running, or last send too old
// A send older than this many (effective) health intervals makes the agent unhealthy.
inline constexpr int kStaleSendIntervals = 3;

struct CollectorResult {
  std::string name;
  bool ok = false;
  std::string error;
  uint32_t duration_ms = 0;
  int64_t at_ms = 0;  // Unix ms when it finished
};

// status.json, written by the running agent.
struct RuntimeStatus {
  int64_t pid = 0;
  int64_t started_at_ms = 0;
  int64_t updated_at_ms = 0;
  std::string agent_version;
  std::string server_address;
  int health_interval_seconds = 0;  // effective: doubled while shedding work
  bool connected = false;
  int64_t last_send_ok_ms = 0;  // last report acknowledged by the server; 0 = never
  int64_t last_connect_ms = 0;
  std::string last_error;
  uint64_t spool_reports = 0;
  uint64_t spool_bytes = 0;
  uint64_t spool_dropped_health = 0;
  // Dropped after being sent: counted above once the server says it lacks them.
  uint64_t spool_dropped_awaiting_server = 0;
  std::vector<CollectorResult> collectors;
  // Self-limits (core/self_limiter.hpp).
  bool shedding = false;
  std::string shed_reason;
  uint64_t rss_bytes = 0;
  double cpu_percent = -1;  // -1: not known yet
  int max_rss_mb = 0;
  double max_cpu_percent = 0;
};

[[nodiscard]] std::string SerializeRuntimeStatus(const RuntimeStatus& status);
// kInvalidArgument when the text is not a status file of this format.
[[nodiscard]] Result<RuntimeStatus> ParseRuntimeStatus(std::string_view text);

// Writes <state_dir>/status.json atomically, mode 0600.
[[nodiscard]] Status SaveRuntimeStatus(const std::filesystem::path& state_dir,
                                       const RuntimeStatus& status);

// The running agent's lock on <state_dir>/agent.lock, released when destroyed (or the process
// dies). Move-only.
class AgentLock {
 public:
  // kAlreadyExists when another process holds it.
  [[nodiscard]] static Result<AgentLock> Acquire(const std::filesystem::path& state_dir);

 private:
  explicit AgentLock(platform::ExclusiveFileLock lock) : lock_(std::move(lock)) {}
  platform::ExclusiveFileLock lock_;
};

// True when some open file description holds the agent lock (a running agent). Works with read
// access to the lock file only. false when the file does not exist.
[[nodiscard]] Result<bool> IsAgentLocked(const std::filesystem::path& state_dir);

// Everything `status` prints, and its verdict.
struct StatusView {
  bool enrolled = false;
  std::string identity_error;  // why not enrolled / unreadable
  AgentIdentity identity;      // agent_secret cleared
  bool running = false;
  std::optional<RuntimeStatus> runtime;
  std::string runtime_error;  // status.json unreadable (not "absent")
  int64_t now_ms = 0;
  std::vector<std::string> problems;  // reasons for an unhealthy verdict
  int exit_code = kStatusExitHealthy;
};

// Pure: the verdict from what was read. Not enrolled -> 1; enrolled but not running, no status,
// or no acknowledged send for kStaleSendIntervals effective health intervals (counted from start
// when nothing was ever sent) -> 3; otherwise 0.
[[nodiscard]] StatusView EvaluateStatus(const Result<AgentIdentity>& identity, bool running,
                                        const Result<RuntimeStatus>& runtime, int64_t now_ms);

// Reads identity.json, agent.lock and status.json from state_dir, then EvaluateStatus.
[[nodiscard]] StatusView LoadStatusView(const std::filesystem::path& state_dir, int64_t now_ms);

// Human table and machine JSON. Neither contains the agent secret.
[[nodiscard]] std::string RenderStatusText(const StatusView& view);
[[nodiscard]] std::string RenderStatusJson(const StatusView& view);

}  // namespace dozor::agent
