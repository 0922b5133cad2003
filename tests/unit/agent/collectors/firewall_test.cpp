// The Linux host firewall: the nft and iptables-save parsers, the per-port judge (open,
// restricted, closed, unknown: conservative where the ruleset is not followed), and the security
// collector over the pg-backup-server fixture's canned `nft list ruleset`; ufw's saved rules.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "collector_test_util.hpp"
#include "collectors/linux/firewall_linux.hpp"
#include "collectors/parsers/firewall_parsers.hpp"

namespace dozor::agent {
namespace {
namespace firewall_test {

using namespace collector_test;

constexpr const char* kDebianNft = R"(table inet filter {
	set admins {
		type ipv4_addr
		flags interval
		elements = { 192.168.10.0/24,
			     192.168.11.5 }
	}
	set blocked {
		type ipv4_addr
		flags dynamic,timeout
	}

	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		ct state invalid drop
		iif "lo" accept
		ip saddr @blocked drop
		tcp dport 22 ip saddr @admins accept
		ip saddr 10.0.0.20 tcp dport 5432 accept
		ip6 saddr fd00::20 tcp dport 5432 accept
		tcp dport { 80, 443, 1560-1591 } counter packets 5 bytes 300 accept
		tcp dport 3306 ip saddr != 10.0.0.0/8 accept
		iifname "eth1" tcp dport 6379 accept
		jump extra
		reject with icmpx type admin-prohibited
	}

	chain extra {
		tcp dport 9200 accept
		tcp dport 27017 jump nowhere
	}
}
)";

TEST_CASE("JudgeTcpPort over a default-deny nft ruleset: open, restricted, closed, unknown") {
  FirewallRuleset ruleset = ParseNftRuleset(kDebianNft);
  CHECK(ruleset.backend == "nftables");
  CHECK(InputPolicy(ruleset, 4) == "drop");
  CHECK(InputPolicy(ruleset, 6) == "drop");
  CHECK(ruleset.input_rules == 12);

  PortJudgement ssh = JudgeTcpPort(ruleset, 4, 22);
  CHECK(ssh.verdict == "restricted");
  CHECK(ssh.sources == "192.168.10.0/24, 192.168.11.5");
  CHECK(JudgeTcpPort(ruleset, 6, 22).verdict ==
        "closed");  // @admins is IPv4: ssh over IPv6 dropped

  PortJudgement postgres = JudgeTcpPort(ruleset, 4, 5432);
  CHECK(postgres.verdict == "restricted");
  CHECK(postgres.sources == "10.0.0.20");
  CHECK(postgres.reason.find("reject") == std::string::npos);
  CHECK(JudgeTcpPort(ruleset, 6, 5432).sources == "fd00::20");

  CHECK(JudgeTcpPort(ruleset, 4, 443).verdict == "open");
  CHECK(JudgeTcpPort(ruleset, 4, 1575).verdict == "open");  // in the range
  CHECK(JudgeTcpPort(ruleset, 4, 1592).verdict == "closed");
  CHECK(JudgeTcpPort(ruleset, 4, 9200).verdict == "open");  // accepted in the jumped-to chain
  // A negated source is not read: unknown, never "restricted".
  CHECK(JudgeTcpPort(ruleset, 4, 3306).verdict == "unknown");
  // Accepted on one interface: open (from the network behind it).
  CHECK(JudgeTcpPort(ruleset, 4, 6379).verdict == "open");
  // A jump into a chain that does not exist.
  PortJudgement mongo = JudgeTcpPort(ruleset, 4, 27017);
  CHECK(mongo.verdict == "unknown");
  CHECK(mongo.reason.find("nowhere") != std::string::npos);
  // The dynamic set's drop does not close anything for everyone.
  CHECK(JudgeTcpPort(ruleset, 4, 11211).verdict == "closed");
}

