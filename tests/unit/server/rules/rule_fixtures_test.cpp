// Rule fixtures: every tests/fixtures/rules/cases/*.toml describes a small estate (hosts built
// from the clean bases in tests/fixtures/rules/base/ plus text-format patches) and the exact set
// of rule ids the default pack must fire on it. The estate goes through the real ingest path
// (Store::CommitReports into a temp SQLite store) and the real engine (RuleEngine::EvaluateAll).
//
// Case file keys (see docs in design3 "Fixtures for rules"):
//   description, expect = [...], [[host]] name, base, inventory_patch, last_seen_minutes_ago,
//   inventory_minutes_ago, clock_offset_ms, [[host.health]] from_minutes_ago, to_minutes_ago,
//   every_minutes, patch.
// Two extensions this runner adds:
//   first_inventory_days_ago = N  the same inventory was also reported N days earlier (so the
//                                 store's "pending since" clocks start then);
//   first_inventory_patch = '...' applied on top of inventory_patch to that earlier inventory only
//                                 (hardware that changed since: the change log sees it);
//   failed_collectors = ["name"]  those collectors report ok = false in the inventory report;
//   expect_sustain = [...]        (top level) when present, exactly the rule ids whose only hit is
//                                 a sustain hit (hysteresis: would keep an open finding open).
// Times are relative to a fixed evaluation time (kNowMs) so dated rules (EOL table, BIOS age)
// give the same answer every year.
#include <doctest/doctest.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "dozor/v1/agent.pb.h"
#include "rules/rule.hpp"
#include "rules/rule_engine.hpp"
#include "store/sqlite/sqlite_fact_source.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::server::rules {
namespace {

using dozor::testing::FixturePath;
using dozor::testing::TempDir;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::TextFormat;

// 2026-11-01T12:00:00Z.
constexpr int64_t kNowMs = 1793534400000;
constexpr int64_t kMinuteMs = 60000;

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Applies `patch` (as parsed, with `tree` telling which fields the text actually mentioned) to
// `base`: mentioned scalars overwrite (even with 0/false/""), mentioned messages merge
// recursively, a mentioned repeated field replaces the base's whole list. Presence comes from
// the parse tree, not from proto3 field presence, so `reboot_required: false` still applies.
void MergeMentioned(Message* patch, const TextFormat::ParseInfoTree& tree, Message* base) {
  const auto* descriptor = patch->GetDescriptor();
  const auto* reflection = patch->GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    int index = field->is_repeated() ? 0 : -1;
    if (tree.GetLocation(field, index).line < 0) {
      continue;
    }
    if (!field->is_repeated() && field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      const TextFormat::ParseInfoTree* nested = tree.GetTreeForNested(field, -1);
      Message* patch_child = reflection->MutableMessage(patch, field);
      Message* base_child = base->GetReflection()->MutableMessage(base, field);
      if (nested != nullptr) {
        MergeMentioned(patch_child, *nested, base_child);
      }
      continue;
    }
    reflection->SwapFields(patch, base, {field});
  }
}

// Keeps parse errors for the failure message instead of logging them.
class CollectErrors : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    text += std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " + message + "; ";
  }
  std::string text;
};

// Parses `patch_text` as a T and applies it to `base`; error text on failure.
template <typename T>
std::string ApplyPatch(const std::string& patch_text, T* base) {
  if (patch_text.empty()) {
    return "";
  }
  T patch;
  TextFormat::ParseInfoTree tree;
  TextFormat::Parser parser;
  CollectErrors errors;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(patch_text, &patch)) {
    return "patch does not parse as " + T::descriptor()->full_name() + ": " + errors.text +
           "patch: " + patch_text;
  }
  MergeMentioned(&patch, tree, base);
  return "";
}

template <typename T>
std::string LoadBase(const std::string& relative, T* out) {
  auto path = FixturePath("rules/base/" + relative);
  if (!std::filesystem::exists(path)) {
    return "missing base " + path.string();
  }
  if (!TextFormat::ParseFromString(ReadText(path), out)) {
    return "base does not parse: " + path.string();
  }
  return "";
}

struct HealthSeries {
  int64_t from_minutes_ago = 30;
  int64_t to_minutes_ago = 0;
  int64_t every_minutes = 1;
  std::string patch;
};

struct FixtureHost {
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
  std::vector<HealthSeries> health;
};

