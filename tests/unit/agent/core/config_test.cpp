#include "core/config.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "core/agent.hpp"
#include "test_util.hpp"
#include "transport/channel.hpp"
#include "transport/server_addresses.hpp"

namespace dozor::agent {
namespace {

using dozor::testing::TempDir;

std::filesystem::path WriteConfig(const TempDir& dir, const std::string& text) {
  const auto path = dir / "agent.toml";
  std::ofstream(path) << text;
  return path;
}

// Loads `text` expecting failure; returns the error message.
std::string LoadError(const std::string& text) {
  TempDir dir;
  auto config = LoadAgentConfigFile(WriteConfig(dir, text));
  REQUIRE_FALSE(config.ok());
  CHECK(config.error().code == ErrorCode::kInvalidArgument);
  return config.error().message;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST_CASE("agent config defaults match the documented values and validate") {
  AgentConfig config;
  CHECK(config.server_address.empty());
  CHECK_FALSE(config.insecure);
  CHECK(config.state_dir == platform::DefaultStateDir());
  CHECK(config.root == "/");
  CHECK(config.health_interval_seconds == 60);
  CHECK(config.inventory_interval_seconds == 21600);
  CHECK(config.spool_max_bytes == 64ull * 1024 * 1024);
  CHECK(config.log_level == "info");
  CHECK(config.collect_smart);
  CHECK(ValidateAgentConfig(config).ok());
}

TEST_CASE("agent config empty file gives the defaults") {
  TempDir dir;
  auto config = LoadAgentConfigFile(WriteConfig(dir, "# nothing set\n"));
  REQUIRE(config.ok());
  CHECK(config->health_interval_seconds == 60);
  CHECK(config->state_dir == platform::DefaultStateDir());
}

TEST_CASE("agent config reads every key of a full file") {
  TempDir dir;
  const auto ca = dir / "ca.pem";
  std::ofstream(ca) << "-----BEGIN CERTIFICATE-----\n";
  auto config = LoadAgentConfigFile(WriteConfig(dir, R"(
[server]
address = "dozor.example.com:7443"
ca_file = ')" + ca.string() + R"('
insecure = false
server_name = "dozor.internal"

[agent]
state_dir = "/tmp/dozor-state"
root = "/"
log_level = "debug"

[intervals]
health_seconds = 30
inventory_seconds = 3600

[spool]
max_bytes = "128MiB"

[collectors]
smart = false
)"));
  REQUIRE_MESSAGE(config.ok(), config.error().ToString());
  CHECK(config->server_address == "dozor.example.com:7443");
  CHECK(config->tls_ca_file == ca);
  CHECK_FALSE(config->insecure);
  CHECK(config->tls_server_name == "dozor.internal");
  CHECK(config->state_dir == "/tmp/dozor-state");
  CHECK(config->log_level == "debug");
  CHECK(config->health_interval_seconds == 30);
  CHECK(config->inventory_interval_seconds == 3600);
  CHECK(config->spool_max_bytes == 128ull << 20);
  CHECK_FALSE(config->collect_smart);
  CHECK(ValidateAgentConfig(*config).ok());
}

TEST_CASE("agent config accepts dotted keys and an integer spool size") {
  TempDir dir;
  auto config = LoadAgentConfigFile(WriteConfig(dir,
                                                "server.address = \"[::1]:7443\"\n"
                                                "server.insecure = true\n"
                                                "spool.max_bytes = 2097152\n"));
  REQUIRE_MESSAGE(config.ok(), config.error().ToString());
  CHECK(config->server_address == "[::1]:7443");
  CHECK(config->insecure);
  CHECK(config->spool_max_bytes == 2097152);
}

TEST_CASE("agent config: plaintext to a remote server needs allow_plaintext_remote by name") {
  TempDir dir;
  auto config = LoadAgentConfigFile(WriteConfig(dir,
                                                "[server]\n"
                                                "address = \"10.0.0.5:7443\"\n"
                                                "insecure = true\n"));
  REQUIRE_MESSAGE(config.ok(), config.error().ToString());
  CHECK_FALSE(config->allow_plaintext_remote);
  auto refused = CheckPlaintextAllowed(ServerChannelOptions(*config, AgentIdentity{}));
  REQUIRE_FALSE(refused.ok());
  CHECK(Contains(refused.error().message, "10.0.0.5:7443"));

  // The address recorded at enrollment counts when the config names none.
  AgentConfig from_identity;
  from_identity.insecure = true;
  AgentIdentity identity;
  identity.server_address = "dozor.example.com:7443";
  CHECK_FALSE(CheckPlaintextAllowed(ServerChannelOptions(from_identity, identity)).ok());
  identity.server_address = "127.0.0.1:7443";
  CHECK(CheckPlaintextAllowed(ServerChannelOptions(from_identity, identity)).ok());

  auto allowed = LoadAgentConfigFile(WriteConfig(dir,
                                                 "[server]\n"
                                                 "address = \"10.0.0.5:7443\"\n"
                                                 "insecure = true\n"
                                                 "allow_plaintext_remote = true\n"));
  REQUIRE_MESSAGE(allowed.ok(), allowed.error().ToString());
  CHECK(allowed->allow_plaintext_remote);
  CHECK(CheckPlaintextAllowed(ServerChannelOptions(*allowed, AgentIdentity{})).ok());
}

TEST_CASE("agent config: collectors.timeout_seconds sets the collectors' deadline, 10..3600") {
  TempDir dir;
  auto config = LoadAgentConfigFile(WriteConfig(dir, "[collectors]\ntimeout_seconds = 60\n"));
  REQUIRE_MESSAGE(config.ok(), config.error().ToString());
  CHECK(config->collector_timeout_seconds == 60);
  CHECK(AgentConfig{}.collector_timeout_seconds == 300);
  CHECK(Contains(LoadError("[collectors]\ntimeout_seconds = 5\n"),
                 "collectors.timeout_seconds = 5 is out of range (expected 10..3600)"));
  AgentConfig too_long;
  too_long.collector_timeout_seconds = 7200;
  CHECK_FALSE(ValidateAgentConfig(too_long).ok());
}

TEST_CASE("agent config syntax error names the file, line and column") {
  TempDir dir;
  const auto path = WriteConfig(dir, "[server]\naddress = \"a:1\"\ninsecure = tru\n");
  auto config = LoadAgentConfigFile(path);
  REQUIRE_FALSE(config.ok());
  CHECK(config.error().code == ErrorCode::kInvalidArgument);
  INFO(config.error().message);
  CHECK(Contains(config.error().message, path.string() + ":3:"));
  CHECK(Contains(config.error().message, "syntax"));
  CHECK(config.error().message.find('\n') == std::string::npos);
}

TEST_CASE("agent config unknown key names the line and suggests the closest key") {
  const std::string message = LoadError("[server]\naddress = \"a:1\"\n\nca_flie = \"/x\"\n");
  INFO(message);
  CHECK(Contains(message, ":4:"));
  CHECK(Contains(message, "server.ca_flie"));
  CHECK(Contains(message, "did you mean 'server.ca_file'"));
}

TEST_CASE("agent config unknown section is an error with a suggestion") {
  const std::string message = LoadError("[interval]\nhealth_seconds = 30\n");
  INFO(message);
  CHECK(Contains(message, ":1:"));
  CHECK(Contains(message, "'interval'"));
  CHECK(Contains(message, "intervals"));
}

TEST_CASE("agent config key in the wrong section points at the right one") {
  const std::string message = LoadError("[agent]\nhealth_seconds = 30\n");
  INFO(message);
  CHECK(Contains(message, "agent.health_seconds"));
  CHECK(Contains(message, "intervals.health_seconds"));
}

TEST_CASE("agent config wrong types name the key and the expected type") {
  std::string message = LoadError("[intervals]\nhealth_seconds = \"30\"\n");
  INFO(message);
  CHECK(Contains(message, ":2:"));
  CHECK(Contains(message, "intervals.health_seconds must be an integer, got a string"));
  message = LoadError("[server]\ninsecure = \"yes\"\n");
  CHECK(Contains(message, "server.insecure must be true or false"));
  message = LoadError("server = \"x:1\"\n");
  CHECK(Contains(message, "must be a table"));
}

TEST_CASE("agent config out-of-range values name the key and the range") {
  std::string message = LoadError("[intervals]\nhealth_seconds = 0\n");
  INFO(message);
  CHECK(Contains(message, ":2:"));
  CHECK(Contains(message, "intervals.health_seconds = 0 is out of range (expected 1..86400)"));
  message = LoadError("[intervals]\n\ninventory_seconds = 700000\n");
  CHECK(Contains(message, ":3:"));
  CHECK(Contains(message, "60..604800"));
  message = LoadError("[spool]\nmax_bytes = \"500KB\"\n");
  CHECK(Contains(message, "spool.max_bytes"));
  CHECK(Contains(message, "1MiB..10GiB"));
  message = LoadError("[spool]\nmax_bytes = \"11GiB\"\n");
  CHECK(Contains(message, "out of range"));
  message = LoadError("[spool]\nmax_bytes = -1\n");
  CHECK(Contains(message, "out of range"));
  message = LoadError("[agent]\nlog_level = \"verbose\"\n");
  CHECK(Contains(message, "trace, debug, info, warn, error"));
}

TEST_CASE("agent config rejects an invalid server address with its line") {
  const std::string message = LoadError("[server]\naddress = \"dozor.example.com\"\n");
  INFO(message);
  CHECK(Contains(message, ":2:"));
  CHECK(Contains(message, "no port"));
}

TEST_CASE("agent config missing file is kNotFound naming it") {
  TempDir dir;
  auto config = LoadAgentConfigFile(dir / "missing.toml");
  REQUIRE_FALSE(config.ok());
  CHECK(config.error().code == ErrorCode::kNotFound);
  CHECK(Contains(config.error().message, "missing.toml"));
}

TEST_CASE("byte sizes parse with decimal and binary units") {
  CHECK(ParseByteSize("64MiB").value_or(0) == 64ull << 20);
  CHECK(ParseByteSize("1GiB").value_or(0) == 1ull << 30);
  CHECK(ParseByteSize("500KB").value_or(0) == 500'000);
  CHECK(ParseByteSize("500kb").value_or(0) == 500'000);
  CHECK(ParseByteSize("2 MB").value_or(0) == 2'000'000);
  CHECK(ParseByteSize("4096").value_or(0) == 4096);
  CHECK(ParseByteSize("10B").value_or(0) == 10);
  CHECK_FALSE(ParseByteSize("").ok());
  CHECK_FALSE(ParseByteSize("MiB").ok());
  CHECK_FALSE(ParseByteSize("1.5GiB").ok());
  CHECK_FALSE(ParseByteSize("64 Mebibytes").ok());
  CHECK_FALSE(ParseByteSize("-5MiB").ok());
  CHECK_FALSE(ParseByteSize("99999999999999999999").ok());
  CHECK_FALSE(ParseByteSize("99999999999999GiB").ok());
  CHECK_FALSE(ParseByteSize("1TiB").ok());
}

TEST_CASE("server address accepts host:port and bracketed IPv6 only") {
  CHECK(ValidateServerAddress("dozor.example.com:7443").ok());
  CHECK(ValidateServerAddress("127.0.0.1:1").ok());
  CHECK(ValidateServerAddress("localhost:65535").ok());
  CHECK(ValidateServerAddress("[::1]:7443").ok());
  CHECK(ValidateServerAddress("[2001:db8::1]:443").ok());
  CHECK_FALSE(ValidateServerAddress("").ok());
  CHECK_FALSE(ValidateServerAddress("dozor.example.com").ok());
  CHECK_FALSE(ValidateServerAddress("host:").ok());
  CHECK_FALSE(ValidateServerAddress(":7443").ok());
  CHECK_FALSE(ValidateServerAddress("host:0").ok());
  CHECK_FALSE(ValidateServerAddress("host:65536").ok());
  CHECK_FALSE(ValidateServerAddress("host:123456").ok());
  CHECK_FALSE(ValidateServerAddress("host:80a").ok());
  CHECK_FALSE(ValidateServerAddress("ho st:80").ok());
  CHECK_FALSE(ValidateServerAddress("[::1]").ok());
  CHECK_FALSE(ValidateServerAddress("[::1:7443").ok());
  CHECK_FALSE(ValidateServerAddress("[]:7443").ok());
  CHECK_FALSE(ValidateServerAddress("[example.com]:7443").ok());
  auto unbracketed = ValidateServerAddress("::1:7443");
  REQUIRE_FALSE(unbracketed.ok());
  CHECK(Contains(unbracketed.error().message, "brackets"));
}

TEST_CASE("a server address list names replicas, each checked, none empty") {
  CHECK(ValidateServerAddress("a.example:7443,b.example:7443").ok());
  CHECK(ValidateServerAddress("a.example:7443, [::1]:7443 , 127.0.0.1:9").ok());
  CHECK_FALSE(ValidateServerAddress("a.example:7443,").ok());
  CHECK_FALSE(ValidateServerAddress("a.example:7443,,b.example:7443").ok());
  auto bad = ValidateServerAddress("a.example:7443,b.example");
  REQUIRE_FALSE(bad.ok());
  CHECK(Contains(bad.error().message, "b.example"));
  CHECK(SplitServerAddresses(" a:1 , b:2,c:3") == std::vector<std::string>{"a:1", "b:2", "c:3"});
  CHECK(SplitServerAddresses("a:1") == std::vector<std::string>{"a:1"});
  CHECK(SplitServerAddresses("").empty());
}

TEST_CASE("agent config validation checks ranges, CA file and root after flags") {
  AgentConfig config;
  config.server_address = "localhost:7443";
  CHECK(ValidateAgentConfig(config).ok());

  AgentConfig bad_address = config;
  bad_address.server_address = "localhost";
  CHECK_FALSE(ValidateAgentConfig(bad_address).ok());

  AgentConfig missing_ca = config;
  missing_ca.tls_ca_file = "/nonexistent/ca.pem";
  auto status = ValidateAgentConfig(missing_ca);
  REQUIRE_FALSE(status.ok());
  CHECK(Contains(status.error().message, "/nonexistent/ca.pem"));
  missing_ca.insecure = true;  // plaintext ignores the CA
  CHECK(ValidateAgentConfig(missing_ca).ok());

  AgentConfig bad_interval = config;
  bad_interval.health_interval_seconds = 0;
  CHECK_FALSE(ValidateAgentConfig(bad_interval).ok());
  bad_interval.health_interval_seconds = 86401;
  CHECK_FALSE(ValidateAgentConfig(bad_interval).ok());

  AgentConfig bad_inventory = config;
  bad_inventory.inventory_interval_seconds = 59;
  CHECK_FALSE(ValidateAgentConfig(bad_inventory).ok());

  AgentConfig bad_spool = config;
  bad_spool.spool_max_bytes = (1ull << 20) - 1;
  CHECK_FALSE(ValidateAgentConfig(bad_spool).ok());
  bad_spool.spool_max_bytes = (10ull << 30) + 1;
  CHECK_FALSE(ValidateAgentConfig(bad_spool).ok());

  AgentConfig bad_level = config;
  bad_level.log_level = "INFO";
  CHECK_FALSE(ValidateAgentConfig(bad_level).ok());

  AgentConfig bad_root = config;
  bad_root.root = "/nonexistent-root-dir";
  CHECK_FALSE(ValidateAgentConfig(bad_root).ok());

  AgentConfig empty_state = config;
  empty_state.state_dir.clear();
  CHECK_FALSE(ValidateAgentConfig(empty_state).ok());
}

TEST_CASE("agent config example file loads, also with every key uncommented") {
  const auto example = std::filesystem::path(DOZOR_FIXTURES_DIR) / ".." / ".." / "deploy" /
                       "agent" / "dozor-agent.toml";
  auto as_shipped = LoadAgentConfigFile(example);
  REQUIRE_MESSAGE(as_shipped.ok(), as_shipped.error().ToString());
  CHECK(as_shipped->health_interval_seconds == AgentConfig{}.health_interval_seconds);

  // Every "# key = value" line is a real key with a valid value: the example cannot rot.
  std::ifstream in(example);
  std::string line;
  std::string uncommented;
  int keys = 0;
  while (std::getline(in, line)) {
    const size_t eq = line.find(" = ");
    if (line.rfind("# ", 0) == 0 && eq != std::string::npos &&
        line.find_first_not_of("abcdefghijklmnopqrstuvwxyz_", 2) == eq) {
      line = line.substr(2);
      ++keys;
    }
    uncommented += line + "\n";
  }
  CHECK(keys == 15);  // includes [limits] max_rss_mb, max_cpu_percent
  TempDir dir;
  auto all_keys = LoadAgentConfigFile(WriteConfig(dir, uncommented));
  REQUIRE_MESSAGE(all_keys.ok(), all_keys.error().ToString());
  CHECK(all_keys->server_address == "dozor.example.com:7443");
  CHECK(all_keys->spool_max_bytes == 64ull << 20);
  CHECK(all_keys->collect_smart);
}

}  // namespace
}  // namespace dozor::agent
