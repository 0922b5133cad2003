// The rule engine's facts (store/fact_source.hpp) on both backends: the PostgreSQL fact source
// (store/postgres/pg_fact_source.hpp) against SQLite's on the same committed estates — the same
// view rows, scoping, deadline, guard refusals — and the acceptance test: the built-in rule pack
// through the real RuleEngine gives the same hits on both over the rule fixture estates
// (tests/fixtures/rules/cases, built as tests/unit/server/rules/rule_fixtures_test.cpp does).
#include <doctest/doctest.h>
#include <google/protobuf/text_format.h>

#include <toml++/toml.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "backends.hpp"
#include "rules/rule.hpp"
#include "rules/rule_engine.hpp"
#include "store/postgres/pg_fact_source.hpp"
#include "store/sqlite/sqlite_fact_source.hpp"

namespace dozor::server {
namespace {

using dozor::testing::FixturePath;
using dozor::testing::Ok;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::TextFormat;

// The fixture test's evaluation time, 2026-11-01T12:00:00Z.
constexpr int64_t kFactNowMs = 1793534400000;
constexpr int64_t kFactMinuteMs = 60000;

// The fact source of a backend's store.
std::unique_ptr<FactSource> OpenFacts(testing::SqliteBackend& backend) {
  return MakeSqliteFactSource((backend.dir / "dozor.db").string());
}
std::unique_ptr<FactSource> OpenFacts(testing::PostgresBackend& backend) {
  return MakePostgresFactSource(backend.database.conninfo());
}

std::unique_ptr<FactSession> OpenSession(FactSource& facts, FactSessionKind kind) {
  return Ok(facts.OpenSession(kind));
}

// A value as text for comparisons: the type tag keeps 1 and 1.0 and '1' apart.
std::string FactText(const FactValue& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) {
    return "i:" + std::to_string(*i);
  }
  if (const auto* d = std::get_if<double>(&value)) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "d:%.15g", *d);
    return buffer;
  }
  if (const auto* s = std::get_if<std::string>(&value)) {
    return "t:" + *s;
  }
  return "null";
}

// Every row of a prepared statement, each row its values joined by '|'.
std::vector<std::string> FactRows(FactSession& session, FactStatement& statement) {
  std::vector<std::string> rows;
  Ok(session.Run(statement, std::chrono::milliseconds(10000), [&rows](const FactRow& row) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += (c == 0 ? "" : "|") + FactText(row.Get(c));
    }
    rows.push_back(std::move(line));
    return true;
  }));
  return rows;
}

// Every row of `sql` (a query the fact source accepts).
std::vector<std::string> FactRows(FactSession& session, const std::string& sql,
                                  const std::vector<FactValue>& params = {}) {
  auto statement = session.PrepareRule(sql);
  REQUIRE_MESSAGE(statement.ok(), sql << ": " << statement.error().ToString());
  for (size_t i = 0; i < params.size(); ++i) {
    (*statement)->Bind(i, params[i]);
  }
  return FactRows(session, **statement);
}

// ---- The rule fixture estates (cases' hosts: base inventory + inventory_patch, health series),
// built as rule_fixtures_test.cpp builds them, one organisation per case. ----

std::string FactReadText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void FactMergeMentioned(Message* patch, const TextFormat::ParseInfoTree& tree, Message* base) {
  const auto* descriptor = patch->GetDescriptor();
  const auto* reflection = patch->GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (tree.GetLocation(field, field->is_repeated() ? 0 : -1).line < 0) {
      continue;
    }
    if (!field->is_repeated() && field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      const TextFormat::ParseInfoTree* nested = tree.GetTreeForNested(field, -1);
      Message* patch_child = reflection->MutableMessage(patch, field);
      Message* base_child = base->GetReflection()->MutableMessage(base, field);
      if (nested != nullptr) {
        FactMergeMentioned(patch_child, *nested, base_child);
      }
      continue;
    }
    reflection->SwapFields(patch, base, {field});
  }
}

template <typename T>
void FactApplyPatch(const std::string& text, T* base, const std::string& where) {
  if (text.empty()) {
    return;
  }
  T patch;
  TextFormat::ParseInfoTree tree;
  TextFormat::Parser parser;
  parser.WriteLocationsTo(&tree);
  REQUIRE_MESSAGE(parser.ParseFromString(text, &patch), where);
  FactMergeMentioned(&patch, tree, base);
}

template <typename T>
T FactLoadBase(const std::string& name) {
  T out;
  const auto path = FixturePath("rules/base/" + name);
  REQUIRE_MESSAGE(TextFormat::ParseFromString(FactReadText(path), &out), path.string());
  return out;
}

