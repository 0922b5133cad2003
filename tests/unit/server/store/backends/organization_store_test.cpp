// The organisations area (store/organization_store.hpp) on every backend.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "backends.hpp"

namespace dozor::server {
namespace {

using dozor::testing::MakeOrg;
using dozor::testing::Ok;

TEST_CASE_TEMPLATE("organisations: create, find by id or name, list in name order", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& orgs = backend.store->Organizations();
  Organization org;
  org.name = "Ромашка";
  org.contract_type = ContractType::kApplication;
  org.declared_hosts = 40;
  const Organization created = Ok(orgs.CreateOrganization(org));
  CHECK(created.id > 0);
  CHECK(created.name == "Ромашка");
  CHECK(created.contract_status == ContractPhase::kProspect);
  CHECK(created.contract_type == ContractType::kApplication);
  CHECK(created.created_at_ms == dozor::testing::kBackendClockStartMs);
  CHECK(created.declared_hosts == std::optional<int64_t>(40));
  CHECK(created.host_count == 0);
  MakeOrg(*backend.store, "Acme");
  MakeOrg(*backend.store, "acme-2");

  CHECK(Ok(orgs.FindOrganization(std::to_string(created.id))).name == "Ромашка");
  CHECK(Ok(orgs.FindOrganization("Acme")).name == "Acme");
  auto missing = orgs.FindOrganization("Nobody");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kNotFound);

  // Byte order, as SQLite's BINARY collation: capitals before small letters, Cyrillic last.
  std::vector<std::string> names;
  for (const auto& listed : Ok(orgs.ListOrganizations())) names.push_back(listed.name);
  CHECK(names == std::vector<std::string>{"Acme", "acme-2", "Ромашка"});

