// Pure parsers for the Linux host firewall: `nft list ruleset` (or a saved /etc/nftables.conf)
// and `iptables-save`, reduced to the rules of the input path, and a judge that says for one
// listening TCP port whether new connections from the network are admitted from anywhere, only
// from listed sources, or not at all. No I/O here. The judge is conservative: whatever it does
// not follow (a jump into a chain it cannot find, a set it cannot resolve, a match it does not
// read on an accepting rule) makes the port "unknown", which rules treat as open: a wrong
// "restricted" would hide an exposed database, a wrong "unknown" only keeps today's finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace dozor::agent {

struct FirewallPortRange {
  uint32_t first = 0;
  uint32_t last = 0;
};

// "5432", "1560-1591" (nft, firewalld), "1560:1591" (iptables), "ssh"; false when not a port or
// range.
[[nodiscard]] bool ParseFirewallPortRange(std::string_view text, FirewallPortRange* out);

// One rule of a chain, reduced to what decides whether a new TCP connection to a port passes.
struct FirewallRule {
  int line = 0;
  // Address families it applies to: 4, 6 or 0 both (inet tables, iptables rules are 4).
  int family = 0;
  std::string protocol;                   // "tcp", "udp", ... or "" any
  std::vector<FirewallPortRange> dports;  // empty: any port
  std::vector<std::string> sources;       // empty: any source; CIDRs or addresses as written
  // Matches only packets that are not new connections (ct state established,related / invalid),
  // or only the loopback interface: irrelevant for who may connect from the network.
  bool not_for_new_connections = false;
  // A match the parser does not read (a negation, an unresolved set, xt, a variable): the rule
  // may or may not apply. Says what, for the reason.
  std::string unknown;
  // Matches only one interface: accepted traffic on it is still traffic from the network, a drop
  // on it does not close the port on the others.
  bool interface_limited = false;
  // "accept", "drop" (reject too), "jump", "goto", "return", "" (no verdict: counter, log),
  // "other" (queue, notrack, ...: not followed).
  std::string verdict;
  std::string target;  // jump/goto: the chain
};

struct FirewallChain {
  std::string name;
  bool input_hook = false;  // a base chain of the filter type at the input hook
  std::string policy;       // base chains: "accept" or "drop"
  int family = 0;           // the table's: 4 (ip), 6 (ip6), 0 (inet)
  std::vector<FirewallRule> rules;
};

struct FirewallRuleset {
  std::string backend;  // "nftables", "iptables"
  // Chains by table ("inet filter", "filter" for iptables), each table's chains by name.
  std::map<std::string, std::map<std::string, FirewallChain>> tables;
  size_t input_rules = 0;  // rules in input base chains (for scale)
  bool truncated = false;  // more rules than the parser keeps: judge everything unknown
};

// The `nft list ruleset` text (also a saved nftables.conf: `flush ruleset`, `include` and
// `define` are read as far as they go; a `$variable` makes its rule unknown). Tables of the
// families ip, ip6 and inet; named sets are resolved within their table.
[[nodiscard]] FirewallRuleset ParseNftRuleset(std::string_view text, size_t max_rules = 20000);

// `iptables-save` output (IPv4): the *filter table's chains.
[[nodiscard]] FirewallRuleset ParseIptablesSave(std::string_view text, size_t max_rules = 20000);

// ufw's saved rules: /etc/ufw/user.rules, before.rules and after.rules concatenated (each
// iptables-save syntax with ufw's chains), wired as ufw loads them: INPUT (policy from
// DEFAULT_INPUT_POLICY of /etc/default/ufw: "DROP" and "REJECT" drop, "ACCEPT", anything else
// read as accept) jumps to ufw-before-logging-input, ufw-before-input (ending in ufw-user-input),
// ufw-after-input and ufw-after-logging-input; ufw-skip-to-policy-input applies the policy.
// Backend "ufw", IPv4 only (user6.rules are not read). A chain a file does not declare makes
// whatever jumps to it unknown.
[[nodiscard]] FirewallRuleset ParseUfwRules(std::string_view rules,
                                            std::string_view default_input_policy,
                                            size_t max_rules = 20000);
// DEFAULT_INPUT_POLICY of /etc/default/ufw ("DROP"), "" when absent.
[[nodiscard]] std::string ParseUfwDefaultInputPolicy(std::string_view etc_default_ufw);
// ENABLED=yes in /etc/ufw/ufw.conf: ufw loads its rules at boot.
[[nodiscard]] bool UfwEnabled(std::string_view ufw_conf);

// "accept" or "drop" when every input base chain of `family` agrees, "drop" when any drops by
// policy ("drop" wins: a packet must pass every base chain), "" when there is none.
[[nodiscard]] std::string InputPolicy(const FirewallRuleset& ruleset, int family);

struct PortJudgement {
  std::string verdict;  // "open", "restricted", "closed", "unknown"
  std::string sources;  // restricted: "10.0.0.20, 10.0.1.0/24"
  std::string reason;   // "inet filter input: policy drop", "inet filter input line 7"
};

// Whether a new TCP connection to `port` over `family` (4 or 6) from an arbitrary address passes
// every input base chain of that family. No base chain at all: open (nothing filters).
[[nodiscard]] PortJudgement JudgeTcpPort(const FirewallRuleset& ruleset, int family, uint32_t port);

}  // namespace dozor::agent