struct FactHealthSeries {
  int64_t from_minutes_ago = 30;
  int64_t to_minutes_ago = 0;
  int64_t every_minutes = 1;
  std::string patch;
};

struct FactFixtureHost {
  std::string name;
  std::string base;
  std::string inventory_patch;
  int64_t last_seen_minutes_ago = 0;
  int64_t inventory_minutes_ago = 5;
  int64_t clock_offset_ms = 0;
  int64_t first_inventory_days_ago = 0;
  std::string first_inventory_patch;
  std::string agent_version = "1.0.0";
  std::vector<std::string> failed_collectors;
  std::vector<FactHealthSeries> health;
};

struct FactFixtureCase {
  std::string name;
  std::vector<FactFixtureHost> hosts;
};

std::vector<FactFixtureCase> FactLoadCases() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(FixturePath("rules/cases"))) {
    if (entry.path().extension() == ".toml") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<FactFixtureCase> cases;
  for (const auto& path : files) {
    toml::table root = toml::parse_file(path.string());
    FactFixtureCase fixture;
    fixture.name = path.stem().string();
    for (const auto& node : *root["host"].as_array()) {
      const toml::table& t = *node.as_table();
      FactFixtureHost host;
      host.name = t["name"].value_or(std::string());
      host.base = t["base"].value_or(std::string());
      host.inventory_patch = t["inventory_patch"].value_or(std::string());
      host.last_seen_minutes_ago = t["last_seen_minutes_ago"].value_or(int64_t{0});
      host.inventory_minutes_ago = t["inventory_minutes_ago"].value_or(int64_t{5});
      host.clock_offset_ms = t["clock_offset_ms"].value_or(int64_t{0});
      host.first_inventory_days_ago = t["first_inventory_days_ago"].value_or(int64_t{0});
      host.first_inventory_patch = t["first_inventory_patch"].value_or(std::string());
      host.agent_version = t["agent_version"].value_or(std::string("1.0.0"));
      if (const toml::array* failed = t["failed_collectors"].as_array()) {
        for (const auto& item : *failed) {
          host.failed_collectors.push_back(item.value_or(std::string()));
        }
      }
      if (const toml::array* series = t["health"].as_array()) {
        for (const auto& s : *series) {
          const toml::table& st = *s.as_table();
          FactHealthSeries h;
          h.from_minutes_ago = st["from_minutes_ago"].value_or(int64_t{30});
          h.to_minutes_ago = st["to_minutes_ago"].value_or(int64_t{0});
          h.every_minutes = st["every_minutes"].value_or(int64_t{1});
          h.patch = st["patch"].value_or(std::string());
          host.health.push_back(std::move(h));
        }
      } else {
        host.health.push_back(FactHealthSeries{});
      }
      fixture.hosts.push_back(std::move(host));
    }
    cases.push_back(std::move(fixture));
  }
  return cases;
}

void FactAddCollector(dozor::v1::Report* report, const std::string& name,
                      const std::vector<std::string>& failed) {
  auto* status = report->add_collectors();
  status->set_name(name);
  const bool fails = std::find(failed.begin(), failed.end(), name) != failed.end();
  status->set_ok(!fails);
  if (fails) {
    status->set_error(name + ": command timed out after 30 s");
  }
  status->set_duration_ms(40);
}

// The reports one host sends, in collected_at order (rule_fixtures_test.cpp's BuildReports).
std::vector<IncomingReport> FactBuildReports(const FactFixtureHost& host,
                                             const std::string& agent_id) {
  auto inventory = FactLoadBase<dozor::v1::Inventory>(host.base + ".textproto");
  inventory.mutable_os()->set_hostname(host.name);
  inventory.mutable_os()->set_fqdn(host.name + ".corp.example");
  FactApplyPatch(host.inventory_patch, &inventory, host.name);
  const auto calm = FactLoadBase<dozor::v1::HealthSample>("health-clean.textproto");
  const int64_t host_now = kFactNowMs - host.last_seen_minutes_ago * kFactMinuteMs;
  std::vector<IncomingReport> out;
  auto make = [&](int64_t received_at) {
    IncomingReport in;
    in.agent_id = agent_id;
    in.received_at_ms = received_at;
    in.report.set_collected_at_ms(received_at - host.clock_offset_ms);
    in.report.set_agent_version(host.agent_version);
    return in;
  };
  auto add_inventory = [&](int64_t received_at, const dozor::v1::Inventory& sent) {
    IncomingReport in = make(received_at);
    *in.report.mutable_inventory() = sent;
    for (const char* name : {"hardware", "os", "network", "software"}) {
      FactAddCollector(&in.report, name, host.failed_collectors);
    }
    out.push_back(std::move(in));
  };
  if (host.first_inventory_days_ago > 0) {
    dozor::v1::Inventory first = inventory;
    FactApplyPatch(host.first_inventory_patch, &first, host.name);
    add_inventory(host_now - host.first_inventory_days_ago * 24 * 60 * kFactMinuteMs, first);
  }
  add_inventory(host_now - host.inventory_minutes_ago * kFactMinuteMs, inventory);
  for (const auto& series : host.health) {
    dozor::v1::HealthSample sample = calm;
    FactApplyPatch(series.patch, &sample, host.name);
    for (int64_t m = series.from_minutes_ago; m >= series.to_minutes_ago;
         m -= series.every_minutes) {
      IncomingReport in = make(host_now - m * kFactMinuteMs);
      *in.report.mutable_health() = sample;
      FactAddCollector(&in.report, "health", host.failed_collectors);
      out.push_back(std::move(in));
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const IncomingReport& a, const IncomingReport& b) {
    return a.report.collected_at_ms() < b.report.collected_at_ms();
  });
  uint64_t seq = 0;
  for (auto& in : out) {
    in.report.set_seq(++seq);
  }
  return out;
}

