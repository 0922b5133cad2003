// The hosts area's normalised inventory rows on PostgreSQL (pg_inventory_rows.hpp) against
// SQLite's: the same inventory committed on a SQLite store and written with ReplacePgHostRows
// must leave the same rows, in the same order, in every host_* table.
#include <doctest/doctest.h>
#include <google/protobuf/text_format.h>
#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "backends.hpp"
#include "dozor/common/sqlite.hpp"
#include "dozor/common/text.hpp"
#include "store/postgres/pg_inventory_rows.hpp"

namespace dozor::server {
namespace {

using dozor::testing::FixturePath;
using dozor::testing::MakeOrg;
using dozor::testing::Ok;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::TextFormat;

constexpr int64_t kInvCollectedAtMs = 1'796'212'800'000;

std::string InvReadText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// As rule_fixtures_test.cpp: mentioned scalars overwrite, mentioned messages merge, a mentioned
// repeated field replaces the base's list.
void InvMergeMentioned(Message* patch, const TextFormat::ParseInfoTree& tree, Message* base) {
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
        InvMergeMentioned(patch_child, *nested, base_child);
      }
      continue;
    }
    reflection->SwapFields(patch, base, {field});
  }
}

struct NamedInventory {
  std::string name;
  dozor::v1::Inventory inventory;
};

dozor::v1::Inventory InvLoadBase(const std::string& base) {
  dozor::v1::Inventory inventory;
  const auto path = FixturePath("rules/base/" + base + ".textproto");
  REQUIRE_MESSAGE(TextFormat::ParseFromString(InvReadText(path), &inventory), path.string());
  return inventory;
}

// The value of `key = "..."` or `key = '''...'''` in one [[host]] block of a case file (the only
// two TOML forms the cases use for these keys); empty when absent.
std::string InvTomlString(const std::string& block, const std::string& key) {
  std::istringstream lines(block);
  std::string line;
  size_t offset = 0;
  while (std::getline(lines, line)) {
    const size_t line_start = offset;
    offset += line.size() + 1;
    const std::string prefix = key + " = ";
    if (line.rfind(prefix, 0) != 0) {
      continue;
    }
    const std::string value = line.substr(prefix.size());
    if (value.rfind("'''", 0) == 0) {
      size_t start = line_start + prefix.size() + 3;
      if (start < block.size() && block[start] == '\n') {
        ++start;  // TOML drops the newline right after the opening delimiter
      }
      const size_t end = block.find("'''", start);
      REQUIRE(end != std::string::npos);
      return block.substr(start, end - start);
    }
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      return value.substr(1, value.size() - 2);
    }
  }
  return "";
}

// What no fixture has: local groups (a member both listed and primary, a primary-only one, a
// duplicate), PCI devices, sizes past 2^63 and fractional percentages.
dozor::v1::Inventory InvSyntheticInventory() {
  dozor::v1::Inventory inv = InvLoadBase("clean-server");
  auto* wheel = inv.mutable_os()->add_groups();
  wheel->set_name("wheel");
  wheel->set_gid(10);
  wheel->set_administrator(true);
  wheel->add_members("root");
  wheel->add_members("admin");
  wheel->add_members("admin");
  wheel->add_primary_members("admin");
  wheel->add_primary_members("svc");
  auto* users = inv.mutable_os()->add_groups();
  users->set_name("пользователи");
  users->set_gid(100);
  users->add_primary_members("ivan");
  auto* pci = inv.mutable_hardware()->add_pci_devices();
  pci->set_address("0000:00:1f.2");
  pci->set_vendor_id("8086");
  pci->set_device_id("a102");
  pci->set_class_code("010601");
  pci->set_class_name("SATA controller");
  pci->set_driver("ahci");
  pci->set_vendor_name("Intel Corporation");
  inv.mutable_hardware()->add_pci_devices()->set_address("0000:00:02.0");
  inv.mutable_hardware()->set_memory_total_bytes(UINT64_MAX);
  inv.mutable_hardware()->set_swap_total_bytes(UINT64_MAX);
  auto* volume = inv.mutable_hardware()->add_volumes();
  volume->set_mount_point("/huge");
  volume->set_size_bytes(UINT64_MAX);
  volume->set_free_bytes(uint64_t{1} << 63);
  auto* array = inv.mutable_hardware()->add_storage_arrays();
  array->set_kind("md");
  array->set_name("md0");
  array->set_sync_percent(33.3F);
  array->add_members()->set_device("sda1");
  auto* faulty = array->add_members();
  faulty->set_device("sdb1");
  faulty->set_state("faulty");
  auto* ups = inv.mutable_hardware()->mutable_power()->add_ups();
  ups->set_name("ups1");
  ups->set_battery_charge_pct(87.5);
  return inv;
}

