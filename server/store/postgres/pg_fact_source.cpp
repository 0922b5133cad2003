#include "store/postgres/pg_fact_source.hpp"

#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <unordered_set>

#include "dozor/common/text.hpp"
#include "rules/dialect.hpp"

namespace dozor::server {
namespace {

// PostgreSQL type OIDs (pg_type.h; fixed across versions).
constexpr Oid kPgBoolOid = 16;
constexpr Oid kPgByteaOid = 17;
constexpr Oid kPgInt8Oid = 20;
constexpr Oid kPgInt2Oid = 21;
constexpr Oid kPgInt4Oid = 23;
constexpr Oid kPgTextOid = 25;
constexpr Oid kPgOidOid = 26;
constexpr Oid kPgFloat4Oid = 700;
constexpr Oid kPgFloat8Oid = 701;
constexpr Oid kPgNumericOid = 1700;

constexpr size_t kPgMaxRuleSqlBytes = 1024 * 1024;  // as on SQLite
constexpr std::string_view kPgScopeTable = "pg_temp.dozor_scope_hosts";
constexpr std::string_view kPgProbeView = "dozor_rule_probe";
// Evaluations, or time, between clearing the scope table and re-planning (ResetScopeStatistics).
constexpr int kPgScopeResetEvery = 256;
constexpr std::chrono::seconds kPgScopeResetAfter{30};

struct PgResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResultPtr = std::unique_ptr<PGresult, PgResultDeleter>;

std::string PgFieldOr(const PGresult* result, int field, std::string_view fallback) {
  const char* value = result != nullptr ? PQresultErrorField(result, field) : nullptr;
  return value != nullptr ? std::string(value) : std::string(fallback);
}

// ---- Rule text: :name parameters to $n, and the lexical checks done before PostgreSQL. ----

struct PgRuleText {
  std::string text;                 // with $n for each :name
  std::vector<std::string> params;  // name of $1, $2, ...
  std::vector<size_t> origin;       // byte of `text` -> byte of the rule's own text
  std::string refusal;              // non-empty: refused before PostgreSQL sees it
  size_t refusal_offset = 0;
};

bool PgIsIdentStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool PgIsIdentChar(char c) {
  return PgIsIdentStart(c) || std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '$';
}

// Scans `sql` by PostgreSQL's lexical rules (strings, E'' strings, quoted identifiers, nested
// comments). Only parameter substitution depends on it; the security checks after PREPARE work on
// what PostgreSQL itself parsed.
PgRuleText PgTranslateRule(std::string_view sql) {
  PgRuleText out;
  std::vector<std::string> words;  // lower-cased keywords/identifiers outside strings, in order
  auto emit = [&out](std::string_view piece, size_t from) {
    for (size_t k = 0; k < piece.size(); ++k) {
      out.text.push_back(piece[k]);
      out.origin.push_back(from + k);
    }
  };
  size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    if (c == '\'' || ((c == 'e' || c == 'E') && i + 1 < sql.size() && sql[i + 1] == '\'' &&
                      (i == 0 || !PgIsIdentChar(sql[i - 1])))) {
      const bool escapes = c != '\'';
      size_t j = i + (escapes ? 2 : 1);
      while (j < sql.size()) {
        if (escapes && sql[j] == '\\') {
          j += 2;
          continue;
        }
        if (sql[j] == '\'') {
          if (j + 1 < sql.size() && sql[j + 1] == '\'') {
            j += 2;
            continue;
          }
          break;
        }
        ++j;
      }
      j = std::min(j + 1, sql.size());
      emit(sql.substr(i, j - i), i);
      i = j;
    } else if (c == '"') {
      size_t j = i + 1;
      while (j < sql.size() && !(sql[j] == '"' && (j + 1 >= sql.size() || sql[j + 1] != '"'))) {
        j += sql[j] == '"' ? 2 : 1;
      }
      j = std::min(j + 1, sql.size());
      words.push_back(std::string(sql.substr(i + 1, j - i - 2)));
      emit(sql.substr(i, j - i), i);
      i = j;
    } else if (sql.substr(i, 2) == "--") {
      size_t j = sql.find('\n', i);
      j = j == std::string_view::npos ? sql.size() : j;
      emit(sql.substr(i, j - i), i);
      i = j;
    } else if (sql.substr(i, 2) == "/*") {
      int depth = 0;
      size_t j = i;
      while (j < sql.size()) {
        if (sql.substr(j, 2) == "/*") {
          ++depth;
          j += 2;
        } else if (sql.substr(j, 2) == "*/") {
          j += 2;
          if (--depth == 0) {
            break;
          }
        } else {
          ++j;
        }
      }
      emit(sql.substr(i, j - i), i);
      i = j;
    } else if (c == ':' && i + 1 < sql.size() && sql[i + 1] == ':') {
      emit("::", i);
      i += 2;
    } else if (c == ':' && i + 1 < sql.size() && PgIsIdentStart(sql[i + 1]) &&
               static_cast<unsigned char>(sql[i + 1]) < 0x80) {
      size_t j = i + 1;
      while (j < sql.size() &&
             (std::isalnum(static_cast<unsigned char>(sql[j])) != 0 || sql[j] == '_')) {
        ++j;
      }
      std::string name(sql.substr(i + 1, j - i - 1));
      auto at = std::find(out.params.begin(), out.params.end(), name);
      if (at == out.params.end()) {
        out.params.push_back(name);
        at = out.params.end() - 1;
      }
      emit("$" + std::to_string(at - out.params.begin() + 1), i);
      i = j;
    } else if (c == '$') {
      // $1 would collide with the numbering above; $$ quoting is not in the rule dialect.
      out.refusal = "use named parameters (:name); $ is not allowed in rules";
      out.refusal_offset = i;
      return out;
    } else if (PgIsIdentStart(c)) {
      size_t j = i;
      while (j < sql.size() && PgIsIdentChar(sql[j])) {
        ++j;
      }
      words.push_back(Lower(sql.substr(i, j - i)));
      emit(sql.substr(i, j - i), i);
      i = j;
    } else {
      emit(sql.substr(i, 1), i);
      ++i;
    }
  }
  if (words.empty() || (words[0] != "select" && words[0] != "with" && words[0] != "values")) {
    out.refusal = "only SELECT statements are allowed in rules";
    return out;
  }
  for (size_t w = 0; w + 1 < words.size(); ++w) {
    if (words[w] == "for" && (words[w + 1] == "update" || words[w + 1] == "share" ||
                              words[w + 1] == "no" || words[w + 1] == "key")) {
      out.refusal = "row locks (FOR UPDATE/SHARE) are not allowed in rules";
      return out;
    }
  }
  return out;
}

std::string PgNumberText(double value) {
  if (std::isnan(value)) {
    return "NaN";
  }
  if (std::isinf(value)) {
    return value > 0 ? "Infinity" : "-Infinity";
  }
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

// ---- Statements and rows. ----

class PgFactSession;

class PgFactStatement final : public FactStatement {
 public:
  const std::vector<std::string>& column_names() const override { return columns; }
  const std::vector<std::string>& parameter_names() const override { return parameters; }
  const std::set<std::string>& views_read() const override { return views; }
  const std::set<std::string>& columns_read() const override { return read_columns; }
  void Bind(size_t index, const FactValue& value) override {
    if (index < values.size()) {
      values[index] = value;
    }
  }

  std::string name;        // the prepared statement on the connection
  bool live = false;       // `name` exists on the connection
  int64_t generation = 0;  // the session connection it was prepared on (see Reconnect)
  std::string text;        // as sent ($n)
  std::vector<Oid> types;  // of the prepared statement's parameters
  std::vector<FactValue> values;
  std::vector<std::string> columns;
  std::vector<std::string> parameters;
  std::set<std::string> views;
  std::set<std::string> read_columns;
  PgFactSession* session = nullptr;
  ~PgFactStatement() override;
};

class PgFactRow final : public FactRow {
 public:
  explicit PgFactRow(const PGresult* result) : result_(result) {}
  size_t size() const override { return static_cast<size_t>(PQnfields(result_)); }
  bool IsNull(size_t column) const override {
    return PQgetisnull(result_, 0, static_cast<int>(column)) != 0;
  }
  int64_t Int(size_t column) const override {
    FactValue value = Get(column);
    if (const auto* i = std::get_if<int64_t>(&value)) {
      return *i;
    }
    if (const auto* d = std::get_if<double>(&value)) {
      return static_cast<int64_t>(*d);
    }
    if (const auto* s = std::get_if<std::string>(&value)) {
      return std::strtoll(s->c_str(), nullptr, 10);
    }
    return 0;
  }
  // As SQLite's session hands them back: integers, doubles, text; booleans 0/1; bytea as hex.
  FactValue Get(size_t column) const override {
    const int c = static_cast<int>(column);
    if (PQgetisnull(result_, 0, c) != 0) {
      return std::monostate{};
    }
    const char* text = PQgetvalue(result_, 0, c);
    switch (PQftype(result_, c)) {
      case kPgInt2Oid:
      case kPgInt4Oid:
      case kPgInt8Oid:
      case kPgOidOid:
        return static_cast<int64_t>(std::strtoll(text, nullptr, 10));
      case kPgBoolOid:
        return int64_t{text[0] == 't' ? 1 : 0};
      case kPgFloat4Oid:
      case kPgFloat8Oid:
        return std::strtod(text, nullptr);
      case kPgNumericOid: {
        // sum() of integers is numeric here and an integer on SQLite.
        std::string_view digits(text);
        const bool integral = !digits.empty() && digits.size() < 19 &&
                              digits.find_first_not_of("-0123456789") == std::string_view::npos;
        if (integral) {
          return static_cast<int64_t>(std::strtoll(text, nullptr, 10));
        }
        return std::strtod(text, nullptr);
      }
      case kPgByteaOid: {
        std::string_view hex(text);
        return std::string(hex.substr(0, 2) == "\\x" ? hex.substr(2) : hex);
      }
      default:
        return std::string(text, static_cast<size_t>(PQgetlength(result_, 0, c)));
    }
  }

 private:
  const PGresult* result_;
};

std::string PgExpandScope(std::string_view text, bool scoped) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t start = text.find("{SCOPE:", pos);
    if (start == std::string_view::npos) {
      out.append(text.substr(pos));
      return out;
    }
    size_t end = text.find('}', start);
    out.append(text.substr(pos, start - pos));
    std::string_view expr = text.substr(start + 7, end - start - 7);
    if (scoped) {
      out += "AND " + std::string(expr) + " IN (SELECT host_id FROM " + std::string(kPgScopeTable) +
             ")";
    }
    pos = end + 1;
  }
}

