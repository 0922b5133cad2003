#include "collectors/parsers/firewalld_parsers.hpp"

#include <algorithm>
#include <cstdint>
#include <set>
#include <tuple>
#include <utility>

#include "collectors/parsers/text.hpp"
#include "collectors/parsers/xml_tags.hpp"

namespace dozor::agent {
namespace {
namespace firewalld_parse {

constexpr size_t kMaxIncludeDepth = 8;
constexpr size_t kMaxNameBytes = 64;
constexpr size_t kMaxValueBytes = 256;

std::string Attribute(const XmlTag& tag, std::string_view name) {
  std::string value;
  if (!XmlAttribute(tag.attributes, name, &value)) return {};
  value = Trimmed(value);
  if (value.size() > kMaxValueBytes) value.resize(kMaxValueBytes);
  return value;
}

// "5432", "1560-1591" or "" (the whole protocol) into `admit`.
void ReadPorts(const std::string& value, FirewalldAdmit* admit) {
  if (value.empty()) return;
  FirewallPortRange range;
  if (ParseFirewallPortRange(value, &range)) {
    admit->ports.push_back(range);
  } else {
    admit->unknown = "port " + value;
  }
}

// A service, port, protocol, source-port or forward-port element as what it admits; false for
// any other element. icmp-block, icmp-type and masquerade admit no TCP connection: they are read
// as a protocol of their own so that a rich rule holding one never matches a TCP port.
bool ReadAdmit(const XmlTag& tag, FirewalldAdmit* admit) {
  admit->line = tag.line;
  if (tag.name == "service") {
    admit->service = Attribute(tag, "name");
    if (admit->service.empty()) admit->unknown = "service without a name";
    return true;
  }
  if (tag.name == "port") {
    admit->protocol = Lower(Attribute(tag, "protocol"));
    ReadPorts(Attribute(tag, "port"), admit);
    return true;
  }
  if (tag.name == "protocol") {
    admit->protocol = Lower(Attribute(tag, "value"));
    if (admit->protocol == "6") admit->protocol = "tcp";
    return true;
  }
  if (tag.name == "source-port") {
    // A packet chooses its source port: whoever sends from it reaches every port.
    admit->protocol = Lower(Attribute(tag, "protocol"));
    return true;
  }
  if (tag.name == "forward-port") {
    // Redirected to a local port unless forwarded to another address.
    admit->protocol = Lower(Attribute(tag, "protocol"));
    if (!Attribute(tag, "to-addr").empty()) {
      admit->protocol = "forward";
      return true;
    }
    std::string to_port = Attribute(tag, "to-port");
    ReadPorts(to_port.empty() ? Attribute(tag, "port") : to_port, admit);
    return true;
  }
  if (tag.name == "icmp-block" || tag.name == "icmp-type" || tag.name == "masquerade") {
    admit->protocol = tag.name == "masquerade" ? "masquerade" : "icmp";
    return true;
  }
  return false;
}

// <source address|mac|ipset> as a source string ("10.0.0.20", "mac 52:54:00:..."); an ipset
// goes to `ipset`.
std::string ReadSource(const XmlTag& tag, std::string* ipset) {
  std::string address = Attribute(tag, "address");
  if (!address.empty()) return address;
  std::string mac = Attribute(tag, "mac");
  if (!mac.empty()) return "mac " + mac;
  *ipset = Attribute(tag, "ipset");
  if (ipset->empty()) *ipset = "?";
  return {};
}

int FamilyOf(std::string_view source) {
  if (source.rfind("mac ", 0) == 0) return 0;
  return source.find(':') == std::string_view::npos ? 4 : 6;
}

bool IsTrue(std::string_view value) {
  const std::string lower = Lower(value);
  return lower == "true" || lower == "yes" || lower == "1";
}

// Builds the synthetic chains of BuildFirewalldRuleset within a rule budget.
class RulesetBuilder {
 public:
  RulesetBuilder(const FirewalldConfig& config, size_t max_rules)
      : config_(config), max_rules_(max_rules) {}