// Every base fixture, a synthetic inventory, and every fixture case's host inventories
// (inventory_patch on its base).
std::vector<NamedInventory> InvFixtureInventories() {
  std::vector<NamedInventory> out;
  for (const auto& entry : std::filesystem::directory_iterator(FixturePath("rules/base"))) {
    const std::string stem = entry.path().stem().string();
    if (entry.path().extension() == ".textproto" && stem.rfind("health", 0) != 0) {
      out.push_back({"base " + stem, InvLoadBase(stem)});
    }
  }
  out.push_back({"synthetic", InvSyntheticInventory()});
  std::vector<std::filesystem::path> cases;
  for (const auto& entry : std::filesystem::directory_iterator(FixturePath("rules/cases"))) {
    if (entry.path().extension() == ".toml") {
      cases.push_back(entry.path());
    }
  }
  std::sort(cases.begin(), cases.end());
  for (const auto& path : cases) {
    const std::string text = InvReadText(path);
    size_t at = text.find("[[host]]");
    int index = 0;
    while (at != std::string::npos) {
      const size_t next = text.find("[[host]]", at + 8);
      const std::string block = text.substr(at, next == std::string::npos ? next : next - at);
      at = next;
      const std::string base = InvTomlString(block, "base");
      if (base.empty()) {
        continue;
      }
      dozor::v1::Inventory inventory = InvLoadBase(base);
      const std::string patch_text = InvTomlString(block, "inventory_patch");
      if (!patch_text.empty()) {
        dozor::v1::Inventory patch;
        TextFormat::ParseInfoTree tree;
        TextFormat::Parser parser;
        parser.WriteLocationsTo(&tree);
        REQUIRE_MESSAGE(parser.ParseFromString(patch_text, &patch), path.string());
        InvMergeMentioned(&patch, tree, &inventory);
      }
      out.push_back(
          {path.stem().string() + " host " + std::to_string(index++), std::move(inventory)});
    }
  }
  return out;
}

// A text value as the PostgreSQL side stores it (pg_inventory_rows.hpp): unchanged unless it
// holds NUL or bytes that are not UTF-8.
std::string InvStorable(const std::string& text) {
  if (text.find('\0') == std::string::npos && IsValidUtf8(text)) {
    return text;
  }
  return EscapeInvalidUtf8(text);
}

