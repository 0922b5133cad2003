// dozor-agent configuration: defaults, the TOML file (docs/agent-config.md), validation.
// Command-line flags override file values; main.cpp applies them and then calls
// ValidateAgentConfig once on the merged result.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "dozor/common/result.hpp"
#include "platform/install_layout.hpp"

namespace dozor::agent {

inline constexpr int kMinHealthIntervalSeconds = 1;  // below 10 s: tests and demos only
inline constexpr int kMaxHealthIntervalSeconds = 86400;
inline constexpr int kMinInventoryIntervalSeconds = 60;
inline constexpr int kMaxInventoryIntervalSeconds = 604800;
inline constexpr uint64_t kMinSpoolMaxBytes = 1ull << 20;   // 1 MiB
inline constexpr uint64_t kMaxSpoolMaxBytes = 10ull << 30;  // 10 GiB
// Each inventory collector's deadline (core/collector_supervisor.hpp). The default is longer than
// the slowest normal collector (apt-get simulation, or smartctl on several disks, each run bounded
// to 60 s by the command runner, on a loaded machine) and short enough that a hang shows up in
// the same inventory.
inline constexpr int kDefaultCollectorTimeoutSeconds = 300;
inline constexpr int kMinCollectorTimeoutSeconds = 10;
inline constexpr int kMaxCollectorTimeoutSeconds = 3600;
inline constexpr int kMinMaxRssMb = 16;
inline constexpr int kMaxMaxRssMb = 65536;
inline constexpr double kMinMaxCpuPercent = 0.5;
inline constexpr double kMaxMaxCpuPercent = 400;  // percent of one core
// The config file is tiny; anything bigger is not a config file.
inline constexpr size_t kMaxConfigFileBytes = 1 << 20;

struct AgentConfig {
  std::string server_address;  // "host:port", "[v6]:port"; empty = take it from the identity file
  std::filesystem::path tls_ca_file;  // PEM bundle; empty = system trust store
  bool insecure = false;              // plaintext gRPC: loopback only (transport/channel.hpp)
  // Plaintext to a server that is not on loopback (the path is protected otherwise: VPN, tunnel).
  bool allow_plaintext_remote = false;
  std::string tls_server_name;  // overrides the name checked against the server certificate
  std::filesystem::path state_dir = platform::DefaultStateDir();
  std::filesystem::path root = "/";  // prefix for /proc, /sys, /etc (tests, containers)
  int health_interval_seconds = 60;
  int inventory_interval_seconds = 21600;
  uint64_t spool_max_bytes = 64ull << 20;
  std::string log_level = "info";  // trace, debug, info, warn, error
  bool collect_smart = true;
  // A collector still running after this is reported as failed (and not started again while hung).
  int collector_timeout_seconds = kDefaultCollectorTimeoutSeconds;
  // Self-limits (core/self_limiter.hpp): own resident memory and CPU (% of one core, averaged
  // over a minute) above which the agent sheds work.
  int max_rss_mb = 100;
  double max_cpu_percent = 10;
};

// Reads a TOML config file over the defaults. Errors name the file and line (and column for
// syntax errors): unknown keys (with the closest known key), wrong types, out-of-range values.
// Does not run the cross-field checks of ValidateAgentConfig (flags may still change fields).
[[nodiscard]] Result<AgentConfig> LoadAgentConfigFile(const std::filesystem::path& path);

// Range and cross-field checks on a complete configuration (file + flags). kInvalidArgument with
// a message naming the setting.
[[nodiscard]] Status ValidateAgentConfig(const AgentConfig& config);

// Checks "host:port" with port 1..65535; IPv6 literals must be bracketed ("[::1]:7443"). A
// comma-separated list names several server replicas ("a:7443,b:7443"): each is checked and none
// may be empty.
[[nodiscard]] Status ValidateServerAddress(std::string_view addresses);

// Parses a byte count: a plain integer or a number with a unit, e.g. "64MiB", "1GiB", "500KB",
// "4096", "2 MB" (KB/MB/GB = 1000^n, KiB/MiB/GiB = 1024^n, B = bytes). Case-insensitive units.
[[nodiscard]] Result<uint64_t> ParseByteSize(std::string_view text);

// True for trace, debug, info, warn, error.
[[nodiscard]] bool IsValidLogLevel(std::string_view level);

}  // namespace dozor::agent
