#include "rules/contract_scope.hpp"

#include <array>

namespace dozor::server::rules {
namespace {

// Why these rows: an application contract is about 1C working, and 1C works only while its
// server and its database server do. Their disks, memory, CPU and power (category hardware) and
// their backups (category backup) are then the application's problem too, whatever the rule's
// own `contracts` list says (those rules are written for technical support). Hardware findings
// on a workstation, or any other category (network, OS, security), stay the technical
// contract's. A complex contract covers every rule already; a technical one needs no widening.
constexpr std::array<ScopeWidening, 4> kScopeMatrix = {{
    {"hardware", HostDuty::kOneC, ContractType::kApplication},
    {"hardware", HostDuty::kDatabase, ContractType::kApplication},
    {"backup", HostDuty::kOneC, ContractType::kApplication},
    {"backup", HostDuty::kDatabase, ContractType::kApplication},
}};

}  // namespace

std::span<const ScopeWidening> ContractScopeMatrix() { return kScopeMatrix; }

bool ScopeDependsOnHost(const Rule& rule, ContractType contract) {
  if (rule.AppliesTo(ToString(contract))) {
    return false;
  }
  for (const ScopeWidening& widening : kScopeMatrix) {
    if (widening.contract == contract && widening.category == rule.category) {
      return true;
    }
  }
  return false;
}

bool InContractScope(const Rule& rule, ContractType contract, HostDuties host_duties) {
  if (rule.AppliesTo(ToString(contract))) {
    return true;
  }
  for (const ScopeWidening& widening : kScopeMatrix) {
    if (widening.contract == contract && widening.category == rule.category &&
        host_duties.Has(widening.duty)) {
      return true;
    }
  }
  return false;
}

bool InContractScope(const Rule& rule, std::string_view contract_type, HostDuties host_duties) {
  if (const auto contract = ParseContractType(contract_type)) {
    return InContractScope(rule, *contract, host_duties);
  }
  return rule.AppliesTo(contract_type);
}

}  // namespace dozor::server::rules