  FirewallRuleset Build() {
    ruleset_.backend = "firewalld";
    const FirewalldZone* default_zone = Zone(config_.default_zone);
    FirewallChain input{"input", true, "drop", 0, {}};
    if (default_zone != nullptr && default_zone->target == "ACCEPT") input.policy = "accept";
    for (const auto& policy : config_.host_policies) {
      FirewallRule rule;
      rule.unknown = "policy " + policy + " filtering traffic to the host";
      rule.verdict = "accept";
      Add(&input, std::move(rule));
    }
    // Zones bound to sources come first: firewalld classifies by source before interface.
    for (const auto& [name, zone] : config_.zones) {
      if (zone.sources.empty() && zone.ipsets.empty()) continue;
      std::map<int, std::vector<std::string>> by_family;
      for (const auto& source : zone.sources) by_family[FamilyOf(source)].push_back(source);
      const std::string chain = ZoneChain(name, zone, "");
      for (auto& [family, sources] : by_family) {
        FirewallRule rule;
        rule.line = zone.line;
        rule.family = family;
        rule.sources = std::move(sources);
        rule.verdict = "goto";
        rule.target = chain;
        Add(&input, std::move(rule));
      }
      for (const auto& ipset : zone.ipsets) {
        FirewallRule rule;
        rule.line = zone.line;
        rule.sources = {"ipset " + ipset};
        rule.verdict = "goto";
        rule.target = ZoneChain(name, zone, "source ipset " + ipset);
        Add(&input, std::move(rule));
      }
    }
    std::set<std::string> interface_zones(config_.interface_zones.begin(),
                                          config_.interface_zones.end());
    for (const auto& [name, zone] : config_.zones) {
      for (const auto& interface : zone.interfaces) {
        if (interface != "lo") interface_zones.insert(name);
      }
    }
    interface_zones.erase(config_.default_zone);
    for (const auto& name : interface_zones) {
      FirewallRule rule;
      rule.interface_limited = true;
      const FirewalldZone* zone = Zone(name);
      if (zone == nullptr) {
        rule.unknown = "zone " + name + " (bound to an interface) not found";
        rule.verdict = "accept";
      } else {
        rule.line = zone->line;
        rule.verdict = "goto";
        rule.target = ZoneChain(name, *zone, "");
      }
      Add(&input, std::move(rule));
    }
    FirewallRule to_default;
    if (default_zone == nullptr) {
      to_default.unknown = "default zone " + config_.default_zone + " not found";
      to_default.verdict = "accept";
    } else {
      to_default.line = default_zone->line;
      to_default.verdict = "goto";
      to_default.target = ZoneChain(config_.default_zone, *default_zone, "");
    }
    Add(&input, std::move(to_default));
    chains_.emplace(input.name, std::move(input));
    for (const auto& [name, chain] : chains_) ruleset_.input_rules += chain.rules.size();
    ruleset_.tables["firewalld"] = std::move(chains_);
    return std::move(ruleset_);
  }

 private:
  const FirewalldZone* Zone(const std::string& name) const {
    auto zone = config_.zones.find(name);
    return zone == config_.zones.end() || !zone->second.found ? nullptr : &zone->second;
  }

  void Add(FirewallChain* chain, FirewallRule rule) {
    if (rules_ >= max_rules_) {
      ruleset_.truncated = true;
      return;
    }
    ++rules_;
    chain->rules.push_back(std::move(rule));
  }

  // The rules `admit` stands for, from `base` (line, family, sources, verdict): one per port
  // list of a service definition, its includes followed.
  void Expand(const FirewalldAdmit& admit, const FirewallRule& base, size_t depth,
              std::vector<FirewallRule>* out) {
    if (admit.service.empty()) {
      FirewallRule rule = base;
      rule.protocol = admit.protocol;
      rule.dports = admit.ports;
      if (rule.unknown.empty()) rule.unknown = admit.unknown;
      out->push_back(std::move(rule));
      return;
    }
    auto service = config_.services.find(admit.service);
    if (service == config_.services.end() || depth >= kMaxIncludeDepth) {
      FirewallRule rule = base;
      if (rule.unknown.empty()) rule.unknown = "service " + admit.service + " not defined";
      out->push_back(std::move(rule));
      return;
    }
    for (const auto& port : service->second.admits) Expand(port, base, depth + 1, out);
    for (const auto& include : service->second.includes) {
      FirewalldAdmit included;
      included.service = include;
      Expand(included, base, depth + 1, out);
    }
  }

