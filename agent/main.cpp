// dozor-agent: flags and wiring only. The work lives in core/, collectors/ and transport/.
#include <google/protobuf/util/json_util.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "collectors/collector.hpp"
#include "collectors/health.hpp"
#include "core/agent.hpp"
#include "core/agent_status.hpp"
#include "core/collector_supervisor.hpp"
#include "core/config.hpp"
#include "core/identity.hpp"
#include "core/install_setup.hpp"
#include "core/one_shot.hpp"
#include "dozor/common/crypto.hpp"
#include "dozor/common/files.hpp"
#include "dozor/common/path_text.hpp"
#include "dozor/common/version.hpp"
#include "platform/host.hpp"
#include "platform/install_layout.hpp"
#include "platform/self_usage.hpp"
#include "platform/service.hpp"
#include "platform/system_log.hpp"
#include "transport/channel.hpp"
#include "transport/enroll_client.hpp"

namespace {

using namespace dozor::agent;
using dozor::PathFromUtf8;
using dozor::PathToUtf8;

struct Flags {
  std::string config_file;
  std::string server, ca, server_name, state_dir, root, log_level, spool_max_bytes;
  std::string ca_sha256;   // enroll: the CA file must have this SHA-256
  bool configure = false;  // enroll: also install the CA and write the configuration (installers)
  bool insecure = false;
  bool allow_plaintext_remote = false;
  std::optional<int> health_interval;  // unset: the config file's value
  std::optional<int> inventory_interval;
  std::optional<int> max_rss_mb;
  std::optional<double> max_cpu_percent;
};

void AddConnectionFlags(CLI::App* app, Flags& flags) {
  app->add_option("--server", flags.server, "Server gRPC address HOST:PORT");
  app->add_option("--ca", flags.ca, "PEM file with the CA that signed the server certificate");
  app->add_option("--server-name", flags.server_name, "Name to verify in the server certificate");
  app->add_flag("--insecure", flags.insecure,
                "Plaintext gRPC, to a loopback address only (127.0.0.0/8, [::1], localhost)");
  app->add_flag("--allow-plaintext-remote", flags.allow_plaintext_remote,
                "With --insecure: allow plaintext to a server that is not on loopback (the token "
                "and the agent's secret cross the network unencrypted; only behind a VPN or "
                "tunnel)");
  app->add_option(
      "--state-dir", flags.state_dir,
      "Identity and spool directory (default " + PathToUtf8(platform::DefaultStateDir()) + ")");
}

// Config file (if any), then flags on top; validated.
dozor::Result<AgentConfig> ResolveConfig(const Flags& flags) {
  AgentConfig config;
  std::filesystem::path file = PathFromUtf8(flags.config_file);
  if (file.empty() && std::ifstream(platform::DefaultConfigFile()).good()) {
    file = platform::DefaultConfigFile();
  }
  if (!file.empty()) {
    DOZOR_ASSIGN_OR_RETURN(config, LoadAgentConfigFile(file));
  }
  if (!flags.server.empty()) config.server_address = flags.server;
  if (!flags.ca.empty()) config.tls_ca_file = PathFromUtf8(flags.ca);
  if (!flags.server_name.empty()) config.tls_server_name = flags.server_name;
  if (flags.insecure) config.insecure = true;
  if (flags.allow_plaintext_remote) config.allow_plaintext_remote = true;
  if (!flags.state_dir.empty()) config.state_dir = PathFromUtf8(flags.state_dir);
  if (!flags.root.empty()) config.root = PathFromUtf8(flags.root);
  if (!flags.log_level.empty()) config.log_level = flags.log_level;
  if (flags.health_interval) config.health_interval_seconds = *flags.health_interval;
  if (flags.inventory_interval) config.inventory_interval_seconds = *flags.inventory_interval;
  if (flags.max_rss_mb) config.max_rss_mb = *flags.max_rss_mb;
  if (flags.max_cpu_percent) config.max_cpu_percent = *flags.max_cpu_percent;
  if (!flags.spool_max_bytes.empty()) {
    DOZOR_ASSIGN_OR_RETURN(config.spool_max_bytes, ParseByteSize(flags.spool_max_bytes));
  }
  DOZOR_RETURN_IF_ERROR(ValidateAgentConfig(config));
  return config;
}

// enroll --configure (the MSI's custom action), once enrolled: the CA (checked against its
// fingerprint again) installed beside the configuration, which is written when there is none.
int ConfigureInstallation(const Flags& flags) {
  if (flags.ca.empty() || flags.ca_sha256.empty() || flags.server.empty()) {
    std::cerr << "dozor-agent: --configure needs --server, --ca and --ca-sha256\n";
    return 2;
  }
  InstallSetup setup;
  setup.ca_file = PathFromUtf8(flags.ca);
  setup.ca_sha256 = flags.ca_sha256;
  setup.server_address = flags.server;
  setup.config_file =
      flags.config_file.empty() ? platform::DefaultConfigFile() : PathFromUtf8(flags.config_file);
  auto applied = ApplyInstallSetup(setup);
  if (!applied.ok()) {
    std::cerr << "dozor-agent: " << applied.error().message << "\n";
    return applied.error().code == dozor::ErrorCode::kInvalidArgument ? 2 : 1;
  }
  if (!applied->untrusted_config.empty()) {
    std::cerr << "dozor-agent: warning: " << PathToUtf8(setup.config_file)
              << " was not put there by an administrator; moved to "
              << PathToUtf8(applied->untrusted_config) << " and replaced\n";
  }
  std::cout << "CA installed as " << PathToUtf8(applied->installed_ca) << "; configuration "
            << PathToUtf8(setup.config_file)
            << (applied->config_written ? " written" : " kept as it was") << ".\n";
  return 0;
}

int RunEnroll(const Flags& flags, const std::string& token) {
  if (flags.configure && (flags.ca.empty() || flags.ca_sha256.empty() || flags.server.empty())) {
    std::cerr << "dozor-agent: --configure needs --server, --ca and --ca-sha256\n";
    return 2;
  }
  // The fingerprint first, before anything is sent or written. With --configure the CA and the
  // configuration are written only once the machine is enrolled (or was already): a failed
  // attempt (a mistyped SERVER) leaves nothing behind that a corrected retry would keep.
  if (!flags.ca_sha256.empty()) {
    auto expected = NormalizeSha256Hex(flags.ca_sha256);
    auto pem = dozor::ReadFile(PathFromUtf8(flags.ca), 256 * 1024);
    auto actual =
        pem.ok() ? dozor::CertificateSha256Hex(*pem) : dozor::Result<std::string>(pem.error());
    if (!expected.ok()) {
      std::cerr << "dozor-agent: --ca-sha256: " << expected.error().message << "\n";
      return 2;
    }
    if (!actual.ok()) {
      std::cerr << "dozor-agent: the CA file " << flags.ca << ": " << actual.error().message
                << "; not enrolling\n";
      return 2;
    }
    if (*actual != *expected) {
      // Both fingerprints, so an engineer on the phone can compare them with the sysadmin.
      std::cerr << "dozor-agent: the CA file " << flags.ca << " has the fingerprint " << *actual
                << ", the install command says " << *expected
                << ": not the CA of your Dozor server; nothing was done\n";
      return 2;
    }
  }
  // With --configure a --config that does not exist yet is where the configuration will go, not
  // one to read.
  Flags resolve = flags;
  std::error_code ec;
  if (flags.configure && !flags.config_file.empty() &&
      !std::filesystem::exists(PathFromUtf8(flags.config_file), ec)) {
    resolve.config_file.clear();
  }
  auto config = ResolveConfig(resolve);
  if (!config.ok()) {
    std::cerr << "dozor-agent: " << config.error().message << "\n";
    return 2;
  }
  if (config->server_address.empty()) {
    std::cerr << "dozor-agent: --server HOST:PORT is required\n";
    return 2;
  }
  auto existing = LoadIdentity(config->state_dir);
  if (existing.ok() && flags.configure) {
    // A reinstall or an upgrade: the machine keeps its identity, the token is not used.
    std::cout << "Already enrolled as agent " << existing->agent_id << " of "
              << existing->organization << "; identity kept.\n";
    return ConfigureInstallation(flags);
  }
  if (existing.ok()) {
    std::cerr << "dozor-agent: already enrolled as agent " << existing->agent_id << " of "
              << existing->organization << " (state in " << PathToUtf8(config->state_dir)
              << "); remove identity.json to enroll again\n";
    return 1;
  }
  ChannelOptions channel = ServerChannelOptions(*config, AgentIdentity{});
  if (auto allowed = CheckPlaintextAllowed(channel); !allowed.ok()) {
    std::cerr << "dozor-agent: " << allowed.error().message << "\n";
    return 2;
  }
  EnrollParams params;
  params.token = token;
  params.hostname = platform::Hostname();
  auto machine_id = platform::ReadMachineId("/");
  if (machine_id.ok()) {
    params.machine_id = *machine_id;
  }
  auto enrolled = Enroll(channel, params);
  if (!enrolled.ok()) {
    std::cerr << "dozor-agent: " << enrolled.error().message << "\n";
    return 1;
  }
  AgentIdentity identity;
  identity.agent_id = enrolled->agent_id;
  identity.agent_secret = enrolled->agent_secret;
  identity.server_address = config->server_address;
  identity.organization = enrolled->organization;
  identity.enrolled_at_ms = dozor::SystemClock::Instance().NowMs();
  auto saved = SaveIdentity(config->state_dir, identity);
  if (!saved.ok()) {
    std::cerr << "dozor-agent: enrolled, but cannot save the identity: " << saved.error().message
              << "\n";
    return 1;
  }
  if (flags.configure) {
    std::cout << "Enrolled into \"" << identity.organization << "\" as agent " << identity.agent_id
              << ".\n";
    return ConfigureInstallation(flags);
  }
  std::cout << "Enrolled into \"" << identity.organization << "\" as agent " << identity.agent_id
            << ".\n"
            << "Identity saved to " << PathToUtf8(config->state_dir / "identity.json")
            << " (readable by its owner only).\n"
            << "Start the agent: dozor-agent run"
            << (flags.state_dir.empty() ? "" : " --state-dir " + flags.state_dir)
            << (flags.ca.empty() ? "" : " --ca " + flags.ca)
            << (flags.server_name.empty() ? "" : " --server-name " + flags.server_name)
            << (config->insecure ? " --insecure" : "")
            << (flags.allow_plaintext_remote ? " --allow-plaintext-remote" : "") << "\n";
  return 0;
}

// Set once the log also goes to a file (a service): the reason a start failed must reach it, not
// only stderr, which the service manager drops.
bool g_logging_to_file = false;

void StartError(const std::string& message) {
  std::cerr << "dozor-agent: " << message << "\n";
  if (g_logging_to_file) {
    spdlog::error("cannot start: {}", message);
    spdlog::default_logger()->flush();
  }
}

int RunAgentProcess(const Flags& flags) {
  auto config = ResolveConfig(flags);
  if (!config.ok()) {
    StartError(config.error().message);
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(config->log_level));
  auto identity = LoadIdentity(config->state_dir);
  if (!identity.ok()) {
    StartError(identity.error().message);
    return 1;
  }
  if (auto allowed = CheckPlaintextAllowed(ServerChannelOptions(*config, *identity));
      !allowed.ok()) {
    StartError(allowed.error().message);
    return 2;
  }
  Agent agent(*config, *identity);
  int code = 0;
  {
    platform::StopRequestWatcher stop_watcher([&agent] {
      spdlog::info("stop requested");
      agent.Stop();
    });
    code = agent.Run();
  }
  return code;
}

// A service whose manager keeps no output (Windows) logs to a rotating file: the current one and
// three older ones, 5 MiB each.
void LogToServiceFile() {
  const std::filesystem::path folder = platform::ServiceLogDir();
  if (folder.empty() || !dozor::EnsureDirectory(folder, 0700).ok()) return;
  try {
    auto file = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
        PathToUtf8(folder / "dozor-agent.log"), 5 * 1024 * 1024, 3);
    spdlog::default_logger()->sinks().push_back(std::move(file));
    spdlog::flush_every(std::chrono::seconds(5));
    spdlog::default_logger()->flush_on(spdlog::level::warn);
    g_logging_to_file = true;
  } catch (const spdlog::spdlog_ex&) {
    // No log file is no reason not to run; the service manager still sees the exit code.
  }
}

