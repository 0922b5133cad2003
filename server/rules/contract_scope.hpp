// The contract scope: which findings count under an organisation's contract (readiness score,
// must-fix list, verdict, alerts), and which are listed as outside it. docs/audit-report.md,
// "Contract scope", has the same matrix as a table.
//
// A finding is in scope when its rule names the contract type (Rule::AppliesTo; a complex
// contract covers every rule), or when the rule's category on a host with a certain duty widens
// the scope (ContractScopeMatrix): a failing disk on the 1C server stops 1C as surely as an old
// platform does, so an application (1C) contract cannot be ready to sign over it.
#pragma once

#include <span>
#include <string_view>

#include "domain/contract.hpp"
#include "domain/host_role.hpp"
#include "rules/rule.hpp"

namespace dozor::server::rules {

// A rule of `category` firing on a host with `duty` also counts under a `contract` contract.
struct ScopeWidening {
  std::string_view category;
  HostDuty duty;
  ContractType contract;
};

// Every widening, in the order docs/audit-report.md lists them.
std::span<const ScopeWidening> ContractScopeMatrix();

// Whether a finding of `rule` counts under `contract`. `host_duties`: the duties of the host the
// finding is about; none for an estate-wide finding (then only the rule's own list decides).
[[nodiscard]] bool InContractScope(const Rule& rule, ContractType contract, HostDuties host_duties);
// The same with the contract type as stored ("technical", "application", "complex"); an unknown
// spelling goes by the rule's own list alone.
[[nodiscard]] bool InContractScope(const Rule& rule, std::string_view contract_type,
                                   HostDuties host_duties);

// Whether the host's duties can change the answer for this rule and contract: the rule does not
// name the contract, and some widening is about its category. Callers that must read the host
// to know its duties (alerts) read it only then.
[[nodiscard]] bool ScopeDependsOnHost(const Rule& rule, ContractType contract);

}  // namespace dozor::server::rules