// Every case as an organisation of its own (named after the case) on `store`.
template <typename Backend>
void FactLoadEstates(Backend& backend, const std::vector<FactFixtureCase>& cases) {
  auto& store = *backend.store;
  for (const FactFixtureCase& fixture : cases) {
    Organization org;
    org.name = fixture.name;
    const int64_t org_id = Ok(store.Organizations().CreateOrganization(org)).id;
    NewEnrollmentToken token;
    token.org_id = org_id;
    token.token_hash = "token-" + fixture.name;
    Ok(store.Agents().CreateEnrollmentToken(token));
    for (size_t i = 0; i < fixture.hosts.size(); ++i) {
      const FactFixtureHost& host = fixture.hosts[i];
      NewAgent agent;
      agent.agent_id = fixture.name + "/" + std::to_string(i + 1);
      agent.secret_hash = "secret";
      agent.hostname = host.name;
      agent.agent_version = host.agent_version;
      agent.os = "linux";
      const int64_t enrolled_at =
          kFactNowMs - (host.first_inventory_days_ago + 30) * 24 * 60 * kFactMinuteMs;
      Ok(store.Agents().EnrollAgent(token.token_hash, agent, enrolled_at));
      std::vector<IncomingReport> reports = FactBuildReports(host, agent.agent_id);
      const auto results = Ok(store.Hosts().CommitReports(reports));
      for (const auto& result : results) {
        REQUIRE_MESSAGE(result.outcome == CommitOutcome::kStored,
                        agent.agent_id << " report " << result.seq << ": " << result.reason);
      }
    }
  }
}

// The fact views (as the SQLite source names them) and their rows on one session.
std::map<std::string, std::vector<std::string>> FactViewContents(FactSession& session) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [file, text] : SqliteFactViewFiles()) {
    (void)file;
    const std::string sql(text);
    size_t at = 0;
    while ((at = sql.find("CREATE TEMP VIEW ", at)) != std::string::npos) {
      at += 17;
      const std::string view = sql.substr(at, sql.find(' ', at) - at);
      std::vector<std::string> rows = FactRows(session, "SELECT * FROM " + view);
      std::sort(rows.begin(), rows.end());
      out[view] = std::move(rows);
    }
  }
  return out;
}

// (rule, target, object, sustain) of every hit of an evaluation over all targets; evidence kept
// apart (reported, not required equal: float formatting may differ in the last digit).
struct FactHits {
  std::set<std::string> keys;
  std::map<std::string, std::string> evidence;
  std::vector<std::string> errors;
  double seconds = 0;
  double again_seconds = 0;
  std::set<std::string> scoped_keys;  // per host and per organisation (the scoped session)
};

