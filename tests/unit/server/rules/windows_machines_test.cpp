// The Windows fixture machines (tests/fixtures/windows/) end to end on the server side: each
// machine's inventory is built by the real Windows model (agent/collectors/windows_model), goes
// through the real ingest path into a SQLite store on disk, and the built-in pack runs over it
// with the real engine. The expected findings come from what each machine's README says is
// wrong with it, so a change in the model, the store, the fact views or a rule that loses one
// of them (or adds a false one) fails here.
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "collectors/windows_model/fixture_machine.hpp"
#include "collectors/windows_model/windows_inventory.hpp"
#include "rules/rule_engine.hpp"
#include "store/sqlite/sqlite_fact_source.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::server::rules {
namespace {

using dozor::testing::TempDir;

// 2026-12-02 12:00 UTC: the fixture machines' "now" (their captures are from that morning).
constexpr int64_t kNowS = 1796212800;
constexpr int64_t kMachinesNowMs = kNowS * 1000;

dozor::v1::Inventory BuildInventory(const std::string& machine_name) {
  dozor::v1::Inventory inventory;
  auto opened = agent::windows::FixtureMachine::Open(
      dozor::testing::FixturePath("windows/" + machine_name), kNowS);
  REQUIRE_MESSAGE(opened.ok(), opened.error().message);
  agent::windows::Machine machine = (*opened)->machine();
  REQUIRE(agent::windows::BuildHardware(machine, inventory.mutable_hardware()).ok());
  REQUIRE(agent::windows::BuildOperatingSystem(machine, inventory.mutable_os()).ok());
  REQUIRE(agent::windows::BuildNetwork(machine, inventory.mutable_network()).ok());
  REQUIRE(agent::windows::BuildSoftware(machine, inventory.mutable_software()).ok());
  REQUIRE(agent::windows::BuildSecurity(machine, inventory.mutable_security()).ok());
  return inventory;
}

// The three machines enrolled in one organisation, each with one inventory report, in a store
// file under `dir`; returns host pk -> machine name.
std::map<int64_t, std::string> StoreMachines(const TempDir& dir) {
  SqliteStoreOptions options;
  options.path = (dir / "dozor.db").string();
  options.background_checkpoint = false;
  options.health_compact_interval_s = 0;
  auto store = OpenSqliteStore(options);
  REQUIRE_MESSAGE(store.ok(), (store.ok() ? "" : store.error().ToString()));
  Organization org;
  org.name = "corp";
  auto created = (*store)->CreateOrganization(org);
  REQUIRE(created.ok());
  NewEnrollmentToken token;
  token.org_id = created->id;
  token.token_hash = "windows-token-hash";
  token.hint = "win";
  REQUIRE((*store)->CreateEnrollmentToken(token).ok());
  std::map<int64_t, std::string> names;
  for (const char* name : {"win11-laptop-ru", "win2019-1c-server", "win7-old"}) {
    NewAgent agent;
    agent.agent_id = std::string("agent-") + name;
    agent.secret_hash = std::string("secret-") + name;
    agent.hostname = name;
    agent.os = "windows";
    REQUIRE((*store)->EnrollAgent(token.token_hash, agent, kMachinesNowMs - 86400000).ok());
    std::vector<IncomingReport> batch(1);
    batch[0].agent_id = agent.agent_id;
    batch[0].received_at_ms = kMachinesNowMs - 60000;
    batch[0].report.set_seq(1);
    batch[0].report.set_collected_at_ms(kMachinesNowMs - 60000);
    batch[0].report.set_agent_version("1.0.0");
    *batch[0].report.mutable_inventory() = BuildInventory(name);
    auto committed = (*store)->CommitReports(batch);
    REQUIRE_MESSAGE(committed.ok(), (committed.ok() ? "" : committed.error().ToString()));
    REQUIRE_MESSAGE((*committed)[0].outcome == CommitOutcome::kStored, (*committed)[0].reason);
    auto pk = (*store)->HostPk(agent.agent_id);
    REQUIRE(pk.ok());
    names[*pk] = name;
  }
  return names;
}

struct Findings {
  std::map<std::string, std::set<std::string>> by_machine;  // "org" for estate rules
  std::map<std::string, std::string> evidence;              // "machine rule" -> evidence JSON
};

Findings Evaluate(const TempDir& dir, const std::map<int64_t, std::string>& names) {
  auto facts = MakeSqliteFactSource((dir / "dozor.db").string());
  auto engine = RuleEngine::Open(*facts, LoadRulePack({}, true));
  REQUIRE_MESSAGE(engine.ok(), (engine.ok() ? "" : engine.error().ToString()));
  REQUIRE((*engine)->pack().errors.empty());
  auto results = (*engine)->EvaluateAll(kMachinesNowMs);
  REQUIRE_MESSAGE(results.ok(), (results.ok() ? "" : results.error().ToString()));
  Findings findings;
  for (const auto& result : *results) {
    for (const auto& error : result.rule_errors) {
      FAIL_CHECK("rule failed at run time: " << error);
    }
    for (const auto& hit : result.hits) {
      if (hit.sustain_only) {
        continue;
      }
      const std::string target = hit.host_id ? names.at(*hit.host_id) : "org";
      findings.by_machine[target].insert(hit.rule_id);
      findings.evidence[target + " " + hit.rule_id] = hit.evidence_json;
    }
  }
  return findings;
}

std::string Describe(const Findings& findings) {
  std::string text;
  for (const auto& [key, evidence] : findings.evidence) {
    text += "  " + key + ": " + evidence + "\n";
  }
  return text;
}

TEST_CASE("windows fixture machines: the pack finds what each machine's README says is wrong") {
  TempDir dir;
  const auto names = StoreMachines(dir);
  Findings findings = Evaluate(dir, names);
  INFO("findings:\n" << Describe(findings));

  // The Russian Windows 11 laptop: 23H2 Pro is out of servicing; its everyday user ivanov is a
  // local administrator; ivanov's 1C list opens a file base on \\fs01\1c\buh; the old 32-bit
  // 1C 8.3.18 beside 8.3.22. BitLocker, Defender, the firewall, RDP (off), SMBv1 (off) and the
  // domain password policy are fine; file sharing on 445, as on every Windows, is not a finding
  // (smb-exposed is Samba's).
  CHECK(findings.by_machine["win11-laptop-ru"] ==
        std::set<std::string>{"os-eol", "everyday-user-admin", "onec-infobase-on-share",
                              "onec-multiple-platforms", "onec-platform-old"});

  // The 1C + SQL Server host: SMBv1 on; updates 100 days behind with a reboot pending and two
  // security updates waiting; the Domain firewall profile off; Defender signatures 9 days old;
  // RDP (with NLA) and SQL Server on every address; 3 reallocated sectors on the system SSD;
  // two 1C platforms installed side by side.
  CHECK(findings.by_machine["win2019-1c-server"] ==
        std::set<std::string>{"smb1-enabled", "windows-updates-stale", "reboot-pending",
                              "windows-firewall-off", "antivirus-outdated", "rdp-exposed",
                              "database-exposed", "smart-reallocated-sectors",
                              "onec-multiple-platforms"});

  // The old accountant's PC: Windows 7 past end of life and not genuine; Windows Update failing
  // and stale; RDP without NLA (and so exposed: its sockets are not readable); SMBv1 on by
  // default; the everyday account buh is an administrator; the default password policy; the
  // dying disk (SMART failure, reallocated and pending sectors, 45016 hours); a 2012 board;
  // Kaspersky's outdated databases; 1C 8.3.10 from a mapped drive (Z:); a reboot pending; the
  // router as the only DNS server. Windows Firewall is off in every profile, but Kaspersky's
  // firewall took over: not reported.
  CHECK(findings.by_machine["win7-old"] ==
        std::set<std::string>{
            "os-eol", "windows-not-activated", "windows-update-failing", "windows-updates-stale",
            "rdp-without-nla", "rdp-exposed", "smb1-enabled", "everyday-user-admin",
            "password-policy-weak", "smart-failing", "smart-reallocated-sectors",
            "smart-pending-sectors", "disk-power-on-hours-high", "bios-old", "antivirus-outdated",
            "onec-infobase-on-share", "onec-platform-old", "reboot-pending", "single-dns-server"});

  // Estate-wide: the Windows 7 PC's 1C 8.3.10.2772 matches neither platform of the server; the
  // laptop's 8.3.22.1709 matches the one the server agent runs.
  CHECK(findings.by_machine["org"] == std::set<std::string>{"estate-onec-version-mismatch"});
  CHECK(findings.evidence["org estate-onec-version-mismatch"].find("win7-old") !=
        std::string::npos);
  CHECK(findings.evidence["org estate-onec-version-mismatch"].find("win11-laptop-ru") ==
        std::string::npos);
  CHECK(findings.evidence["win11-laptop-ru everyday-user-admin"].find("CORP\\\\ivanov") !=
        std::string::npos);
  CHECK(findings.evidence["win7-old onec-infobase-on-share"].find("Z:\\\\1C\\\\Buh") !=
        std::string::npos);
  CHECK(findings.evidence["win11-laptop-ru os-eol"].find("2025-11-11") != std::string::npos);
}

TEST_CASE("windows fixture machines: the 1C and SQL Server host has both duties, the PCs none") {
  TempDir dir;
  const auto names = StoreMachines(dir);
  {
    SqliteStoreOptions options;
    options.path = (dir / "dozor.db").string();
    options.background_checkpoint = false;
    options.health_compact_interval_s = 0;
    auto store = OpenSqliteStore(options);
    REQUIRE(store.ok());
    auto server = (*store)->GetHost("agent-win2019-1c-server");
    REQUIRE(server.ok());
    // The 1C:Enterprise 8.3 Server Agent service (ragent.exe) and MSSQLSERVER.
    CHECK(FormatHostDuties(server->duties) == "database,onec");
    // The PCs run the 1C client only.
    CHECK((*store)->GetHost("agent-win11-laptop-ru")->duties.empty());
    CHECK((*store)->GetHost("agent-win7-old")->duties.empty());
  }
  // Rules read them from the hosts and os views.
  TempDir rules;
  {
    std::ofstream rule(rules / "duty-probe.toml");
    rule << R"(id = "duty-probe"
scope = "host"
category = "business-application"
severity = "info"
contracts = ["application"]
effort = 1
title.en = "probe"
title.ru = "проба"
why.en = "probe"
why.ru = "проба"
remediation.en = "none"
remediation.ru = "нет"
condition = '''
SELECT h.host_id, h.duties, o.duties AS os_duties
FROM hosts h JOIN os o USING (host_id)
WHERE (',' || h.duties || ',') LIKE '%,onec,%' AND o.duties <> ''
'''
)";
  }
  auto facts = MakeSqliteFactSource((dir / "dozor.db").string());
  auto engine = RuleEngine::Open(*facts, LoadRulePack({rules.path().string()}, false));
  REQUIRE_MESSAGE(engine.ok(), (engine.ok() ? "" : engine.error().ToString()));
  REQUIRE((*engine)->pack().errors.empty());
  auto results = (*engine)->EvaluateAll(kMachinesNowMs);
  REQUIRE(results.ok());
  std::vector<std::string> fired;
  for (const auto& result : *results) {
    for (const auto& hit : result.hits) {
      REQUIRE(hit.host_id);
      fired.push_back(names.at(*hit.host_id) + " " + hit.evidence_json);
    }
  }
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].rfind("win2019-1c-server ", 0) == 0);
  CHECK(fired[0].find("\"duties\":\"database,onec\"") != std::string::npos);
}

}  // namespace
}  // namespace dozor::server::rules