struct FixtureCase {
  std::string file;
  std::string description;
  std::set<std::string> expect;
  std::optional<std::set<std::string>> expect_sustain;
  std::vector<FixtureHost> hosts;
};

// Typo-proofing: an unknown key in a case file is an error, not silently ignored.
std::string CheckKeys(const toml::table& table, const std::set<std::string>& allowed,
                      const std::string& where) {
  for (const auto& [key, value] : table) {
    (void)value;
    if (allowed.count(std::string(key.str())) == 0) {
      return where + ": unknown key '" + std::string(key.str()) + "'";
    }
  }
  return "";
}

std::string ParseCase(const std::filesystem::path& path, FixtureCase* out) {
  out->file = path.filename().string();
  toml::table root;
  try {
    root = toml::parse_file(path.string());
  } catch (const toml::parse_error& e) {
    std::ostringstream message;
    message << path.string() << ": " << e.description() << " at " << e.source().begin;
    return message.str();
  }
  if (auto bad = CheckKeys(root, {"description", "expect", "expect_sustain", "host"}, out->file);
      !bad.empty()) {
    return bad;
  }
  out->description = root["description"].value_or(std::string());
  if (out->description.empty()) {
    return out->file + ": description missing";
  }
  const toml::array* expect = root["expect"].as_array();
  if (expect == nullptr) {
    return out->file + ": expect missing";
  }
  for (const auto& item : *expect) {
    auto id = item.value<std::string>();
    if (!id) {
      return out->file + ": expect must be strings";
    }
    out->expect.insert(*id);
  }
  if (const toml::array* sustain = root["expect_sustain"].as_array()) {
    out->expect_sustain.emplace();
    for (const auto& item : *sustain) {
      out->expect_sustain->insert(item.value_or(std::string()));
    }
  }
  const toml::array* hosts = root["host"].as_array();
  if (hosts == nullptr || hosts->empty()) {
    return out->file + ": at least one [[host]] needed";
  }
  for (const auto& node : *hosts) {
    const toml::table* t = node.as_table();
    if (t == nullptr) {
      return out->file + ": [[host]] must be tables";
    }
    if (auto bad = CheckKeys(
            *t,
            {"name", "base", "inventory_patch", "last_seen_minutes_ago", "inventory_minutes_ago",
             "clock_offset_ms", "health", "first_inventory_days_ago", "first_inventory_patch",
             "failed_collectors", "agent_version"},
            out->file + " host");
        !bad.empty()) {
      return bad;
    }
    FixtureHost host;
    host.name = (*t)["name"].value_or(std::string());
    host.base = (*t)["base"].value_or(std::string());
    if (host.name.empty() || host.base.empty()) {
      return out->file + ": every host needs name and base";
    }
    host.inventory_patch = (*t)["inventory_patch"].value_or(std::string());
    host.last_seen_minutes_ago = (*t)["last_seen_minutes_ago"].value_or(int64_t{0});
    host.inventory_minutes_ago = (*t)["inventory_minutes_ago"].value_or(int64_t{5});
    host.clock_offset_ms = (*t)["clock_offset_ms"].value_or(int64_t{0});
    host.first_inventory_days_ago = (*t)["first_inventory_days_ago"].value_or(int64_t{0});
    host.first_inventory_patch = (*t)["first_inventory_patch"].value_or(std::string());
    host.agent_version = (*t)["agent_version"].value_or(std::string("1.0.0"));
    if (const toml::array* failed = (*t)["failed_collectors"].as_array()) {
      for (const auto& item : *failed) {
        host.failed_collectors.push_back(item.value_or(std::string()));
      }
    }
    if (const toml::array* series = (*t)["health"].as_array()) {
      for (const auto& s : *series) {
        const toml::table* st = s.as_table();
        if (st == nullptr) {
          return out->file + ": [[host.health]] must be tables";
        }
        if (auto bad =
                CheckKeys(*st, {"from_minutes_ago", "to_minutes_ago", "every_minutes", "patch"},
                          out->file + " host.health");
            !bad.empty()) {
          return bad;
        }
        HealthSeries h;
        h.from_minutes_ago = (*st)["from_minutes_ago"].value_or(int64_t{30});
        h.to_minutes_ago = (*st)["to_minutes_ago"].value_or(int64_t{0});
        h.every_minutes = (*st)["every_minutes"].value_or(int64_t{1});
        h.patch = (*st)["patch"].value_or(std::string());
        if (h.every_minutes <= 0 || h.from_minutes_ago < h.to_minutes_ago) {
          return out->file + ": bad health series range";
        }
        host.health.push_back(std::move(h));
      }
    } else {
      host.health.push_back(HealthSeries{});  // 30 calm minutes
    }
    out->hosts.push_back(std::move(host));
  }
  return "";
}