// Warnings and errors of a service also go to the OS's own log (Windows: the Application event
// log, where an administrator looks first); nothing to add on Linux (the journal has stderr).
void LogToSystemLog() {
  if (auto sink = platform::MakeSystemLogSink()) {
    spdlog::default_logger()->sinks().push_back(std::move(sink));
  }
}

int RunAgent(const Flags& flags) {
  return platform::RunAsService([&flags](bool as_service) {
    if (as_service) {
      LogToServiceFile();
      LogToSystemLog();
    }
    const int code = RunAgentProcess(flags);
    spdlog::info("dozor-agent stopped (exit code {})", code);
    spdlog::default_logger()->flush();
    return code;
  });
}

int PrintJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) return 1;
  std::cout << json;
  return 0;
}

// This process's own peak RSS, without the commands it ran.
std::string PeakRss() {
  auto peak = platform::ReadPeakRss();
  return peak.ok() ? " " + std::to_string(*peak >> 10) + " kB" : "?";
}

int RunInventory(const Flags& flags, int repeat) {
  CollectContext context;
  context.root = flags.root.empty() ? "/" : flags.root;
  if (context.IsRealRoot()) context.run_command = SystemCommandRunner(60000);
  CollectorSupervisor collectors(context);
  // --repeat: time repeated runs in one process, as the running agent does them (the package
  // manager's update query is cached between runs); timings go to stderr.
  for (int i = 1; i < repeat; ++i) {
    auto started = std::chrono::steady_clock::now();
    InventoryRun warmup = collectors.CollectInventory();
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                  .count();
    std::cerr << "inventory run " << i << ": " << ms << " ms, "
              << warmup.inventory.software().packages_size() << " packages\n";
  }
  auto started = std::chrono::steady_clock::now();
  InventoryRun run = collectors.CollectInventory();
  if (repeat > 1) {
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                  .count();
    std::cerr << "inventory run " << repeat << ": " << ms
              << " ms; peak RSS of dozor-agent (VmHWM):" << PeakRss() << "\n";
  }
  dozor::v1::Report report;
  report.set_collected_at_ms(context.clock->NowMs());
  *report.mutable_inventory() = std::move(run.inventory);
  for (auto& status : run.statuses) *report.add_collectors() = std::move(status);
  return PrintJson(report);
}