  // The chain of one zone ("zone public"); `unknown_sources` marks every rule that admits as
  // unknown (the zone is entered from an ipset whose members are not read).
  std::string ZoneChain(const std::string& name, const FirewalldZone& zone,
                        const std::string& unknown_sources) {
    std::string chain_name = "zone " + name;
    if (!unknown_sources.empty()) chain_name += " (" + unknown_sources + ")";
    if (chains_.count(chain_name)) return chain_name;
    FirewallChain chain{chain_name, false, "", 0, {}};
    // firewalld's order within a zone: rich rules of negative priority, then (priority 0) the
    // deny rich rules before the allow ones and what the zone admits, then positive priorities.
    using Key = std::tuple<int, int, size_t>;
    std::vector<std::pair<Key, std::vector<FirewallRule>>> ordered;
    size_t sequence = 0;
    for (const auto& rich : zone.rules) {
      FirewallRule base;
      base.line = rich.line;
      base.family = rich.family;
      base.unknown = rich.unknown;
      base.verdict = rich.action;
      if (rich.source_inverted) {
        // Everyone but the listed: as good as anyone for an accept, a drop that may not apply.
        if (rich.action == "drop") base.sources = {"not " + JoinSources(rich.sources)};
      } else {
        base.sources = rich.sources;
      }
      if (rich.has_destination && rich.action == "drop" && base.unknown.empty()) {
        base.unknown = "destination";  // drops for some local addresses only
      }
      std::vector<FirewallRule> rules;
      if (rich.admits_everything) {
        rules.push_back(base);
      } else {
        Expand(rich.admit, base, 0, &rules);
      }
      const int bucket = rich.priority != 0 ? 0 : (rich.action == "drop" ? 1 : 2);
      ordered.push_back({{rich.priority, bucket, sequence++}, std::move(rules)});
    }
    for (const auto& admit : zone.admits) {
      FirewallRule base;
      base.line = admit.line;
      base.verdict = "accept";
      std::vector<FirewallRule> rules;
      Expand(admit, base, 0, &rules);
      ordered.push_back({{0, 2, sequence++}, std::move(rules)});
    }
    std::stable_sort(ordered.begin(), ordered.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [key, rules] : ordered) {
      for (auto& rule : rules) {
        if (!unknown_sources.empty() && rule.verdict == "accept" && rule.unknown.empty()) {
          rule.unknown = unknown_sources;
        }
        Add(&chain, std::move(rule));
      }
    }
    FirewallRule target;
    target.line = zone.line;
    if (zone.target == "ACCEPT") {
      target.verdict = "accept";
      if (!unknown_sources.empty()) target.unknown = unknown_sources;
    } else if (zone.target == "DROP" || zone.target == "REJECT" || zone.target == "default") {
      target.verdict = "drop";
    } else {
      target.verdict = "accept";
      target.unknown = "target " + zone.target;
    }
    Add(&chain, std::move(target));
    chains_.emplace(chain_name, std::move(chain));
    return chain_name;
  }

  static std::string JoinSources(const std::vector<std::string>& sources) {
    std::string out;
    for (const auto& source : sources) AppendJoined(&out, source, ", ");
    return out;
  }

  const FirewalldConfig& config_;
  size_t max_rules_;
  size_t rules_ = 0;
  std::map<std::string, FirewallChain> chains_;
  FirewallRuleset ruleset_;
};

}  // namespace firewalld_parse
}  // namespace

std::string ParseFirewalldDefaultZone(std::string_view text) {
  std::string zone;
  ForEachLine(text, [&](std::string_view line) {
    line = Trim(line);
    if (line.empty() || line[0] == '#') return;
    std::string_view key;
    std::string_view value;
    if (!SplitKeyValue(line, '=', &key, &value) || Trim(key) != "DefaultZone") return;
    zone = Trimmed(Trim(value), "\"' \t");
  });
  return IsFirewalldName(zone) ? zone : "public";
}

bool IsFirewalldName(std::string_view name) {
  if (name.empty() || name.size() > firewalld_parse::kMaxNameBytes || name[0] == '.') {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '_' || c == '-' ||
           c == '.' || c == '+';
  });
}