FactHits FactEvaluate(FactSource& facts, const std::map<int64_t, std::string>& host_names,
                      const std::map<int64_t, std::string>& org_names) {
  FactHits out;
  auto engine = Ok(rules::RuleEngine::Open(facts, rules::LoadRulePack({}, true)));
  for (const auto& error : engine->pack().errors) {
    out.errors.push_back("pack: " + error.ToString());
  }
  auto start = std::chrono::steady_clock::now();
  const auto results = Ok(engine->EvaluateAll(kFactNowMs));
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Once more: statements are planned and parameter types settled by now.
  start = std::chrono::steady_clock::now();
  (void)Ok(engine->EvaluateAll(kFactNowMs));
  out.again_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // The scoped session: EvaluateHost for every host, EvaluateOrganization for every case.
  std::vector<rules::EvaluationResult> scoped;
  for (const auto& [host_id, name] : host_names) {
    (void)name;
    scoped.push_back(Ok(engine->EvaluateHost(host_id, kFactNowMs)));
  }
  for (const auto& [org_id, name] : org_names) {
    (void)name;
    scoped.push_back(Ok(engine->EvaluateOrganization(org_id, kFactNowMs)));
  }
  for (const auto& result : scoped) {
    for (const auto& error : result.rule_errors) {
      out.errors.push_back("scoped: " + error);
    }
    for (const auto& hit : result.hits) {
      const std::string target =
          hit.host_id ? "host " + host_names.at(*hit.host_id) : "org " + org_names.at(hit.org_id);
      out.scoped_keys.insert(hit.rule_id + " | " + target + " | " + hit.object +
                             (hit.sustain_only ? " | sustain" : ""));
    }
  }
  for (const auto& result : results) {
    for (const auto& error : result.rule_errors) {
      out.errors.push_back(error);
    }
    for (const auto& hit : result.hits) {
      const std::string target =
          hit.host_id ? "host " + host_names.at(*hit.host_id) : "org " + org_names.at(hit.org_id);
      const std::string key = hit.rule_id + " | " + target + " | " + hit.object +
                              (hit.sustain_only ? " | sustain" : "");
      out.keys.insert(key);
      out.evidence[key] = hit.evidence_json;
    }
  }
  return out;
}

std::map<int64_t, std::string> FactNames(FactSession& session, const std::string& sql) {
  std::map<int64_t, std::string> out;
  auto statement = Ok(session.PrepareRule(sql));
  Ok(session.Run(*statement, std::chrono::milliseconds(10000), [&out](const FactRow& row) {
    out[row.Int(0)] = std::get<std::string>(row.Get(1));
    return true;
  }));
  return out;
}

TEST_CASE("the rule fixture estates read the same on both backends: fact views and pack hits") {
  const std::vector<FactFixtureCase> cases = FactLoadCases();
  REQUIRE(cases.size() > 100);
  testing::SqliteBackend lite;
  testing::PostgresBackend pg;
  FactLoadEstates(lite, cases);
  FactLoadEstates(pg, cases);
  auto lite_facts = OpenFacts(lite);
  auto pg_facts = OpenFacts(pg);

  // Same views, same rows (ids agree: both backends number organisations and agents from 1 in
  // the order they were made).
  {
    auto lite_session = OpenSession(*lite_facts, FactSessionKind::kEstate);
    auto pg_session = OpenSession(*pg_facts, FactSessionKind::kEstate);
    const auto lite_views = FactViewContents(*lite_session);
    const auto pg_views = FactViewContents(*pg_session);
    REQUIRE(lite_views.size() == pg_views.size());
    size_t rows = 0;
    size_t nonempty = 0;
    for (const auto& [view, lite_rows] : lite_views) {
      const auto& pg_rows = pg_views.at(view);
      CHECK_MESSAGE(lite_rows.size() == pg_rows.size(), view << ": " << lite_rows.size()
                                                             << " rows on SQLite, "
                                                             << pg_rows.size() << " on PostgreSQL");
      std::vector<std::string> only_lite;
      std::vector<std::string> only_pg;
      std::set_difference(lite_rows.begin(), lite_rows.end(), pg_rows.begin(), pg_rows.end(),
                          std::back_inserter(only_lite));
      std::set_difference(pg_rows.begin(), pg_rows.end(), lite_rows.begin(), lite_rows.end(),
                          std::back_inserter(only_pg));
      for (size_t i = 0; i < std::min<size_t>(3, only_lite.size()); ++i) {
        FAIL_CHECK(view << " only on SQLite: " << only_lite[i]);
      }
      for (size_t i = 0; i < std::min<size_t>(3, only_pg.size()); ++i) {
        FAIL_CHECK(view << " only on PostgreSQL: " << only_pg[i]);
      }
      rows += lite_rows.size();
      nonempty += lite_rows.empty() ? 0 : 1;
    }
    MESSAGE("compared " << lite_views.size() << " fact views (" << nonempty << " not empty), "
                        << rows << " rows");
    CHECK(nonempty >= 40);
  }

  // The acceptance test: every enabled rule of the built-in pack, through the real engine.
  std::map<int64_t, std::string> host_names;
  std::map<int64_t, std::string> org_names;
  {
    auto session = OpenSession(*lite_facts, FactSessionKind::kEstate);
    host_names = FactNames(*session, "SELECT host_id, agent_id FROM hosts");
    org_names = FactNames(*session, "SELECT org_id, name FROM organizations");
  }
  const FactHits lite_hits = FactEvaluate(*lite_facts, host_names, org_names);
  const FactHits pg_hits = FactEvaluate(*pg_facts, host_names, org_names);
  CHECK(lite_hits.errors.empty());
  for (const auto& error : pg_hits.errors) {
    FAIL_CHECK("PostgreSQL: " << error);
  }
  for (const auto& key : lite_hits.keys) {
    if (pg_hits.keys.count(key) == 0) {
      FAIL_CHECK("hit only on SQLite: " << key << " " << lite_hits.evidence.at(key));
    }
  }
  size_t evidence_differs = 0;
  for (const auto& key : pg_hits.keys) {
    if (lite_hits.keys.count(key) == 0) {
      FAIL_CHECK("hit only on PostgreSQL: " << key << " " << pg_hits.evidence.at(key));
    } else if (lite_hits.evidence.at(key) != pg_hits.evidence.at(key)) {
      if (++evidence_differs <= 5) {
        MESSAGE("evidence differs for " << key << "\n  SQLite:     " << lite_hits.evidence.at(key)
                                        << "\n  PostgreSQL: " << pg_hits.evidence.at(key));
      }
    }
  }
  // Per host and per organisation (the scoped sessions): the same on both backends, and the same
  // as the estate-wide evaluation.
  CHECK(lite_hits.scoped_keys == pg_hits.scoped_keys);
  CHECK(lite_hits.scoped_keys == lite_hits.keys);
  std::set<std::string> rules_hit;
  for (const auto& key : lite_hits.keys) {
    rules_hit.insert(key.substr(0, key.find(' ')));
  }
  MESSAGE("pack over " << host_names.size() << " hosts in " << org_names.size()
                       << " organisations: " << lite_hits.keys.size() << " hits of "
                       << rules_hit.size() << " rules on SQLite (" << lite_hits.seconds * 1000
                       << " ms, again " << lite_hits.again_seconds * 1000 << " ms), "
                       << pg_hits.keys.size() << " on PostgreSQL (" << pg_hits.seconds * 1000
                       << " ms, again " << pg_hits.again_seconds * 1000
                       << " ms); evidence differs on " << evidence_differs);
  CHECK(lite_hits.keys.size() > 150);
  CHECK(evidence_differs == 0);
}

