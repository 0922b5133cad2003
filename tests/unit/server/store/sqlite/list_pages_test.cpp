// Keyset pages of organisations, hosts and findings on a real SQLite file: the pages of every
// sort order cover every row exactly once, in order, also while rows are added between pages;
// the filters and the host search, scoped to the caller's organisations.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "dozor/common/crypto.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::server {
namespace {

using dozor::testing::TempDir;

constexpr const char* kRules[] = {"rule-critical", "rule-high", "rule-medium", "rule-low",
                                  "rule-info"};

struct PagedEstate {
  TempDir dir;
  std::unique_ptr<SqliteStore> store;
  std::map<std::string, int64_t> orgs;                   // name -> id
  std::map<int64_t, std::vector<int64_t>> hosts_by_org;  // org id -> host pks
  std::map<std::string, std::string> token_by_org;

  PagedEstate() {
    SqliteStoreOptions options;
    options.path = (dir / "dozor.db").string();
    options.background_checkpoint = false;
    auto opened = SqliteStore::Open(options);
    REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().ToString()));
    store = std::move(opened).value();
  }

  int64_t AddOrg(const std::string& name, int64_t created_ms,
                 ContractPhase phase = ContractPhase::kProspect) {
    Organization org;
    org.name = name;
    org.created_at_ms = created_ms;
    org.contract_status = phase;
    auto created = store->CreateOrganization(org);
    REQUIRE(created.ok());
    NewEnrollmentToken token;
    token.org_id = created->id;
    token.token_hash = "token-" + name;
    REQUIRE(store->CreateEnrollmentToken(token).ok());
    orgs[name] = created->id;
    token_by_org[name] = token.token_hash;
    return created->id;
  }

  int64_t AddHost(const std::string& org, const std::string& agent_id, const std::string& hostname,
                  int64_t now_ms) {
    NewAgent agent;
    agent.agent_id = agent_id;
    agent.secret_hash = "secret";
    agent.hostname = hostname;
    REQUIRE(store->EnrollAgent(token_by_org[org], agent, now_ms).ok());
    auto pk = store->HostPk(agent_id);
    REQUIRE(pk.ok());
    hosts_by_org[orgs[org]].push_back(*pk);
    return *pk;
  }

  // Every rule fires on every host of the organisation (sustaining the ones already open).
  void Evaluate(const std::string& org, int64_t now_ms) {
    EvaluationInput input;
    input.host_scope = true;
    const int64_t org_id = orgs[org];
    input.targets = hosts_by_org[org_id];
    const Severity severities[] = {Severity::kCritical, Severity::kHigh, Severity::kMedium,
                                   Severity::kLow, Severity::kInfo};
    for (size_t i = 0; i < std::size(kRules); ++i) {
      input.rule_ids.emplace_back(kRules[i]);
      input.meta[kRules[i]] = RuleMeta{severities[i], "os"};
      for (const int64_t host : input.targets) {
        input.hits.push_back(FindingHit{kRules[i], org_id, host, "[]", false, ""});
      }
    }
    auto applied = store->ApplyEvaluation(input, now_ms);
    REQUIRE_MESSAGE(applied.ok(), (applied.ok() ? "" : applied.error().ToString()));
  }

  void Commit(const std::string& agent_id, uint64_t seq, const dozor::v1::Inventory& inventory,
              int64_t now_ms) {
    std::vector<IncomingReport> batch(1);
    batch[0].agent_id = agent_id;
    batch[0].received_at_ms = now_ms;
    batch[0].report.set_seq(seq);
    batch[0].report.set_collected_at_ms(now_ms);
    *batch[0].report.mutable_inventory() = inventory;
    auto committed = store->CommitReports(batch);
    REQUIRE_MESSAGE(committed.ok(), (committed.ok() ? "" : committed.error().ToString()));
    REQUIRE(committed->at(0).outcome == CommitOutcome::kStored);
  }
};

// Walks every page of a query; `between(page_number)` runs after each page but the last.
template <typename Row, typename Query, typename Fetch>
std::vector<Row> WalkPages(Query query, Fetch fetch, const std::function<void(int)>& between = {}) {
  std::vector<Row> all;
  for (int page_number = 0; page_number < 1000; ++page_number) {
    auto page = fetch(query);
    REQUIRE_MESSAGE(page.ok(), (page.ok() ? "" : page.error().ToString()));
    CHECK(static_cast<int>(page->rows.size()) <= query.page.limit);
    all.insert(all.end(), page->rows.begin(), page->rows.end());
    if (!page->next) {
      return all;
    }
    CHECK(static_cast<int>(page->rows.size()) == query.page.limit);
    query.page.after = page->next;
    if (between) between(page_number);
  }
  FAIL("paging did not end");
  return all;
}