TEST_CASE("JudgeTcpPort: no input chain, policy accept, several base chains, firewalld's gotos") {
  CHECK(JudgeTcpPort(ParseNftRuleset(""), 4, 5432).verdict == "open");
  CHECK(InputPolicy(ParseNftRuleset(""), 4).empty());
  FirewallRuleset accept = ParseNftRuleset(
      "table ip filter {\n chain INPUT {\n  type filter hook input priority 0; policy accept;\n"
      "  tcp dport 5432 drop\n }\n}\n");
  CHECK(JudgeTcpPort(accept, 4, 5432).verdict == "closed");
  CHECK(JudgeTcpPort(accept, 4, 22).verdict == "open");
  CHECK(JudgeTcpPort(accept, 6, 5432).verdict == "open");  // an ip table says nothing of IPv6

  // A packet must pass every base chain: an accept in one is not final, a drop in any is.
  FirewallRuleset two = ParseNftRuleset(
      "table inet a { chain in { type filter hook input priority 0; policy accept; } }\n"
      "table inet b { chain in { type filter hook input priority 10; policy accept;\n"
      "  ip saddr 10.0.0.0/24 tcp dport 5432 accept\n  tcp dport 5432 drop\n } }\n");
  CHECK(JudgeTcpPort(two, 4, 5432).verdict == "restricted");
  CHECK(JudgeTcpPort(two, 4, 5432).sources == "10.0.0.0/24");

  // firewalld: zone dispatch with goto, the allow chain, the final reject.
  FirewallRuleset firewalld = ParseNftRuleset(R"(table inet firewalld {
	chain filter_INPUT {
		type filter hook input priority filter + 10; policy accept;
		ct state { established, related } accept
		ct status dnat accept
		iifname "lo" accept
		jump filter_INPUT_ZONES
		ct state { invalid } drop
		reject with icmpx admin-prohibited
	}
	chain filter_INPUT_ZONES {
		iifname "eth0" goto filter_IN_public
		goto filter_IN_public
	}
	chain filter_IN_public {
		jump filter_IN_public_allow
		meta l4proto { icmp, ipv6-icmp } accept
	}
	chain filter_IN_public_allow {
		tcp dport 22 ct state { new, untracked } accept
		ip saddr 10.0.0.20 tcp dport 5432 ct state { new, untracked } accept
	}
})");
  CHECK(JudgeTcpPort(firewalld, 4, 22).verdict == "open");
  CHECK(JudgeTcpPort(firewalld, 4, 5432).verdict == "restricted");
  CHECK(JudgeTcpPort(firewalld, 4, 3306).verdict == "closed");
}

TEST_CASE("JudgeTcpPort: variables, unresolved sets and unfollowed verdicts are unknown") {
  FirewallRuleset saved = ParseNftRuleset(
      "#!/usr/sbin/nft -f\nflush ruleset\ndefine DB_CLIENTS = { 10.0.0.20 }\n"
      "table inet filter {\n chain input {\n  type filter hook input priority 0; policy drop;\n"
      "  ip saddr $DB_CLIENTS tcp dport postgresql accept\n"
      "  tcp dport 6379 ip saddr @missing accept\n"
      "  tcp dport 27017 queue\n"
      "  tcp dport vmap { 9200 : accept }\n }\n}\n");
  CHECK(JudgeTcpPort(saved, 4, 5432).verdict == "unknown");
  CHECK(JudgeTcpPort(saved, 4, 6379).verdict == "unknown");
  CHECK(JudgeTcpPort(saved, 4, 27017).verdict == "unknown");
  CHECK(JudgeTcpPort(saved, 4, 9200).verdict == "unknown");
  // Debian's own `ct state vmap` is read: established traffic is not who may connect.
  FirewallRuleset vmap = ParseNftRuleset(
      "table inet filter {\n chain input {\n  type filter hook input priority 0; policy drop;\n"
      "  ct state vmap { established : accept, related : accept, invalid : drop }\n"
      "  tcp dport 22 accept\n }\n}\n");
  CHECK(JudgeTcpPort(vmap, 4, 22).verdict == "open");
  CHECK(JudgeTcpPort(vmap, 4, 5432).verdict == "closed");
  FirewallRuleset huge = ParseNftRuleset(kDebianNft, 3);
  CHECK(huge.truncated);
  CHECK(JudgeTcpPort(huge, 4, 22).verdict == "unknown");
}