// ---- Per backend: scoping, revoked hosts, deadline, values, the guard. ----

template <typename Backend>
std::string FactHealthHost(Backend& backend, const std::string& org, const std::string& agent) {
  testing::EnrollHost(*backend.store, org, agent);
  testing::Commit(*backend.store, {testing::HealthReport(agent, 1, 1'000'000)});
  return agent;
}

TEST_CASE_TEMPLATE("a scoped fact session shows only the hosts of its scope", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  FactHealthHost(backend, "org-a", "a1");
  FactHealthHost(backend, "org-a", "a2");
  FactHealthHost(backend, "org-b", "b1");
  FactHealthHost(backend, "org-b", "b-revoked");
  Ok(backend.store->Agents().RevokeAgent("b-revoked", 2'000'000));
  auto facts = OpenFacts(backend);
  auto estate = OpenSession(*facts, FactSessionKind::kEstate);
  const std::string hosts = "SELECT agent_id FROM hosts ORDER BY agent_id";
  const std::string health =
      "SELECT DISTINCT h.agent_id FROM health_fs f "
      "JOIN hosts h ON h.host_id = f.host_id ORDER BY h.agent_id";
  CHECK(FactRows(*estate, hosts) == std::vector<std::string>{"t:a1", "t:a2", "t:b1"});
  CHECK(FactRows(*estate, health) == std::vector<std::string>{"t:a1", "t:a2", "t:b1"});
  // The health windows hide a revoked host's samples too, on both backends.
  CHECK(FactRows(*estate, "SELECT count(*) FROM health") == std::vector<std::string>{"i:3"});
  CHECK(FactRows(*estate, "SELECT count(DISTINCT host_id) FROM health_fs") ==
        std::vector<std::string>{"i:3"});
  const auto live = Ok(estate->LiveHosts());
  CHECK(live.size() == 3);
  const int64_t a2 = live[1].host_id;
  const int64_t org_b = live[2].org_id;
  CHECK(Ok(estate->LiveHost(a2)).has_value());
  CHECK(Ok(estate->OrganizationExists(org_b)));
  CHECK_FALSE(Ok(estate->OrganizationExists(999)));
  CHECK(estate->ScopeToHosts({a2}).error().code == ErrorCode::kFailedPrecondition);

  auto scoped = OpenSession(*facts, FactSessionKind::kScoped);
  CHECK(FactRows(*scoped, hosts).empty());  // nothing in scope yet
  Ok(scoped->ScopeToHosts({a2}));
  CHECK(FactRows(*scoped, hosts) == std::vector<std::string>{"t:a2"});
  CHECK(FactRows(*scoped, health) == std::vector<std::string>{"t:a2"});
  Ok(scoped->ScopeToOrganizations({org_b}));  // replaces the scope; the revoked host stays out
  CHECK(FactRows(*scoped, hosts) == std::vector<std::string>{"t:b1"});
  CHECK(FactRows(*scoped, "SELECT count(*) FROM health_latest") == std::vector<std::string>{"i:1"});
  // Scopes also hold inside a snapshot (statements are prepared before it on PostgreSQL).
  auto in_scope = Ok(scoped->PrepareRule(hosts));
  Ok(scoped->BeginSnapshot());
  Ok(scoped->ScopeToHosts({a2, live[0].host_id}));
  CHECK(FactRows(*scoped, *in_scope) == std::vector<std::string>{"t:a1", "t:a2"});
  Ok(scoped->EndSnapshot());
}