int SeverityRank(Severity severity) { return static_cast<int>(severity); }

// Whether a comes before b in the sort order (ties by id), ascending.
bool FindingBefore(FindingSort sort, const Finding& a, const Finding& b) {
  switch (sort) {
    case FindingSort::kSeverity:
      return std::tuple(SeverityRank(a.severity), a.first_seen_ms, a.id) <
             std::tuple(SeverityRank(b.severity), b.first_seen_ms, b.id);
    case FindingSort::kOpened:
      return std::tuple(a.first_seen_ms, a.id) < std::tuple(b.first_seen_ms, b.id);
    case FindingSort::kLastSeen:
      return std::tuple(a.last_seen_ms, a.id) < std::tuple(b.last_seen_ms, b.id);
    case FindingSort::kHost:
      return std::tuple(a.hostname, a.id) < std::tuple(b.hostname, b.id);
  }
  return false;
}

std::unique_ptr<PagedEstate> FindingsEstate() {
  auto e = std::make_unique<PagedEstate>();
  e->AddOrg("acme", 1000);
  e->AddOrg("globex", 2000);
  for (int i = 0; i < 6; ++i) {
    e->AddHost("acme", "acme-" + std::to_string(i), "web-" + std::to_string(5 - i), 1000);
    e->AddHost("globex", "globex-" + std::to_string(i), "db-" + std::to_string(i), 1000);
  }
  e->Evaluate("acme", 10'000);
  e->Evaluate("globex", 20'000);
  e->Evaluate("acme", 30'000);  // sustains: acme's last_seen moves past globex's
  return e;
}

TEST_CASE("findings pages of every sort order cover every finding once, in order") {
  auto e = FindingsEstate();
  auto everything = e->store->ListFindings(FindingFilter{});
  REQUIRE(everything.ok());
  REQUIRE(everything->size() == 60);
  for (const auto sort :
       {FindingSort::kSeverity, FindingSort::kOpened, FindingSort::kLastSeen, FindingSort::kHost}) {
    for (const auto direction : {SortDirection::kAscending, SortDirection::kDescending}) {
      INFO("sort " << static_cast<int>(sort) << " direction " << static_cast<int>(direction));
      FindingQuery query;
      query.sort = sort;
      query.direction = direction;
      query.page.limit = 7;
      auto rows = WalkPages<Finding>(
          query, [&](const FindingQuery& q) { return e->store->QueryFindings(q); });
      REQUIRE(rows.size() == 60);
      std::set<int64_t> ids;
      for (const auto& row : rows) ids.insert(row.id);
      CHECK(ids.size() == 60);
      for (size_t i = 1; i < rows.size(); ++i) {
        if (direction == SortDirection::kAscending) {
          CHECK(FindingBefore(sort, rows[i - 1], rows[i]));
        } else {
          CHECK(FindingBefore(sort, rows[i], rows[i - 1]));
        }
      }
    }
  }
}

TEST_CASE("the default findings page keeps ListFindings' order") {
  auto e = FindingsEstate();
  auto listed = e->store->ListFindings(FindingFilter{});
  REQUIRE(listed.ok());
  FindingQuery query;
  query.page.limit = 1000;
  auto page = e->store->QueryFindings(query);
  REQUIRE(page.ok());
  REQUIRE(page->rows.size() == listed->size());
  CHECK_FALSE(page->next.has_value());
  for (size_t i = 0; i < listed->size(); ++i) {
    CHECK(page->rows[i].id == (*listed)[i].id);
  }
}

TEST_CASE("findings pages stay stable while findings are added between pages") {
  auto e = FindingsEstate();
  e->AddOrg("initech", 3000);
  for (int i = 0; i < 3; ++i) {
    e->AddHost("initech", "initech-" + std::to_string(i), "app-" + std::to_string(i), 1000);
  }
  auto before = e->store->ListFindings(FindingFilter{});
  REQUIRE(before.ok());
  std::set<int64_t> original;
  for (const auto& f : *before) original.insert(f.id);

  FindingQuery query;
  query.sort = FindingSort::kOpened;
  query.page.limit = 9;
  bool inserted = false;
  auto rows = WalkPages<Finding>(
      query, [&](const FindingQuery& q) { return e->store->QueryFindings(q); },
      [&](int page_number) {
        if (page_number == 2 && !inserted) {
          e->Evaluate("initech", 40'000);  // 15 new findings, after every existing one
          inserted = true;
        }
      });
  std::map<int64_t, int> seen;
  for (const auto& row : rows) ++seen[row.id];
  for (const int64_t id : original) {
    CHECK(seen[id] == 1);
  }
  // The new ones sort after the cursor, so this walk reaches them too, each once.
  CHECK(rows.size() == 75);
  CHECK(std::all_of(seen.begin(), seen.end(), [](const auto& kv) { return kv.second == 1; }));
}

TEST_CASE("findings pages filter by visible organisations and last seen") {
  auto e = FindingsEstate();
  FindingQuery query;
  query.filter.visible_org_ids = std::vector<int64_t>{e->orgs["globex"]};
  query.page.limit = 4;
  auto rows =
      WalkPages<Finding>(query, [&](const FindingQuery& q) { return e->store->QueryFindings(q); });
  CHECK(rows.size() == 30);
  CHECK(std::all_of(rows.begin(), rows.end(),
                    [&](const Finding& f) { return f.org_id == e->orgs["globex"]; }));
  query = FindingQuery{};
  query.last_seen_since_ms = 25'000;
  query.page.limit = 100;
  auto recent = e->store->QueryFindings(query);
  REQUIRE(recent.ok());
  CHECK(recent->rows.size() == 30);
  CHECK(std::all_of(recent->rows.begin(), recent->rows.end(),
                    [&](const Finding& f) { return f.org_id == e->orgs["acme"]; }));
}

// Each combination of filters gets its own SQL (only the given predicates, so SQLite can use
// an index): every combination must select exactly what the filters say, in both the paged and
// the plain list, including filters that match nothing (an unknown host, no visible org).
TEST_CASE("every combination of findings filters selects exactly the matching findings") {
  auto e = FindingsEstate();
  FindingFilter everything;
  auto all = e->store->ListFindings(everything);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 60);
  const int64_t acme = e->orgs["acme"];
  const int64_t globex = e->orgs["globex"];
  const std::vector<std::optional<int64_t>> org_choices = {std::nullopt, acme, globex};
  const std::vector<std::optional<std::string>> host_choices = {std::nullopt, "acme-2", "globex-4",
                                                                "no-such-host"};
  const std::vector<std::vector<Severity>> severity_choices = {
      {}, {Severity::kCritical, Severity::kHigh}, {Severity::kInfo}};
  const std::vector<std::optional<std::string>> rule_choices = {std::nullopt, "rule-medium"};
  const std::vector<std::optional<std::vector<int64_t>>> visible_choices = {
      std::nullopt, std::vector<int64_t>{}, std::vector<int64_t>{globex},
      std::vector<int64_t>{acme, globex}};
  int combinations = 0;
  for (const auto& org : org_choices) {
    for (const auto& host : host_choices) {
      for (const auto& severities : severity_choices) {
        for (const auto& rule : rule_choices) {
          for (const auto& visible : visible_choices) {
            FindingFilter filter;
            filter.org_id = org;
            filter.agent_id = host;
            filter.severities = severities;
            filter.rule_id = rule;
            filter.visible_org_ids = visible;
            std::set<int64_t> expected;
            for (const Finding& f : *all) {
              const bool match =
                  (!org || f.org_id == *org) && (!host || f.agent_id == *host) &&
                  (severities.empty() || std::find(severities.begin(), severities.end(),
                                                   f.severity) != severities.end()) &&
                  (!rule || f.rule_id == *rule) &&
                  (!visible ||
                   std::find(visible->begin(), visible->end(), f.org_id) != visible->end());
              if (match) expected.insert(f.id);
            }
            auto listed = e->store->ListFindings(filter);
            REQUIRE(listed.ok());
            std::set<int64_t> got;
            for (const Finding& f : *listed) got.insert(f.id);
            CHECK_MESSAGE(got == expected, "combination " << combinations);
            FindingQuery query;
            query.filter = filter;
            query.page.limit = 7;
            auto paged = WalkPages<Finding>(
                query, [&](const FindingQuery& q) { return e->store->QueryFindings(q); });
            std::set<int64_t> paged_ids;
            for (const Finding& f : paged) paged_ids.insert(f.id);
            CHECK(paged.size() == paged_ids.size());
            CHECK_MESSAGE(paged_ids == expected, "combination " << combinations);
            ++combinations;
          }
        }
      }
    }
  }
  CHECK(combinations == 3 * 4 * 3 * 2 * 4);
}

// Category and engineer filters join the others: on top of FindingsEstate (every finding "os"),
// a network rule and a backup rule fire on some hosts, one of them clears again, and engineers
// are assigned as primary or backup (one to both organisations, one to none).
TEST_CASE("every combination with category and assigned engineer filters selects exactly those") {
  auto e = FindingsEstate();
  const int64_t acme = e->orgs["acme"];
  const int64_t globex = e->orgs["globex"];
  auto fire = [&](const std::string& org, const std::vector<int64_t>& hits, int64_t now_ms) {
    EvaluationInput input;
    input.host_scope = true;
    input.targets = e->hosts_by_org[e->orgs[org]];
    input.rule_ids = {"rule-net", "rule-backup"};
    input.meta["rule-net"] = RuleMeta{Severity::kHigh, "network"};
    input.meta["rule-backup"] = RuleMeta{Severity::kLow, "backup"};
    for (const int64_t host : hits) {
      for (const char* rule : {"rule-net", "rule-backup"}) {
        input.hits.push_back(FindingHit{rule, e->orgs[org], host, "[]", false, ""});
      }
    }
    REQUIRE(e->store->ApplyEvaluation(input, now_ms).ok());
  };
  const auto& acme_hosts = e->hosts_by_org[acme];
  const auto& globex_hosts = e->hosts_by_org[globex];
  fire("acme", {acme_hosts[0], acme_hosts[1], acme_hosts[2]}, 40'000);
  fire("acme", {acme_hosts[1], acme_hosts[2]}, 41'000);  // acme-0's two resolve
  fire("globex", {globex_hosts[0], globex_hosts[1]}, 42'000);
  auto all = e->store->ListFindings(FindingFilter{});
  REQUIRE(all.ok());
  REQUIRE(all->size() == 70);

  std::map<std::string, int64_t> users;
  for (const char* login : {"eng-a", "eng-both", "eng-idle"}) {
    NewUser user;
    user.login = login;
    user.display_name = login;
    user.role = UserRole::kEngineer;
    auto created = e->store->CreateUser(user, 1000);
    REQUIRE(created.ok());
    users[login] = created->id;
  }
  REQUIRE(e->store->AssignEngineer(acme, users["eng-a"], AssignmentKind::kPrimary, "", 1000).ok());
  REQUIRE(
      e->store->AssignEngineer(globex, users["eng-both"], AssignmentKind::kPrimary, "", 1000).ok());
  REQUIRE(
      e->store->AssignEngineer(acme, users["eng-both"], AssignmentKind::kBackup, "", 1000).ok());
  const std::map<int64_t, std::set<int64_t>> orgs_of = {
      {users["eng-a"], {acme}}, {users["eng-both"], {acme, globex}}, {users["eng-idle"], {}}};

  const std::vector<std::optional<int64_t>> org_choices = {std::nullopt, acme, globex};
  const std::vector<std::vector<FindingState>> state_choices = {{}, {FindingState::kResolved}};
  const std::vector<std::vector<Severity>> severity_choices = {{}, {Severity::kHigh}};
  const std::vector<std::vector<std::string>> category_choices = {
      {}, {"network"}, {"network", "backup"}, {"no-such-category"}};
  const std::vector<std::optional<int64_t>> engineer_choices = {
      std::nullopt, users["eng-a"], users["eng-both"], users["eng-idle"]};
  const std::vector<std::optional<std::vector<int64_t>>> visible_choices = {
      std::nullopt, std::vector<int64_t>{globex}};
  int combinations = 0;
  int nonempty = 0;
  for (const auto& org : org_choices) {
    for (const auto& states : state_choices) {
      for (const auto& severities : severity_choices) {
        for (const auto& categories : category_choices) {
          for (const auto& engineer : engineer_choices) {
            for (const auto& visible : visible_choices) {
              FindingFilter filter;
              filter.org_id = org;
              filter.states = states;
              filter.severities = severities;
              filter.categories = categories;
              filter.assigned_user_id = engineer;
              filter.visible_org_ids = visible;
              auto has = [](const auto& list, const auto& value) {
                return list.empty() || std::find(list.begin(), list.end(), value) != list.end();
              };
              std::set<int64_t> expected;
              for (const Finding& f : *all) {
                if ((!org || f.org_id == *org) && has(states, f.state) &&
                    has(severities, f.severity) && has(categories, f.category) &&
                    (!engineer || orgs_of.at(*engineer).count(f.org_id) > 0) &&
                    (!visible || f.org_id == globex)) {
                  expected.insert(f.id);
                }
              }
              INFO("combination " << combinations);
              auto listed = e->store->ListFindings(filter);
              REQUIRE(listed.ok());
              std::set<int64_t> got;
              for (const Finding& f : *listed) got.insert(f.id);
              CHECK(got == expected);
              FindingQuery query;
              query.filter = filter;
              query.sort = combinations % 2 == 0 ? FindingSort::kHost : FindingSort::kSeverity;
              query.direction =
                  combinations % 3 == 0 ? SortDirection::kDescending : SortDirection::kAscending;
              query.page.limit = 4;
              auto paged = WalkPages<Finding>(
                  query, [&](const FindingQuery& q) { return e->store->QueryFindings(q); });
              std::set<int64_t> paged_ids;
              for (const Finding& f : paged) paged_ids.insert(f.id);
              CHECK(paged.size() == paged_ids.size());
              CHECK(paged_ids == expected);
              nonempty += expected.empty() ? 0 : 1;
              ++combinations;
            }
          }
        }
      }
    }
  }
  CHECK(combinations == 3 * 2 * 2 * 4 * 4 * 2);
  CHECK(nonempty > combinations / 4);  // the choices are not all empty sets
}

// The host list's status SQL is HostStatusOf over the agents table: for every set of statuses,
// exactly the hosts HostStatusOf puts in one of them, also at the exact thresholds.
TEST_CASE("host pages by status select what HostStatusOf says, for every set of statuses") {
  constexpr int64_t kNow = 1'800'000'000'000;
  constexpr int64_t kOfflineAfterMs = 180'000;
  PagedEstate e;
  e.AddOrg("acme", 1000);
  e.AddOrg("globex", 1000);
  const std::vector<std::pair<std::string, int64_t>> reports = {
      {"online", kNow - 10'000},
      {"online-edge", kNow - kOfflineAfterMs},
      {"offline", kNow - kOfflineAfterMs - 1},
      {"offline-late", kNow - kHostOverdueAfterMs + 1},
      {"overdue-edge", kNow - kHostOverdueAfterMs},
      {"overdue", kNow - 2 * kHostOverdueAfterMs},
      {"revoked", kNow - 10'000},
  };
  for (const auto& org : {"acme", "globex"}) {
    for (const auto& [name, at] : reports) {
      const std::string agent_id = std::string(org) + "-" + name;
      e.AddHost(org, agent_id, agent_id, 1000);
      e.Commit(agent_id, 1, dozor::v1::Inventory(), at);
    }
    e.AddHost(org, std::string(org) + "-never", "never", 1000);
    REQUIRE(e.store->RevokeAgent(std::string(org) + "-revoked", kNow).ok());
    SnapshotImport import;
    import.org_id = e.orgs[org];
    import.sha256 = Sha256Hex(std::string("snapshot of ") + org);
    import.hostname = "legacy";
    import.machine_id = std::string("m-") + org;
    import.actor = "engineer";
    import.now_ms = kNow;
    import.inventory.set_seq(1);
    import.inventory.set_collected_at_ms(kNow - 3 * kHostOverdueAfterMs);
    import.inventory.mutable_inventory()->mutable_os()->set_hostname("legacy");
    import.inventory.mutable_inventory()->mutable_os()->set_machine_id(import.machine_id);
    REQUIRE(e.store->ImportSnapshot(import).ok());
  }
  auto hosts = e.store->ListHosts(std::nullopt);
  REQUIRE(hosts.ok());
  REQUIRE(hosts->size() == 18);
  const HostStatusBounds bounds = HostStatusBoundsAt(kNow, kOfflineAfterMs);
  std::map<std::string, HostStatus> status_of;
  for (const auto& host : *hosts) {
    status_of[host.agent_id] =
        HostStatusOf(host.revoked, host.source == "agent", host.last_seen_ms, bounds);
  }
  // The fixture spans every status, the edges on the intended side.
  CHECK(status_of["acme-online-edge"] == HostStatus::kOnline);
  CHECK(status_of["acme-offline"] == HostStatus::kOffline);
  CHECK(status_of["acme-offline-late"] == HostStatus::kOffline);
  CHECK(status_of["acme-overdue-edge"] == HostStatus::kOverdue);
  CHECK(status_of["acme-never"] == HostStatus::kOverdue);
  CHECK(status_of["acme-revoked"] == HostStatus::kRevoked);

  constexpr HostStatus kAll[] = {HostStatus::kOnline, HostStatus::kOffline, HostStatus::kOverdue,
                                 HostStatus::kImported, HostStatus::kRevoked};
  for (int mask = 1; mask < 32; ++mask) {
    HostQuery query;
    // Listed backwards: the order a caller names them in does not matter.
    for (int i = 4; i >= 0; --i) {
      if ((mask & (1 << i)) != 0) query.statuses.push_back(kAll[i]);
    }
    query.status_bounds = bounds;
    query.org_id = mask % 3 == 0 ? std::optional<int64_t>(e.orgs["globex"]) : std::nullopt;
    query.page.limit = 2;
    std::set<std::string> expected;
    for (const auto& host : *hosts) {
      const bool in_set = std::find(query.statuses.begin(), query.statuses.end(),
                                    status_of[host.agent_id]) != query.statuses.end();
      if (in_set && (!query.org_id || host.org_id == *query.org_id)) {
        expected.insert(host.agent_id);
      }
    }
    auto rows =
        WalkPages<HostSummary>(query, [&](const HostQuery& q) { return e.store->QueryHosts(q); });
    std::set<std::string> got;
    for (const auto& host : rows) got.insert(host.agent_id);
    CHECK_MESSAGE(got == expected, "statuses mask " << mask);
    CHECK(rows.size() == got.size());
  }
}

// The store leases one of several reader connections per query: many threads reading at once
// while the writer applies evaluations must each get complete, consistent answers.
TEST_CASE("concurrent readers on the reader pool see consistent answers while the writer works") {
  auto e = FindingsEstate();
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 6; ++t) {
    readers.emplace_back([&, t] {
      while (!stop) {
        FindingFilter filter;
        filter.org_id = e->orgs[t % 2 == 0 ? "acme" : "globex"];
        auto listed = e->store->ListFindings(filter);
        // Each evaluation keeps every rule firing on every host: always 30 per organisation.
        if (!listed.ok() || listed->size() != 30) ++failures;
        auto host = e->store->GetHost(t % 2 == 0 ? "acme-1" : "globex-1");
        if (!host.ok()) ++failures;
        auto counts = e->store->CountActiveFindings(std::nullopt);
        int64_t total = 0;
        if (counts.ok()) {
          for (const auto& row : *counts) total += row.count;
        }
        if (!counts.ok() || total != 60) ++failures;
        ++reads;
      }
    });
  }
  for (int i = 0; i < 20; ++i) {
    e->Evaluate(i % 2 == 0 ? "acme" : "globex", 40'000 + i * 1000);
  }
  while (reads < 60) std::this_thread::yield();
  stop = true;
  for (auto& thread : readers) thread.join();
  CHECK(failures == 0);
  CHECK(reads >= 60);
}

TEST_CASE("a page position of another sort's shape is invalid, not a crash") {
  auto e = FindingsEstate();
  FindingQuery query;
  query.sort = FindingSort::kHost;  // key: one text
  query.page.after = PagePosition{{int64_t{3}}, 5};
  auto page = e->store->QueryFindings(query);
  REQUIRE_FALSE(page.ok());
  CHECK(page.error().code == ErrorCode::kInvalidArgument);
  query.page.after = PagePosition{{std::string("a"), std::string("b")}, 5};
  CHECK(e->store->QueryFindings(query).error().code == ErrorCode::kInvalidArgument);

  HostQuery hosts;
  hosts.sort = HostSort::kLastSeen;
  hosts.page.after = PagePosition{{std::string("x")}, 1};
  CHECK(e->store->QueryHosts(hosts).error().code == ErrorCode::kInvalidArgument);
  OrgQuery orgs;
  orgs.page.after = PagePosition{{}, 1};
  CHECK(e->store->QueryOrganizations(orgs).error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("organisation pages: sorts, filters and the caller's scope") {
  PagedEstate e;
  for (int i = 0; i < 23; ++i) {
    // Names in reverse order of creation.
    e.AddOrg("org-" + std::string(1, static_cast<char>('z' - i)), 1000 + i,
             i % 2 == 0 ? ContractPhase::kActive : ContractPhase::kProspect);
  }
  OrgQuery query;
  query.page.limit = 5;
  auto by_name = WalkPages<Organization>(
      query, [&](const OrgQuery& q) { return e.store->QueryOrganizations(q); });
  REQUIRE(by_name.size() == 23);
  CHECK(std::is_sorted(by_name.begin(), by_name.end(),
                       [](const auto& a, const auto& b) { return a.name < b.name; }));
  query.sort = OrgSort::kCreated;
  query.direction = SortDirection::kDescending;
  auto newest = WalkPages<Organization>(
      query, [&](const OrgQuery& q) { return e.store->QueryOrganizations(q); });
  REQUIRE(newest.size() == 23);
  CHECK(newest.front().name == "org-" + std::string(1, 'z' - 22));
  CHECK(std::is_sorted(newest.begin(), newest.end(), [](const auto& a, const auto& b) {
    return a.created_at_ms > b.created_at_ms;
  }));

  OrgQuery filtered;
  filtered.name_contains = "ORG-Z";
  auto one = e.store->QueryOrganizations(filtered);
  REQUIRE(one.ok());
  REQUIRE(one->rows.size() == 1);
  CHECK(one->rows[0].name == "org-z");
  // Russian names match whatever the case of the search (SQLite's lower() folds ASCII only).
  e.AddOrg("ООО Ромашка-Ёлка", 5000);
  for (const char* search : {"ромашка-ёлка", "РОМАШКА", "ооо ромаШка"}) {
    filtered.name_contains = search;
    auto russian = e.store->QueryOrganizations(filtered);
    REQUIRE(russian.ok());
    REQUIRE_MESSAGE(russian->rows.size() == 1, search);
    CHECK(russian->rows[0].name == "ООО Ромашка-Ёлка");
  }
  filtered.name_contains = "ромашкб";
  CHECK(e.store->QueryOrganizations(filtered)->rows.empty());
  filtered = OrgQuery{};
  filtered.contract_status = ContractPhase::kActive;
  filtered.visible_org_ids = std::vector<int64_t>{e.orgs["org-z"], e.orgs["org-y"]};
  auto scoped = e.store->QueryOrganizations(filtered);
  REQUIRE(scoped.ok());
  REQUIRE(scoped->rows.size() == 1);  // org-y is a prospect
  CHECK(scoped->rows[0].name == "org-z");
  filtered.visible_org_ids = std::vector<int64_t>{};
  CHECK(e.store->QueryOrganizations(filtered)->rows.empty());
}

TEST_CASE("host pages: sorts, text, presence and scope filters") {
  PagedEstate e;
  e.AddOrg("acme", 1000);
  e.AddOrg("globex", 1000);
  for (int i = 0; i < 12; ++i) {
    e.AddHost(i % 2 == 0 ? "acme" : "globex", "agent-" + std::to_string(i),
              "Host-" + std::to_string(100 + i), 1000);
  }
  // Hosts 0..5 report at 50'000 (recent), the rest never.
  dozor::v1::Inventory inventory;
  inventory.mutable_os()->set_family("debian");
  for (int i = 0; i < 6; ++i) {
    e.Commit("agent-" + std::to_string(i), 1, inventory, 50'000);
  }
  HostQuery query;
  query.page.limit = 5;
  auto by_org =
      WalkPages<HostSummary>(query, [&](const HostQuery& q) { return e.store->QueryHosts(q); });
  REQUIRE(by_org.size() == 12);
  CHECK(std::is_sorted(by_org.begin(), by_org.end(), [](const auto& a, const auto& b) {
    return std::tie(a.org_name, a.hostname) < std::tie(b.org_name, b.hostname);
  }));
  query.sort = HostSort::kHostname;
  query.direction = SortDirection::kDescending;
  auto by_name =
      WalkPages<HostSummary>(query, [&](const HostQuery& q) { return e.store->QueryHosts(q); });
  REQUIRE(by_name.size() == 12);
  CHECK(by_name.front().hostname == "Host-111");

  HostQuery text;
  text.text = "host-10";  // Host-100..Host-109
  text.visible_org_ids = std::vector<int64_t>{e.orgs["acme"]};
  auto found = e.store->QueryHosts(text);
  REQUIRE(found.ok());
  CHECK(found->rows.size() == 5);
  for (const auto& host : found->rows) CHECK(host.org_name == "acme");

  HostQuery online;
  online.statuses = {HostStatus::kOnline};
  online.status_bounds.online_since_ms = 40'000;
  auto up = e.store->QueryHosts(online);
  REQUIRE(up.ok());
  CHECK(up->rows.size() == 6);
  online.statuses = {HostStatus::kOffline, HostStatus::kOverdue, HostStatus::kImported};
  CHECK(e.store->QueryHosts(online)->rows.size() == 6);
  online.statuses.clear();
  online.os_family = "debian";
  CHECK(e.store->QueryHosts(online)->rows.size() == 6);
}

dozor::v1::Inventory SearchInventory(const std::string& ip, const std::string& mac,
                                     const std::string& serial) {
  dozor::v1::Inventory inventory;
  inventory.mutable_os()->set_hostname("web-" + serial);
  inventory.mutable_hardware()->mutable_dmi()->set_system_serial(serial);
  auto* disk = inventory.mutable_hardware()->add_disks();
  disk->set_name("sda");
  disk->set_serial("DISK-" + serial);
  auto* eth = inventory.mutable_network()->add_interfaces();
  eth->set_name("eth0");
  eth->set_mac(mac);
  auto* address = eth->add_addresses();
  address->set_address(ip);
  address->set_prefix(24);
  address->set_family(4);
  auto* package = inventory.mutable_software()->add_packages();
  package->set_name("openssl");
  package->set_version("3.0.11-1~deb12u2");
  return inventory;
}

std::set<std::string> Fields(const HostSearchHit& hit) {
  std::set<std::string> out;
  for (const auto& m : hit.matches) out.insert(m.field + "=" + m.value);
  return out;
}

TEST_CASE("host search finds by hostname, IP, MAC, serials and packages, within scope") {
  PagedEstate e;
  e.AddOrg("acme", 1000);
  e.AddOrg("globex", 1000);
  e.AddHost("acme", "agent-a", "a", 1000);
  e.AddHost("globex", "agent-g", "g", 1000);
  e.Commit("agent-a", 1, SearchInventory("10.1.0.5", "52:54:00:aa:bb:01", "SN-ACME-1"), 5000);
  e.Commit("agent-g", 1, SearchInventory("10.2.0.5", "52-54-00-AA-BB-02", "SN-GLOBEX-1"), 5000);

  auto search = [&](HostSearchQuery query) {
    auto result = e.store->SearchHosts(query);
    REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().ToString()));
    return *result;
  };
  HostSearchQuery query;
  query.text = "web-sn-acme";
  auto by_name = search(query);
  REQUIRE(by_name.hits.size() == 1);
  CHECK(Fields(by_name.hits[0]).count("hostname=web-SN-ACME-1") == 1);

  query.text = "10.2.0";
  auto by_ip = search(query);
  REQUIRE(by_ip.hits.size() == 1);
  CHECK(by_ip.hits[0].host.agent_id == "agent-g");
  CHECK(Fields(by_ip.hits[0]).count("ip=10.2.0.5") == 1);

  query.text = "5254.00aa.bb02";
  query.mac = "52:54:00:aa:bb:02";
  auto by_mac = search(query);
  REQUIRE(by_mac.hits.size() == 1);
  CHECK(Fields(by_mac.hits[0]).count("mac=52-54-00-AA-BB-02") == 1);
  query.mac.reset();

  query.text = "sn-acme-1";
  auto by_serial = search(query);
  REQUIRE(by_serial.hits.size() == 1);
  CHECK(Fields(by_serial.hits[0]).count("system_serial=SN-ACME-1") == 1);
  query.text = "disk-sn-globex-1";
  REQUIRE(search(query).hits.size() == 1);

  query.text = "openssl";
  query.package_name = "openssl";
  auto by_package = search(query);
  CHECK(by_package.hits.size() == 2);
  CHECK(Fields(by_package.hits[0]).count("package=openssl=3.0.11-1~deb12u2") == 1);
  query.package_version = "3.0.0";
  CHECK(search(query).hits.empty());
  query.package_version = "3.0.11-1~deb12u2";
  CHECK(search(query).hits.size() == 2);

  // An engineer of acme searching globex's serial, IP, MAC or hostname finds nothing.
  query = HostSearchQuery{};
  query.visible_org_ids = std::vector<int64_t>{e.orgs["acme"]};
  for (const std::string text : {"SN-GLOBEX-1", "10.2.0.5", "web-SN-GLOBEX", "agent-g"}) {
    query.text = text;
    CHECK(search(query).hits.empty());
  }
  query.text = "52-54-00-aa-bb-02";
  query.mac = "52:54:00:aa:bb:02";
  CHECK(search(query).hits.empty());
  query.package_name = "openssl";
  query.mac.reset();
  query.text = "openssl";
  auto own = search(query);
  REQUIRE(own.hits.size() == 1);
  CHECK(own.hits[0].host.agent_id == "agent-a");

  query = HostSearchQuery{};
  query.text = "web";
  query.limit = 1;
  auto truncated = search(query);
  CHECK(truncated.hits.size() == 1);
  CHECK(truncated.truncated);
}

}  // namespace
}  // namespace dozor::server