TEST_CASE("ParseIptablesSave: ufw's chains, multiport, conntrack, comments, counters") {
  FirewallRuleset ruleset = ParseIptablesSave(R"(# Generated by iptables-save v1.8.9
*nat
:PREROUTING ACCEPT [0:0]
-A PREROUTING -p tcp --dport 5432 -j ACCEPT
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:ufw-before-input - [0:0]
:ufw-user-input - [0:0]
[10:600] -A INPUT -j ufw-before-input
-A INPUT -j ufw-user-input
-A ufw-before-input -i lo -j ACCEPT
-A ufw-before-input -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A ufw-before-input -m conntrack --ctstate INVALID -j DROP
-A ufw-user-input -s 10.0.0.20/32 -p tcp -m tcp --dport 5432 -m comment --comment "1C app server" -j ACCEPT
-A ufw-user-input -p tcp -m multiport --dports 80,443,1560:1591 -j ACCEPT
-A ufw-user-input -p tcp --dport 3306 -m set --match-set trusted src -j ACCEPT
-A ufw-user-input -p tcp -m tcp --dport 22 -j LOG --log-prefix "[ssh] "
-A ufw-user-input ! -s 10.0.0.0/8 -p tcp --dport 6379 -j ACCEPT
COMMIT
)");
  CHECK(ruleset.backend == "iptables");
  CHECK(InputPolicy(ruleset, 4) == "drop");
  CHECK(InputPolicy(ruleset, 6).empty());  // iptables-save is IPv4
  CHECK(ruleset.input_rules == 2);
  PortJudgement postgres = JudgeTcpPort(ruleset, 4, 5432);
  CHECK(postgres.verdict == "restricted");
  CHECK(postgres.sources == "10.0.0.20/32");
  CHECK(JudgeTcpPort(ruleset, 4, 1570).verdict == "open");
  CHECK(JudgeTcpPort(ruleset, 4, 22).verdict == "closed");  // logged, then the policy
  CHECK(JudgeTcpPort(ruleset, 4, 3306).verdict == "unknown");
  CHECK(JudgeTcpPort(ruleset, 4, 6379).verdict == "unknown");
  CHECK(
      JudgeTcpPort(ParseIptablesSave("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n"), 4, 5432).verdict ==
      "open");
}

// ufw 0.36's packaged before.rules and after.rules (abridged: the output and forward chains and
// some ICMP lines left out) and a user.rules as `ufw allow ssh`, `ufw allow from 10.0.0.20 to
// any port 5432 proto tcp` and `ufw limit 3306/tcp` write it.
constexpr const char* kUfwUserRules = R"(*filter
:ufw-user-input - [0:0]
:ufw-user-output - [0:0]
:ufw-user-forward - [0:0]
:ufw-before-logging-input - [0:0]
:ufw-user-logging-input - [0:0]
:ufw-after-logging-input - [0:0]
:ufw-logging-deny - [0:0]
:ufw-logging-allow - [0:0]
:ufw-user-limit - [0:0]
:ufw-user-limit-accept - [0:0]
### RULES ###

### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in
-A ufw-user-input -p tcp --dport 22 -j ACCEPT

### tuple ### allow tcp 5432 0.0.0.0/0 any 10.0.0.20 in
-A ufw-user-input -p tcp --dport 5432 -s 10.0.0.20 -j ACCEPT

### tuple ### limit tcp 3306 0.0.0.0/0 any 0.0.0.0/0 in
-A ufw-user-input -p tcp --dport 3306 -m conntrack --ctstate NEW -m recent --set
-A ufw-user-input -p tcp --dport 3306 -m conntrack --ctstate NEW -m recent --update --seconds 30 --hitcount 6 -j ufw-user-limit
-A ufw-user-input -p tcp --dport 3306 -j ufw-user-limit-accept

### END RULES ###

### LOGGING ###
-A ufw-after-logging-input -j LOG --log-prefix "[UFW BLOCK] " -m limit --limit 3/min --limit-burst 10
-I ufw-logging-deny -m conntrack --ctstate INVALID -j RETURN -m limit --limit 3/min --limit-burst 10
-A ufw-logging-deny -j LOG --log-prefix "[UFW BLOCK] " -m limit --limit 3/min --limit-burst 10
### END LOGGING ###

### RATE LIMITING ###
-A ufw-user-limit -m limit --limit 3/minute -j LOG --log-prefix "[UFW LIMIT BLOCK] "
-A ufw-user-limit -j REJECT
-A ufw-user-limit-accept -j ACCEPT
### END RATE LIMITING ###
COMMIT
)";

constexpr const char* kUfwBeforeRules = R"(*filter
:ufw-before-input - [0:0]
:ufw-before-output - [0:0]
:ufw-before-forward - [0:0]
:ufw-not-local - [0:0]
# End required lines

# allow all on loopback
-A ufw-before-input -i lo -j ACCEPT
-A ufw-before-output -o lo -j ACCEPT

# quickly process packets for which we already have a connection
-A ufw-before-input -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT

# drop INVALID packets (logs these in loglevel medium and higher)
-A ufw-before-input -m conntrack --ctstate INVALID -j ufw-logging-deny
-A ufw-before-input -m conntrack --ctstate INVALID -j DROP

# ok icmp codes for INPUT
-A ufw-before-input -p icmp --icmp-type destination-unreachable -j ACCEPT
-A ufw-before-input -p icmp --icmp-type echo-request -j ACCEPT

# allow dhcp client to work
-A ufw-before-input -p udp --sport 67 --dport 68 -j ACCEPT