TEST_CASE_TEMPLATE("fact values come back typed alike on both backends", Backend, DOZOR_BACKENDS) {
  Backend backend;
  FactHealthHost(backend, "org-a", "a1");
  auto facts = OpenFacts(backend);
  auto session = OpenSession(*facts, FactSessionKind::kEstate);
  CHECK(FactRows(*session,
                 "SELECT host_id, has_inventory, source, 1.5 AS d, NULL AS n, 'x' AS t, "
                 "sum(process_count) AS s, round(avg(cpu_pct), 1) AS a FROM hosts "
                 "JOIN health USING (host_id) GROUP BY host_id, has_inventory, source") ==
        std::vector<std::string>{"i:1|i:0|t:agent|d:1.5|null|t:x|i:120|d:12.5"});
  // Parameters are typed by their values: 64-bit arithmetic, doubles, text, NULL.
  CHECK(FactRows(*session,
                 "SELECT host_id, :days * 86400000 AS ms, :ratio * 2 AS r, :name AS n, "
                 "coalesce(:nothing, 7) AS z FROM hosts",
                 {int64_t{40}, 0.25, std::string("ok"), std::monostate{}}) ==
        std::vector<std::string>{"i:1|i:3456000000|d:0.5|t:ok|i:7"});
  // LIKE is case-sensitive.
  CHECK(FactRows(*session, "SELECT count(*) FROM hosts WHERE agent_id LIKE 'A%'") ==
        std::vector<std::string>{"i:0"});
  // The function library is callable unqualified.
  CHECK(FactRows(*session,
                 "SELECT version_compare('1.10', '1.9') AS v, date_to_ms('1970-01-02') "
                 "AS d, ms_to_date(86400000) AS m, strpos('web-01', '-') AS p") ==
        std::vector<std::string>{"i:1|i:86400000|t:1970-01-02|i:4"});
  CHECK(FactRows(*session,
                 "SELECT text_list(x) AS l FROM (SELECT 'b' AS x UNION ALL SELECT 'a') "
                 "AS t") == std::vector<std::string>{"t:a,b"});
  // What a statement reads is reported for scheduling.
  auto statement =
      Ok(session->PrepareRule("SELECT h.host_id FROM hosts h JOIN health_fs f ON f.host_id = "
                              "h.host_id WHERE h.last_seen_ms < :now_ms"));
  CHECK(statement->views_read() == std::set<std::string>{"health_fs", "hosts"});
  CHECK(statement->columns_read().count("hosts.last_seen_ms") == 1);
  CHECK(statement->parameter_names() == std::vector<std::string>{"now_ms"});
  CHECK(statement->column_names() == std::vector<std::string>{"host_id"});
  // Any read of hosts counts (SQLite's authorizer sees the view's columns, not the rule's):
  // agent_version and the like change with every report too.
  auto plain = Ok(session->PrepareRule("SELECT host_id FROM hosts"));
  CHECK(plain->columns_read().count("hosts.last_seen_ms") == 1);
  auto other = Ok(session->PrepareRule("SELECT host_id FROM os"));
  CHECK(other->columns_read().empty());
}