  auto duplicate = orgs.CreateOrganization(org);
  REQUIRE_FALSE(duplicate.ok());
  CHECK(duplicate.error().code == ErrorCode::kAlreadyExists);
  Organization unnamed;
  auto empty = orgs.CreateOrganization(unnamed);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().code == ErrorCode::kInvalidArgument);
  Organization too_long;
  too_long.name = std::string(201, 'x');
  CHECK(orgs.CreateOrganization(too_long).error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE_TEMPLATE("organisations: keyset pages by name and by creation, filters and scope",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& orgs = backend.store->Organizations();
  std::vector<int64_t> ids;
  for (int i = 0; i < 7; ++i) {
    Organization org;
    org.name = "Client " + std::to_string(i);
    org.created_at_ms = 1000 + (i % 3);  // ties on created_at: the id breaks them
    org.contract_type = i % 2 == 0 ? ContractType::kTechnical : ContractType::kComplex;
    ids.push_back(Ok(orgs.CreateOrganization(org)).id);
  }
  MakeOrg(*backend.store, "РОМАШКА плюс");

  OrgQuery query;
  query.page.limit = 3;
  std::vector<std::string> seen;
  for (int pages = 0; pages < 10; ++pages) {
    const auto page = Ok(orgs.QueryOrganizations(query));
    for (const auto& org : page.rows) seen.push_back(org.name);
    if (!page.next) break;
    query.page.after = page.next;
  }
  CHECK(seen == std::vector<std::string>{"Client 0", "Client 1", "Client 2", "Client 3", "Client 4",
                                         "Client 5", "Client 6", "РОМАШКА плюс"});

  OrgQuery by_created;
  by_created.sort = OrgSort::kCreated;
  by_created.direction = SortDirection::kDescending;
  by_created.page.limit = 2;
  std::vector<int64_t> order;
  for (int pages = 0; pages < 10; ++pages) {
    const auto page = Ok(orgs.QueryOrganizations(by_created));
    for (const auto& org : page.rows) order.push_back(org.id);
    if (!page.next) break;
    by_created.page.after = page.next;
  }
  // Newest first; within one created_at the higher id first. The last org was stamped by the
  // clock (far later than 1002).
  REQUIRE(order.size() == 8);
  CHECK(order[1] == ids[5]);
  CHECK(order[2] == ids[2]);
  CHECK(order[3] == ids[4]);
  CHECK(order[4] == ids[1]);
  CHECK(order[5] == ids[6]);
  CHECK(order.back() == ids[0]);

  OrgQuery filtered;
  filtered.name_contains = "ромашка";  // folds Cyrillic capitals
  auto folded = Ok(orgs.QueryOrganizations(filtered));
  REQUIRE(folded.rows.size() == 1);
  CHECK(folded.rows[0].name == "РОМАШКА плюс");

  OrgQuery technical;
  technical.contract_type = ContractType::kTechnical;
  technical.visible_org_ids = std::vector<int64_t>{ids[0], ids[1], ids[2]};
  auto scoped = Ok(orgs.QueryOrganizations(technical));
  REQUIRE(scoped.rows.size() == 2);
  CHECK(scoped.rows[0].id == ids[0]);
  CHECK(scoped.rows[1].id == ids[2]);

  OrgQuery nothing_visible;
  nothing_visible.visible_org_ids = std::vector<int64_t>{};
  CHECK(Ok(orgs.QueryOrganizations(nothing_visible)).rows.empty());

  OrgQuery wrong_shape;
  wrong_shape.page.after = PagePosition{{SortKeyValue(int64_t{5})}, 1};  // name sort wants text
  CHECK(orgs.QueryOrganizations(wrong_shape).error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE_TEMPLATE(
    "organisations: contract moves record events and snapshots, bad moves are refused", Backend,
    DOZOR_BACKENDS) {
  Backend backend;
  auto& orgs = backend.store->Organizations();
  const int64_t id = MakeOrg(*backend.store, "Acme");

  OrganizationPatch to_remediation;
  to_remediation.contract_status = ContractPhase::kRemediation;
  to_remediation.actor = "ivanov";
  backend.clock.AdvanceMs(1000);
  CHECK(Ok(orgs.UpdateOrganization(id, to_remediation)).contract_status ==
        ContractPhase::kRemediation);
  // Entering remediation freezes the first audit.
  auto first = Ok(orgs.GetAuditSnapshot(id, AuditSnapshotKind::kFirstAudit));
  REQUIRE(first.has_value());
  CHECK(first->actor == "ivanov");
  CHECK(first->at_ms == dozor::testing::kBackendClockStartMs + 1000);
  CHECK_FALSE(Ok(orgs.GetAuditSnapshot(id, AuditSnapshotKind::kSigning)).has_value());

  // Same phase again: no move, no event.
  CHECK(Ok(orgs.UpdateOrganization(id, to_remediation)).contract_status ==
        ContractPhase::kRemediation);

  OrganizationPatch to_ended;
  to_ended.contract_status = ContractPhase::kEnded;
  auto refused = orgs.UpdateOrganization(id, to_ended);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kFailedPrecondition);

  OrganizationPatch to_active;
  to_active.contract_status = ContractPhase::kActive;
  to_active.contract_type = ContractType::kTechnical;
  to_active.declared_hosts = std::optional<int64_t>(12);
  backend.clock.AdvanceMs(1000);
  const Organization active = Ok(orgs.UpdateOrganization(id, to_active));
  CHECK(active.contract_status == ContractPhase::kActive);
  CHECK(active.contract_type == ContractType::kTechnical);
  CHECK(active.declared_hosts == std::optional<int64_t>(12));
  auto signing = Ok(orgs.GetAuditSnapshot(id, AuditSnapshotKind::kSigning));
  REQUIRE(signing.has_value());
  CHECK(signing->actor == "system");

  const auto events = Ok(orgs.ListContractEvents(id));
  REQUIRE(events.size() == 2);
  CHECK(events[0].from_status == ContractPhase::kProspect);
  CHECK(events[0].to_status == ContractPhase::kRemediation);
  CHECK(events[0].actor == "ivanov");
  CHECK(events[1].from_status == ContractPhase::kRemediation);
  CHECK(events[1].to_status == ContractPhase::kActive);
  CHECK(events[1].at_ms == dozor::testing::kBackendClockStartMs + 2000);

  OrganizationPatch clear_declared;
  clear_declared.declared_hosts = std::optional<int64_t>();
  CHECK_FALSE(Ok(orgs.UpdateOrganization(id, clear_declared)).declared_hosts.has_value());

  OrganizationPatch bad_count;
  bad_count.declared_hosts = std::optional<int64_t>(-1);
  CHECK(orgs.UpdateOrganization(id, bad_count).error().code == ErrorCode::kInvalidArgument);
  CHECK(orgs.UpdateOrganization(id + 100, to_active).error().code == ErrorCode::kNotFound);

  auto recorded = Ok(orgs.RecordAuditSnapshot(id, AuditSnapshotKind::kFirstAudit, "", 42));
  CHECK(recorded.at_ms == 42);
  CHECK(recorded.actor == "system");
  CHECK(recorded.findings.empty());
  CHECK(orgs.RecordAuditSnapshot(id + 100, AuditSnapshotKind::kFirstAudit, "", 42).error().code ==
        ErrorCode::kNotFound);
}

TEST_CASE_TEMPLATE("organisations: the engineer field links an account (made when none matches)",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& orgs = backend.store->Organizations();
  const int64_t id = MakeOrg(*backend.store, "Acme", "Пётр Иванов");
  CHECK(Ok(orgs.FindOrganization("Acme")).engineer == "Пётр Иванов");
  // A second client with the same name links the same (now existing) account: one name, one
  // account.
  const int64_t other = MakeOrg(*backend.store, "Beta", "Пётр Иванов");
  CHECK(Ok(orgs.FindOrganization(std::to_string(other))).engineer == "Пётр Иванов");

  OrganizationPatch clear;
  clear.engineer = "";
  CHECK(Ok(orgs.UpdateOrganization(id, clear)).engineer.empty());
  OrganizationPatch replace;
  replace.engineer = "Сидоров";
  CHECK(Ok(orgs.UpdateOrganization(id, replace)).engineer == "Сидоров");
  OrganizationPatch too_long;
  too_long.engineer = std::string(201, 'x');
  CHECK(orgs.UpdateOrganization(id, too_long).error().code == ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace dozor::server
