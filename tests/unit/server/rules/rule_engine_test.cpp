#include "rules/rule_engine.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "dozor/common/sqlite.hpp"
#include "store/sqlite/sqlite_fact_source.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::server::rules {
namespace {

using dozor::testing::TempDir;

constexpr int64_t kNow = 1'700'000'000'000;
constexpr int64_t kMinute = 60'000;

// A rule file with every required field; `body` adds scope, params, condition, sustain.
std::string RuleToml(const std::string& id, const std::string& body) {
  return "id = \"" + id + "\"\n" +
         "category = \"hardware\"\nseverity = \"high\"\ncontracts = [\"technical\"]\n"
         "effort = \"1h\"\n"
         "title.en = \"T\"\ntitle.ru = \"Т\"\nwhy.en = \"W\"\nwhy.ru = \"П\"\n"
         "remediation.en = \"R\"\nremediation.ru = \"Р\"\n" +
         body;
}

Rule MustParse(const std::string& id, const std::string& body) {
  auto rule = ParseRule(RuleToml(id, body), id + ".toml");
  REQUIRE_MESSAGE(rule.ok(), (rule.ok() ? "" : rule.error().message));
  return std::move(rule).value();
}

const char* kDiskRule = R"(scope = "host"
condition = '''
SELECT host_id, mount, round(min(used_pct), 1) AS used_pct
FROM health_fs
WHERE at_ms >= :now_ms - :window_min * 60000
GROUP BY host_id, mount
HAVING count(*) >= 3 AND min(used_pct) > :fire_pct
'''
sustain = '''
SELECT host_id, mount, round(max(used_pct), 1) AS used_pct FROM health_fs
WHERE at_ms >= :now_ms - :window_min * 60000 GROUP BY host_id, mount
HAVING max(used_pct) >= :clear_pct
'''
[params]
fire_pct = 90
clear_pct = 85
window_min = 15
)";

const char* kOpensslRule = R"(scope = "host"
condition = '''
SELECT host_id, name, version FROM packages
WHERE name = 'openssl' AND version_compare(version, :min_version) < 0
'''
[params]
min_version = "3.0"
)";

const char* kDuplicateIpRule = R"(scope = "estate"
condition = '''
SELECT h.org_id, x.address, text_list(h.hostname) AS hosts
FROM addresses x JOIN hosts h USING (host_id)
WHERE x.loopback = 0
GROUP BY h.org_id, x.address HAVING count(DISTINCT x.host_id) > 1
'''
)";

// Many rows for one host: evidence is capped per target.
const char* kManyRowsRule = R"(scope = "host"
condition = '''
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
SELECT h.host_id, n.i FROM hosts h, n WHERE h.hostname = 'h1'
'''
)";

// A small estate: org acme with h1, h2 and revoked h4; org beta with h3.
struct Estate {
  TempDir dir;
  std::string path;
  int64_t acme = 0, beta = 0;
  std::map<std::string, int64_t> host;  // hostname -> agents.id