-A ufw-before-input -j ufw-not-local
-A ufw-not-local -m addrtype --dst-type LOCAL -j RETURN
-A ufw-not-local -m addrtype --dst-type MULTICAST -j RETURN
-A ufw-not-local -m addrtype --dst-type BROADCAST -j RETURN
-A ufw-not-local -m limit --limit 3/min --limit-burst 10 -j ufw-logging-deny
-A ufw-not-local -j DROP

# allow MULTICAST mDNS for service discovery
-A ufw-before-input -p udp -d 224.0.0.251 --dport 5353 -j ACCEPT
COMMIT
)";

constexpr const char* kUfwAfterRules = R"(*filter
:ufw-after-input - [0:0]
:ufw-after-output - [0:0]
:ufw-after-forward - [0:0]
# End required lines

# don't log noisy services by default
-A ufw-after-input -p udp --dport 137 -j ufw-skip-to-policy-input
-A ufw-after-input -p tcp --dport 139 -j ufw-skip-to-policy-input
-A ufw-after-input -p tcp --dport 445 -j ufw-skip-to-policy-input

# don't log noisy broadcast
-A ufw-after-input -m addrtype --dst-type BROADCAST -j ufw-skip-to-policy-input
COMMIT
)";

TEST_CASE("ParseUfwRules wires ufw's chains as ufw loads them") {
  const std::string rules =
      std::string(kUfwUserRules) + "\n" + kUfwBeforeRules + "\n" + kUfwAfterRules;
  CHECK(UfwEnabled("# comment\nENABLED=yes\nLOGLEVEL=low\n"));
  CHECK_FALSE(UfwEnabled("ENABLED=no\n"));
  CHECK(ParseUfwDefaultInputPolicy("IPV6=yes\nDEFAULT_INPUT_POLICY=\"DROP\"\n") == "DROP");
  const FirewallRuleset ruleset = ParseUfwRules(rules, "DROP");
  CHECK(ruleset.backend == "ufw");
  CHECK(InputPolicy(ruleset, 4) == "drop");
  CHECK(JudgeTcpPort(ruleset, 4, 22).verdict == "open");
  const PortJudgement postgres = JudgeTcpPort(ruleset, 4, 5432);
  CHECK(postgres.verdict == "restricted");
  CHECK(postgres.sources == "10.0.0.20");
  CHECK(JudgeTcpPort(ruleset, 4, 6379).verdict == "closed");
  CHECK(JudgeTcpPort(ruleset, 4, 445).verdict == "closed");    // skipped to the drop policy
  CHECK(JudgeTcpPort(ruleset, 4, 3306).verdict == "unknown");  // rate limited: -m recent
  // The user rules keep their line numbers.
  CHECK(JudgeTcpPort(ruleset, 4, 22).reason.find("ufw-user-input line 15") != std::string::npos);
  const FirewallRuleset open = ParseUfwRules(rules, "ACCEPT");
  CHECK(JudgeTcpPort(open, 4, 6379).verdict == "open");
  // Without the user rules the jump into them is not followed.
  CHECK(JudgeTcpPort(ParseUfwRules(kUfwBeforeRules, "DROP"), 4, 22).verdict == "unknown");
}

TEST_CASE("firewall parsers give an answer on any text") {
  for (const char* text : {"{{{{", "}}}} table", "table inet x { chain y { type filter hook",
                           "*filter\n-A INPUT -j\n:INPUT", "\"unterminated",
                           "table ip t {\n"
                           " set s { elements = { 1.2.3.4,",
                           "-A INPUT ! ! -s"}) {
    FirewallRuleset nft = ParseNftRuleset(text);
    FirewallRuleset ipt = ParseIptablesSave(text);
    CHECK_FALSE(JudgeTcpPort(nft, 4, 5432).verdict.empty());
    CHECK_FALSE(JudgeTcpPort(ipt, 6, 5432).verdict.empty());
  }
}

TEST_CASE("CollectHostFirewall on pg-backup-server reads the canned nft ruleset") {
  dozor::v1::Security security;
  REQUIRE(CollectHostFirewall(FixtureContext("pg-backup-server"), &security).ok());
  INFO(security.DebugString());
  CHECK(security.remote_desktop() == -1);
  CHECK(security.smb1() == -1);
  const dozor::v1::HostFirewall& firewall = security.host_firewall();
  CHECK(firewall.backend() == "nftables");
  CHECK(firewall.status() == "ok");
  CHECK(firewall.input_policy() == "drop");
  CHECK(firewall.rule_count() == 9);
  // The usual database ports are judged even when nothing listens on them (no proc/net here).
  const auto* postgres4 =
      FindIf(firewall.ports(), [](const auto& p) { return p.port() == 5433 && p.family() == 4; });
  CHECK(postgres4 == nullptr);  // 5433 is not a usual port and nothing listens in this fixture
  const auto* mysql =
      FindIf(firewall.ports(), [](const auto& p) { return p.port() == 3306 && p.family() == 4; });
  REQUIRE(mysql != nullptr);
  CHECK(mysql->verdict() == "closed");
  CHECK(mysql->protocol() == "tcp");
}

