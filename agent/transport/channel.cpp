#include "transport/channel.hpp"

#include <absl/synchronization/mutex.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "dozor/common/files.hpp"
#include "dozor/common/ip_address.hpp"
#include "dozor/common/version.hpp"
#include "platform/service.hpp"
#include "transport/on_demand_event_engine.hpp"
#include "transport/server_addresses.hpp"
#include "transport/wake_on_deadline_timer_list.hpp"

namespace dozor::agent {

void ConfigureGrpcForIdleStream() {
  // The client channel's backup poller polls every channel every 5 s in case no thread does. The
  // stream client always has a thread in Read() polling the stream's connection, and the
  // keepalive pings run every 60 s anyway: once a minute is enough, and saves 11 wake-ups a
  // minute of an otherwise idle process.
  platform::SetEnvironmentDefault("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "60000");
  // gRPC 1.51's timer thread wakes at least once a second, once per timer shard whose window
  // has its own phase; a shard's phase shifts whenever it is given a timer shorter than ~3 s.
  // c-ares adds two per name resolution (a 1 s poll alarm, cancelled at once), which split the
  // shards into 2-3 phases at start and on every reconnect: 2-3 wake-ups a second for good. The
  // system resolver (getaddrinfo: /etc/hosts and nsswitch as every other program) adds none,
  // and with no BDP probes (MakeServerChannel) an idle stream's timers are all >= 10 s: one
  // wake-up a second.
  platform::SetEnvironmentDefault("GRPC_DNS_RESOLVER", "native");
  // gRPC's built-in EventEngine woke the process every second for its timer list, work or not;
  // this one sleeps until a closure or a deadline is due (transport/on_demand_event_engine.hpp).
  UseOnDemandEventEngine();
  // The same for the connection's own timers (keepalive, backup poller, deadlines), which 1.51
  // keeps on iomgr's timer list: its thread then sleeps until the nearest deadline instead of
  // waking at least once a second (transport/wake_on_deadline_timer_list.hpp).
  UseWakeOnDeadlineTimerList();
  // Debian builds abseil without NDEBUG: its Mutex deadlock detector then runs on every lock
  // gRPC takes, on every timer wake-up too. The agent's own code does not use absl::Mutex.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

namespace {

// The host part of "HOST:PORT" or "[V6]:PORT"; the whole text when it has no port.
std::string_view HostOf(std::string_view address) {
  if (address.starts_with('[')) {
    const size_t close = address.find(']');
    return close == std::string_view::npos ? std::string_view() : address.substr(1, close - 1);
  }
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos ||
      address.substr(0, colon).find(':') != std::string_view::npos) {
    return address;
  }
  return address.substr(0, colon);
}

bool IsLocalhostName(std::string_view host) {
  if (host.ends_with('.')) {
    host.remove_suffix(1);
  }
  constexpr std::string_view kLocalhost = "localhost";
  return host.size() == kLocalhost.size() &&
         std::equal(host.begin(), host.end(), kLocalhost.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

}  // namespace

bool IsLoopbackAddress(std::string_view address) {
  const std::string host(HostOf(address));
  if (host.empty()) {
    return false;
  }
  if (IsLocalhostName(host)) {
    return true;
  }
  // inet_pton takes only the plain dotted quad for IPv4 (not "127.1" or octal parts).
  if (auto v4 = ParseIpv4(host)) {
    return (*v4)[0] == 127;
  }
  if (auto v6 = ParseIpv6(host)) {
    static constexpr std::array<uint8_t, 16> kLoopback = {0, 0, 0, 0, 0, 0, 0, 0,
                                                          0, 0, 0, 0, 0, 0, 0, 1};
    static constexpr std::array<uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0,    0,
                                                                0, 0, 0, 0, 0xff, 0xff};
    if (*v6 == kLoopback) {
      return true;
    }
    return std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), v6->begin()) &&
           (*v6)[12] == 127;
  }
  return false;
}

Status CheckPlaintextAllowed(const ChannelOptions& options) {
  // A list of replicas is loopback only if every one of them is.
  const std::vector<std::string> addresses = SplitServerAddresses(options.server_address);
  const bool loopback =
      !addresses.empty() && std::all_of(addresses.begin(), addresses.end(),
                                        [](const std::string& a) { return IsLoopbackAddress(a); });
  if (!options.insecure || options.allow_plaintext_remote || loopback) {
    return OkStatus();
  }
  return MakeError(
      ErrorCode::kFailedPrecondition,
      "plaintext gRPC (server.insecure / --insecure) to " + options.server_address +
          " would send the enrollment token, the agent's secret and every report unencrypted over "
          "the network; plaintext is allowed only to a loopback address (127.0.0.0/8, [::1], "
          "localhost). Use TLS (drop --insecure; server.ca_file / --ca for a private CA), or, if "
          "the path to the server is protected otherwise (VPN, SSH tunnel), set "
          "server.allow_plaintext_remote = true / --allow-plaintext-remote");
}

Result<std::shared_ptr<grpc::Channel>> MakeServerChannel(const ChannelOptions& options) {
  if (options.server_address.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "no server address configured");
  }
  DOZOR_RETURN_IF_ERROR(CheckPlaintextAllowed(options));
  grpc::ChannelArguments args;
  // Notice a dead server or a silently dropped connection within ~a minute, even when idle.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 60000);
  // No bandwidth-delay-product probing: it tunes the receive window for large downloads, and the
  // agent receives only acks and commands. Each probe was a ping round trip after every ack plus
  // a timer of a few hundred ms, the only short timer of an idle stream.
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetMaxReceiveMessageSize(4 * 1024 * 1024);
  args.SetMaxSendMessageSize(32 * 1024 * 1024);
  args.SetUserAgentPrefix(std::string("dozor-agent/") + kVersion);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.insecure) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    if (!options.tls_ca_file.empty()) {
      auto pem = ReadFile(options.tls_ca_file, 1024 * 1024);
      if (!pem.ok()) {
        return pem.error().Wrap("TLS CA file");
      }
      ssl.pem_root_certs = *pem;
    }
    credentials = grpc::SslCredentials(ssl);
    if (!options.tls_server_name.empty()) {
      args.SetSslTargetNameOverride(options.tls_server_name);
    }
  }
  return grpc::CreateCustomChannel(options.server_address, credentials, args);
}

}  // namespace dozor::agent