int RunHealth(const Flags& flags, int interval_ms) {
  CollectContext context;
  context.root = flags.root.empty() ? "/" : flags.root;
  CollectorSupervisor collectors(context);
  std::vector<std::string> errors;
  (void)collectors.SampleHealth(&errors);
  std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  errors.clear();
  auto sample = collectors.SampleHealth(&errors);
  for (const auto& error : errors) std::cerr << "warning: " << error << "\n";
  if (!sample.ok()) {
    std::cerr << "dozor-agent: " << sample.error().message << "\n";
    return 1;
  }
  return PrintJson(*sample);
}

int RunCollect(const Flags& flags, OneShotOptions options) {
  options.root = flags.root.empty() ? "/" : flags.root;
  if (options.token.empty()) {
    std::cerr << "dozor-agent: --token must not be empty\n";
    return 2;
  }
  auto summary = CollectSnapshotFile(options);
  if (!summary.ok()) {
    std::cerr << "dozor-agent: " << summary.error().message << "\n";
    return summary.error().code == dozor::ErrorCode::kInvalidArgument ? 2 : 1;
  }
  std::cerr << "Wrote " << PathToUtf8(options.output) << " (" << summary->file_bytes
            << " bytes, mode 0600): host " << summary->hostname << ", " << summary->packages
            << " packages, health sample " << (summary->health ? "included" : "not included")
            << ", " << summary->failed_collectors << " collector(s) failed.\nsha256 "
            << summary->sha256 << "\nLoad it with: dozorctl import " << PathToUtf8(options.output)
            << " --org ORG\n";
  return 0;
}

