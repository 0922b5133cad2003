// The contract scope matrix (rules/contract_scope.hpp): the rule's own contracts, widened by the
// category of the rule and the duties of the host it fires on.
#include "rules/contract_scope.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace dozor::server::rules {
namespace {

Rule ScopeRule(std::string category, std::vector<std::string> contracts) {
  Rule rule;
  rule.id = "scope-" + category;
  rule.category = std::move(category);
  rule.contracts = std::move(contracts);
  return rule;
}

const HostDuties kNoDuties;
const HostDuties kOneCHost{HostDuty::kOneC};
const HostDuties kDatabaseHost{HostDuty::kDatabase};
const HostDuties kOneCDatabaseHost{HostDuty::kOneC, HostDuty::kDatabase};

TEST_CASE("contract scope: the rule's own contracts decide without duties") {
  const Rule technical = ScopeRule("hardware", {"technical", "complex"});
  CHECK(InContractScope(technical, ContractType::kTechnical, kNoDuties));
  CHECK(InContractScope(technical, ContractType::kComplex, kNoDuties));
  CHECK_FALSE(InContractScope(technical, ContractType::kApplication, kNoDuties));
  const Rule application = ScopeRule("business-application", {"application", "complex"});
  CHECK(InContractScope(application, ContractType::kApplication, kNoDuties));
  CHECK_FALSE(InContractScope(application, ContractType::kTechnical, kNoDuties));
  // A complex contract covers every rule, whatever it lists.
  CHECK(InContractScope(ScopeRule("network", {"technical"}), ContractType::kComplex, kNoDuties));
  // The stored spelling; an unknown one goes by the rule's list alone.
  CHECK(InContractScope(technical, "technical", kOneCHost));
  CHECK_FALSE(InContractScope(technical, "application", kNoDuties));
  CHECK(InContractScope(technical, "application", kOneCHost));
  CHECK_FALSE(InContractScope(technical, "gold", kOneCDatabaseHost));
}

TEST_CASE("contract scope: hardware and backup on 1C and database hosts count under application") {
  const char* categories[] = {
      "hardware", "network", "os", "security", "software", "backup", "business-application"};
  for (const char* category : categories) {
    CAPTURE(category);
    const Rule rule = ScopeRule(category, {"technical", "complex"});
    const bool widened = std::string(category) == "hardware" || std::string(category) == "backup";
    for (const HostDuties& duties : {kOneCHost, kDatabaseHost, kOneCDatabaseHost}) {
      CHECK(InContractScope(rule, ContractType::kApplication, duties) == widened);
      CHECK(InContractScope(rule, ContractType::kTechnical, duties));
      CHECK(InContractScope(rule, ContractType::kComplex, duties));
    }
    // A host without those duties (a workstation, a file server) or an estate-wide finding.
    CHECK_FALSE(InContractScope(rule, ContractType::kApplication, kNoDuties));
    CHECK(ScopeDependsOnHost(rule, ContractType::kApplication) == widened);
    CHECK_FALSE(ScopeDependsOnHost(rule, ContractType::kTechnical));
    CHECK_FALSE(ScopeDependsOnHost(rule, ContractType::kComplex));
  }
  // The widening adds scope, never removes it: an application rule stays out of a technical
  // contract whatever the host does.
  const Rule onec = ScopeRule("business-application", {"application", "complex"});
  CHECK_FALSE(InContractScope(onec, ContractType::kTechnical, kOneCDatabaseHost));
  CHECK_FALSE(
      ScopeDependsOnHost(ScopeRule("hardware", {"application"}), ContractType::kApplication));
}

TEST_CASE("contract scope: the matrix lists exactly the documented widenings") {
  std::vector<std::string> rows;
  for (const ScopeWidening& widening : ContractScopeMatrix()) {
    rows.push_back(std::string(widening.category) + " " + std::string(ToString(widening.duty)) +
                   " " + std::string(ToString(widening.contract)));
  }
  CHECK(rows == std::vector<std::string>{"hardware onec application",
                                         "hardware database application", "backup onec application",
                                         "backup database application"});
}

TEST_CASE("contract scope: the built-in disk, power and backup rules are hardware or backup") {
  // The matrix works by category: the rules about disks, memory and backups must stay in the
  // categories it names, or a 1C server's failing disk falls out of an application contract.
  const RulePack pack = LoadRulePack({}, true);
  for (const char* id : {"smart-failing", "smart-reallocated-sectors", "smart-pending-sectors",
                         "disk-health-bad", "disk-space-critical", "disk-space-low",
                         "disk-temperature-high", "disk-power-on-hours-high"}) {
    CAPTURE(id);
    const Rule* rule = pack.Find(id);
    REQUIRE(rule != nullptr);
    CHECK(rule->category == "hardware");
  }
  for (const char* id : {"backup-service-failed", "no-backup-software", "estate-no-backup"}) {
    CAPTURE(id);
    const Rule* rule = pack.Find(id);
    REQUIRE(rule != nullptr);
    CHECK(rule->category == "backup");
  }
}

}  // namespace
}  // namespace dozor::server::rules