std::string InvDoubleText(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

struct InvColumn {
  std::string name;
  bool real = false;
};

// One table's rows of one host, each a vector of column values as text.
using InvTableRows = std::vector<std::vector<std::string>>;

// A SQLite store and a PostgreSQL database side by side, one organisation and token on each.
class InvBackends {
 public:
  InvBackends() {
    sqlite_token_ = EnrollToken(*sqlite_.store);
    pg_token_ = EnrollToken(*postgres_.store);
    auto db = sqlite::Database::Open(sqlite_.dir / "dozor.db");
    REQUIRE_MESSAGE(db.ok(), (db.ok() ? "" : db.error().ToString()));
    reader_ = std::move(db).value();
    LoadTables();
  }

  struct Host {
    std::string agent_id;
    int64_t sqlite_pk = 0;
    int64_t pg_org = 0;
    int64_t pg_pk = 0;
  };

  Host Enroll() {
    Host host;
    host.agent_id = "inv-agent-" + std::to_string(++hosts_);
    NewAgent agent;
    agent.agent_id = host.agent_id;
    agent.secret_hash = "secret";
    agent.hostname = "host-" + host.agent_id;
    host.pg_org =
        Ok(postgres_.store->Agents().EnrollAgent("inv-token", agent, kInvCollectedAtMs)).org_id;
    (void)Ok(sqlite_.store->Agents().EnrollAgent("inv-token", agent, kInvCollectedAtMs));
    host.sqlite_pk =
        std::stoll(SqliteScalar("SELECT id FROM agents WHERE agent_id = '" + host.agent_id + "'"));
    auto lease = Ok(postgres_.store->pool().Acquire());
    pg::Rows rows =
        Ok(lease->Query("SELECT id FROM agents WHERE agent_id = $1", pg::Params(host.agent_id)));
    REQUIRE(rows.size() == 1);
    host.pg_pk = rows.Int(0, 0);
    return host;
  }

  // Commits `inv` as report `seq` on SQLite (collected at kInvCollectedAtMs + seq) and writes it
  // with ReplacePgHostRows at that time; returns how long the PostgreSQL transaction took.
  std::chrono::milliseconds Write(const Host& host, const dozor::v1::Inventory& inv, uint64_t seq) {
    const int64_t at = kInvCollectedAtMs + static_cast<int64_t>(seq);
    std::vector<IncomingReport> batch(1);
    batch[0].agent_id = host.agent_id;
    batch[0].received_at_ms = at;
    batch[0].report.set_seq(seq);
    batch[0].report.set_collected_at_ms(at);
    *batch[0].report.mutable_inventory() = inv;
    auto results = Ok(sqlite_.store->CommitReports(batch));
    REQUIRE(results[0].outcome == CommitOutcome::kStored);
    const auto start = std::chrono::steady_clock::now();
    Ok(pg::InTransaction(postgres_.store->pool(), [&](pg::Connection& db) {
      return ReplacePgHostRows(db, host.pg_org, host.pg_pk, inv, at);
    }));
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start);
  }

  InvTableRows SqliteRows(const std::string& table, const std::vector<InvColumn>& columns,
                          int64_t pk) {
    auto statement =
        Ok(reader_.Prepare("SELECT " + ColumnList(columns) + " FROM " + table +
                           " WHERE agent = " + std::to_string(pk) + " ORDER BY rowid"));
    InvTableRows rows;
    while (Ok(statement.Step())) {
      std::vector<std::string> row;
      for (int c = 0; c < static_cast<int>(columns.size()); ++c) {
        switch (sqlite3_column_type(statement.get(), c)) {
          case SQLITE_NULL:
            row.emplace_back("NULL");
            break;
          case SQLITE_INTEGER:
            row.push_back(std::to_string(statement.Int(c)));
            break;
          case SQLITE_FLOAT:
            row.push_back(InvDoubleText(statement.Double(c)));
            break;
          default:
            row.push_back(InvStorable(statement.Text(c)));
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  InvTableRows PostgresRows(const std::string& table, const std::vector<InvColumn>& columns,
                            const Host& host) {
    const bool one_row = !pg_has_ordinal_.at(table);
    auto lease = Ok(postgres_.store->pool().Acquire());
    pg::Rows result = Ok(lease->Query("SELECT " + ColumnList(columns) + " FROM " + table +
                                          " WHERE org_id = $1 AND agent = $2" +
                                          (one_row ? "" : " ORDER BY ordinal"),
                                      pg::Params(host.pg_org, host.pg_pk)));
    InvTableRows rows;
    for (int r = 0; r < result.size(); ++r) {
      std::vector<std::string> row;
      for (int c = 0; c < static_cast<int>(columns.size()); ++c) {
        if (result.IsNull(r, c)) {
          row.emplace_back("NULL");
        } else if (columns[c].real) {
          row.push_back(InvDoubleText(result.Double(r, c)));
        } else {
          row.push_back(result.Text(r, c));
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  // Compares every table's rows of `host`; returns how many rows matched.
  int64_t CompareAll(const Host& host, const std::string& what) {
    int64_t matched = 0;
    for (const auto& [table, columns] : tables_) {
      const InvTableRows lite = SqliteRows(table, columns, host.sqlite_pk);
      const InvTableRows pg = PostgresRows(table, columns, host);
      CHECK_MESSAGE(lite.size() == pg.size(), what << ": " << table << " has " << lite.size()
                                                   << " rows on SQLite, " << pg.size()
                                                   << " on PostgreSQL");
      for (size_t r = 0; r < std::min(lite.size(), pg.size()); ++r) {
        for (size_t c = 0; c < columns.size(); ++c) {
          if (lite[r][c] != pg[r][c]) {
            FAIL_CHECK(what << ": " << table << " row " << r << " column " << columns[c].name
                            << ": SQLite '" << lite[r][c] << "', PostgreSQL '" << pg[r][c] << "'");
          }
        }
        ++matched;
      }
    }
    return matched;
  }

  int64_t PostgresCount(const std::string& table, const Host& host) {
    auto lease = Ok(postgres_.store->pool().Acquire());
    return Ok(lease->Query("SELECT count(*) FROM " + table + " WHERE org_id = $1 AND agent = $2",
                           pg::Params(host.pg_org, host.pg_pk)))
        .Int(0, 0);
  }

  std::string SqliteScalar(const std::string& sql) {
    auto statement = Ok(reader_.Prepare(sql));
    REQUIRE(Ok(statement.Step()));
    return statement.Text(0);
  }

  [[nodiscard]] const std::map<std::string, std::vector<InvColumn>>& tables() const {
    return tables_;
  }
  testing::PostgresBackend& postgres() { return postgres_; }

 private:
  template <typename Store>
  static std::string EnrollToken(Store& store) {
    NewEnrollmentToken token;
    token.org_id = MakeOrg(store, "Inventory");
    token.token_hash = "inv-token";
    token.hint = "inv";
    (void)Ok(store.Agents().CreateEnrollmentToken(token));
    return token.token_hash;
  }

  static std::string ColumnList(const std::vector<InvColumn>& columns) {
    std::string list;
    for (const auto& column : columns) {
      list += (list.empty() ? "" : ", ") + column.name;
    }
    return list;
  }

  // The host_* tables both sides have (all but the raw blob and the collector statuses, which
  // the replace does not write), their common columns, and which side lacks what.
  void LoadTables() {
    std::map<std::string, std::map<std::string, std::string>> lite;
    auto tables = Ok(reader_.Prepare(
        "SELECT m.name, p.name, p.type FROM sqlite_master m, pragma_table_info(m.name) p "
        "WHERE m.type = 'table' AND m.name LIKE 'host\\_%' ESCAPE '\\' ORDER BY m.name, p.cid"));
    while (Ok(tables.Step())) {
      lite[tables.Text(0)][tables.Text(1)] = tables.Text(2);
    }
    auto lease = Ok(postgres_.store->pool().Acquire());
    pg::Rows pg = Ok(
        lease->Query("SELECT table_name::text, column_name::text, data_type::text FROM "
                     "information_schema.columns WHERE table_schema = 'public' AND table_name LIKE "
                     "'host\\_%' ORDER BY table_name, ordinal_position"));
    std::map<std::string, std::map<std::string, std::string>> pg_columns;
    for (int r = 0; r < pg.size(); ++r) {
      pg_columns[pg.Text(r, 0)][pg.Text(r, 1)] = pg.Text(r, 2);
    }
    for (const auto& [table, columns] : lite) {
      if (table == "host_inventory_blob") {
        continue;
      }
      REQUIRE_MESSAGE(pg_columns.count(table) == 1, table << " is missing on PostgreSQL");
      const auto& pg_table = pg_columns.at(table);
      CHECK_MESSAGE(pg_table.count("org_id") == 1, table);
      pg_has_ordinal_[table] = pg_table.count("ordinal") == 1;
      std::vector<InvColumn> common;
      for (const auto& [column, type] : columns) {
        CHECK_MESSAGE(pg_table.count(column) == 1,
                      table << "." << column << " is missing on PostgreSQL");
        if (column == "agent" || pg_table.count(column) == 0) {
          continue;
        }
        const std::string& pg_type = pg_table.at(column);
        const std::string expected = type == "INTEGER" ? "bigint"
                                     : type == "REAL"  ? "double precision"
                                                       : "text";
        CHECK_MESSAGE(pg_type == expected, table << "." << column << " is " << pg_type);
        common.push_back({column, type == "REAL"});
      }
      for (const auto& [column, type] : pg_table) {
        CHECK_MESSAGE((columns.count(column) == 1 || column == "org_id" || column == "ordinal"),
                      table << "." << column << " is not on SQLite");
      }
      if (table != "host_collectors") {
        tables_[table] = std::move(common);
      }
    }
    for (const auto& [table, columns] : pg_columns) {
      CHECK_MESSAGE(lite.count(table) == 1, table << " is not on SQLite");
    }
  }

  testing::SqliteBackend sqlite_;
  testing::PostgresBackend postgres_;
  std::string sqlite_token_, pg_token_;
  sqlite::Database reader_;
  std::map<std::string, std::vector<InvColumn>> tables_;
  std::map<std::string, bool> pg_has_ordinal_;
  int hosts_ = 0;
};

std::vector<std::string> InvUnnest(pg::Connection& db, const std::string& literal) {
  pg::Rows rows =
      Ok(db.Query("SELECT coalesce(v, '<null>') FROM unnest($1::text[]) WITH ORDINALITY AS u(v, n) "
                  "ORDER BY n",
                  pg::Params(literal)));
  std::vector<std::string> values;
  for (int r = 0; r < rows.size(); ++r) {
    values.push_back(rows.Text(r, 0));
  }
  return values;
}

TEST_CASE("inventory rows: array literals carry any text, number and NULL unchanged") {
  testing::PostgresBackend backend;
  auto lease = Ok(backend.store->pool().Acquire());
  const std::vector<std::string> texts = {
      "",           "plain",      "with space",       "a,b",
      "{braces}",   "\"quoted\"", "back\\slash",      "\\\"",
      "NULL",       "null",       " lead and trail ", "line\nbreak\ttab",
      "Ромашка-1С", "日本語",     "'single'",         "\x01\x1f\x7f",
      "}{,\"\\"};
  pg::ArrayLiteral array;
  for (const auto& text : texts) {
    array.Add(text);
  }
  array.AddNull();
  CHECK(array.size() == static_cast<int64_t>(texts.size()) + 1);
  std::vector<std::string> expected = texts;
  expected.emplace_back("<null>");
  CHECK(InvUnnest(*lease, array.str()) == expected);
  CHECK(InvUnnest(*lease, pg::ArrayLiteral().str()).empty());

  // NUL and bytes that are not UTF-8 arrive in their escaped form instead of failing.
  pg::ArrayLiteral odd;
  odd.Add(std::string("nul\0inside", 10));
  odd.Add("latin1 \xe9t\xe9");
  CHECK(InvUnnest(*lease, odd.str()) ==
        std::vector<std::string>{"nul\\x00inside", "latin1 \\xe9t\\xe9"});

  pg::ArrayLiteral numbers;
  numbers.Add(int64_t{0});
  numbers.Add(int64_t{-1});
  numbers.Add(int64_t{INT64_MAX});
  numbers.Add(int64_t{INT64_MIN});
  pg::Rows ints =
      Ok(lease->Query("SELECT array_to_string($1::bigint[], ' ')", pg::Params(numbers.str())));
  CHECK(ints.Text(0, 0) == "0 -1 9223372036854775807 -9223372036854775808");
  pg::ArrayLiteral reals;
  reals.Add(0.1);
  reals.Add(-2.5e300);
  reals.Add(std::nan(""));
  reals.Add(-INFINITY);
  pg::Rows doubles = Ok(lease->Query(
      "SELECT v FROM unnest($1::double precision[]) WITH ORDINALITY AS u(v, n) ORDER BY n",
      pg::Params(reals.str())));
  REQUIRE(doubles.size() == 4);
  CHECK(doubles.Double(0, 0) == 0.1);
  CHECK(doubles.Double(1, 0) == -2.5e300);
  CHECK(doubles.Text(2, 0) == "NaN");
  CHECK(doubles.Text(3, 0) == "-Infinity");
}

TEST_CASE("inventory rows: every fixture inventory leaves the same rows as on SQLite") {
  InvBackends backends;
  CHECK(backends.tables().size() >= 40);
  const std::vector<NamedInventory> inventories = InvFixtureInventories();
  REQUIRE(inventories.size() > 200);
  int64_t rows = 0;
  std::set<std::string> nonempty;
  for (const auto& named : inventories) {
    const auto host = backends.Enroll();
    (void)backends.Write(host, named.inventory, 1);
    rows += backends.CompareAll(host, named.name);
  }
  MESSAGE(inventories.size() << " inventories, " << rows << " rows compared");
  CHECK(rows > 10000);
}

TEST_CASE("inventory rows: every table gets rows from the fixtures") {
  // Each table is written by at least one fixture inventory, so the comparison above covers it.
  InvBackends backends;
  std::map<std::string, int64_t> counts;
  for (const auto& named : InvFixtureInventories()) {
    const auto host = backends.Enroll();
    (void)backends.Write(host, named.inventory, 1);
    for (const auto& [table, columns] : backends.tables()) {
      counts[table] += backends.PostgresCount(table, host);
    }
  }
  for (const auto& [table, count] : counts) {
    CHECK_MESSAGE(count > 0, table << " got no rows from any fixture");
  }
}

TEST_CASE("inventory rows: a second inventory replaces the first's rows") {
  InvBackends backends;
  dozor::v1::Inventory first = InvLoadBase("clean-1c-server");
  first.mutable_os()->set_pending_security_updates(3);
  dozor::v1::Inventory second = InvLoadBase("clean-windows-server");
  second.mutable_os()->set_pending_security_updates(2);
  dozor::v1::Inventory third = InvLoadBase("clean-workstation");
  third.mutable_os()->set_pending_security_updates(0);
  const auto host = backends.Enroll();
  const auto other = backends.Enroll();
  (void)backends.Write(other, first, 1);

  (void)backends.Write(host, first, 1);
  backends.CompareAll(host, "first");
  const int64_t first_packages = backends.PostgresCount("host_packages", host);
  CHECK(first_packages == first.software().packages_size());

  // Still pending: the run keeps the first inventory's start.
  (void)backends.Write(host, second, 2);
  backends.CompareAll(host, "second");
  CHECK(backends.PostgresCount("host_packages", host) == second.software().packages_size());
  CHECK(backends.PostgresCount("host_onec_agents", host) ==
        second.software().onec_server_agents_size());
  CHECK(backends.PostgresCount("host_security", host) == (second.has_security() ? 1 : 0));

  // None pending: the run ends; then an empty inventory leaves one bare host_os row.
  (void)backends.Write(host, third, 3);
  backends.CompareAll(host, "third");
  (void)backends.Write(host, dozor::v1::Inventory(), 4);
  backends.CompareAll(host, "empty");
  for (const auto& [table, columns] : backends.tables()) {
    const bool always = table == "host_os" || table == "host_hardware";
    CHECK_MESSAGE(backends.PostgresCount(table, host) == (always ? 1 : 0), table);
  }
  // The other host's rows are untouched.
  backends.CompareAll(other, "other host");
  CHECK(backends.PostgresCount("host_packages", other) == first_packages);

  auto lease = Ok(backends.postgres().store->pool().Acquire());
  Ok(DeletePgHostRows(*lease, other.pg_org, other.pg_pk));
  for (const auto& [table, columns] : backends.tables()) {
    CHECK_MESSAGE(backends.PostgresCount(table, other) == 0, table);
  }
}

TEST_CASE("inventory rows: the security-pending run starts, carries on and ends as on SQLite") {
  InvBackends backends;
  const auto host = backends.Enroll();
  dozor::v1::Inventory inv = InvLoadBase("clean-server");
  const std::vector<int> pending = {0, 4, 5, 0, 1, 2};
  for (size_t i = 0; i < pending.size(); ++i) {
    inv.mutable_os()->set_pending_security_updates(pending[i]);
    (void)backends.Write(host, inv, i + 1);
    backends.CompareAll(host, "report " + std::to_string(i + 1));
  }
  auto lease = Ok(backends.postgres().store->pool().Acquire());
  pg::Rows since =
      Ok(lease->Query("SELECT security_pending_since FROM host_os WHERE org_id = $1 AND agent = $2",
                      pg::Params(host.pg_org, host.pg_pk)));
  CHECK(since.Int(0, 0) == kInvCollectedAtMs + 5);
}

TEST_CASE("inventory rows: odd text in names is stored as SQLite stores it") {
  InvBackends backends;
  dozor::v1::Inventory inv = InvLoadBase("clean-server");
  const std::vector<std::string> names = {"quote\"d",
                                          "back\\slash",
                                          "com,ma",
                                          "{brace}",
                                          "}{",
                                          "NULL",
                                          "",
                                          "Ромашка",
                                          "tab\tnew\nline",
                                          "\x01\x02\x1b[0m",
                                          "emoji \xf0\x9f\x98\x80",
                                          "trailing\\",
                                          "'apostrophe'",
                                          "a\"b\\c,d{e}f"};
  inv.mutable_software()->clear_packages();
  for (const auto& name : names) {
    auto* package = inv.mutable_software()->add_packages();
    package->set_name(name);
    package->set_version(name + "-1");
  }
  inv.mutable_os()->set_hostname("сервер-1С \"главный\"");
  const auto host = backends.Enroll();
  (void)backends.Write(host, inv, 1);
  backends.CompareAll(host, "odd text");
  auto lease = Ok(backends.postgres().store->pool().Acquire());
  pg::Rows rows = Ok(lease->Query(
      "SELECT name FROM host_packages WHERE org_id = $1 AND agent = $2 ORDER BY ordinal",
      pg::Params(host.pg_org, host.pg_pk)));
  REQUIRE(rows.size() == static_cast<int>(names.size()));
  for (int r = 0; r < rows.size(); ++r) {
    CHECK(rows.Text(r, 0) == names[static_cast<size_t>(r)]);
  }

  // Bytes PostgreSQL's text cannot hold: escaped there, raw on SQLite (CompareAll escapes
  // SQLite's value the same way before comparing).
  dozor::v1::Inventory bad = inv;
  bad.mutable_software()->mutable_packages(0)->set_name(std::string("nul\0byte", 8));
  bad.mutable_software()->mutable_packages(1)->set_name("latin1 caf\xe9");
  const auto bad_host = backends.Enroll();
  (void)backends.Write(bad_host, bad, 1);
  backends.CompareAll(bad_host, "bytes PostgreSQL cannot hold");
  pg::Rows escaped = Ok(lease->Query(
      "SELECT name FROM host_packages WHERE org_id = $1 AND agent = $2 ORDER BY ordinal LIMIT 2",
      pg::Params(bad_host.pg_org, bad_host.pg_pk)));
  CHECK(escaped.Text(0, 0) == "nul\\x00byte");
  CHECK(escaped.Text(1, 0) == "latin1 caf\\xe9");
}

TEST_CASE("inventory rows: a 5000-package inventory") {
  InvBackends backends;
  dozor::v1::Inventory inv = InvLoadBase("clean-server");
  inv.mutable_software()->clear_packages();
  for (int i = 0; i < 5000; ++i) {
    auto* package = inv.mutable_software()->add_packages();
    package->set_name("lib-package-" + std::to_string(i));
    package->set_version("1." + std::to_string(i) + "-" + std::to_string(i % 7) + "+deb12u1");
    package->set_architecture(i % 3 == 0 ? "all" : "amd64");
    package->set_source("src-" + std::to_string(i / 10));
    package->set_vendor("Debian");
    package->set_install_time(1'700'000'000 + i);
    package->set_held(i % 500 == 0);
  }
  const auto host = backends.Enroll();
  const auto first = backends.Write(host, inv, 1);
  inv.mutable_software()->mutable_packages(42)->set_version("2.0");
  const auto second = backends.Write(host, inv, 2);
  MESSAGE("PostgreSQL: 5000-package inventory written in " << first.count() << " ms, replaced in "
                                                           << second.count() << " ms");
  CHECK(backends.PostgresCount("host_packages", host) == 5000);
  backends.CompareAll(host, "5000 packages");
}

TEST_CASE(
    "inventory rows: an unknown agent is refused and replicas replacing one host take turns") {
  InvBackends backends;
  auto& pool = backends.postgres().store->pool();
  const auto host = backends.Enroll();
  dozor::v1::Inventory inv = InvLoadBase("clean-server");
  auto refused = pg::InTransaction(pool, [&](pg::Connection& db) {
    return ReplacePgHostRows(db, host.pg_org, host.pg_pk + 1000, inv, kInvCollectedAtMs);
  });
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kNotFound);
  auto wrong_org = pg::InTransaction(pool, [&](pg::Connection& db) {
    return ReplacePgHostRows(db, host.pg_org + 1000, host.pg_pk, inv, kInvCollectedAtMs);
  });
  REQUIRE_FALSE(wrong_org.ok());
  CHECK(wrong_org.error().code == ErrorCode::kNotFound);

  // Two writers replacing the same host at once, each with inventories of its own size: every
  // replace succeeds and the host ends with exactly one inventory's rows.
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      dozor::v1::Inventory mine = inv;
      mine.mutable_software()->clear_packages();
      for (int p = 0; p < 100 + 50 * w; ++p) {
        mine.mutable_software()->add_packages()->set_name("pkg-" + std::to_string(p));
      }
      for (int i = 0; i < 15; ++i) {
        auto written = pg::InTransaction(pool, [&](pg::Connection& db) {
          return ReplacePgHostRows(db, host.pg_org, host.pg_pk, mine, kInvCollectedAtMs + i);
        });
        if (!written.ok()) {
          ++failures;
        }
      }
    });
  }
  for (auto& writer : writers) {
    writer.join();
  }
  CHECK(failures.load() == 0);
  const int64_t packages = backends.PostgresCount("host_packages", host);
  CHECK((packages == 100 || packages == 150));
  CHECK(backends.PostgresCount("host_os", host) == 1);
}

}  // namespace
}  // namespace dozor::server