std::vector<std::filesystem::path> CaseFiles() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(FixturePath("rules/cases"))) {
    if (entry.path().extension() == ".toml") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

void AddCollector(dozor::v1::Report* report, const std::string& name,
                  const std::vector<std::string>& failed) {
  auto* status = report->add_collectors();
  status->set_name(name);
  bool fails = std::find(failed.begin(), failed.end(), name) != failed.end();
  status->set_ok(!fails);
  if (fails) {
    status->set_error(name + ": command timed out after 30 s");
  }
  status->set_duration_ms(40);
}

// The reports one host sends, in the order it sends them (collected_at order).
std::string BuildReports(const FixtureHost& host, const std::string& agent_id,
                         std::vector<IncomingReport>* out) {
  dozor::v1::Inventory inventory;
  if (auto bad = LoadBase(host.base + ".textproto", &inventory); !bad.empty()) {
    return bad;
  }
  inventory.mutable_os()->set_hostname(host.name);
  inventory.mutable_os()->set_fqdn(host.name + ".corp.example");
  if (auto bad = ApplyPatch(host.inventory_patch, &inventory); !bad.empty()) {
    return bad;
  }
  dozor::v1::HealthSample calm;
  if (auto bad = LoadBase("health-clean.textproto", &calm); !bad.empty()) {
    return bad;
  }
  // Everything the host did is shifted back by last_seen_minutes_ago: it stopped then.
  const int64_t host_now = kNowMs - host.last_seen_minutes_ago * kMinuteMs;
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
      AddCollector(&in.report, name, host.failed_collectors);
    }
    out->push_back(std::move(in));
  };
  if (host.first_inventory_days_ago > 0) {
    dozor::v1::Inventory first = inventory;
    if (auto bad = ApplyPatch(host.first_inventory_patch, &first); !bad.empty()) {
      return bad;
    }
    add_inventory(host_now - host.first_inventory_days_ago * 24 * 60 * kMinuteMs, first);
  }
  add_inventory(host_now - host.inventory_minutes_ago * kMinuteMs, inventory);
  for (const auto& series : host.health) {
    dozor::v1::HealthSample sample = calm;
    if (auto bad = ApplyPatch(series.patch, &sample); !bad.empty()) {
      return bad;
    }
    for (int64_t m = series.from_minutes_ago; m >= series.to_minutes_ago;
         m -= series.every_minutes) {
      IncomingReport in = make(host_now - m * kMinuteMs);
      *in.report.mutable_health() = sample;
      AddCollector(&in.report, "health", host.failed_collectors);
      out->push_back(std::move(in));
    }
  }
  std::stable_sort(out->begin(), out->end(), [](const IncomingReport& a, const IncomingReport& b) {
    return a.report.collected_at_ms() < b.report.collected_at_ms();
  });
  uint64_t seq = 0;
  for (auto& in : *out) {
    in.report.set_seq(++seq);
  }
  return "";
}

struct Outcome {
  std::string error;                     // setup problem (fixture or store), empty when it ran
  std::set<std::string> fired;           // rule ids with an opening (non-sustain) hit
  std::set<std::string> sustained;       // rule ids with only sustain hits
  std::vector<std::string> rule_errors;  // rules that failed at run time (never silently clear)
  std::string details;                   // every hit with its evidence, and any rule errors
};