TEST_CASE_TEMPLATE("a rule statement past its deadline is stopped and the session goes on", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  FactHealthHost(backend, "org-a", "a1");
  std::vector<IncomingReport> samples;
  for (uint64_t seq = 2; seq <= 40; ++seq) {
    samples.push_back(
        testing::HealthReport("a1", seq, 1'000'000 + static_cast<int64_t>(seq) * 10'000));
  }
  testing::Commit(*backend.store, samples);
  auto facts = OpenFacts(backend);
  auto session = OpenSession(*facts, FactSessionKind::kEstate);
  // 40^6 rows: minutes on either backend (SQLite refuses recursive CTEs in rules).
  auto endless = Ok(session->PrepareRule(
      "SELECT count(*) AS host_id FROM health a, health b, health c, health d, health e, "
      "health f WHERE a.cpu_pct + b.cpu_pct + c.cpu_pct + d.cpu_pct + e.cpu_pct + f.cpu_pct > 0"));
  auto probe = Ok(session->PrepareRule("SELECT agent_id FROM hosts"));
  for (bool snapshot : {false, true}) {
    CAPTURE(snapshot);
    if (snapshot) {
      Ok(session->BeginSnapshot());
    }
    const auto start = std::chrono::steady_clock::now();
    Status stopped =
        session->Run(*endless, std::chrono::milliseconds(100), [](const FactRow&) { return true; });
    const auto took = std::chrono::steady_clock::now() - start;
    REQUIRE_FALSE(stopped.ok());
    CHECK(stopped.error().code == ErrorCode::kResourceExhausted);
    CHECK(stopped.error().message == "exceeded the 100 ms deadline and was stopped");
    CHECK(took < std::chrono::seconds(5));
    // The next statement runs (in a snapshot too: the failure did not abort it).
    CHECK(FactRows(*session, *probe) == std::vector<std::string>{"t:a1"});
    if (snapshot) {
      Ok(session->EndSnapshot());
    }
  }
  // A callback that stops early ends the run cleanly.
  int seen = 0;
  auto many = Ok(session->PrepareRule("SELECT a.host_id FROM health a, health b, health c"));
  Ok(session->Run(*many, std::chrono::milliseconds(5000),
                  [&seen](const FactRow&) { return ++seen < 3; }));
  CHECK(seen == 3);
  CHECK(FactRows(*session, "SELECT agent_id FROM hosts") == std::vector<std::string>{"t:a1"});
}

// What rule SQL may not do, refused on both backends (kInvalidArgument), whatever the spelling.
TEST_CASE_TEMPLATE("the fact source refuses rule SQL that reaches past the fact views", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  FactHealthHost(backend, "org-a", "a1");
  auto facts = OpenFacts(backend);
  auto session = OpenSession(*facts, FactSessionKind::kScoped);
  const char* refused[] = {
      // the store's tables: other organisations' data, revoked hosts, secrets
      "SELECT id AS host_id FROM agents",
      "SELECT id AS host_id, secret_hash FROM agents",
      "SELECT a.id AS host_id FROM hosts h JOIN agents a ON a.id = h.host_id",
      "SELECT host_id FROM hosts WHERE host_id IN (SELECT id FROM agents)",
      "WITH x AS (SELECT id FROM agents) SELECT id AS host_id FROM x",
      "SELECT agent AS host_id FROM host_os",
      "SELECT id AS host_id FROM api_tokens",
      "SELECT host_id FROM dozor_scope_hosts",
      // catalogs and other sessions
      "SELECT 1 AS host_id FROM sqlite_master",
      "SELECT pid AS host_id, query FROM pg_stat_activity",
      "SELECT oid AS host_id FROM pg_class",
      "SELECT 1 AS host_id FROM information_schema.tables",
      // functions outside the whitelist
      "SELECT host_id, pg_sleep(10) AS s FROM hosts",
      "SELECT host_id, current_setting('search_path') AS s FROM hosts",
      "SELECT host_id, set_config('default_transaction_read_only', 'off', false) AS s FROM hosts",
      "SELECT host_id, query_to_xml('select * from agents', true, true, '') AS s FROM hosts",
      "SELECT host_id, load_extension('x') AS s FROM hosts",
      "SELECT host_id FROM hosts WHERE pg_read_file('/etc/passwd') <> ''",
      // more than one SELECT, or not a SELECT
      "SELECT host_id FROM hosts; SELECT host_id FROM hosts",
      "DELETE FROM hosts",
      "UPDATE organizations SET name = 'x'",
      "SET search_path = public",
      "WITH d AS (DELETE FROM scope_hosts RETURNING host_id) SELECT host_id FROM d",
      "WITH d AS (DELETE FROM dozor_scope_hosts RETURNING host_id) SELECT host_id FROM d",
      "SELECT host_id FROM hosts FOR UPDATE",
      "SELECT host_id INTO TEMP stolen FROM hosts",
      "",
      "-- nothing",
      // positional parameters
      "SELECT host_id FROM hosts WHERE host_id = ?",
      "SELECT host_id FROM hosts WHERE host_id = $1",
  };
  for (const char* sql : refused) {
    const std::string text = sql;
    CAPTURE(text);
    auto prepared = session->PrepareRule(sql);
    if (prepared.ok()) {
      // Accepted only when it cannot run as a rule: a positional parameter has no name.
      const auto& names = (*prepared)->parameter_names();
      CHECK((!names.empty() && names[0].empty()));
      continue;
    }
    CHECK(prepared.error().code == ErrorCode::kInvalidArgument);
  }
}

// PostgreSQL-specific spellings: schema qualification, quoting, casts to catalog lookups. The
// guard judges what PostgreSQL resolved, so none of them reaches a table.
TEST_CASE("the PostgreSQL guard is not bypassed by quoting, schemas or catalog casts") {
  testing::PostgresBackend backend;
  FactHealthHost(backend, "org-a", "a1");
  FactHealthHost(backend, "org-b", "b1");
  auto facts = OpenFacts(backend);
  auto session = OpenSession(*facts, FactSessionKind::kScoped);
  struct Refusal {
    const char* sql;
    const char* message;  // a part of the refusal's message
  };
  const Refusal refused[] = {
      {"SELECT id AS host_id FROM public.agents", "reads public.agents"},
      {"SELECT id AS host_id FROM \"public\".\"agents\"", "reads public.agents"},
      {"SELECT id AS host_id FROM PUBLIC.Agents", "reads public.agents"},
      {"SELECT h.host_id FROM hosts h WHERE EXISTS (SELECT 1 FROM public.agents a WHERE a.id = "
       "h.host_id AND a.revoked_at IS NOT NULL)",
       "reads public.agents"},
      {"SELECT id AS host_id FROM agents", "does not exist"},
      {"SELECT \"id\" AS host_id FROM \"agents\"", "does not exist"},
      {"SELECT 1 AS host_id FROM pg_catalog.pg_authid", "reads pg_catalog.pg_authid"},
      {"SELECT pid AS host_id FROM pg_stat_activity", "reads pg_catalog.pg_stat_activity"},
      {"SELECT 1 AS host_id FROM information_schema.tables", "information_schema"},
      {"SELECT host_id FROM pg_temp.dozor_scope_hosts", "reads pg_temp"},
      {"SELECT host_id FROM hosts WHERE 'public.agents'::regclass IS NOT NULL", "type regclass"},
      {"SELECT host_id FROM hosts WHERE CAST('agents' AS regclass) IS NOT NULL", "does not exist"},
      {"SELECT host_id FROM hosts WHERE CAST('hosts' AS regclass) IS NOT NULL",
       "type regclass is not allowed"},
      {"SELECT host_id, pg_catalog.pg_sleep(1) AS s FROM hosts", "pg_sleep() is not allowed"},
      {"SELECT host_id, \"pg_sleep\"(1) AS s FROM hosts", "pg_sleep() is not allowed"},
      {"SELECT host_id, public.version_compare('1', '2') AS s FROM hosts", "does not exist"},
      {"SELECT host_id, txid_current() AS s FROM hosts", "txid_current() is not allowed"},
      {"SELECT host_id FROM hosts, LATERAL generate_series(1, 10) AS g",
       "generate_series() is not allowed"},
      {"SELECT host_id FROM hosts; DELETE FROM hosts", "multiple commands"},
      {"WITH d AS (DELETE FROM pg_temp.dozor_scope_hosts RETURNING host_id) SELECT host_id "
       "FROM d",
       "data-modifying"},
      {"SELECT host_id FROM hosts FOR SHARE", "FOR UPDATE/SHARE"},
      {"TABLE hosts", "only SELECT"},
      {"EXPLAIN SELECT host_id FROM hosts", "only SELECT"},
      {"SELECT $$x$$ AS host_id", "named parameters"},
  };
  for (const Refusal& refusal : refused) {
    const std::string text = refusal.sql;
    CAPTURE(text);
    auto prepared = session->PrepareRule(refusal.sql);
    REQUIRE_FALSE(prepared.ok());
    CHECK(prepared.error().code == ErrorCode::kInvalidArgument);
    CHECK_MESSAGE(prepared.error().message.find(refusal.message) != std::string::npos,
                  prepared.error().message);
  }
  // Not inside a snapshot: the check needs a read-write transaction of its own.
  Ok(session->BeginSnapshot());
  auto in_snapshot = session->PrepareRule("SELECT host_id FROM hosts");
  REQUIRE_FALSE(in_snapshot.ok());
  CHECK(in_snapshot.error().code == ErrorCode::kFailedPrecondition);
  Ok(session->EndSnapshot());
  // The error offset points into the rule's own text (after :name became $n).
  int offset = -1;
  const std::string bad = "SELECT host_id FROM hosts WHERE host_id = :id AND nosuchcolumn = 1";
  REQUIRE_FALSE(session->PrepareRule(bad, &offset).ok());
  CHECK(offset == static_cast<int>(bad.find("nosuchcolumn")));
  // A session cannot write even its own temp objects through rule SQL, and stays read-only.
  auto fine =
      Ok(session->PrepareRule("SELECT host_id, lower(hostname) AS h, "
                              "length(agent_id) AS n FROM hosts ORDER BY hostname"));
  CHECK(fine->views_read() == std::set<std::string>{"hosts"});
}

}  // namespace
}  // namespace dozor::server