  Estate() {
    path = (dir / "dozor.db").string();
    SqliteStoreOptions options;
    options.path = path;
    options.background_checkpoint = false;
    auto store = OpenSqliteStore(options);
    REQUIRE_MESSAGE(store.ok(), (store.ok() ? "" : store.error().ToString()));
    acme = MakeOrg(**store, "acme");
    beta = MakeOrg(**store, "beta");
    for (auto [name, org] : {std::pair{"h1", acme}, {"h2", acme}, {"h3", beta}, {"h4", acme}}) {
      NewEnrollmentToken token;
      token.org_id = org;
      token.token_hash = std::string("token-") + name;
      REQUIRE((*store)->CreateEnrollmentToken(token).ok());
      NewAgent agent;
      agent.agent_id = std::string("agent-") + name;
      agent.secret_hash = "SECRET";
      agent.hostname = name;
      REQUIRE((*store)->EnrollAgent(token.token_hash, agent, kNow - 3600'000).ok());
    }
    REQUIRE((*store)->RevokeAgent("agent-h4", kNow - kMinute).ok());
    store->reset();

    auto db = sqlite::Database::Open(path);
    REQUIRE(db.ok());
    auto ids = db->Prepare("SELECT hostname, id FROM agents");
    REQUIRE(ids.ok());
    while (*ids->Step()) {
      host[ids->Text(0)] = ids->Int(1);
    }
    auto fs = db->Prepare(
        "INSERT INTO rule_health_fs(agent, mount, at, device, fs_type, total_bytes, avail_bytes,"
        " used_pct, inodes_total, inodes_used_pct) VALUES (?1, '/', ?2, 'sda1', 'ext4', 100, 5,"
        " ?3, 1000, 10)");
    REQUIRE(fs.ok());
    for (auto [name, pct] : {std::pair{"h1", 95.0}, {"h2", 87.0}, {"h3", 50.0}, {"h4", 99.0}}) {
      for (int m = 0; m < 20; ++m) {
        fs->Reset();
        fs->Bind(1, host[name]).Bind(2, kNow - m * kMinute).Bind(3, pct);
        REQUIRE(fs->Run().ok());
      }
    }
    // Ingest keeps agents.last_health_at; this estate writes the window directly, so it sets
    // it too: every host reported just now (a stale host's window rules are skipped).
    auto fresh = db->Prepare("UPDATE agents SET last_health_at = ?1");
    REQUIRE(fresh.ok());
    fresh->Bind(1, kNow);
    REQUIRE(fresh->Run().ok());
    auto pkg = db->Prepare(
        "INSERT INTO host_packages(agent, name, version, architecture, source, vendor, "
        "install_time) VALUES (?1, 'openssl', ?2, 'amd64', '', '', 0)");
    REQUIRE(pkg.ok());
    for (auto [name, version] : {std::pair{"h1", "1.1.1n-0+deb11u5"},
                                 {"h2", "3.0.11-1~deb12u2"},
                                 {"h3", "1.1.1w-0+deb11u1"},
                                 {"h4", "1.0.2"}}) {
      pkg->Reset();
      pkg->Bind(1, host[name]).Bind(2, version);
      REQUIRE(pkg->Run().ok());
    }
    auto addr = db->Prepare(
        "INSERT INTO host_addresses(agent, interface, address, prefix, family, loopback) "
        "VALUES (?1, 'eth0', ?2, 24, 4, 0)");
    REQUIRE(addr.ok());
    for (auto [name, ip] : {std::pair{"h1", "10.0.0.5"},
                            {"h2", "10.0.0.5"},
                            {"h3", "10.0.0.5"},
                            {"h4", "10.0.0.9"}}) {
      addr->Reset();
      addr->Bind(1, host[name]).Bind(2, ip);
      REQUIRE(addr->Run().ok());
    }
  }

  static int64_t MakeOrg(SqliteStore& store, const std::string& name) {
    Organization org;
    org.name = name;
    auto created = store.CreateOrganization(org);
    REQUIRE(created.ok());
    return created->id;
  }
};

RulePack PackOf(std::vector<Rule> rules) {
  RulePack pack;
  pack.rules = std::move(rules);
  return pack;
}

std::unique_ptr<RuleEngine> OpenEngine(const Estate& estate, RulePack pack,
                                       const EngineOptions& options = {}) {
  auto facts = MakeSqliteFactSource(estate.path);
  auto engine = RuleEngine::Open(*facts, std::move(pack), options);
  REQUIRE_MESSAGE(engine.ok(), (engine.ok() ? "" : engine.error().ToString()));
  return std::move(engine).value();
}

std::vector<RuleHit> HitsOf(const EvaluationResult& result, const std::string& rule_id) {
  std::vector<RuleHit> hits;
  for (const RuleHit& hit : result.hits) {
    if (hit.rule_id == rule_id) {
      hits.push_back(hit);
    }
  }
  return hits;
}

std::string ErrorsOf(const RulePack& pack) {
  std::string out;
  for (const auto& error : pack.errors) {
    out += error.ToString() + "\n";
  }
  return out;
}

TEST_CASE("engine fires per-host rules with evidence, sustain-only hits and live hosts only") {
  Estate estate;
  auto engine = OpenEngine(estate, PackOf({MustParse("disk-space-low", kDiskRule),
                                           MustParse("old-openssl", kOpensslRule)}));
  REQUIRE_MESSAGE(engine->pack().errors.empty(), ErrorsOf(engine->pack()));
  auto all = engine->EvaluateAll(kNow);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  const EvaluationResult& hosts = (*all)[0];
  CHECK(hosts.scope == RuleScope::kHost);
  CHECK(hosts.rule_errors.empty());
  CHECK(hosts.targets ==
        std::vector<int64_t>{estate.host["h1"], estate.host["h2"], estate.host["h3"]});
  auto disk = HitsOf(hosts, "disk-space-low");
  REQUIRE(disk.size() == 2);
  std::map<int64_t, RuleHit> by_host;
  for (const auto& hit : disk) {
    by_host[*hit.host_id] = hit;
  }
  REQUIRE(by_host.count(estate.host["h1"]) == 1);
  const RuleHit& h1 = by_host[estate.host["h1"]];
  CHECK_FALSE(h1.sustain_only);
  CHECK(h1.org_id == estate.acme);
  CHECK(h1.evidence_json == R"([{"mount":"/","used_pct":95.0}])");
  REQUIRE(by_host.count(estate.host["h2"]) == 1);
  CHECK(by_host[estate.host["h2"]].sustain_only);  // 87 %: between clear and fire
  CHECK(by_host.count(estate.host["h4"]) == 0);    // revoked

  auto openssl = HitsOf(hosts, "old-openssl");
  std::set<int64_t> openssl_hosts;
  for (const auto& hit : openssl) {
    openssl_hosts.insert(*hit.host_id);
    CHECK_FALSE(hit.sustain_only);
  }
  CHECK(openssl_hosts == std::set<int64_t>{estate.host["h1"], estate.host["h3"]});
}

TEST_CASE("engine evaluates estate rules per organisation") {
  Estate estate;
  auto engine = OpenEngine(estate, PackOf({MustParse("duplicate-ip", kDuplicateIpRule)}));
  REQUIRE_MESSAGE(engine->pack().errors.empty(), ErrorsOf(engine->pack()));
  auto all = engine->EvaluateAll(kNow);
  REQUIRE(all.ok());
  const EvaluationResult& orgs = (*all)[1];
  CHECK(orgs.scope == RuleScope::kEstate);
  CHECK(orgs.targets == std::vector<int64_t>{estate.acme, estate.beta});
  REQUIRE(orgs.hits.size() == 1);  // beta has the same address only once
  CHECK(orgs.hits[0].org_id == estate.acme);
  CHECK_FALSE(orgs.hits[0].host_id.has_value());
  CHECK(orgs.hits[0].evidence_json == R"([{"address":"10.0.0.5","hosts":"h1,h2"}])");

  auto acme = engine->EvaluateOrganization(estate.acme, kNow);
  REQUIRE(acme.ok());
  CHECK(acme->targets == std::vector<int64_t>{estate.acme});
  REQUIRE(acme->hits.size() == 1);
  CHECK(acme->hits[0].evidence_json == orgs.hits[0].evidence_json);
  auto beta = engine->EvaluateOrganization(estate.beta, kNow);
  REQUIRE(beta.ok());
  CHECK(beta->rule_ids == std::vector<std::string>{"duplicate-ip"});
  CHECK(beta->hits.empty());
  CHECK_FALSE(engine->EvaluateOrganization(999, kNow).ok());
}

TEST_CASE("scoped per-host evaluation agrees with full evaluation") {
  Estate estate;
  auto engine = OpenEngine(estate, PackOf({MustParse("disk-space-low", kDiskRule),
                                           MustParse("old-openssl", kOpensslRule)}));
  auto all = engine->EvaluateAll(kNow);
  REQUIRE(all.ok());
  for (const auto& [name, id] : estate.host) {
    auto one = engine->EvaluateHost(id, kNow);
    REQUIRE(one.ok());
    std::vector<std::string> from_all;
    std::vector<std::string> from_one;
    for (const RuleHit& hit : (*all)[0].hits) {
      if (hit.host_id == id) {
        from_all.push_back(hit.rule_id + hit.evidence_json + std::to_string(hit.sustain_only));
      }
    }
    for (const RuleHit& hit : one->hits) {
      CHECK(hit.host_id == id);
      from_one.push_back(hit.rule_id + hit.evidence_json + std::to_string(hit.sustain_only));
    }
    std::sort(from_all.begin(), from_all.end());
    std::sort(from_one.begin(), from_one.end());
    CHECK_MESSAGE(from_all == from_one, name);
    if (name == "h4") {
      CHECK(one->targets.empty());  // revoked: nothing to evaluate
    } else {
      CHECK(one->targets == std::vector<int64_t>{id});
      CHECK(one->rule_ids.size() == 2);
    }
  }
}

TEST_CASE("health-only and inventory-only filters pick rules by the views they read") {
  Estate estate;
  auto last_seen = MustParse("host-silent", R"(scope = "host"
condition = "SELECT host_id FROM hosts WHERE last_seen_ms < :now_ms - 3600000"
)");
  auto engine = OpenEngine(estate, PackOf({MustParse("disk-space-low", kDiskRule),
                                           MustParse("old-openssl", kOpensslRule), last_seen}));
  CHECK(engine->IsHealthRule("disk-space-low"));
  CHECK(engine->IsHealthRule("host-silent"));
  CHECK_FALSE(engine->IsHealthRule("old-openssl"));
  CHECK(engine->ViewsReadBy("old-openssl") == std::set<std::string>{"packages"});
  CHECK(engine->ViewsReadBy("disk-space-low") == std::set<std::string>{"health_fs"});
  auto health = engine->EvaluateHost(estate.host["h1"], kNow, RuleFilter::kHealthOnly);
  REQUIRE(health.ok());
  CHECK(health->rule_ids == std::vector<std::string>{"disk-space-low", "host-silent"});
  auto inventory = engine->EvaluateHost(estate.host["h1"], kNow, RuleFilter::kInventoryOnly);
  REQUIRE(inventory.ok());
  CHECK(inventory->rule_ids == std::vector<std::string>{"old-openssl"});
}

TEST_CASE("rules that write, attach, use pragmas or read tables directly are refused at load") {
  Estate estate;
  std::vector<Rule> rules = {
      MustParse("writes", "scope = \"host\"\ncondition = \"DELETE FROM main.agents\"\n"),
      MustParse("attaches", "scope = \"host\"\ncondition = \"ATTACH DATABASE '/tmp/x' AS x\"\n"),
      MustParse("pragma", "scope = \"host\"\ncondition = \"PRAGMA table_info(agents)\"\n"),
      MustParse("secret",
                "scope = \"host\"\ncondition = \"SELECT id AS host_id, secret_hash FROM "
                "main.agents\"\n"),
      MustParse("secret-cte",
                "scope = \"host\"\ncondition = '''\nWITH hosts AS (SELECT id AS host_id, "
                "secret_hash FROM main.agents)\nSELECT host_id, secret_hash FROM hosts'''\n"),
      MustParse("schema",
                "scope = \"host\"\ncondition = \"SELECT 1 AS host_id, sql FROM "
                "sqlite_master\"\n"),
      MustParse("extension",
                "scope = \"host\"\ncondition = \"SELECT host_id, load_extension('x') FROM "
                "hosts\"\n"),
      MustParse("two-statements",
                "scope = \"host\"\ncondition = \"SELECT host_id FROM hosts; SELECT 1\"\n"),
      MustParse("no-key", "scope = \"host\"\ncondition = \"SELECT hostname FROM hosts\"\n"),
      MustParse("estate-no-org", "scope = \"estate\"\ncondition = \"SELECT host_id FROM hosts\"\n"),
      MustParse("unknown-param",
                "scope = \"host\"\ncondition = \"SELECT host_id FROM hosts WHERE 1 > :limit\"\n"),
      MustParse("bad-sustain",
                "scope = \"host\"\ncondition = \"SELECT host_id FROM hosts\"\n"
                "sustain = '''\nSELECT host_id\nFROM hosts WHERE nowhere = 1\n'''\n"),
      MustParse("good", "scope = \"host\"\ncondition = \"SELECT host_id FROM hosts\"\n"),
  };
  auto engine = OpenEngine(estate, PackOf(rules));
  const RulePack& pack = engine->pack();
  REQUIRE(pack.rules.size() == 1);
  CHECK(pack.rules[0].id == "good");
  std::map<std::string, RuleLoadError> errors;
  for (const auto& error : pack.errors) {
    errors[error.source] = error;
  }
  CHECK(errors.size() == rules.size() - 1);
  auto message = [&errors](const std::string& id) { return errors[id + ".toml"].message; };
  CHECK(message("writes").find("only SELECT") != std::string::npos);
  CHECK(message("attaches").find("ATTACH") != std::string::npos);
  CHECK(message("pragma").find("PRAGMA") != std::string::npos);
  CHECK(message("secret").find("main.agents") != std::string::npos);
  CHECK(message("secret-cte").find("main.agents.secret_hash") != std::string::npos);
  CHECK(message("schema").find("sqlite_master") != std::string::npos);
  CHECK(message("extension").find("load_extension") != std::string::npos);
  CHECK(message("two-statements").find("one SELECT") != std::string::npos);
  CHECK(message("no-key").find("host_id") != std::string::npos);
  CHECK(message("estate-no-org").find("org_id") != std::string::npos);
  CHECK(message("unknown-param").find(":limit") != std::string::npos);
  // The error points at the SQL line inside the file: sustain text starts on line 15 (the
  // header takes 11 lines, condition 13, sustain = ''' 14) and "nowhere" is on its 2nd line.
  const RuleLoadError& sustain = errors["bad-sustain.toml"];
  CHECK(sustain.message.find("sustain") != std::string::npos);
  CHECK(sustain.message.find("nowhere") != std::string::npos);
  CHECK(sustain.line == 16);
  CHECK(sustain.column == 18);
  CHECK(sustain.ToString().rfind("bad-sustain.toml:16:18: sustain:", 0) == 0);

  auto all = engine->EvaluateAll(kNow);
  REQUIRE(all.ok());
  CHECK(HitsOf((*all)[0], "good").size() == 3);
}

TEST_CASE("a runaway rule hits the deadline while other rules still run") {
  Estate estate;
  auto runaway = MustParse("runaway", R"(scope = "host"
condition = '''
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000000)
SELECT max(i) AS host_id FROM n
'''
)");
  EngineOptions options;
  options.statement_timeout_ms = 200;
  auto engine = OpenEngine(estate,
                           PackOf({MustParse("disk-space-low", kDiskRule), runaway,
                                   MustParse("old-openssl", kOpensslRule)}),
                           options);
  auto started = std::chrono::steady_clock::now();
  auto all = engine->EvaluateAll(kNow);
  auto elapsed = std::chrono::steady_clock::now() - started;
  REQUIRE(all.ok());
  CHECK(elapsed < std::chrono::seconds(2));
  const EvaluationResult& hosts = (*all)[0];
  REQUIRE(hosts.rule_errors.size() == 1);
  CHECK(hosts.rule_errors[0].find("runaway") != std::string::npos);
  CHECK(hosts.rule_errors[0].find("deadline") != std::string::npos);
  // The failed rule is not reported as evaluated, so its findings are left alone.
  CHECK(hosts.rule_ids == std::vector<std::string>{"disk-space-low", "old-openssl"});
  CHECK(HitsOf(hosts, "disk-space-low").size() == 2);
  auto one = engine->EvaluateHost(estate.host["h1"], kNow);
  REQUIRE(one.ok());
  CHECK(one->rule_errors.size() == 1);
  CHECK(HitsOf(*one, "old-openssl").size() == 1);
}

TEST_CASE("evidence is capped per target and rows keyed to no live target are ignored") {
  Estate estate;
  EngineOptions options;
  auto engine = OpenEngine(estate, PackOf({MustParse("many-rows", kManyRowsRule)}), options);
  auto all = engine->EvaluateAll(kNow);
  REQUIRE(all.ok());
  auto hits = HitsOf((*all)[0], "many-rows");
  REQUIRE(hits.size() == 1);
  auto evidence = nlohmann::json::parse(hits[0].evidence_json);
  CHECK(evidence.size() == 20);
  CHECK(evidence[0]["i"] == 1);

  // A million distinct keys: only the live hosts among them become hits, and nothing is kept
  // for the others (memory stays bounded by targets x evidence rows).
  auto keys = OpenEngine(estate, PackOf({MustParse("million-keys", R"(scope = "host"
condition = '''
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)
SELECT i AS host_id FROM n
'''
)")}));
  auto result = keys->EvaluateAll(kNow);
  REQUIRE(result.ok());
  CHECK((*result)[0].rule_errors.empty());
  CHECK(HitsOf((*result)[0], "million-keys").size() == 3);  // h1, h2, h3; h4 is revoked
}

TEST_CASE("one client's huge result does not fail a rule for every other client") {
  // One host with 250,000 uid-0 accounts (five such hosts' worth) next to ordinary hosts of two
  // clients: the rule still runs and fires everywhere it should.
  Estate estate;
  {
    auto db = sqlite::Database::Open(estate.path);
    REQUIRE(db.ok());
    REQUIRE(db->Exec("BEGIN").ok());
    auto user = db->Prepare(
        "INSERT INTO host_users(agent, name, uid, shell, home, administrator) "
        "VALUES (?1, ?2, 0, '/bin/sh', '/root', 1)");
    REQUIRE(user.ok());
    bool inserted = true;
    for (int i = 0; i < 250000 && inserted; ++i) {
      user->Reset();
      user->Bind(1, estate.host["h1"]).Bind(2, "root" + std::to_string(i));
      inserted = user->Run().ok();
    }
    REQUIRE(inserted);
    for (const char* name : {"h2", "h3"}) {
      user->Reset();
      user->Bind(1, estate.host[name]).Bind(2, std::string("root"));
      REQUIRE(user->Run().ok());
    }
    REQUIRE(db->Exec("COMMIT").ok());
  }
  auto engine = OpenEngine(estate, PackOf({MustParse("root-accounts", R"(scope = "host"
condition = '''
SELECT host_id, name FROM users WHERE uid = 0
'''
)")}));
  auto all = engine->EvaluateAll(kNow);
  REQUIRE(all.ok());
  CHECK((*all)[0].rule_errors.empty());
  auto hits = HitsOf((*all)[0], "root-accounts");
  REQUIRE(hits.size() == 3);
  for (const RuleHit& hit : hits) {
    auto evidence = nlohmann::json::parse(hit.evidence_json);
    CHECK(evidence.size() == (hit.host_id == estate.host["h1"] ? 20U : 1U));
  }
}

TEST_CASE("engine sees data committed after it was opened") {
  Estate estate;
  auto engine = OpenEngine(estate, PackOf({MustParse("old-openssl", kOpensslRule)}));
  auto before = engine->EvaluateHost(estate.host["h2"], kNow);
  REQUIRE(before.ok());
  CHECK(before->hits.empty());
  auto db = sqlite::Database::Open(estate.path);
  REQUIRE(db.ok());
  REQUIRE(db->Exec("UPDATE host_packages SET version = '1.1.0' WHERE agent = " +
                   std::to_string(estate.host["h2"]))
              .ok());
  auto after = engine->EvaluateHost(estate.host["h2"], kNow);
  REQUIRE(after.ok());
  CHECK(after->hits.size() == 1);
}

TEST_CASE("opening an engine on a missing store file fails cleanly") {
  TempDir dir;
  auto facts = MakeSqliteFactSource((dir / "missing.db").string());
  auto engine = RuleEngine::Open(*facts, RulePack{});
  CHECK_FALSE(engine.ok());
}

TEST_CASE("a host without fresh health samples keeps its window findings instead of clearing") {
  Estate estate;
  // h3 (never over the line) stops reporting: its newest sample is an hour old.
  {
    auto db = sqlite::Database::Open(estate.path);
    REQUIRE(db.ok());
    auto stale = db->Prepare("UPDATE agents SET last_health_at = ?1 WHERE id = ?2");
    REQUIRE(stale.ok());
    stale->Bind(1, kNow - 60 * kMinute).Bind(2, estate.host["h3"]);
    REQUIRE(stale->Run().ok());
  }
  auto engine = OpenEngine(estate, PackOf({MustParse("disk-space-low", kDiskRule),
                                           MustParse("old-openssl", kOpensslRule)}));
  // Per host: the window rule is not evaluated at all (its findings stay as they are); the
  // inventory rule still is.
  auto one = engine->EvaluateHost(estate.host["h3"], kNow);
  REQUIRE(one.ok());
  CHECK(one->rule_ids == std::vector<std::string>{"old-openssl"});
  // Whole estate: an active window finding of the stale host gets a keep-as-is hit (sustain-only,
  // no evidence); a fresh host without a hit is still cleared normally.
  ActiveTargets active{{"disk-space-low", {estate.host["h3"]}}};
  auto all = engine->EvaluateAll(kNow, &active);
  REQUIRE(all.ok());
  auto disk = HitsOf((*all)[0], "disk-space-low");
  bool kept = false;
  for (const RuleHit& hit : disk) {
    if (hit.host_id == estate.host["h3"]) {
      kept = true;
      CHECK(hit.sustain_only);
      CHECK(hit.evidence_json.empty());
    }
  }
  CHECK(kept);
}

TEST_CASE("a rule that names a store table is refused even inside a CTE named like a view") {
  Estate estate;
  auto engine = OpenEngine(estate, PackOf({MustParse("sneaky", R"(scope = "host"
condition = '''
WITH hosts AS (SELECT id AS host_id, revoked_at FROM agents)
SELECT host_id FROM hosts WHERE revoked_at IS NOT NULL
'''
)")}));
  REQUIRE(engine->pack().errors.size() == 1);
  CHECK(engine->pack().errors[0].message.find("agents") != std::string::npos);
  CHECK(engine->pack().rules.empty());
}

TEST_CASE("a store table named as a 'string' is refused, also inside a CTE named like a view") {
  // SQLite takes a string token where a table name belongs: FROM 'agents' read every
  // organisation's hosts, revoked ones too, past the fact views and the evaluation's scope.
  Estate estate;
  auto engine = OpenEngine(estate, PackOf({MustParse("quoted-cte", R"(scope = "host"
condition = '''
WITH hosts AS (SELECT id AS host_id, revoked_at FROM 'agents')
SELECT host_id FROM hosts WHERE revoked_at IS NOT NULL
'''
)"),
                                           MustParse("quoted-count", R"(scope = "estate"
condition = '''
SELECT o.org_id, (SELECT count(*) FROM 'main'.'agents') AS everyone FROM hosts o
'''
)"),
                                           MustParse("legit-string", R"(scope = "host"
condition = '''
SELECT host_id, mount FROM health_fs_latest WHERE mount <> 'main' AND fs_type <> 'temp'
'''
)")}));
  std::map<std::string, std::string> errors;
  for (const auto& error : engine->pack().errors) {
    errors[error.source] = error.message;
  }
  REQUIRE(errors.size() == 2);
  CHECK(errors["quoted-cte.toml"].find("agents") != std::string::npos);
  CHECK(errors["quoted-count.toml"].find("main") != std::string::npos);
  REQUIRE(engine->pack().rules.size() == 1);
  CHECK(engine->pack().rules[0].id == "legit-string");
}

TEST_CASE("one rule expression cannot allocate without bound: it fails, the others run") {
  Estate estate;
  // Ten nested replace() calls would build a 10 GB string from "h1" before the deadline (checked
  // between steps, not inside a function call) could stop it.
  std::string expression = "hostname";
  for (int i = 0; i < 10; ++i) {
    expression = "replace(" + expression + ", 'h', 'hhhhhhhhhh')";
  }
  auto engine =
      OpenEngine(estate,
                 PackOf({MustParse("balloon",
                                   "scope = \"host\"\ncondition = '''\nSELECT host_id, "
                                   "length(" +
                                       expression + ") AS n FROM hosts\n'''\n"),
                         MustParse("list-balloon", R"(scope = "estate"
condition = '''
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000000)
SELECT h.org_id, length(text_list(h.hostname || n.i || 'xxxxxxxx')) AS n FROM hosts h, n
GROUP BY h.org_id
'''
)"),
                         MustParse("old-openssl", kOpensslRule)}),
                 // Only the size limit may stop them here, not the deadline of a busy test machine.
                 EngineOptions{.statement_timeout_ms = 60000});
  REQUIRE(engine->pack().errors.empty());
  auto all = engine->EvaluateAll(kNow);
  REQUIRE(all.ok());
  const EvaluationResult& hosts = (*all)[0];
  REQUIRE(hosts.rule_errors.size() == 1);
  CHECK(hosts.rule_errors[0].find("balloon") != std::string::npos);
  CHECK(hosts.rule_errors[0].find("too big") != std::string::npos);
  CHECK(HitsOf(hosts, "old-openssl").size() == 2);
  const EvaluationResult& orgs = (*all)[1];
  REQUIRE(orgs.rule_errors.size() == 1);
  CHECK(orgs.rule_errors[0].find("list-balloon") != std::string::npos);
  CHECK(orgs.rule_errors[0].find("too big") != std::string::npos);
}

}  // namespace
}  // namespace dozor::server::rules

namespace dozor::server::rules {
namespace {

// kDiskRule about each mount: h1 over the line, h2 only in the sustain range.
const std::string kDiskObjectRule = std::string("object = \"mount\"\n") + kDiskRule;

void AddMount(const std::string& path, int64_t host, const std::string& mount, double pct) {
  auto db = sqlite::Database::Open(path);
  REQUIRE(db.ok());
  auto fs = db->Prepare(
      "INSERT INTO rule_health_fs(agent, mount, at, device, fs_type, total_bytes, avail_bytes,"
      " used_pct, inodes_total, inodes_used_pct) VALUES (?1, ?2, ?3, 'sdb1', 'ext4', 100, 5,"
      " ?4, 1000, 10)");
  REQUIRE(fs.ok());
  for (int m = 0; m < 20; ++m) {
    fs->Reset();
    fs->Bind(1, host).Bind(2, mount).Bind(3, kNow - m * kMinute).Bind(4, pct);
    REQUIRE(fs->Run().ok());
  }
}

TEST_CASE("a rule with an object column gives one hit per object with that object's rows") {
  Estate estate;
  AddMount(estate.path, estate.host["h1"], "/var", 96.0);
  AddMount(estate.path, estate.host["h1"], "/home", 50.0);  // fine: no hit
  auto engine = OpenEngine(estate, PackOf({MustParse("disk-objects", kDiskObjectRule)}));
  auto all = engine->EvaluateAll(kNow);
  REQUIRE(all.ok());
  std::map<std::pair<int64_t, std::string>, RuleHit> by_object;
  for (const RuleHit& hit : HitsOf((*all)[0], "disk-objects")) {
    REQUIRE(hit.host_id.has_value());
    by_object[{*hit.host_id, hit.object}] = hit;
  }
  // h1: "/" and "/var" over the line; h2: "/" in the sustain range only.
  REQUIRE(by_object.size() == 3);
  const RuleHit& var = by_object.at({estate.host["h1"], "/var"});
  CHECK_FALSE(var.sustain_only);
  auto rows = nlohmann::json::parse(var.evidence_json);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["mount"] == "/var");  // the object column stays in the evidence
  CHECK(rows[0]["used_pct"] == 96.0);
  CHECK_FALSE(by_object.at({estate.host["h1"], "/"}).sustain_only);
  CHECK(by_object.at({estate.host["h2"], "/"}).sustain_only);

  // The per-host evaluation agrees.
  auto one = engine->EvaluateHost(estate.host["h1"], kNow);
  REQUIRE(one.ok());
  std::set<std::string> objects;
  for (const RuleHit& hit : one->hits) {
    objects.insert(hit.object);
  }
  CHECK(objects == std::set<std::string>{"/", "/var"});
}

TEST_CASE("an object column missing from the condition or the sustain rows refuses the rule") {
  Estate estate;
  auto engine = OpenEngine(estate, PackOf({MustParse("no-such-column", R"(scope = "host"
object = "interface"
condition = '''
SELECT host_id, mount FROM health_fs_latest WHERE used_pct > 90
'''
)"),
                                           MustParse("sustain-lacks-it", R"(scope = "host"
object = "mount"
condition = '''
SELECT host_id, mount FROM health_fs_latest WHERE used_pct > 90
'''
sustain = '''
SELECT host_id FROM health_fs_latest WHERE used_pct > 85
'''
)")}));
  CHECK(engine->pack().rules.empty());
  const std::string errors = ErrorsOf(engine->pack());
  CHECK(errors.find("no-such-column.toml") != std::string::npos);
  CHECK(errors.find("the object column 'interface' is not among the result columns") !=
        std::string::npos);
  CHECK(errors.find("sustain-lacks-it.toml") != std::string::npos);
  CHECK(errors.find("sustain:") != std::string::npos);
}

TEST_CASE("objects are capped per target and the rest are covered by a keep marker") {
  Estate estate;
  EngineOptions options;
  options.max_objects_per_target = 5;
  auto engine = OpenEngine(estate, PackOf({MustParse("many-objects", R"(scope = "host"
object = "i"
condition = '''
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
SELECT h.host_id, n.i FROM hosts h, n WHERE h.hostname = 'h1'
'''
)")}),
                           options);
  auto all = engine->EvaluateAll(kNow);
  REQUIRE(all.ok());
  auto hits = HitsOf((*all)[0], "many-objects");
  int listed = 0;
  int markers = 0;
  for (const RuleHit& hit : hits) {
    if (hit.sustain_only && hit.evidence_json.empty()) {
      ++markers;
      CHECK(hit.object.empty());
    } else {
      ++listed;
      CHECK_FALSE(hit.object.empty());
    }
  }
  CHECK(listed == 5);
  CHECK(markers == 1);
}

TEST_CASE("object names from a client machine are made printable and bounded") {
  Estate estate;
  AddMount(estate.path, estate.host["h3"], "/mnt/bad\nname\xff", 99.0);
  AddMount(estate.path, estate.host["h3"], "/" + std::string(400, 'x'), 99.0);
  auto engine = OpenEngine(estate, PackOf({MustParse("disk-objects", kDiskObjectRule)}));
  auto one = engine->EvaluateHost(estate.host["h3"], kNow);
  REQUIRE(one.ok());
  std::set<std::string> objects;
  for (const RuleHit& hit : one->hits) {
    objects.insert(hit.object);
  }
  CHECK(objects.count("/mnt/bad\\nname\\xff") == 1);
  CHECK(objects.count("/" + std::string(255, 'x')) == 1);
}

}  // namespace
}  // namespace dozor::server::rules