Outcome RunCase(const FixtureCase& fixture) {
  Outcome outcome;
  TempDir dir;
  SqliteStoreOptions options;
  options.path = (dir / "dozor.db").string();
  options.background_checkpoint = false;  // no background pruning against the wall clock
  options.health_compact_interval_s = 0;
  auto store = OpenSqliteStore(options);
  if (!store.ok()) {
    outcome.error = store.error().ToString();
    return outcome;
  }
  Organization org;
  org.name = "fixture";
  auto created = (*store)->CreateOrganization(org);
  if (!created.ok()) {
    outcome.error = created.error().ToString();
    return outcome;
  }
  NewEnrollmentToken token;
  token.org_id = created->id;
  token.token_hash = "fixture-token-hash";
  token.hint = "fix";
  if (auto made = (*store)->CreateEnrollmentToken(token); !made.ok()) {
    outcome.error = made.error().ToString();
    return outcome;
  }
  std::map<int64_t, std::string> host_names;
  for (size_t i = 0; i < fixture.hosts.size(); ++i) {
    const FixtureHost& host = fixture.hosts[i];
    NewAgent agent;
    agent.agent_id = "agent-" + std::to_string(i + 1);
    agent.secret_hash = "secret-" + std::to_string(i + 1);
    agent.hostname = host.name;
    agent.agent_version = host.agent_version;
    agent.os = "linux";
    // Enrolled well before any report so "never reported" logic does not kick in.
    int64_t enrolled_at = kNowMs - (host.first_inventory_days_ago + 30) * 24 * 60 * kMinuteMs;
    if (auto enrolled = (*store)->EnrollAgent(token.token_hash, agent, enrolled_at);
        !enrolled.ok()) {
      outcome.error = enrolled.error().ToString();
      return outcome;
    }
    std::vector<IncomingReport> reports;
    if (auto bad = BuildReports(host, agent.agent_id, &reports); !bad.empty()) {
      outcome.error = fixture.file + ": " + bad;
      return outcome;
    }
    if (const char* keep = std::getenv("DOZOR_RULE_FIXTURE_DB"); keep != nullptr) {
      std::ofstream dump(std::filesystem::path(keep) / (fixture.file + ".jsonl"), std::ios::app);
      for (const auto& in : reports) {
        std::string json;
        (void)google::protobuf::util::MessageToJsonString(in.report, &json);
        dump << in.agent_id << "\t" << in.received_at_ms << "\t" << json << "\n";
      }
    }
    auto committed = (*store)->CommitReports(reports);
    if (!committed.ok()) {
      outcome.error = committed.error().ToString();
      return outcome;
    }
    for (const auto& result : *committed) {
      if (result.outcome != CommitOutcome::kStored) {
        outcome.error = fixture.file + ": report " + std::to_string(result.seq) +
                        " not stored: " + result.reason;
        return outcome;
      }
    }
    auto pk = (*store)->HostPk(agent.agent_id);
    if (pk.ok()) {
      host_names[*pk] = host.name;
    }
  }
  store->reset();  // everything is committed; the engine reads the file on its own connections
  // Debugging aid: DOZOR_RULE_FIXTURE_DB=<dir> keeps a copy of each case's database.
  if (const char* keep = std::getenv("DOZOR_RULE_FIXTURE_DB"); keep != nullptr) {
    std::error_code ec;
    std::filesystem::copy_file(options.path, std::filesystem::path(keep) / (fixture.file + ".db"),
                               std::filesystem::copy_options::overwrite_existing, ec);
  }
  auto facts = MakeSqliteFactSource(options.path);
  auto engine = RuleEngine::Open(*facts, LoadRulePack({}, true));
  if (!engine.ok()) {
    outcome.error = engine.error().ToString();
    return outcome;
  }
  for (const auto& error : (*engine)->pack().errors) {
    outcome.details += "  pack error: " + error.ToString() + "\n";
  }
  auto results = (*engine)->EvaluateAll(kNowMs);
  if (!results.ok()) {
    outcome.error = results.error().ToString();
    return outcome;
  }
  for (const auto& result : *results) {
    for (const auto& error : result.rule_errors) {
      outcome.details += "  rule error: " + error + "\n";
      outcome.rule_errors.push_back(error);
    }
    for (const auto& hit : result.hits) {
      std::string target = hit.host_id ? host_names[*hit.host_id] : "org";
      outcome.details += "  " + hit.rule_id + (hit.sustain_only ? " (sustain only)" : "") + " on " +
                         target + ": " + hit.evidence_json + "\n";
      if (!hit.sustain_only) {
        outcome.fired.insert(hit.rule_id);
      }
    }
    for (const auto& hit : result.hits) {
      if (hit.sustain_only && outcome.fired.count(hit.rule_id) == 0) {
        outcome.sustained.insert(hit.rule_id);
      }
    }
  }
  return outcome;
}

std::string Join(const std::set<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) {
    out += (out.empty() ? "" : ", ") + id;
  }
  return "[" + out + "]";
}