TEST_CASE("CollectHostFirewall falls back to iptables-save when nft is absent (rpm-server)") {
  dozor::v1::Security security;
  REQUIRE(CollectHostFirewall(FixtureContext("rpm-server"), &security).ok());
  INFO(security.DebugString());
  const dozor::v1::HostFirewall& firewall = security.host_firewall();
  CHECK(firewall.backend() == "iptables");
  CHECK(firewall.input_policy() == "drop");
  const auto* postgres =
      FindIf(firewall.ports(), [](const auto& p) { return p.port() == 5432 && p.family() == 4; });
  REQUIRE(postgres != nullptr);
  CHECK(postgres->verdict() == "restricted");
  CHECK(postgres->sources() == "10.0.0.20/32, 10.0.0.21/32");
  // iptables-save says nothing of IPv6: no IPv6 verdicts rather than guessed ones.
  CHECK(FindIf(firewall.ports(), [](const auto& p) { return p.family() == 6; }) == nullptr);
  const auto* mysql = FindIf(firewall.ports(), [](const auto& p) { return p.port() == 3306; });
  REQUIRE(mysql != nullptr);
  CHECK(mysql->verdict() == "closed");  // through the LOGDROP chain's final DROP
}

TEST_CASE("CollectHostFirewall reads ufw's saved rules when ufw is enabled") {
  dozor::testing::TempDir root;
  auto put = [&](const std::string& relative, const std::string& text) {
    std::filesystem::create_directories((root / relative).parent_path());
    std::ofstream(root / relative) << text;
  };
  put("etc/systemd/system/multi-user.target.wants/ufw.service", "");
  put("etc/ufw/ufw.conf", "ENABLED=yes\nLOGLEVEL=low\n");
  put("etc/default/ufw", "IPV6=yes\nDEFAULT_INPUT_POLICY=\"DROP\"\n");
  put("etc/ufw/before.rules", kUfwBeforeRules);
  put("etc/ufw/after.rules", kUfwAfterRules);
  SUBCASE("readable rules give IPv4 verdicts") {
    put("etc/ufw/user.rules", kUfwUserRules);
    dozor::v1::Security security;
    REQUIRE(CollectHostFirewall(RootContext(root.path()), &security).ok());
    INFO(security.DebugString());
    const dozor::v1::HostFirewall& firewall = security.host_firewall();
    CHECK(firewall.backend() == "ufw");
    CHECK(firewall.status().rfind("saved /etc/ufw/user.rules (", 0) == 0);
    CHECK(firewall.input_policy() == "drop");
    const auto* postgres = FindIf(firewall.ports(), [](const auto& p) { return p.port() == 5432; });
    REQUIRE(postgres != nullptr);
    CHECK(postgres->verdict() == "restricted");
    CHECK(postgres->sources() == "10.0.0.20");
    CHECK(FindIf(firewall.ports(), [](const auto& p) { return p.family() == 6; }) == nullptr);
  }
  SUBCASE("unreadable user rules: no verdicts, the status says why") {
    dozor::v1::Security security;
    REQUIRE(CollectHostFirewall(RootContext(root.path()), &security).ok());
    CHECK(security.host_firewall().backend().empty());
    CHECK(security.host_firewall().status().find(
              "ufw is enabled but /etc/ufw/user.rules cannot be read") != std::string::npos);
  }
}

TEST_CASE("CollectHostFirewall without nft or iptables-save says why") {
  dozor::v1::Security security;
  REQUIRE(CollectHostFirewall(FixtureContext("minimal-vm"), &security).ok());
  CHECK(security.host_firewall().backend().empty());
  CHECK(security.host_firewall().status().find("nft") != std::string::npos);
  CHECK(security.host_firewall().ports_size() == 0);
  REQUIRE(security.unavailable_size() == 1);
  CHECK(security.unavailable(0).rfind("host firewall: ", 0) == 0);
}

}  // namespace firewall_test
}  // namespace
}  // namespace dozor::agent
