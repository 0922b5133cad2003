// The audit log (store/audit_log_store.hpp) on every backend.
#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "backends.hpp"

namespace dozor::server {
namespace {

using dozor::testing::kBackendClockStartMs;
using dozor::testing::MakeOrg;
using dozor::testing::Ok;

// Filters are set field by field: a designated initializer that skips members warns
// (-Wmissing-field-initializers), and the tree builds with -Werror.
template <typename Set>
AuditFilter AuditWhere(Set&& set) {
  AuditFilter filter;
  set(filter);
  return filter;
}

constexpr int64_t kAuditT0 = kBackendClockStartMs;

std::vector<int64_t> AuditAts(const std::vector<AuditEntry>& entries) {
  std::vector<int64_t> ats;
  for (const auto& entry : entries) ats.push_back(entry.at_ms - kAuditT0);
  return ats;
}

// Six entries at T0+0..5: anna (user 7) for even i, boris (no user) for odd; three acks of Acme,
// then two note edits of Beta, then a failed login of no organisation.
template <typename Store>
void AppendSix(Store& store, int64_t acme, int64_t beta) {
  for (int i = 0; i < 6; ++i) {
    AuditEntry entry;
    entry.at_ms = kAuditT0 + i;
    entry.actor = i % 2 == 0 ? "anna" : "boris";
    entry.actor_user_id = i % 2 == 0 ? std::optional<int64_t>(7) : std::nullopt;
    entry.via = i % 2 == 0 ? Via::kDashboard : Via::kCli;
    entry.source = "192.0.2." + std::to_string(i);
    if (i < 3) {
      entry.action = "POST /api/v1/findings/{id}/ack";
      entry.org_id = acme;
      entry.object = "finding " + std::to_string(i);
      entry.status = 200;
    } else if (i < 5) {
      entry.action = "PUT /api/v1/orgs/{org}/notes";
      entry.org_id = beta;
      entry.status = 204;
      entry.detail = "заметка";
    } else {
      entry.action = "login_failed";
      entry.status = 401;
    }
    Ok(store.AuditLog().AppendAudit(entry));
  }
}

TEST_CASE_TEMPLATE("audit log: entries round-trip and list newest first", Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& audit = backend.store->AuditLog();
  CHECK(Ok(audit.ListAudit({})).empty());
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  const int64_t beta = MakeOrg(*backend.store, "Beta");
  AppendSix(*backend.store, acme, beta);

  const auto all = Ok(audit.ListAudit({}));
  REQUIRE(all.size() == 6);
  CHECK(AuditAts(all) == std::vector<int64_t>{5, 4, 3, 2, 1, 0});
  for (size_t i = 1; i < all.size(); ++i) CHECK(all[i - 1].id > all[i].id);
  const AuditEntry& login = all[0];
  CHECK(login.action == "login_failed");
  CHECK(login.actor == "boris");
  CHECK_FALSE(login.actor_user_id.has_value());
  CHECK_FALSE(login.org_id.has_value());
  CHECK(login.via == Via::kCli);
  CHECK(login.status == 401);
  CHECK(login.object.empty());
  const AuditEntry& note = all[1];
  CHECK(note.actor_user_id == 7);
  CHECK(note.via == Via::kDashboard);
  CHECK(note.org_id == beta);
  CHECK(note.detail == "заметка");
  CHECK(note.source == "192.0.2.4");
  CHECK(all[5].object == "finding 0");
  CHECK(all[5].status == 200);

  // Every channel round-trips.
  for (const Via via : {Via::kApi, Via::kCli, Via::kDashboard, Via::kServer}) {
    AuditEntry entry;
    entry.at_ms = kAuditT0 + 100;
    entry.actor = "system";
    entry.via = via;
    entry.action = "via";
    entry.status = 200;
    Ok(audit.AppendAudit(entry));
  }
  const auto vias =
      Ok(audit.ListAudit(AuditWhere([&](AuditFilter& f) { f.action_prefix = "via"; })));
  REQUIRE(vias.size() == 4);
  CHECK(vias[0].via == Via::kServer);
  CHECK(vias[1].via == Via::kDashboard);
  CHECK(vias[2].via == Via::kCli);
  CHECK(vias[3].via == Via::kApi);
}

TEST_CASE_TEMPLATE("audit log: every filter and the id cursor", Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& audit = backend.store->AuditLog();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  const int64_t beta = MakeOrg(*backend.store, "Beta");
  AppendSix(*backend.store, acme, beta);

  // since inclusive, until exclusive.
  CHECK(AuditAts(Ok(audit.ListAudit(AuditWhere([&](AuditFilter& f) {
          f.since_ms = kAuditT0 + 2;
        })))) == std::vector<int64_t>{5, 4, 3, 2});
  CHECK(AuditAts(Ok(audit.ListAudit(AuditWhere(
            [&](AuditFilter& f) { f.until_ms = kAuditT0 + 2; })))) == std::vector<int64_t>{1, 0});
  CHECK(AuditAts(Ok(audit.ListAudit(AuditWhere([&](AuditFilter& f) {
          f.since_ms = kAuditT0 + 1;
          f.until_ms = kAuditT0 + 3;
        })))) == std::vector<int64_t>{2, 1});
  CHECK(AuditAts(Ok(audit.ListAudit(AuditWhere([&](AuditFilter& f) { f.actor_user_id = 7; })))) ==
        std::vector<int64_t>{4, 2, 0});
  CHECK(AuditAts(Ok(audit.ListAudit(AuditWhere([&](AuditFilter& f) { f.actor = "boris"; })))) ==
        std::vector<int64_t>{5, 3, 1});
  CHECK(Ok(audit.ListAudit(AuditWhere([&](AuditFilter& f) {
          f.actor = "Boris";
        }))).empty());  // exact, case and all
  CHECK(Ok(audit.ListAudit(AuditWhere([&](AuditFilter& f) { f.actor = "bori"; }))).empty());
  CHECK(AuditAts(Ok(audit.ListAudit(AuditWhere([&](AuditFilter& f) { f.org_id = acme; })))) ==
        std::vector<int64_t>{2, 1, 0});
  CHECK(AuditAts(Ok(audit.ListAudit(AuditWhere([&](AuditFilter& f) { f.org_id = beta; })))) ==
        std::vector<int64_t>{4, 3});
  CHECK(AuditAts(Ok(audit.ListAudit(AuditWhere(
            [&](AuditFilter& f) { f.action_prefix = "PUT "; })))) == std::vector<int64_t>{4, 3});
  CHECK(AuditAts(Ok(audit.ListAudit(AuditWhere([&](AuditFilter& f) {
          f.action_prefix = "POST /api/v1/findings/{id}/ack";
        })))) == std::vector<int64_t>{2, 1, 0});
  CHECK(Ok(audit.ListAudit(AuditWhere([&](AuditFilter& f) {
          f.action_prefix = "post ";
        }))).empty());  // case-sensitive
  CHECK(Ok(audit.ListAudit(AuditWhere([&](AuditFilter& f) {
          f.action_prefix = "/api";
        }))).empty());  // a prefix, not a substring
  CHECK(Ok(audit.ListAudit(AuditWhere([&](AuditFilter& f) { f.action_prefix = ""; }))).size() ==
        6);  // empty prefix: everything
  // Filters combine.
  CHECK(AuditAts(Ok(audit.ListAudit(AuditWhere([&](AuditFilter& f) {
          f.actor = "anna";
          f.org_id = acme;
        })))) == std::vector<int64_t>{2, 0});
  CHECK(AuditAts(Ok(audit.ListAudit(AuditWhere([&](AuditFilter& f) {
          f.since_ms = kAuditT0 + 1;
          f.actor_user_id = 7;
          f.action_prefix = "PUT";
        })))) == std::vector<int64_t>{4});

  // Pages of two by before_id walk everything once; a limit below one reads one row.
  std::vector<int64_t> walked;
  AuditFilter page;
  page.limit = 2;
  for (int i = 0; i < 10; ++i) {
    const auto rows = Ok(audit.ListAudit(page));
    if (rows.empty()) break;
    CHECK(rows.size() <= 2);
    for (const auto& row : rows) walked.push_back(row.at_ms - kAuditT0);
    page.before_id = rows.back().id;
  }
  CHECK(walked == std::vector<int64_t>{5, 4, 3, 2, 1, 0});
  CHECK(Ok(audit.ListAudit(AuditWhere([&](AuditFilter& f) { f.limit = 0; }))).size() == 1);
  CHECK(Ok(audit.ListAudit(AuditWhere([&](AuditFilter& f) { f.limit = -5; }))).size() == 1);
  page.before_id =
      Ok(audit.ListAudit(AuditWhere([&](AuditFilter& f) { f.org_id = beta; }))).back().id;
  page.org_id = acme;
  page.limit = 100;
  CHECK(AuditAts(Ok(audit.ListAudit(page))) == std::vector<int64_t>{2, 1, 0});
}

TEST_CASE_TEMPLATE("audit log: pruning deletes entries older than the cutoff, once", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& audit = backend.store->AuditLog();
  CHECK(Ok(audit.PruneAudit(kAuditT0 + 1000)) == 0);  // an empty log
  for (int i = 0; i < 60; ++i) {
    AuditEntry entry;
    entry.at_ms = kAuditT0 + i;
    entry.actor = "anna";
    entry.action = "POST /x";
    entry.status = 200;
    Ok(audit.AppendAudit(entry));
  }
  CHECK(Ok(audit.PruneAudit(kAuditT0)) == 0);  // the cutoff itself is kept
  CHECK(Ok(audit.PruneAudit(kAuditT0 + 10)) == 10);
  CHECK(Ok(audit.PruneAudit(kAuditT0 + 10)) == 0);

  // Pruners on several threads (replicas) at once: the counts add up to the rows removed.
  std::atomic<int64_t> pruned{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      auto deleted = audit.PruneAudit(kAuditT0 + 50);
      CHECK(deleted.ok());
      if (deleted.ok()) pruned += *deleted;
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(pruned.load() == 40);
  const auto left = Ok(audit.ListAudit({}));
  REQUIRE(left.size() == 10);
  CHECK(left.back().at_ms == kAuditT0 + 50);
  CHECK(left.front().at_ms == kAuditT0 + 59);
}

}  // namespace
}  // namespace dozor::server