TEST_CASE("text-format patches overwrite scalars, merge messages and replace repeated fields") {
  dozor::v1::Inventory base;
  REQUIRE(LoadBase("clean-server.textproto", &base).empty());
  REQUIRE(base.hardware().disks_size() == 2);
  REQUIRE(base.os().reboot_required() == false);
  std::string bad = ApplyPatch(
      "os { version_id: \"10\" reboot_required: true clock_synchronized: 0 }\n"
      "hardware { disks { name: \"sdz\" rotational: true } }",
      &base);
  REQUIRE(bad.empty());
  CHECK(base.os().version_id() == "10");
  CHECK(base.os().reboot_required());
  CHECK(base.os().clock_synchronized() == 0);    // a zero in the patch still overwrites
  CHECK(base.os().id() == "debian");             // untouched sibling kept
  CHECK(base.hardware().cpu().threads() == 32);  // untouched message kept
  REQUIRE(base.hardware().disks_size() == 1);    // repeated: replaced, not appended
  CHECK(base.hardware().disks(0).name() == "sdz");
  CHECK(base.os().users_size() > 0);

  // An empty list in the patch clears the base's list.
  REQUIRE(ApplyPatch("network { dns_servers: [] }", &base).empty());
  CHECK(base.network().dns_servers_size() == 0);
  CHECK(base.network().interfaces_size() > 0);

  CHECK(!ApplyPatch("os { no_such_field: 1 }", &base).empty());
}

TEST_CASE("the built-in rule pack loads and prepares without errors") {
  RulePack pack = LoadRulePack({}, true);
  for (const auto& error : pack.errors) {
    FAIL_CHECK(error.ToString());
  }
  CHECK(pack.rules.size() >= 40);
  TempDir dir;
  SqliteStoreOptions options;
  options.path = (dir / "dozor.db").string();
  options.background_checkpoint = false;
  options.health_compact_interval_s = 0;
  {
    auto store = OpenSqliteStore(options);  // creates the schema
    REQUIRE(store.ok());
  }
  auto facts = MakeSqliteFactSource(options.path);
  auto engine = RuleEngine::Open(*facts, std::move(pack));
  REQUIRE_MESSAGE(engine.ok(), (engine.ok() ? "" : engine.error().ToString()));
  for (const auto& error : (*engine)->pack().errors) {
    FAIL_CHECK(error.ToString());
  }
}

TEST_CASE("every enabled built-in rule is tripped by at least one fixture case") {
  std::set<std::string> expected_somewhere;
  for (const auto& path : CaseFiles()) {
    FixtureCase fixture;
    std::string bad = ParseCase(path, &fixture);
    CHECK_MESSAGE(bad.empty(), bad);
    expected_somewhere.insert(fixture.expect.begin(), fixture.expect.end());
  }
  RulePack pack = LoadRulePack({}, true);
  for (const auto& rule : pack.rules) {
    if (rule.enabled) {
      CHECK_MESSAGE(expected_somewhere.count(rule.id) == 1,
                    "no fixture case expects rule " << rule.id);
    }
  }
  for (const auto& id : expected_somewhere) {
    CHECK_MESSAGE(pack.Find(id) != nullptr, "a case expects unknown rule " << id);
  }
}

TEST_CASE("each fixture estate trips exactly the expected rules") {
  auto files = CaseFiles();
  REQUIRE(!files.empty());
  const char* only = std::getenv("DOZOR_RULE_CASE");  // run one case: DOZOR_RULE_CASE=name
  for (const auto& path : files) {
    if (only != nullptr && path.stem().string().find(only) == std::string::npos) {
      continue;
    }
    FixtureCase fixture;
    std::string bad = ParseCase(path, &fixture);
    CAPTURE(path.filename().string());
    REQUIRE_MESSAGE(bad.empty(), bad);
    Outcome outcome = RunCase(fixture);
    if (!outcome.error.empty()) {
      FAIL_CHECK(fixture.file << ": " << outcome.error);
      continue;
    }
    for (const auto& error : outcome.rule_errors) {
      FAIL_CHECK(fixture.file << ": rule failed at run time: " << error);
    }
    CHECK_MESSAGE(outcome.fired == fixture.expect,
                  fixture.file << " (" << fixture.description << "): expected "
                               << Join(fixture.expect) << ", fired " << Join(outcome.fired) << "\n"
                               << outcome.details);
    if (fixture.expect_sustain) {
      CHECK_MESSAGE(outcome.sustained == *fixture.expect_sustain,
                    fixture.file << ": expected sustain-only " << Join(*fixture.expect_sustain)
                                 << ", got " << Join(outcome.sustained) << "\n"
                                 << outcome.details);
    }
  }
}

}  // namespace
}  // namespace dozor::server::rules
