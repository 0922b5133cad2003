// Pure parsers for firewalld's permanent configuration (firewalld.conf, zone, service and policy
// XML files) and its translation into the FirewallRuleset model of firewall_parsers.hpp, so the
// same JudgeTcpPort gives firewalld hosts their per-port verdicts. No I/O here: the collector
// reads the files (an unprivileged agent cannot list the live ruleset, but the permanent files
// are world-readable). Runtime-only changes (firewall-cmd without --permanent) and zones that
// NetworkManager binds through connection profiles the agent cannot read are not visible.
//
// The translation mirrors how firewalld dispatches an incoming packet: zones bound to sources
// first (whatever they admit they admit from those sources only), then zones bound to
// interfaces, then the default zone; within a zone, rich rules of negative priority, deny rich
// rules, then what it admits (services, ports, protocols, accept rich rules), rich rules of
// positive priority, and the zone's target last. Whatever it cannot follow (an ipset source, a
// service without a definition, a policy that admits traffic to the host) makes the affected
// ports "unknown", never "restricted" or "closed".
//
// Input is text a local administrator shapes: malformed, truncated or non-UTF-8 XML gives an
// answer, counts are bounded.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/parsers/firewall_parsers.hpp"

namespace dozor::agent {

// One <service>, <port>, <protocol>, <source-port> or <forward-port> of a zone, rich rule or
// service definition: what it admits.
struct FirewalldAdmit {
  int line = 0;
  std::string service;                   // <service name>: the ports of its definition
  std::string protocol;                  // "tcp", "udp", ...; empty with a service
  std::vector<FirewallPortRange> ports;  // empty with a protocol: every port of it
  std::string unknown;                   // a port value that does not read ("5432-", "$x")
};

// <rule> of a zone: the rich language in its XML form.
struct FirewalldRichRule {
  int line = 0;
  int family = 0;                    // 4, 6, 0 both
  int priority = 0;                  // -32768..32767; 0 when absent
  std::vector<std::string> sources;  // <source address|mac>: empty any
  bool source_inverted = false;      // <source ... invert="True">: everyone but those
  bool has_destination = false;      // <destination ...>: only traffic to some local addresses
  std::string unknown;               // <source ipset>, an element the parser does not read
  bool admits_everything = false;    // no service/port/protocol element: every packet
  FirewalldAdmit admit;              // otherwise, the one element
  std::string action;                // "accept", "drop" (reject too), "" (log, audit, mark)
};

struct FirewalldZone {
  bool found = false;  // a <zone> element was read
  int line = 0;
  std::string target;  // "default", "ACCEPT", "DROP", "REJECT"
  std::vector<std::string> interfaces;
  std::vector<std::string> sources;    // address or "mac XX:..."
  std::vector<std::string> ipsets;     // <source ipset>: members unknown
  std::vector<FirewalldAdmit> admits;  // zone-level service/port/protocol/source-port
  std::vector<FirewalldRichRule> rules;
};

struct FirewalldService {
  std::vector<FirewalldAdmit> admits;  // <port>, <protocol>, <source-port>
  std::vector<std::string> includes;   // <include service>
};

// The permanent configuration the collector found, by name.
struct FirewalldConfig {
  std::string default_zone;
  // Zones read (/etc/firewalld/zones overriding /usr/lib/firewalld/zones): the default one,
  // the administrator's own and the ones network scripts bind.
  std::map<std::string, FirewalldZone> zones;
  // Zones that may be bound to an interface outside their file: named by a network script
  // (ifcfg ZONE=) or customised by the administrator without any binding in the file
  // (NetworkManager binds those through its connection profiles).
  std::vector<std::string> interface_zones;
  std::map<std::string, FirewalldService> services;
  // Policies whose egress zone is HOST: they admit or deny traffic to this machine and are
  // not followed.
  std::vector<std::string> host_policies;
};

// DefaultZone of firewalld.conf; "public" (firewalld's own default) when unset or unreadable.
[[nodiscard]] std::string ParseFirewalldDefaultZone(std::string_view text);

// A zone, service or policy name firewalld would accept as a file name (letters, digits, '_',
// '-', '.', '+', at most 64 bytes), so it can safely become a path.
[[nodiscard]] bool IsFirewalldName(std::string_view name);

// A zone file (a policy file reads the same way: its target then "CONTINUE", "ACCEPT", ...).
[[nodiscard]] FirewalldZone ParseFirewalldZone(std::string_view text, size_t max_entries = 4096);
[[nodiscard]] FirewalldService ParseFirewalldService(std::string_view text,
                                                     size_t max_entries = 1024);
// True when an enabled policy (same elements as a zone, root <policy>; no <disable/>) has
// <egress-zone name="HOST"/> and may admit or deny a TCP connection to this machine: target other
// than CONTINUE, or a service, port, protocol or rich rule that is not ICMP only.
[[nodiscard]] bool FirewalldPolicyReachesHost(std::string_view text);
// ZONE= of an ifcfg file or zone= of a NetworkManager keyfile; "" when absent.
[[nodiscard]] std::string ParseConnectionZone(std::string_view text);

// The input path of the configuration as backend "firewalld": one input base chain (policy:
// "accept" when the default zone's target is ACCEPT, else "drop") dispatching to one chain per
// active zone ("zone public").
[[nodiscard]] FirewallRuleset BuildFirewalldRuleset(const FirewalldConfig& config,
                                                    size_t max_rules = 20000);

}  // namespace dozor::agent
