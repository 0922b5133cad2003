// firewalld's permanent configuration: the XML tag scanner, the zone, service and policy parsers,
// their translation into the firewall model and its per-port verdicts (sources before
// interfaces before the default zone, rich rules, targets), and the collector over the
// firewalld-db-server fixture, where the agent cannot list the live ruleset.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "collector_test_util.hpp"
#include "collectors/linux/firewall_linux.hpp"
#include "collectors/parsers/firewalld_parsers.hpp"
#include "collectors/parsers/xml_tags.hpp"

namespace dozor::agent {
namespace {
namespace firewalld_test {

using namespace collector_test;

constexpr const char* kPublicZone = R"(<?xml version="1.0" encoding="utf-8"?>
<zone>
  <short>Public</short>
  <!-- <service name="postgresql"/> commented out: not admitted -->
  <service name="ssh"/>
  <service name="dhcpv6-client"/>
  <port protocol="tcp" port="1560-1591"/>
  <rule family="ipv4">
    <source address="10.0.5.0/24"/>
    <port port="6379" protocol="tcp"/>
    <accept/>
  </rule>
  <rule family="ipv4">
    <source address="192.0.2.66"/>
    <drop/>
  </rule>
  <rule family="ipv4" priority="-10">
    <source address="10.0.7.0/24" invert="True"/>
    <service name="mysql"/>
    <accept>
      <limit value="10/m"/>
    </accept>
  </rule>
  <forward/>
</zone>
)";

constexpr const char* kOnecZone = R"(<?xml version="1.0" encoding="utf-8"?>
<zone>
  <source address="10.0.0.20"/>
  <source address="fd00::20"/>
  <service name="postgresql"/>
</zone>
)";

FirewalldConfig Config() {
  FirewalldConfig config;
  config.default_zone = "public";
  config.zones["public"] = ParseFirewalldZone(kPublicZone);
  config.zones["onec"] = ParseFirewalldZone(kOnecZone);
  config.services["ssh"] =
      ParseFirewalldService(R"(<service><port protocol="tcp" port="22"/></service>)");
  config.services["dhcpv6-client"] = ParseFirewalldService(
      R"(<service><port protocol="udp" port="546"/><destination ipv6="fe80::/64"/></service>)");
  config.services["postgresql"] =
      ParseFirewalldService(R"(<service><port protocol="tcp" port="5432"/></service>)");
  config.services["mysql"] =
      ParseFirewalldService(R"(<service><port protocol="tcp" port="3306"/></service>)");
  return config;
}

TEST_CASE("ForEachXmlTag reads names, attributes and lines and skips comments and declarations") {
  std::vector<std::string> seen;
  ForEachXmlTag(
      "<?xml version='1.0'?>\n<!DOCTYPE x>\n<a:Zone target=\"%%REJECT%%\">\n"
      "<!-- <service name=\"x\"/> -->\n<![CDATA[ <b> ]]>\n<port port='1&amp;2' />"
      "</a:Zone>",
      100, [&](const XmlTag& tag) {
        std::string value;
        const bool has_port = XmlAttribute(tag.attributes, "port", &value);
        seen.push_back(tag.name + (tag.end ? "/end" : "") + (tag.self_closing ? "/self" : "") +
                       "@" + std::to_string(tag.line) + (has_port ? "=" + value : ""));
        return true;
      });
  CHECK(seen == std::vector<std::string>{"zone@3", "port/self@6=1&2", "zone/end@6"});
  size_t count = 0;
  ForEachXmlTag("<a><b><c><d>", 2, [&](const XmlTag&) { return ++count > 0; });
  CHECK(count == 2);
}

TEST_CASE("ParseFirewalldZone reads the target, bindings, admits and rich rules") {
  const FirewalldZone zone = ParseFirewalldZone(kPublicZone);
  CHECK(zone.found);
  CHECK(zone.target == "default");
  REQUIRE(zone.admits.size() == 3);
  CHECK(zone.admits[0].service == "ssh");
  CHECK(zone.admits[2].protocol == "tcp");
  REQUIRE(zone.admits[2].ports.size() == 1);
  CHECK(zone.admits[2].ports[0].first == 1560);
  CHECK(zone.admits[2].ports[0].last == 1591);
  REQUIRE(zone.rules.size() == 3);
  CHECK(zone.rules[0].family == 4);
  CHECK(zone.rules[0].sources == std::vector<std::string>{"10.0.5.0/24"});
  CHECK(zone.rules[0].action == "accept");
  CHECK(zone.rules[1].admits_everything);
  CHECK(zone.rules[1].action == "drop");
  CHECK(zone.rules[2].priority == -10);
  CHECK(zone.rules[2].source_inverted);
  CHECK(zone.rules[2].admit.service == "mysql");
  CHECK(ParseFirewalldZone("<zone target=\"%%REJECT%%\"/>").target == "REJECT");
  CHECK(ParseFirewalldZone("<zone target=\"DROP\"></zone>").target == "DROP");
  const FirewalldZone onec = ParseFirewalldZone(kOnecZone);
  CHECK(onec.sources == std::vector<std::string>{"10.0.0.20", "fd00::20"});
  CHECK_FALSE(ParseFirewalldZone("<service/>").found);
}

TEST_CASE("firewalld.conf, connection zones, names and policies") {
  CHECK(ParseFirewalldDefaultZone("# DefaultZone=x\nDefaultZone=onec\nLogDenied=off\n") == "onec");
  CHECK(ParseFirewalldDefaultZone("") == "public");
  CHECK(ParseFirewalldDefaultZone("DefaultZone=../../etc/passwd\n") == "public");
  CHECK(ParseConnectionZone("DEVICE=eth1\nZONE=\"internal\"\n") == "internal");
  CHECK(ParseConnectionZone("[connection]\nid=eth0\nzone=trusted\n") == "trusted");
  CHECK(ParseConnectionZone("DEVICE=eth0\n").empty());
  CHECK(IsFirewalldName("1c-cluster"));
  CHECK_FALSE(IsFirewalldName(".."));
  CHECK_FALSE(IsFirewalldName("a/b"));
  // firewalld's own allow-host-ipv6 (ICMPv6 only) and its disabled gateway set decide nothing
  // about TCP; a policy admitting a service to the host does.
  CHECK_FALSE(FirewalldPolicyReachesHost(
      "<policy target=\"CONTINUE\"><ingress-zone name=\"ANY\"/><egress-zone name=\"HOST\"/>"
      "<rule family=\"ipv6\"><icmp-type name=\"redirect\"/><accept/></rule></policy>"));
  CHECK_FALSE(FirewalldPolicyReachesHost(
      "<policy target=\"CONTINUE\"><disable/><ingress-zone name=\"public\"/>"
      "<egress-zone name=\"HOST\"/><service name=\"dhcpv6-client\"/></policy>"));
  CHECK(FirewalldPolicyReachesHost(
      "<policy target=\"CONTINUE\"><ingress-zone name=\"ANY\"/><egress-zone name=\"HOST\"/>"
      "<service name=\"postgresql\"/></policy>"));
  CHECK_FALSE(
      FirewalldPolicyReachesHost("<policy target=\"ACCEPT\"><ingress-zone name=\"internal\"/>"
                                 "<egress-zone name=\"external\"/></policy>"));
}

TEST_CASE("firewalld verdicts: source zones restrict, the default zone admits or rejects") {
  const FirewallRuleset ruleset = BuildFirewalldRuleset(Config());
  CHECK(ruleset.backend == "firewalld");
  CHECK(InputPolicy(ruleset, 4) == "drop");
  PortJudgement postgres = JudgeTcpPort(ruleset, 4, 5432);
  CHECK(postgres.verdict == "restricted");
  CHECK(postgres.sources == "10.0.0.20");
  CHECK(JudgeTcpPort(ruleset, 6, 5432).sources == "fd00::20");
  const PortJudgement ssh = JudgeTcpPort(ruleset, 4, 22);
  CHECK(ssh.verdict == "open");
  CHECK(ssh.reason == "firewalld input > zone public line 5: accepted from anywhere");
  CHECK(JudgeTcpPort(ruleset, 4, 1570).verdict == "open");
  const PortJudgement redis4 = JudgeTcpPort(ruleset, 4, 6379);
  CHECK(redis4.verdict == "restricted");
  CHECK(redis4.sources == "10.0.5.0/24");
  CHECK(JudgeTcpPort(ruleset, 6, 6379).verdict == "closed");  // the rich rule is IPv4 only
  // dhcpv6-client is UDP; nothing else admits 546/tcp.
  CHECK(JudgeTcpPort(ruleset, 4, 546).verdict == "closed");
  CHECK(JudgeTcpPort(ruleset, 4, 9200).reason == "firewalld input > zone public line 2: dropped");
  // Everyone but 10.0.7.0/24 is as good as anyone.
  CHECK(JudgeTcpPort(ruleset, 4, 3306).verdict == "open");
}

TEST_CASE("firewalld verdicts: interfaces, targets and what is not followed") {
  FirewalldConfig config = Config();
  SUBCASE("a zone on an interface that admits the port opens it") {
    config.zones["internal"] =
        ParseFirewalldZone("<zone><interface name=\"eth1\"/><service name=\"postgresql\"/></zone>");
    CHECK(JudgeTcpPort(BuildFirewalldRuleset(config), 4, 5432).verdict == "open");
  }
  SUBCASE("a DROP zone on an interface closes nothing for the others") {
    config.zones["drop"] =
        ParseFirewalldZone("<zone target=\"DROP\"><interface name=\"eth2\"/></zone>");
    CHECK(JudgeTcpPort(BuildFirewalldRuleset(config), 4, 22).verdict == "open");
  }
  SUBCASE("a trusted default zone admits everything") {
    config.default_zone = "trusted";
    config.zones["trusted"] = ParseFirewalldZone("<zone target=\"ACCEPT\"></zone>");
    const FirewallRuleset ruleset = BuildFirewalldRuleset(config);
    CHECK(InputPolicy(ruleset, 4) == "accept");
    CHECK(JudgeTcpPort(ruleset, 4, 3306).verdict == "open");
    // onec's sources reach PostgreSQL through their zone, everyone else through trusted.
    CHECK(JudgeTcpPort(ruleset, 4, 5432).verdict == "open");
  }
  SUBCASE("an ipset source, a missing service or default zone, a policy: unknown") {
    config.zones["ipset"] =
        ParseFirewalldZone("<zone><source ipset=\"admins\"/><service name=\"mysql\"/></zone>");
    const FirewallRuleset with_ipset = BuildFirewalldRuleset(config);
    CHECK(JudgeTcpPort(with_ipset, 4, 3306).verdict == "unknown");
    CHECK(JudgeTcpPort(with_ipset, 4, 9200).verdict == "closed");
    config.services.erase("postgresql");
    CHECK(JudgeTcpPort(BuildFirewalldRuleset(config), 4, 5432).verdict == "unknown");
    config.host_policies.push_back("db-to-host");
    CHECK(JudgeTcpPort(BuildFirewalldRuleset(config), 4, 9200).reason.find("policy db-to-host") !=
          std::string::npos);
    config.default_zone = "missing";
    CHECK(JudgeTcpPort(BuildFirewalldRuleset(config), 4, 9200).verdict == "unknown");
  }
  SUBCASE("negative priorities first, then deny rules, then what the zone admits") {
    config.zones["public"] = ParseFirewalldZone(
        "<zone>\n"
        "<rule><drop/></rule>\n"
        "<rule priority=\"-1\"><service name=\"mysql\"/><accept/></rule>\n"
        "<protocol value=\"tcp\"/>\n"
        "</zone>");
    const FirewallRuleset ruleset = BuildFirewalldRuleset(config);
    CHECK(JudgeTcpPort(ruleset, 4, 3306).reason ==
          "firewalld input > zone public line 3: "
          "accepted from anywhere");
    CHECK(JudgeTcpPort(ruleset, 4, 8080).reason == "firewalld input > zone public line 2: dropped");
    CHECK(BuildFirewalldRuleset(config, 2).truncated);
  }
}

TEST_CASE("firewalld parsers give an answer on any text") {
  for (const char* text :
       {"<zone", "<zone target=", "<rule><rule></rule></rule>", "<zone><port port=\"70000\"/>",
        "<<<>>>", "<service><include service=\"a\"/><include/>", "<!-- ", "\xff\xfe<zone/>",
        "<rule priority=\"99999999999\"><source invert=\"True\"/></rule>"}) {
    FirewalldConfig config;
    config.default_zone = "public";
    config.zones["public"] = ParseFirewalldZone(text);
    config.services["a"] = ParseFirewalldService(text);
    (void)FirewalldPolicyReachesHost(text);
    CHECK_FALSE(JudgeTcpPort(BuildFirewalldRuleset(config), 4, 5432).verdict.empty());
  }
  // A service that includes itself is followed only so deep.
  FirewalldConfig looping = Config();
  looping.services["ssh"] = ParseFirewalldService("<service><include service=\"ssh\"/></service>");
  CHECK(JudgeTcpPort(BuildFirewalldRuleset(looping), 4, 22).verdict == "unknown");
}

TEST_CASE("CollectHostFirewall reads firewalld's permanent configuration (firewalld-db-server)") {
  dozor::v1::Security security;
  REQUIRE(CollectHostFirewall(FixtureContext("firewalld-db-server"), &security).ok());
  INFO(security.DebugString());
  const dozor::v1::HostFirewall& firewall = security.host_firewall();
  CHECK(firewall.backend() == "firewalld");
  CHECK(firewall.status().rfind("saved firewalld zone public (permanent configuration", 0) == 0);
  CHECK(firewall.status().find("runtime-only changes are not visible") != std::string::npos);
  CHECK(firewall.status().find("nft exit 1") != std::string::npos);
  CHECK(firewall.input_policy() == "drop");
  auto port = [&](uint32_t family, uint32_t number) {
    return FindIf(firewall.ports(),
                  [&](const auto& p) { return p.family() == family && p.port() == number; });
  };
  const auto* postgres4 = port(4, 5432);
  REQUIRE(postgres4 != nullptr);
  CHECK(postgres4->verdict() == "restricted");
  CHECK(postgres4->sources() == "10.0.0.20");
  // As with nft: the reason names what stops everyone else, the sources who may pass.
  CHECK(postgres4->reason() == "firewalld input > zone public line 2: dropped");
  const auto* postgres6 = port(6, 5432);
  REQUIRE(postgres6 != nullptr);
  CHECK(postgres6->verdict() == "closed");
  const auto* redis = port(4, 6379);
  REQUIRE(redis != nullptr);
  CHECK(redis->verdict() == "restricted");
  CHECK(redis->sources() == "10.0.5.0/24");
  REQUIRE(port(4, 3306) != nullptr);
  CHECK(port(4, 3306)->verdict() == "closed");
  CHECK(security.unavailable_size() == 0);
}

}  // namespace firewalld_test
}  // namespace
}  // namespace dozor::agent
