// The hosts area's list queries on every backend: keyset pages in each sort order, the text,
// family and status filters (alone and together) and the caller's organisation scope.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "backends.hpp"

namespace dozor::server {
namespace {

using dozor::testing::EnrollHost;
using dozor::testing::HealthReport;
using dozor::testing::kBackendClockStartMs;
using dozor::testing::Ok;

constexpr int64_t kQueryT0 = kBackendClockStartMs;

template <typename Store>
std::vector<std::string> AllHostPages(Store& store, HostQuery query, int page_size) {
  query.page.limit = page_size;
  std::vector<std::string> ids;
  for (int pages = 0; pages < 50; ++pages) {
    auto page = Ok(store.Hosts().QueryHosts(query));
    for (const auto& host : page.rows) ids.push_back(host.agent_id);
    if (!page.next) break;
    query.page.after = page.next;
  }
  return ids;
}

TEST_CASE_TEMPLATE("hosts: pages, filters, statuses and scope", Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& store = *backend.store;
  // Acme: h1 reports now (online), h2 reported 10 min ago (offline), h3 never (overdue),
  // h4 revoked; Beta: b1 online.
  for (const char* id : {"h1", "h2", "h3", "h4"}) EnrollHost(store, "Acme", id);
  EnrollHost(store, "Beta", "b1");
  std::vector<IncomingReport> batch;
  batch.push_back(HealthReport("h1", 1, kQueryT0));
  batch.push_back(HealthReport("h2", 1, kQueryT0 - 600'000));
  batch.push_back(HealthReport("b1", 1, kQueryT0));
  for (auto& report : batch) report.received_at_ms = report.report.collected_at_ms();
  Ok(store.Hosts().CommitReports(batch));
  Ok(store.Agents().RevokeAgent("h4", kQueryT0));
  const int64_t acme = Ok(store.Organizations().FindOrganization("Acme")).id;
  const int64_t beta = Ok(store.Organizations().FindOrganization("Beta")).id;

  HostQuery all;
  CHECK(AllHostPages(store, all, 2) == std::vector<std::string>{"h1", "h2", "h3", "h4", "b1"});
  HostQuery by_seen;
  by_seen.sort = HostSort::kLastSeen;
  by_seen.direction = SortDirection::kDescending;
  const auto seen = AllHostPages(store, by_seen, 2);
  REQUIRE(seen.size() == 5);
  CHECK(seen[0] == "b1");  // same last_seen as h1: the higher pk first
  CHECK(seen[1] == "h1");
  CHECK(seen[2] == "h2");

  HostQuery statuses;
  statuses.status_bounds = HostStatusBounds{kQueryT0 - 180'000, kQueryT0 - 3'600'000};
  statuses.statuses = {HostStatus::kOnline};
  CHECK(AllHostPages(store, statuses, 10) == std::vector<std::string>{"h1", "b1"});
  statuses.statuses = {HostStatus::kOffline};
  CHECK(AllHostPages(store, statuses, 10) == std::vector<std::string>{"h2"});
  statuses.statuses = {HostStatus::kOverdue};
  CHECK(AllHostPages(store, statuses, 10) == std::vector<std::string>{"h3"});
  statuses.statuses = {HostStatus::kRevoked};
  CHECK(AllHostPages(store, statuses, 10) == std::vector<std::string>{"h4"});
  statuses.statuses = {HostStatus::kOverdue, HostStatus::kOnline};
  CHECK(AllHostPages(store, statuses, 1) == std::vector<std::string>{"h1", "h3", "b1"});
  statuses.statuses = {HostStatus::kImported};
  CHECK(AllHostPages(store, statuses, 10).empty());

  HostQuery text;
  text.text = "H2";  // hostnames are host-<id>: case-insensitive substring
  CHECK(AllHostPages(store, text, 10) == std::vector<std::string>{"h2"});
  HostQuery scoped;
  scoped.visible_org_ids = std::vector<int64_t>{beta};
  CHECK(AllHostPages(store, scoped, 10) == std::vector<std::string>{"b1"});
  HostQuery one_org;
  one_org.org_id = acme;
  one_org.statuses = {HostStatus::kOnline, HostStatus::kOffline};
  one_org.status_bounds = statuses.status_bounds;
  one_org.sort = HostSort::kHostname;
  CHECK(AllHostPages(store, one_org, 1) == std::vector<std::string>{"h1", "h2"});
  HostQuery family;
  family.os_family = "debian";
  CHECK(AllHostPages(store, family, 10).empty());  // no inventory yet

  HostQuery wrong;
  wrong.sort = HostSort::kLastSeen;
  wrong.page.after = PagePosition{{SortKeyValue(std::string("x"))}, 1};
  CHECK(store.Hosts().QueryHosts(wrong).error().code == ErrorCode::kInvalidArgument);

  // Search by hostname text and by agent id, within the caller's organisations.
  HostSearchQuery search;
  search.text = "host-h";
  auto found = Ok(store.Hosts().SearchHosts(search));
  CHECK(found.hits.size() == 4);
  search.visible_org_ids = std::vector<int64_t>{beta};
  CHECK(Ok(store.Hosts().SearchHosts(search)).hits.empty());
  search.text = "b1";
  REQUIRE(Ok(store.Hosts().SearchHosts(search)).hits.size() == 1);
  CHECK(Ok(store.Hosts().SearchHosts(search)).hits[0].matches[0].field == "hostname");
}

}  // namespace
}  // namespace dozor::server