// ---- The session. ----

class PgFactSession final : public FactSession {
 public:
  PgFactSession() = default;
  PgFactSession(const PgFactSession&) = delete;
  PgFactSession& operator=(const PgFactSession&) = delete;
  ~PgFactSession() override {
    if (conn_ != nullptr) {
      PQfinish(conn_);
    }
  }

  Status Open(const std::string& conninfo, bool scoped) {
    scoped_ = scoped;
    conninfo_ = conninfo;
    // A default connect_timeout; the connection string's own wins (it is expanded after it).
    const char* const keywords[] = {"connect_timeout", "dbname", nullptr};
    const char* const values[] = {"10", conninfo.c_str(), nullptr};
    conn_ = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
      return MakeError(ErrorCode::kUnavailable,
                       "rules: cannot connect to PostgreSQL: " +
                           std::string(conn_ != nullptr ? PQerrorMessage(conn_) : "out of memory"));
    }
    // No JIT: compiling a rule's plan took 0.4 s of a 10,000-host pass in which the rule itself
    // ran in milliseconds (rules_bench --per-rule --postgres), and every pass would pay it again.
    // A larger work_mem than the default 4 MB: with it, `host_id NOT IN (SELECT ...)` over the
    // estate is one hash table instead of a list scanned once per host (no-backup-software went
    // from past its 2 s deadline to 80 ms). Each replica has one or two rule sessions, and the
    // statement timeout bounds how long any of it is held.
    DOZOR_RETURN_IF_ERROR(
        Exec("SET application_name = 'dozor-rules'; SET jit = off; SET work_mem = '32MB'"));
    DOZOR_ASSIGN_OR_RETURN(PgResultPtr schema,
                           Query("SELECT quote_ident(current_schema()), "
                                 "EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = "
                                 "'dozor_rules')",
                                 {}));
    if (PQgetisnull(schema.get(), 0, 0) != 0) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "rules: the connection has no current schema for the store's tables");
    }
    store_schema_ = PQgetvalue(schema.get(), 0, 0);
    if (PQgetvalue(schema.get(), 0, 1)[0] != 't') {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "rules: the database has no dozor_rules schema (the store's migration 010 "
                       "installs the rule function library)");
    }
    if (scoped) {
      DOZOR_RETURN_IF_ERROR(
          Exec("CREATE TEMP TABLE dozor_scope_hosts(host_id bigint PRIMARY "
               "KEY)"));
      DOZOR_RETURN_IF_ERROR(ResetScopeStatistics());
      // A scoped session reads a few hosts' rows: its plans are the same whatever the values of
      // :now_ms and the like, so each rule is planned once per session instead of at every run
      // (planning was most of a per-host evaluation: 2.3 ms per rule, 0.08 ms when cached). The
      // estate session keeps custom plans, which do depend on the values there.
      DOZOR_RETURN_IF_ERROR(Exec("SET plan_cache_mode = force_generic_plan"));
    }
    // The views resolve the store's tables now, on the connection's own search_path.
    for (const auto& [name, text] : PostgresFactViewFiles()) {
      if (Status created = Exec(PgExpandScope(text, scoped)); !created.ok()) {
        return MakeError(ErrorCode::kFailedPrecondition,
                         "rules: fact views " + std::string(name) +
                             " do not work on this store: " + created.error().message);
      }
    }
    DOZOR_ASSIGN_OR_RETURN(
        PgResultPtr views,
        Query("SELECT c.oid::bigint, c.relname, "
              "(SELECT attnum FROM pg_attribute WHERE attrelid = c.oid AND attname = "
              "'last_seen_ms') FROM pg_class c WHERE c.relnamespace = pg_my_temp_schema() AND "
              "c.relkind = 'v'",
              {}));
    for (int r = 0; r < PQntuples(views.get()); ++r) {
      const int64_t oid = std::strtoll(PQgetvalue(views.get(), r, 0), nullptr, 10);
      const std::string name = PQgetvalue(views.get(), r, 1);
      view_names_[oid] = name;
      if (name == "hosts") {
        hosts_oid_ = oid;
      }
    }
    // What rule SQL may call: the dialect's functions in pg_catalog and dozor_rules only (a
    // same-named function elsewhere is not the one the dialect means), and pg_catalog's cast
    // functions (int8 -> float8 and the like, which PostgreSQL inserts by itself).
    std::string names = "{";
    for (std::string_view name : rules::RuleDialectFunctions()) {
      names += (names.size() > 1 ? "," : "") + std::string(name);
    }
    names += "}";
    DOZOR_ASSIGN_OR_RETURN(
        PgResultPtr functions,
        Query("SELECT p.oid::bigint FROM pg_proc p WHERE p.pronamespace IN "
              "('pg_catalog'::regnamespace, 'dozor_rules'::regnamespace) AND "
              "p.proname = ANY($1::text[]) UNION SELECT c.castfunc::bigint FROM pg_cast c "
              "JOIN pg_proc p ON p.oid = c.castfunc WHERE p.pronamespace = "
              "'pg_catalog'::regnamespace",
              {names}));
    for (int r = 0; r < PQntuples(functions.get()); ++r) {
      allowed_functions_.insert(std::strtoll(PQgetvalue(functions.get(), r, 0), nullptr, 10));
    }
    DOZOR_ASSIGN_OR_RETURN(PgResultPtr lookups,
                           Query("SELECT oid::bigint FROM pg_type WHERE typnamespace = "
                                 "'pg_catalog'::regnamespace AND (typname LIKE 'reg%' OR "
                                 "typname LIKE '\\_reg%')",
                                 {}));
    for (int r = 0; r < PQntuples(lookups.get()); ++r) {
      catalog_lookup_types_.insert(std::strtoll(PQgetvalue(lookups.get(), r, 0), nullptr, 10));
    }
    // The rules' own view of names: fact views (pg_temp first), the function library, and the
    // implicit pg_catalog. The store's schema is not on it.
    DOZOR_RETURN_IF_ERROR(Exec("SET search_path = pg_temp, dozor_rules, pg_catalog"));
    DOZOR_RETURN_IF_ERROR(Exec("SET default_transaction_read_only = on"));
    return OkStatus();
  }

  Result<std::unique_ptr<FactStatement>> PrepareRule(std::string_view sql,
                                                     int* error_offset) override {
    if (error_offset != nullptr) {
      *error_offset = -1;
    }
    auto refuse = [](std::string message) {
      return MakeError(ErrorCode::kInvalidArgument, std::move(message));
    };
    if (sql.size() > kPgMaxRuleSqlBytes) {
      return refuse("the rule SQL is longer than " + std::to_string(kPgMaxRuleSqlBytes) + " bytes");
    }
    DOZOR_RETURN_IF_ERROR(Healthy());
    if (PQtransactionStatus(conn_) != PQTRANS_IDLE) {
      // The guard's check creates a view, which a read-only snapshot cannot.
      return MakeError(ErrorCode::kFailedPrecondition,
                       "rules: rule SQL is prepared outside a snapshot");
    }
    PgRuleText translated = PgTranslateRule(sql);
    if (!translated.refusal.empty()) {
      if (error_offset != nullptr) {
        *error_offset = static_cast<int>(translated.refusal_offset);
      }
      return refuse(translated.refusal);
    }
    if (translated.text.find_first_not_of(" \t\r\n;") == std::string::npos) {
      return refuse("no SQL statement");
    }
    auto statement = std::make_unique<PgFactStatement>();
    statement->session = this;
    statement->text = std::move(translated.text);
    statement->parameters = translated.params;
    statement->values.assign(translated.params.size(), std::monostate{});
    int position = -1;
    Status prepared = PrepareChecked(*statement, {}, &position);
    if (!prepared.ok() && !statement->parameters.empty()) {
      // PostgreSQL could not infer one type per parameter (:window_min both in arithmetic and
      // as a result column; CASE WHEN .. THEN :a ELSE :b END read as text). The values are bound
      // later and each Run prepares with their types; for the columns and the guard, integers (what
      // rule parameters mostly are) will do.
      std::vector<Oid> integers(statement->parameters.size(), kPgInt8Oid);
      for (size_t i = 0; i < statement->parameters.size(); ++i) {
        if (statement->parameters[i] == "server_version") {
          integers[i] = kPgTextOid;
        }
      }
      int retry_position = -1;
      if (Status retried = PrepareChecked(*statement, integers, &retry_position); retried.ok()) {
        prepared = retried;
      }
    }
    if (!prepared.ok()) {
      if (error_offset != nullptr && position > 0) {
        *error_offset = static_cast<int>(OriginOf(statement->text, translated.origin, position));
      }
      return prepared.error();
    }
    return std::unique_ptr<FactStatement>(std::move(statement));
  }

  Status Run(FactStatement& base, std::chrono::milliseconds timeout,
             const std::function<bool(const FactRow&)>& on_row) override {
    auto& statement = static_cast<PgFactStatement&>(base);
    // Parameters are typed as the bound values are (as SQLite would see them), so :days * 86400000
    // is 64-bit arithmetic and 1.5 stays 1.5 whatever PostgreSQL inferred at prepare.
    std::vector<Oid> types = statement.types;
    std::vector<std::string> texts(statement.values.size());
    std::vector<const char*> values(statement.values.size(), nullptr);
    for (size_t i = 0; i < statement.values.size(); ++i) {
      const FactValue& value = statement.values[i];
      if (const auto* n = std::get_if<int64_t>(&value)) {
        types[i] = kPgInt8Oid;
        texts[i] = std::to_string(*n);
      } else if (const auto* d = std::get_if<double>(&value)) {
        types[i] = kPgFloat8Oid;
        texts[i] = PgNumberText(*d);
      } else if (const auto* s = std::get_if<std::string>(&value)) {
        types[i] = kPgTextOid;
        texts[i] = *s;
      } else {
        continue;
      }
      values[i] = texts[i].c_str();
    }
    DOZOR_RETURN_IF_ERROR(Healthy());
    if (types != statement.types || statement.generation != generation_) {
      DOZOR_RETURN_IF_ERROR(PrepareChecked(statement, types, nullptr));
    }
    if (timeout.count() != timeout_ms_) {
      DOZOR_RETURN_IF_ERROR(
          Exec("SET statement_timeout = " + std::to_string(std::max<int64_t>(1, timeout.count()))));
      timeout_ms_ = timeout.count();
    }
    // In a snapshot, a failed statement must not abort the transaction the other rules read.
    const bool in_snapshot = PQtransactionStatus(conn_) == PQTRANS_INTRANS;
    if (in_snapshot) {
      DOZOR_RETURN_IF_ERROR(Exec("SAVEPOINT dozor_rule"));
    }
    Status status = RunPrepared(statement, values, timeout, on_row);
    if (in_snapshot) {
      Status after =
          Exec(status.ok() ? "RELEASE SAVEPOINT dozor_rule" : "ROLLBACK TO SAVEPOINT dozor_rule");
      if (status.ok() && !after.ok()) {
        status = after;
      }
    }
    return status;
  }

  Status BeginSnapshot() override {
    in_snapshot_ = false;
    if (scoped_ && (++snapshots_since_scope_reset_ >= kPgScopeResetEvery ||
                    std::chrono::steady_clock::now() - scope_reset_at_ >= kPgScopeResetAfter)) {
      DOZOR_RETURN_IF_ERROR(ResetScopeStatistics());
    }
    DOZOR_RETURN_IF_ERROR(Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    in_snapshot_ = true;
    return OkStatus();
  }
  Status EndSnapshot() override {
    Status ended = Exec("COMMIT");
    in_snapshot_ = false;
    return ended;
  }

  Status ScopeToHosts(const std::vector<int64_t>& host_ids) override {
    return Scope("INSERT INTO " + std::string(kPgScopeTable) +
                     "(host_id) SELECT DISTINCT unnest($1::bigint[]) ON CONFLICT DO NOTHING",
                 host_ids);
  }
  Status ScopeToOrganizations(const std::vector<int64_t>& org_ids) override {
    return Scope("INSERT INTO " + std::string(kPgScopeTable) + "(host_id) SELECT id FROM " +
                     store_schema_ +
                     ".agents WHERE org_id = ANY($1::bigint[]) AND revoked_at IS NULL "
                     "ON CONFLICT DO NOTHING",
                 org_ids);
  }

  Result<std::vector<FactHost>> LiveHosts() override {
    DOZOR_ASSIGN_OR_RETURN(PgResultPtr rows,
                           Query("SELECT id, org_id, last_health_at FROM " + store_schema_ +
                                     ".agents WHERE revoked_at IS NULL ORDER BY id",
                                 {}));
    std::vector<FactHost> hosts;
    for (int r = 0; r < PQntuples(rows.get()); ++r) {
      hosts.push_back(HostAt(rows.get(), r));
    }
    return hosts;
  }

  Result<std::optional<FactHost>> LiveHost(int64_t host_id) override {
    DOZOR_ASSIGN_OR_RETURN(PgResultPtr rows,
                           Query("SELECT id, org_id, last_health_at FROM " + store_schema_ +
                                     ".agents WHERE id = $1::bigint AND revoked_at IS NULL",
                                 {std::to_string(host_id)}));
    if (PQntuples(rows.get()) == 0) {
      return std::optional<FactHost>();
    }
    return std::optional<FactHost>(HostAt(rows.get(), 0));
  }

  Result<std::vector<int64_t>> Organizations() override {
    DOZOR_ASSIGN_OR_RETURN(
        PgResultPtr rows,
        Query("SELECT id FROM " + store_schema_ + ".organizations ORDER BY id", {}));
    std::vector<int64_t> ids;
    for (int r = 0; r < PQntuples(rows.get()); ++r) {
      ids.push_back(std::strtoll(PQgetvalue(rows.get(), r, 0), nullptr, 10));
    }
    return ids;
  }

  Result<bool> OrganizationExists(int64_t org_id) override {
    DOZOR_ASSIGN_OR_RETURN(PgResultPtr rows, Query("SELECT 1 FROM " + store_schema_ +
                                                       ".organizations WHERE id = $1::bigint",
                                                   {std::to_string(org_id)}));
    return PQntuples(rows.get()) != 0;
  }

  [[nodiscard]] int64_t generation() const { return generation_; }

  void Deallocate(const std::string& name) {
    if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK &&
        PQtransactionStatus(conn_) == PQTRANS_IDLE) {
      PgResultPtr ignored(PQexec(conn_, ("DEALLOCATE " + name).c_str()));
    } else {
      // Not now (an aborted or running transaction): the connection's end drops it.
    }
  }

 private:
  static FactHost HostAt(const PGresult* rows, int r) {
    return FactHost{std::strtoll(PQgetvalue(rows, r, 0), nullptr, 10),
                    std::strtoll(PQgetvalue(rows, r, 1), nullptr, 10),
                    std::strtoll(PQgetvalue(rows, r, 2), nullptr, 10)};
  }

  static size_t OriginOf(const std::string& text, const std::vector<size_t>& origin, int position) {
    // PostgreSQL's position counts characters from 1; origin maps bytes.
    size_t byte = 0;
    int characters = 1;
    while (byte < text.size() && characters < position) {
      byte += std::max<size_t>(1, Utf8SequenceLength(text, byte));
      ++characters;
    }
    if (byte >= origin.size()) {
      return origin.empty() ? 0 : origin.back() + 1;
    }
    return origin[byte];
  }

  Error Failure(const PGresult* result, ErrorCode code, std::string_view prefix) {
    std::string message = PgFieldOr(result, PG_DIAG_MESSAGE_PRIMARY, PQerrorMessage(conn_));
    if (PQstatus(conn_) != CONNECTION_OK) {
      code = ErrorCode::kUnavailable;
    }
    return MakeError(code, std::string(prefix) + message);
  }

  // A session outlives database restarts and failovers: a connection found lost between
  // evaluations is opened again (views, scope table, settings), and its statements are prepared
  // again on first use. Lost in the middle of a snapshot, the evaluation fails instead: its reads
  // would no longer be one consistent state.
  Status Healthy() {
    if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) {
      return OkStatus();
    }
    if (in_snapshot_) {
      return MakeError(ErrorCode::kUnavailable,
                       "rules: lost the PostgreSQL connection during an evaluation");
    }
    return Reconnect();
  }

  Status Reconnect() {
    if (conn_ != nullptr) {
      PQfinish(conn_);
      conn_ = nullptr;
    }
    view_names_.clear();
    hosts_oid_ = -1;
    allowed_functions_.clear();
    catalog_lookup_types_.clear();
    type_names_.clear();
    timeout_ms_ = -1;
    ++generation_;
    Status opened = Open(conninfo_, scoped_);
    if (opened.ok()) {
      spdlog::info("rules: reconnected to PostgreSQL");
    }
    return opened;
  }

  // A connection the server ended is only noticed when it is used: a statement outside a
  // snapshot that failed on a lost connection is sent once more on a new one.
  [[nodiscard]] bool LostOutsideSnapshot(const PGresult* result) const {
    const ExecStatusType status = PQresultStatus(result);
    return status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK &&
           PQstatus(conn_) != CONNECTION_OK && !in_snapshot_;
  }

  Status Exec(const std::string& sql) {
    DOZOR_RETURN_IF_ERROR(Healthy());
    PgResultPtr result(PQexec(conn_, sql.c_str()));
    if (LostOutsideSnapshot(result.get())) {
      DOZOR_RETURN_IF_ERROR(Reconnect());
      result.reset(PQexec(conn_, sql.c_str()));
    }
    const ExecStatusType status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      return Failure(result.get(), ErrorCode::kInternal, "rules: ");
    }
    return OkStatus();
  }

  Result<PgResultPtr> Query(const std::string& sql, const std::vector<std::string>& params) {
    DOZOR_RETURN_IF_ERROR(Healthy());
    std::vector<const char*> values;
    for (const std::string& p : params) {
      values.push_back(p.c_str());
    }
    PgResultPtr result(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                    values.data(), nullptr, nullptr, 0));
    if (LostOutsideSnapshot(result.get())) {
      DOZOR_RETURN_IF_ERROR(Reconnect());
      result.reset(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                values.data(), nullptr, nullptr, 0));
    }
    const ExecStatusType status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      return Failure(result.get(), ErrorCode::kInternal, "rules: ");
    }
    return result;
  }

  // The planner's idea of the scope table: one row per page, as a host's or an organisation's
  // scope is (a few rows; never analysed, PostgreSQL would assume 2,260 and scan every agents
  // row to join them). VACUUM records one live row on one page; the dead rows each scope leaves
  // behind (temporary tables are not autovacuumed) are cleared at the same time. And the cached
  // generic plans are dropped: a plan made when a window table was nearly empty (a new database,
  // the minute before autovacuum first analyses it) scanned the whole table once there were
  // thousands of rows (86 ms for one host). Every kPgScopeResetEvery evaluations or
  // kPgScopeResetAfter, whichever comes first; outside a transaction only (VACUUM).
  Status ResetScopeStatistics() {
    snapshots_since_scope_reset_ = 0;
    scope_reset_at_ = std::chrono::steady_clock::now();
    DOZOR_RETURN_IF_ERROR(Exec("DELETE FROM " + std::string(kPgScopeTable)));
    DOZOR_RETURN_IF_ERROR(Exec("INSERT INTO " + std::string(kPgScopeTable) + " VALUES (-1)"));
    DOZOR_RETURN_IF_ERROR(Exec("VACUUM " + std::string(kPgScopeTable)));
    DOZOR_RETURN_IF_ERROR(Exec("DELETE FROM " + std::string(kPgScopeTable)));
    return Exec("DISCARD PLANS");
  }

  Status Scope(const std::string& add, const std::vector<int64_t>& ids) {
    if (!scoped_) {
      return MakeError(ErrorCode::kFailedPrecondition, "facts: not a scoped session");
    }
    std::string array = "{";
    for (int64_t id : ids) {
      array += (array.size() > 1 ? "," : "") + std::to_string(id);
    }
    array += "}";
    DOZOR_RETURN_IF_ERROR(Exec("DELETE FROM " + std::string(kPgScopeTable)));
    DOZOR_ASSIGN_OR_RETURN(PgResultPtr added, Query(add, {array}));
    return OkStatus();
  }

  // Prepares `statement` (with `types`, or PostgreSQL's inference when empty) under the guard.
  // Outside a transaction the parsed statement's dependencies are checked (see the header); in a
  // snapshot (a re-prepare for other parameter types) they cannot be (the check creates a view)
  // and need not be: types change which overload of a name is chosen, never which relations are
  // read or which names are called, and every overload of an allowed name lives in pg_catalog or
  // dozor_rules, the only schemas besides pg_temp on the path.
  Status PrepareChecked(PgFactStatement& statement, const std::vector<Oid>& types,
                        int* error_position) {
    auto refuse = [](std::string message) {
      return MakeError(ErrorCode::kInvalidArgument, std::move(message));
    };
    if (statement.live && statement.generation == generation_) {
      Deallocate(statement.name);
    }
    statement.live = false;
    statement.generation = generation_;
    statement.name = "dozor_rule_" + std::to_string(++statement_counter_);
    PgResultPtr prepared(PQprepare(conn_, statement.name.c_str(), statement.text.c_str(),
                                   static_cast<int>(types.size()),
                                   types.empty() ? nullptr : types.data()));
    statement.live = PQresultStatus(prepared.get()) == PGRES_COMMAND_OK;
    if (PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
      if (error_position != nullptr) {
        *error_position =
            std::atoi(PgFieldOr(prepared.get(), PG_DIAG_STATEMENT_POSITION, "-1").c_str());
      }
      return Failure(prepared.get(), ErrorCode::kInvalidArgument, "");
    }
    PgResultPtr described(PQdescribePrepared(conn_, statement.name.c_str()));
    if (PQresultStatus(described.get()) != PGRES_COMMAND_OK) {
      return Failure(described.get(), ErrorCode::kInternal, "rules: ");
    }
    if (PQnfields(described.get()) == 0) {
      return refuse("only SELECT statements are allowed in rules");
    }
    std::vector<std::string> columns;
    for (int c = 0; c < PQnfields(described.get()); ++c) {
      columns.emplace_back(PQfname(described.get(), c));
    }
    std::vector<Oid> parameter_types;
    for (int p = 0; p < PQnparams(described.get()); ++p) {
      parameter_types.push_back(PQparamtype(described.get(), p));
    }
    if (parameter_types.size() != statement.parameters.size()) {
      return refuse("the rule's parameters do not match its text");
    }
    if (PQtransactionStatus(conn_) == PQTRANS_IDLE) {
      DOZOR_RETURN_IF_ERROR(CheckDependencies(statement, parameter_types));
    }
    statement.columns = std::move(columns);
    statement.types = std::move(parameter_types);
    return OkStatus();
  }

  // Creates the statement as a TEMP view in a transaction that is rolled back and judges the
  // query tree PostgreSQL stored for it: what the parsed query refers to, by OID.
  Status CheckDependencies(PgFactStatement& statement, const std::vector<Oid>& types) {
    auto refuse = [](std::string message) {
      return MakeError(ErrorCode::kInvalidArgument, std::move(message));
    };
    // $n as typed NULLs: a view has no parameters. The statement is wrapped as a subquery so
    // duplicate column names are allowed; it already prepared alone, so it is one balanced
    // statement and cannot close the parenthesis itself (a trailing -- comment ends at the
    // newline).
    std::string body;
    const std::string& text = statement.text;
    for (size_t i = 0; i < text.size(); ++i) {
      // Only the $n this source wrote: '$' is refused in rule text outside literals, and a
      // literal containing "$1" is rewritten too, harmlessly (the view is never run).
      if (text[i] == '$' && i + 1 < text.size() &&
          std::isdigit(static_cast<unsigned char>(text[i + 1])) != 0) {
        size_t j = i + 1;
        while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j])) != 0) {
          ++j;
        }
        const size_t index = std::stoul(text.substr(i + 1, j - i - 1)) - 1;
        DOZOR_ASSIGN_OR_RETURN(std::string type_name, TypeName(types.at(index)));
        body += "CAST(NULL AS " + type_name + ")";
        i = j - 1;
        continue;
      }
      body.push_back(text[i]);
    }
    DOZOR_RETURN_IF_ERROR(Exec("BEGIN READ WRITE"));
    auto rollback = [this] { (void)Exec("ROLLBACK"); };
    PgResultPtr created(
        PQexecParams(conn_,
                     ("CREATE TEMP VIEW " + std::string(kPgProbeView) +
                      " AS SELECT 1 AS probe FROM (\n" + body + "\n) AS dozor_rule_query")
                         .c_str(),
                     0, nullptr, nullptr, nullptr, nullptr, 0));
    if (PQresultStatus(created.get()) != PGRES_COMMAND_OK) {
      Error error = Failure(created.get(), ErrorCode::kInvalidArgument, "");
      rollback();
      return error;
    }
    // The analysed query tree PostgreSQL stored for the view (pg_rewrite.ev_action): every
    // relation (RangeTblEntry :relid), function call (FuncExpr :funcid, Aggref :aggfnoid,
    // WindowFunc :winfnoid), operator (:opno, RowCompareExpr :opnos) and type the rule refers to,
    // as OIDs, after name resolution. (pg_depend would be simpler but omits pinned objects: all
    // of pg_catalog.)
    auto tree = Query(
        "SELECT r.ev_action::text, r.ev_class::bigint FROM pg_rewrite r WHERE "
        "r.ev_class = $1::regclass",
        {"pg_temp." + std::string(kPgProbeView)});
    rollback();
    if (!tree.ok()) {
      return tree.error();
    }
    if (PQntuples(tree->get()) != 1) {
      return MakeError(ErrorCode::kInternal, "rules: no query tree for the rule probe");
    }
    const std::string action = PQgetvalue(tree->get(), 0, 0);
    const int64_t probe_oid = std::strtoll(PQgetvalue(tree->get(), 0, 1), nullptr, 10);
    if (action.find("{SQLVALUEFUNCTION") != std::string::npos) {
      return refuse(
          "CURRENT_DATE, CURRENT_USER and the like are not allowed in rules (use "
          ":now_ms)");
    }
    std::vector<int64_t> relations;
    std::vector<int64_t> functions;
    std::vector<int64_t> operators;
    static const std::regex kOid(R"(:(\w+) (\d+))");
    static const std::regex kOids(R"(:opnos \(o([\d ]+)\))");
    for (std::sregex_iterator it(action.begin(), action.end(), kOid), done; it != done; ++it) {
      const std::string key = (*it)[1].str();
      const int64_t oid = std::strtoll((*it)[2].str().c_str(), nullptr, 10);
      if (key == "relid") {
        if (oid != probe_oid) {
          relations.push_back(oid);
        }
      } else if (key == "funcid" || key == "aggfnoid" || key == "winfnoid") {
        functions.push_back(oid);
      } else if (key == "opno") {
        operators.push_back(oid);
      } else if (key.find("typ") != std::string::npos && catalog_lookup_types_.count(oid) != 0) {
        // reg* types look names up in the catalogs ('agents'::regclass): not a fact.
        DOZOR_ASSIGN_OR_RETURN(std::string type_name, TypeName(static_cast<Oid>(oid)));
        return refuse("type " + type_name + " is not allowed in rules");
      }
    }
    for (std::sregex_iterator it(action.begin(), action.end(), kOids), done; it != done; ++it) {
      std::istringstream list((*it)[1].str());
      int64_t oid = 0;
      while (list >> oid) {
        operators.push_back(oid);
      }
    }
    std::set<std::string> views;
    std::set<std::string> read_columns;
    std::vector<int64_t> unknown_relations;
    for (int64_t oid : relations) {
      auto view = view_names_.find(oid);
      if (view == view_names_.end()) {
        unknown_relations.push_back(oid);
        continue;
      }
      views.insert(view->second);
      // Any read of hosts, as SQLite's authorizer reports it (it sees the view's columns): a
      // health report changes last_seen_ms, agent_version and clock_offset_ms alike.
      if (oid == hosts_oid_) {
        read_columns.insert("hosts.last_seen_ms");
      }
    }
    std::vector<int64_t> refused_functions;
    for (int64_t oid : functions) {
      if (allowed_functions_.count(oid) == 0) {
        refused_functions.push_back(oid);
      }
    }
    auto array = [](const std::vector<int64_t>& oids) {
      std::string out = "{";
      for (int64_t oid : oids) {
        out += (out.size() > 1 ? "," : "") + std::to_string(oid);
      }
      return out + "}";
    };
    DOZOR_ASSIGN_OR_RETURN(
        PgResultPtr names,
        Query("SELECT 1, n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON "
              "n.oid = c.relnamespace WHERE c.oid = ANY($1::oid[]) "
              "UNION ALL SELECT 2, CASE WHEN n.nspname = 'pg_catalog' THEN p.proname ELSE "
              "n.nspname || '.' || p.proname END FROM pg_proc p JOIN pg_namespace n ON "
              "n.oid = p.pronamespace WHERE p.oid = ANY($2::oid[]) "
              "UNION ALL SELECT 3, n.nspname || '.' || o.oprname FROM pg_operator o JOIN "
              "pg_namespace n ON n.oid = o.oprnamespace WHERE o.oid = ANY($3::oid[]) AND "
              "o.oprnamespace <> 'pg_catalog'::regnamespace ORDER BY 1, 2",
              {array(unknown_relations), array(refused_functions), array(operators)}));
    if (PQntuples(names.get()) > 0) {
      const std::string kind = PQgetvalue(names.get(), 0, 0);
      const std::string name = PQgetvalue(names.get(), 0, 1);
      if (kind == "1") {
        return refuse("reads " + name +
                      ": rules may read only the fact views (docs/rule-language.md)");
      }
      if (kind == "2") {
        return refuse("function " + name + "() is not allowed in rules");
      }
      return refuse("operator " + name + " is not allowed in rules");
    }
    if (!unknown_relations.empty() || !refused_functions.empty()) {
      return refuse("refers to objects outside the fact views and the rule functions");
    }
    statement.views = std::move(views);
    statement.read_columns = std::move(read_columns);
    return OkStatus();
  }

  Result<std::string> TypeName(Oid type) {
    auto cached = type_names_.find(type);
    if (cached != type_names_.end()) {
      return cached->second;
    }
    DOZOR_ASSIGN_OR_RETURN(PgResultPtr row,
                           Query("SELECT format_type($1::oid, NULL)", {std::to_string(type)}));
    std::string name = PQgetvalue(row.get(), 0, 0);
    type_names_[type] = name;
    return name;
  }

  Status RunPrepared(PgFactStatement& statement, const std::vector<const char*>& values,
                     std::chrono::milliseconds timeout,
                     const std::function<bool(const FactRow&)>& on_row) {
    if (PQsendQueryPrepared(conn_, statement.name.c_str(), static_cast<int>(values.size()),
                            values.data(), nullptr, nullptr, 0) == 0) {
      return MakeError(
          PQstatus(conn_) != CONNECTION_OK ? ErrorCode::kUnavailable : ErrorCode::kInternal,
          std::string("rules: ") + PQerrorMessage(conn_));
    }
    PQsetSingleRowMode(conn_);
    bool stopped = false;
    Status status = OkStatus();
    while (true) {
      PgResultPtr result(PQgetResult(conn_));
      if (!result) {
        break;
      }
      const ExecStatusType kind = PQresultStatus(result.get());
      if (kind == PGRES_SINGLE_TUPLE) {
        if (!stopped && !on_row(PgFactRow(result.get()))) {
          stopped = true;
          // The rest is not wanted: ask the server to stop instead of reading it.
          if (PGcancel* cancel = PQgetCancel(conn_); cancel != nullptr) {
            char buffer[256];
            (void)PQcancel(cancel, buffer, sizeof buffer);
            PQfreeCancel(cancel);
          }
        }
        continue;
      }
      if (kind == PGRES_TUPLES_OK || kind == PGRES_COMMAND_OK) {
        continue;
      }
      if (stopped || !status.ok()) {
        continue;  // the cancel we asked for, or a second error
      }
      const std::string sqlstate = PgFieldOr(result.get(), PG_DIAG_SQLSTATE, "");
      if (sqlstate == "57014") {
        status = MakeError(
            ErrorCode::kResourceExhausted,
            "exceeded the " + std::to_string(timeout.count()) + " ms deadline and was stopped");
      } else {
        status = Failure(
            result.get(),
            PQstatus(conn_) != CONNECTION_OK ? ErrorCode::kUnavailable : ErrorCode::kInternal, "");
      }
    }
    return status;
  }

  PGconn* conn_ = nullptr;
  std::string conninfo_;
  int64_t generation_ = 0;    // connections opened so far; statements remember theirs
  bool in_snapshot_ = false;  // between BeginSnapshot and EndSnapshot
  bool scoped_ = false;
  int snapshots_since_scope_reset_ = 0;
  std::chrono::steady_clock::time_point scope_reset_at_ = std::chrono::steady_clock::now();
  std::string store_schema_;
  std::map<int64_t, std::string> view_names_;  // oid -> fact view
  int64_t hosts_oid_ = -1;
  std::unordered_set<int64_t> allowed_functions_;
  std::unordered_set<int64_t> catalog_lookup_types_;  // reg* and their arrays
  std::map<Oid, std::string> type_names_;
  int64_t statement_counter_ = 0;
  int64_t timeout_ms_ = -1;
};

PgFactStatement::~PgFactStatement() {
  if (session != nullptr && live && generation == session->generation()) {
    session->Deallocate(name);
  }
}

class PgFactSource final : public FactSource {
 public:
  explicit PgFactSource(std::string conninfo) : conninfo_(std::move(conninfo)) {}

  Result<std::unique_ptr<FactSession>> OpenSession(FactSessionKind kind) override {
    auto session = std::make_unique<PgFactSession>();
    DOZOR_RETURN_IF_ERROR(session->Open(conninfo_, kind == FactSessionKind::kScoped));
    return std::unique_ptr<FactSession>(std::move(session));
  }

 private:
  std::string conninfo_;
};

}  // namespace

std::unique_ptr<FactSource> MakePostgresFactSource(std::string conninfo) {
  return std::make_unique<PgFactSource>(std::move(conninfo));
}

}  // namespace dozor::server
