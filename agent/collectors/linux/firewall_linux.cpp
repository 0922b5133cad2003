#include "collectors/linux/firewall_linux.hpp"

#include <set>
#include <string>
#include <utility>

#include "collectors/linux/command_util.hpp"
#include "collectors/linux/fs_util.hpp"
#include "collectors/parsers/firewall_parsers.hpp"
#include "collectors/parsers/network_parsers.hpp"
#include "dozor/common/files.hpp"

namespace dozor::agent {
namespace {
namespace firewall_scan {

constexpr size_t kMaxRulesetBytes = 4 * 1024 * 1024;
constexpr size_t kMaxProcNetBytes = 8 * 1024 * 1024;
constexpr size_t kMaxJudgedPorts = 256;
// Judged even when nothing listens on them at inventory time: a database that restarts later.
constexpr uint32_t kDatabasePorts[] = {5432, 3306, 1433, 1521, 27017, 6379, 9200, 11211};

// The TCP ports listening on a non-loopback address, by family.
std::set<std::pair<uint32_t, uint32_t>> ListeningPorts(const CollectContext& ctx) {
  std::set<std::pair<uint32_t, uint32_t>> ports;
  for (const char* file : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    auto text = ReadFile(ctx.Path(file), kMaxProcNetBytes);
    if (!text.ok()) continue;
    auto sockets = ParseProcNetSockets(*text, "tcp");
    if (!sockets.ok()) continue;
    for (const auto& socket : *sockets) {
      if (!socket.listening || socket.local_address.rfind("127.", 0) == 0 ||
          socket.local_address == "::1") {
        continue;
      }
      if (ports.size() < kMaxJudgedPorts) ports.emplace(socket.family, socket.local_port);
    }
  }
  for (uint32_t port : kDatabasePorts) {
    ports.emplace(4, port);
    ports.emplace(6, port);
  }
  return ports;
}

struct Source {
  FirewallRuleset ruleset;
  std::string status;
};

// The live ruleset, or the saved one of an enabled firewall service; status says which.
Result<Source> ReadRuleset(const CollectContext& ctx) {
  std::string why;
  auto nft =
      RunCommandOrFixture(ctx, {"nft", "list", "ruleset"}, "nft-list-ruleset", kMaxRulesetBytes);
  if (nft.ok() && nft->exit_code == 0) {
    return Source{ParseNftRuleset(nft->stdout_text), "ok"};
  }
  why = nft.ok() ? "nft exit " + std::to_string(nft->exit_code) : "nft: " + nft.error().message;
  auto iptables = RunCommandOrFixture(ctx, {"iptables-save"}, "iptables-save", kMaxRulesetBytes);
  if (iptables.ok() && iptables->exit_code == 0 && !iptables->stdout_text.empty()) {
    return Source{ParseIptablesSave(iptables->stdout_text), "ok"};
  }
  why += iptables.ok() ? "; iptables-save exit " + std::to_string(iptables->exit_code)
                       : "; iptables-save: " + iptables.error().message;
  // Listing the live ruleset needs CAP_NET_ADMIN, which the agent does not hold: the files the
  // firewall services load at boot, when their service is enabled.
  const std::pair<const char*, const char*> kSaved[] = {
      {"/etc/nftables.conf", "nftables.service"},
      {"/etc/sysconfig/nftables.conf", "nftables.service"},
      {"/etc/iptables/rules.v4", "netfilter-persistent.service"},
      {"/etc/sysconfig/iptables", "iptables.service"}};
  for (const auto& [file, unit] : kSaved) {
    const std::string wants = std::string("/etc/systemd/system/multi-user.target.wants/") + unit;
    if (!PathExists(ctx.Path(wants))) continue;
    auto text = ReadFile(ctx.Path(file), kMaxRulesetBytes);
    if (!text.ok()) continue;
    const bool nft_syntax = std::string_view(file).find("nftables") != std::string_view::npos;
    FirewallRuleset ruleset = nft_syntax ? ParseNftRuleset(*text) : ParseIptablesSave(*text);
    return Source{std::move(ruleset), std::string("saved ") + file + " (" + why + ")"};
  }
  return MakeError(ErrorCode::kUnavailable, why);
}

}  // namespace firewall_scan
}  // namespace

Status CollectHostFirewall(const CollectContext& ctx, dozor::v1::Security* out) {
  using namespace firewall_scan;  // NOLINT(google-build-using-namespace)
  // Remote desktop, SMBv1 and the password policy are Windows facts: unknown here, not "off".
  out->set_remote_desktop(-1);
  out->set_remote_desktop_nla(-1);
  out->set_smb1(-1);
  dozor::v1::HostFirewall* firewall = out->mutable_host_firewall();
  auto source = ReadRuleset(ctx);
  if (!source.ok()) {
    firewall->set_status(source.error().message);
    out->add_unavailable("host firewall: " + source.error().message);
    return OkStatus();
  }
  const FirewallRuleset& ruleset = source->ruleset;
  firewall->set_backend(ruleset.backend);
  firewall->set_status(source->status);
  firewall->set_input_policy(InputPolicy(ruleset, 4));
  firewall->set_rule_count(static_cast<uint32_t>(ruleset.input_rules));
  const bool ipv6_known = ruleset.backend == "nftables";
  for (const auto& [family, port] : ListeningPorts(ctx)) {
    // iptables-save shows IPv4 only: IPv6 stays without a verdict (unknown to the rules).
    if (family == 6 && !ipv6_known) continue;
    PortJudgement judgement = JudgeTcpPort(ruleset, static_cast<int>(family), port);
    auto* verdict = firewall->add_ports();
    verdict->set_protocol("tcp");
    verdict->set_family(family);
    verdict->set_port(port);
    verdict->set_verdict(judgement.verdict);
    verdict->set_sources(judgement.sources);
    verdict->set_reason(judgement.reason);
  }
  return OkStatus();
}

}  // namespace dozor::agent
