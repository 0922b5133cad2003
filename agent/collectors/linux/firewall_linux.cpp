#include "collectors/linux/firewall_linux.hpp"

#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "collectors/linux/command_util.hpp"
#include "collectors/linux/fs_util.hpp"
#include "collectors/parsers/firewall_parsers.hpp"
#include "collectors/parsers/firewalld_parsers.hpp"
#include "collectors/parsers/network_parsers.hpp"
#include "dozor/common/files.hpp"

namespace dozor::agent {
namespace {
namespace firewall_scan {

constexpr size_t kMaxRulesetBytes = 4 * 1024 * 1024;
constexpr size_t kMaxProcNetBytes = 8 * 1024 * 1024;
constexpr size_t kMaxJudgedPorts = 256;
constexpr size_t kMaxFirewalldFileBytes = 1024 * 1024;
constexpr size_t kMaxFirewalldFiles = 256;
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

// The names of `dir`'s files ending in `suffix`, without it; names firewalld would not use are
// left out (they would not be a safe path either).
std::vector<std::string> NamesWithSuffix(const CollectContext& ctx, const std::string& dir,
                                         std::string_view suffix) {
  std::vector<std::string> names;
  for (const auto& file : ListNamesOrEmpty(ctx.Path(dir), kMaxFirewalldFiles)) {
    if (file.size() <= suffix.size() ||
        file.compare(file.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    std::string name = file.substr(0, file.size() - suffix.size());
    if (IsFirewalldName(name)) names.push_back(std::move(name));
  }
  return names;
}

// A zone, service or policy file: the administrator's under /etc/firewalld wins over the
// packaged one under /usr/lib/firewalld.
Result<std::string> ReadFirewalldFile(const CollectContext& ctx, const std::string& kind,
                                      const std::string& name) {
  if (!IsFirewalldName(name)) return MakeError(ErrorCode::kInvalidArgument, name);
  auto text =
      ReadFile(ctx.Path("/etc/firewalld/" + kind + "/" + name + ".xml"), kMaxFirewalldFileBytes);
  if (text.ok()) return text;
  return ReadFile(ctx.Path("/usr/lib/firewalld/" + kind + "/" + name + ".xml"),
                  kMaxFirewalldFileBytes);
}

void LoadFirewalldZone(const CollectContext& ctx, const std::string& name,
                       FirewalldConfig* config) {
  if (config->zones.count(name) || config->zones.size() >= kMaxFirewalldFiles) return;
  auto text = ReadFirewalldFile(ctx, "zones", name);
  config->zones[name] = text.ok() ? ParseFirewalldZone(*text) : FirewalldZone{};
}

// The zones network scripts bind to their interfaces: ifcfg ZONE= (world-readable) and the
// NetworkManager keyfiles the agent may read (usually root-only: then not seen).
std::vector<std::string> ConnectionZones(const CollectContext& ctx) {
  std::vector<std::string> zones;
  const std::pair<const char*, std::string_view> kConnections[] = {
      {"/etc/sysconfig/network-scripts", ""},
      {"/etc/NetworkManager/system-connections", ".nmconnection"}};
  for (const auto& [dir, suffix] : kConnections) {
    for (const auto& file : ListNamesOrEmpty(ctx.Path(dir), kMaxFirewalldFiles)) {
      if (suffix.empty()
              ? file.rfind("ifcfg-", 0) != 0
              : file.size() <= suffix.size() ||
                    file.compare(file.size() - suffix.size(), suffix.size(), suffix) != 0) {
        continue;
      }
      auto text = ReadFile(ctx.Path(std::string(dir) + "/" + file), kMaxFirewalldFileBytes);
      if (!text.ok()) continue;
      std::string zone = ParseConnectionZone(*text);
      if (!zone.empty()) zones.push_back(std::move(zone));
    }
  }
  return zones;
}

// firewalld's permanent configuration when its service is enabled: what it loads at boot and
// on reload. Runtime-only changes (firewall-cmd without --permanent) live only in the daemon.
std::optional<FirewallRuleset> ReadFirewalld(const CollectContext& ctx, std::string* zone) {
  if (!ServiceEnabledAtBoot(ctx, "firewalld.service")) return std::nullopt;
  FirewalldConfig config;
  auto conf = ReadFile(ctx.Path("/etc/firewalld/firewalld.conf"), kMaxFirewalldFileBytes);
  // Newer firewalld may ship its defaults under /usr/lib with no copy in /etc.
  if (!conf.ok()) {
    conf = ReadFile(ctx.Path("/usr/lib/firewalld/firewalld.conf"), kMaxFirewalldFileBytes);
  }
  config.default_zone = ParseFirewalldDefaultZone(conf.ok() ? *conf : std::string());
  LoadFirewalldZone(ctx, config.default_zone, &config);
  for (const auto& name : NamesWithSuffix(ctx, "/etc/firewalld/zones", ".xml")) {
    LoadFirewalldZone(ctx, name, &config);
    const FirewalldZone& custom = config.zones[name];
    // A zone the administrator changed but bound to nothing in its file is most likely bound to
    // an interface by NetworkManager.
    if (custom.found && custom.sources.empty() && custom.ipsets.empty() &&
        custom.interfaces.empty()) {
      config.interface_zones.push_back(name);
    }
  }
  for (auto& name : ConnectionZones(ctx)) {
    LoadFirewalldZone(ctx, name, &config);
    config.interface_zones.push_back(std::move(name));
  }
  std::vector<std::string> services;
  for (const auto& [name, parsed] : config.zones) {
    for (const auto& admit : parsed.admits) services.push_back(admit.service);
    for (const auto& rule : parsed.rules) services.push_back(rule.admit.service);
  }
  // Breadth-first over includes, each service read once, the count bounded.
  for (size_t next = 0; next < services.size() && config.services.size() < kMaxFirewalldFiles;
       ++next) {
    const std::string name = services[next];
    if (name.empty() || config.services.count(name)) continue;
    auto text = ReadFirewalldFile(ctx, "services", name);
    if (!text.ok()) continue;
    FirewalldService& service = config.services[name] = ParseFirewalldService(*text);
    for (const auto& include : service.includes) services.push_back(include);
  }
  std::set<std::string> policies;
  for (const char* dir : {"/etc/firewalld/policies", "/usr/lib/firewalld/policies"}) {
    for (auto& name : NamesWithSuffix(ctx, dir, ".xml")) policies.insert(std::move(name));
  }
  for (const auto& name : policies) {
    auto text = ReadFirewalldFile(ctx, "policies", name);
    if (text.ok() && FirewalldPolicyReachesHost(*text)) config.host_policies.push_back(name);
  }
  *zone = config.default_zone;
  return BuildFirewalldRuleset(config);
}

// ufw's saved rules when ufw.service is enabled and ufw.conf says ENABLED=yes. Its rules files
// are often readable by root only: then `note` says so and the next source is tried.
std::optional<FirewallRuleset> ReadUfw(const CollectContext& ctx, std::string* note) {
  if (!ServiceEnabledAtBoot(ctx, "ufw.service")) return std::nullopt;
  auto conf = ReadFile(ctx.Path("/etc/ufw/ufw.conf"), kMaxFirewalldFileBytes);
  if (!conf.ok() || !UfwEnabled(*conf)) return std::nullopt;
  auto user = ReadFile(ctx.Path("/etc/ufw/user.rules"), kMaxRulesetBytes);
  if (!user.ok()) {
    *note = "ufw is enabled but /etc/ufw/user.rules cannot be read: " + user.error().message;
    return std::nullopt;
  }
  std::string rules = std::move(user).value();
  for (const char* file : {"/etc/ufw/before.rules", "/etc/ufw/after.rules"}) {
    auto text = ReadFile(ctx.Path(file), kMaxRulesetBytes);
    if (text.ok()) rules += "\n" + *text;
  }
  auto defaults = ReadFile(ctx.Path("/etc/default/ufw"), kMaxFirewalldFileBytes);
  return ParseUfwRules(rules, defaults.ok() ? ParseUfwDefaultInputPolicy(*defaults) : "");
}

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
  std::string zone;
  if (auto firewalld = ReadFirewalld(ctx, &zone)) {
    return Source{std::move(*firewalld),
                  "saved firewalld zone " + zone +
                      " (permanent configuration: runtime-only changes are not visible; " + why +
                      ")"};
  }
  const std::pair<const char*, const char*> kSaved[] = {
      {"/etc/nftables.conf", "nftables.service"},
      {"/etc/sysconfig/nftables.conf", "nftables.service"},
      {"/etc/iptables/rules.v4", "netfilter-persistent.service"},
      {"/etc/sysconfig/iptables", "iptables.service"}};
  std::string ufw_note;
  if (auto ufw = ReadUfw(ctx, &ufw_note)) {
    return Source{std::move(*ufw), "saved /etc/ufw/user.rules (" + why + ")"};
  }
  for (const auto& [file, unit] : kSaved) {
    if (!ServiceEnabledAtBoot(ctx, unit)) continue;
    auto text = ReadFile(ctx.Path(file), kMaxRulesetBytes);
    if (!text.ok()) continue;
    const bool nft_syntax = std::string_view(file).find("nftables") != std::string_view::npos;
    FirewallRuleset ruleset = nft_syntax ? ParseNftRuleset(*text) : ParseIptablesSave(*text);
    return Source{std::move(ruleset), std::string("saved ") + file + " (" + why + ")"};
  }
  if (!ufw_note.empty()) why += "; " + ufw_note;
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
  const bool ipv6_known = ruleset.backend == "nftables" || ruleset.backend == "firewalld";
  for (const auto& [family, port] : ListeningPorts(ctx)) {
    // iptables-save shows IPv4 only (firewalld's zones cover both): IPv6 stays without a verdict
    // (unknown to the rules).
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