int RunStatus(const Flags& flags, bool json) {
  auto config = ResolveConfig(flags);
  if (!config.ok()) {
    std::cerr << "dozor-agent: " << config.error().message << "\n";
    return 2;
  }
  StatusView view = LoadStatusView(config->state_dir, dozor::SystemClock::Instance().NowMs());
  std::cout << (json ? RenderStatusJson(view) : RenderStatusText(view));
  return view.exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  // Identity, spool and persisted settings are the agent's alone.
  platform::PrepareProcess();
  ConfigureGrpcForIdleStream();
  auto logger = spdlog::stderr_color_mt("dozor-agent");
  spdlog::set_default_logger(logger);
  CLI::App app{"dozor-agent: collects inventory and health and streams them to dozor-server"};
  app.set_version_flag("--version", dozor::kVersion);
  app.require_subcommand(0, 1);
  // Global options (--config, --log-level) are accepted after the subcommand too.
  app.fallthrough();
  Flags flags;
  app.add_option(
      "-c,--config", flags.config_file,
      "Config file (TOML; default " + PathToUtf8(platform::DefaultConfigFile()) + " if present)");
  app.add_option("--log-level", flags.log_level, "trace, debug, info, warn, error");

  auto* run = app.add_subcommand("run", "Run the agent (the default)");
  AddConnectionFlags(run, flags);
  run->add_option("--root", flags.root, "Filesystem root the collectors read (default /)");
  run->add_option("--health-interval", flags.health_interval,
                  "Seconds between health samples (1..86400)");
  run->add_option("--inventory-interval", flags.inventory_interval,
                  "Seconds between inventories (60..604800)");
  run->add_option("--spool-max-bytes", flags.spool_max_bytes, "Spool size bound, e.g. 64MiB");
  run->add_option("--max-rss-mb", flags.max_rss_mb,
                  "Own memory limit in MiB before shedding work (16..65536)");
  run->add_option("--max-cpu-percent", flags.max_cpu_percent,
                  "Own CPU limit, % of one core averaged over a minute (0.5..400)");

  std::string token;
  auto* enroll = app.add_subcommand("enroll", "Enroll this machine with a client-scoped token");
  AddConnectionFlags(enroll, flags);
  enroll->add_option("--token", token, "Enrollment token from `dozorctl token create`")->required();
  enroll->add_option("--ca-sha256", flags.ca_sha256,
                     "Enroll only if the --ca file has this SHA-256 (from the install command)");
  enroll->add_flag("--configure", flags.configure,
                   "For installers: check the CA against --ca-sha256, install it beside the "
                   "config file, write the config file when there is none, and succeed without "
                   "enrolling again when this machine is enrolled already");

  auto* inventory = app.add_subcommand("inventory", "Collect one inventory and print it as JSON");
  inventory->add_option("--root", flags.root, "Filesystem root (default /)");
  int repeat = 1;
  inventory
      ->add_option("--repeat", repeat, "Collect N times in one process, timing each run on stderr")
      ->check(CLI::Range(1, 1000));
  int interval_ms = 1000;
  auto* health = app.add_subcommand("health", "Take one health sample and print it as JSON");
  health->add_option("--root", flags.root, "Filesystem root (default /)");
  health->add_option("--interval-ms", interval_ms,
                     "Milliseconds between the priming and the real sample");

  OneShotOptions one_shot;
  auto* collect = app.add_subcommand(
      "collect", "Run every collector once, without a server, into one integrity-protected file");
  std::string collect_output;  // UTF-8, made a path below (see dozor/common/path_text.hpp)
  collect->add_option("-o,--output", collect_output, "Snapshot file to write (mode 0600)")
      ->required();
  collect->add_option("--token", one_shot.token, "Enrollment token of the client's organisation")
      ->required();
  collect->add_option("--root", flags.root, "Filesystem root (default /)");
  bool no_health = false;
  collect->add_flag("--no-health", no_health, "Inventory only, no health sample");
  collect
      ->add_option("--interval-ms", one_shot.health_interval_ms,
                   "Milliseconds between the priming and the real health sample")
      ->check(CLI::Range(100, 60000));

  bool status_json = false;
  auto* status =
      app.add_subcommand("status", "Show identity, service state, last send, spool and collectors");
  status->add_option(
      "--state-dir", flags.state_dir,
      "Identity and spool directory (default " + PathToUtf8(platform::DefaultStateDir()) + ")");
  status->add_flag("--json", status_json, "Machine-readable output");

  // Exit code 2 for any usage error (CLI11's own codes are 100+); help and --version exit 0.
  try {
    // CLI11 takes the arguments last first.
    std::vector<std::string> arguments = platform::CommandLineArguments(argc, argv);
    std::reverse(arguments.begin(), arguments.end());
    app.parse(arguments);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }
  if (!flags.log_level.empty()) spdlog::set_level(spdlog::level::from_str(flags.log_level));
  if (*enroll) return RunEnroll(flags, token);
  if (*inventory) return RunInventory(flags, repeat);
  if (*health) return RunHealth(flags, interval_ms);
  if (*collect) {
    one_shot.health = !no_health;
    one_shot.output = PathFromUtf8(collect_output);
    return RunCollect(flags, one_shot);
  }
  if (*status) return RunStatus(flags, status_json);
  return RunAgent(flags);
}