FirewalldZone ParseFirewalldZone(std::string_view text, size_t max_entries) {
  using namespace firewalld_parse;  // NOLINT(google-build-using-namespace)
  FirewalldZone zone;
  bool in_rule = false;
  bool rule_has_element = false;
  FirewalldRichRule rule;
  ForEachXmlTag(text, max_entries, [&](const XmlTag& tag) {
    if (tag.name == "zone" || tag.name == "policy") {
      if (tag.end || zone.found) return true;
      zone.found = true;
      zone.line = tag.line;
      std::string target = Attribute(tag, "target");
      if (target.empty() || target == "default") {
        zone.target = "default";
      } else if (target == "%%REJECT%%" || target == "REJECT") {
        zone.target = "REJECT";
      } else {
        zone.target = target;
      }
      return true;
    }
    if (tag.name == "rule") {
      if (tag.end || tag.self_closing) {
        if (in_rule || tag.self_closing) {
          if (!rule_has_element) rule.admits_everything = true;
          if (tag.self_closing) rule.line = tag.line;
          zone.rules.push_back(std::move(rule));
        }
        in_rule = false;
        rule = {};
        return true;
      }
      in_rule = true;
      rule_has_element = false;
      rule = {};
      rule.line = tag.line;
      const std::string family = Lower(Attribute(tag, "family"));
      rule.family = family == "ipv4" ? 4 : family == "ipv6" ? 6 : 0;
      int32_t priority = 0;
      if (ParseNumber(Attribute(tag, "priority"), &priority)) rule.priority = priority;
      return true;
    }
    if (tag.end) return true;
    if (in_rule) {
      if (tag.name == "source") {
        std::string ipset;
        std::string source = ReadSource(tag, &ipset);
        if (!ipset.empty()) {
          rule.unknown = "source ipset " + ipset;
        } else {
          rule.sources.push_back(std::move(source));
        }
        rule.source_inverted = IsTrue(Attribute(tag, "invert"));
      } else if (tag.name == "destination") {
        rule.has_destination = true;
      } else if (tag.name == "accept") {
        rule.action = "accept";
      } else if (tag.name == "reject" || tag.name == "drop") {
        rule.action = "drop";
      } else if (ReadAdmit(tag, &rule.admit)) {
        rule_has_element = true;
      }
      return true;
    }
    if (tag.name == "interface") {
      std::string name = Attribute(tag, "name");
      if (!name.empty()) zone.interfaces.push_back(std::move(name));
    } else if (tag.name == "source") {
      std::string ipset;
      std::string source = ReadSource(tag, &ipset);
      if (!ipset.empty()) {
        zone.ipsets.push_back(std::move(ipset));
      } else {
        zone.sources.push_back(std::move(source));
      }
    } else {
      FirewalldAdmit admit;
      if (ReadAdmit(tag, &admit)) zone.admits.push_back(std::move(admit));
    }
    return true;
  });
  return zone;
}

FirewalldService ParseFirewalldService(std::string_view text, size_t max_entries) {
  using namespace firewalld_parse;  // NOLINT(google-build-using-namespace)
  FirewalldService service;
  ForEachXmlTag(text, max_entries, [&](const XmlTag& tag) {
    if (tag.end) return true;
    if (tag.name == "include") {
      std::string name = Attribute(tag, "service");
      if (!name.empty()) service.includes.push_back(std::move(name));
      return true;
    }
    if (tag.name != "port" && tag.name != "protocol" && tag.name != "source-port") return true;
    FirewalldAdmit admit;
    if (ReadAdmit(tag, &admit)) service.admits.push_back(std::move(admit));
    return true;
  });
  return service;
}

bool FirewalldPolicyReachesHost(std::string_view text) {
  bool host = false;
  bool disabled = false;  // the policy sets firewalld ships switched off (<disable/>)
  ForEachXmlTag(text, 4096, [&](const XmlTag& tag) {
    std::string name;
    if (tag.end) return true;
    if (tag.name == "disable") disabled = true;
    if (tag.name == "egress-zone" && XmlAttribute(tag.attributes, "name", &name) &&
        Trim(name) == "HOST") {
      host = true;
    }
    return true;
  });
  if (!host || disabled) return false;
  // firewalld's own allow-host-ipv6 policy (target CONTINUE, ICMPv6 only) decides nothing about
  // TCP; any other policy to the host might.
  const FirewalldZone policy = ParseFirewalldZone(text);
  if (policy.target != "CONTINUE") return true;
  auto admits_tcp = [](const FirewalldAdmit& admit) {
    return admit.protocol != "icmp" && admit.protocol != "masquerade";
  };
  if (std::any_of(policy.admits.begin(), policy.admits.end(), admits_tcp)) return true;
  return std::any_of(policy.rules.begin(), policy.rules.end(), [&](const FirewalldRichRule& rule) {
    return rule.admits_everything || admits_tcp(rule.admit);
  });
}

std::string ParseConnectionZone(std::string_view text) {
  std::string zone;
  ForEachLine(text, [&](std::string_view line) {
    line = Trim(line);
    std::string_view key;
    std::string_view value;
    if (line.empty() || line[0] == '#' || !SplitKeyValue(line, '=', &key, &value)) return;
    if (Lower(Trim(key)) != "zone") return;
    zone = Trimmed(Trim(value), "\"' \t");
  });
  return IsFirewalldName(zone) ? zone : std::string();
}

FirewallRuleset BuildFirewalldRuleset(const FirewalldConfig& config, size_t max_rules) {
  return firewalld_parse::RulesetBuilder(config, max_rules).Build();
}

}  // namespace dozor::agent
