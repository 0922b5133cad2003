#include "rules/rule_engine.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <functional>
#include <set>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <regex>
#include <unordered_map>
#include <unordered_set>

#include "dozor/common/version.hpp"
#include "rules/embedded.hpp"
#include "store/version_compare.hpp"

namespace dozor::server::rules {
namespace {

using Json = nlohmann::ordered_json;
using SteadyClock = std::chrono::steady_clock;

// Functions rule SQL may call: core scalar, aggregate, window, date, math and JSON functions,
// plus version_compare. Anything else (load_extension, randomblob, zeroblob, sqlite_* internals,
// unknown extensions) is refused at prepare time.
const std::unordered_set<std::string>& FunctionWhitelist() {
  static const std::unordered_set<std::string> kNames = {
      // scalar
      "abs", "char", "coalesce", "concat", "concat_ws", "format", "glob", "hex", "ifnull", "iif",
      "instr", "length", "like", "likelihood", "likely", "lower", "ltrim", "max", "min", "nullif",
      "octet_length", "printf", "quote", "replace", "round", "rtrim", "sign", "substr",
      "substring", "trim", "typeof", "unhex", "unicode", "unlikely", "upper", "sqlite_version",
      // aggregate
      "avg", "count", "group_concat", "string_agg", "sum", "total",
      // window
      "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead",
      "first_value", "last_value", "nth_value",
      // date and time
      "date", "time", "datetime", "julianday", "unixepoch", "strftime", "timediff",
      "current_date", "current_time", "current_timestamp",
      // math
      "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "ceil", "ceiling", "cos", "cosh",
      "degrees", "exp", "floor", "ln", "log", "log10", "log2", "mod", "pi", "pow", "power",
      "radians", "sin", "sinh", "sqrt", "tan", "tanh", "trunc",
      // json
      "json", "json_array", "json_array_length", "json_extract", "json_insert", "json_object",
      "json_patch", "json_quote", "json_remove", "json_replace", "json_set", "json_type",
      "json_valid", "json_group_array", "json_group_object",
      // ours
      "version_compare"};
  return kNames;
}

const std::set<std::string>& HealthViews() {
  static const std::set<std::string> kViews = {"health",     "health_fs",        "health_nic",
                                              "fs_trend",   "health_latest",    "health_fs_latest"};
  return kViews;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// State shared by the authorizer callback of one connection.
struct AuthState {
  enum class Mode { kTrusted, kProbe, kRule };
  Mode mode = Mode::kTrusted;
  std::set<std::string> view_names;
  // (main table, column) pairs the fact views read: the only columns reachable through a view.
  std::set<std::pair<std::string, std::string>> view_columns;
  std::map<std::string, std::set<std::string>> table_views;  // main table -> views using it
  // Recording for the rule statement being prepared.
  std::set<std::string>* views_read = nullptr;
  bool reads_last_seen = false;
  std::string denial;
};

void Deny(AuthState& state, std::string reason) {
  if (state.denial.empty()) {
    state.denial = std::move(reason);
  }
}

int Authorize(void* context, int action, const char* arg1, const char* arg2, const char* arg3,
              const char* arg4) {
  auto& state = *static_cast<AuthState*>(context);
  auto text = [](const char* s) { return s != nullptr ? std::string_view(s) : std::string_view(); };
  std::string_view table = text(arg1);
  std::string_view column = text(arg2);
  std::string_view db = text(arg3);
  std::string_view inner = text(arg4);
  if (state.mode == AuthState::Mode::kTrusted) {
    return SQLITE_OK;
  }
  if (state.mode == AuthState::Mode::kProbe) {
    if (action == SQLITE_READ && db == "main") {
      state.view_columns.emplace(std::string(table), std::string(column));
      if (!inner.empty()) {
        state.table_views[std::string(table)].insert(std::string(inner));
      }
    }
    return SQLITE_OK;
  }
  auto record = [&state](std::string_view view) {
    if (state.views_read != nullptr && state.view_names.count(std::string(view)) != 0) {
      state.views_read->insert(std::string(view));
    }
  };
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    case SQLITE_FUNCTION: {
      std::string name = Lower(column);
      if (FunctionWhitelist().count(name) != 0) {
        return SQLITE_OK;
      }
      Deny(state, "function " + name + "() is not allowed in rules");
      return SQLITE_DENY;
    }
    case SQLITE_READ: {
      if (db == "temp") {
        if (state.view_names.count(std::string(table)) != 0) {
          record(table);
          if (table == "hosts" && column == "last_seen_ms") {
            state.reads_last_seen = true;
          }
          return SQLITE_OK;
        }
        if (table == "scope_hosts") {
          return SQLITE_OK;
        }
      } else if (db == "main") {
        std::string table_name(table);
        auto views = state.table_views.find(table_name);
        // Only through one of the engine's own views that reads this table. (A CTE is reported
        // with its own name here; the store's table names are refused in rule text before
        // prepare, so such a CTE cannot reach a main table.)
        // (SQLite may attribute a read inside a flattened join to the neighbouring view, so any
        // of the engine's views counts as "through a view".)
        // An empty column is a row-existence read SQLite makes for joins inside a view, without
        // naming the view; it reveals no values, and a rule cannot name the table itself.
        bool via_view = views != state.table_views.end() &&
                        (state.view_names.count(std::string(inner)) != 0 || column.empty());
        if (via_view &&
            (column.empty() ||
             state.view_columns.count({table_name, std::string(column)}) != 0)) {
          record(inner);
          if (views->second.size() == 1) {
            record(*views->second.begin());
          }
          if (table == "agents" && column == "last_seen" && inner == "hosts") {
            state.reads_last_seen = true;
          }
          return SQLITE_OK;
        }
      }
      Deny(state, "reads " + std::string(db) + "." + std::string(table) +
                      (column.empty() ? "" : "." + std::string(column)) +
                      ": rules may read only the fact views (docs/rule-language.md)");
      return SQLITE_DENY;
    }
    case SQLITE_PRAGMA:
      Deny(state, "PRAGMA is not allowed in rules");
      return SQLITE_DENY;
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
      Deny(state, "ATTACH/DETACH is not allowed in rules");
      return SQLITE_DENY;
    default:
      Deny(state, "only SELECT statements are allowed in rules (action " +
                      std::to_string(action) + " refused)");
      return SQLITE_DENY;
  }
}

void VersionCompare(sqlite3_context* context, int argc, sqlite3_value** argv) {
  if (argc != 2 || sqlite3_value_type(argv[0]) == SQLITE_NULL ||
      sqlite3_value_type(argv[1]) == SQLITE_NULL) {
    sqlite3_result_null(context);
    return;
  }
  auto as_view = [](sqlite3_value* value) {
    const unsigned char* data = sqlite3_value_text(value);
    int size = sqlite3_value_bytes(value);
    return data != nullptr ? std::string_view(reinterpret_cast<const char*>(data),
                                              static_cast<size_t>(size))
                           : std::string_view();
  };
  int cmp = CompareDebianVersions(as_view(argv[0]), as_view(argv[1]));
  sqlite3_result_int(context, cmp < 0 ? -1 : (cmp > 0 ? 1 : 0));
}

struct Deadline {
  bool active = false;
  SteadyClock::time_point at;
};

int ProgressHandler(void* context) {
  auto& deadline = *static_cast<Deadline*>(context);
  return deadline.active && SteadyClock::now() > deadline.at ? 1 : 0;
}

struct StmtDeleter {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

// A rule connection: read-only handle, fact views, authorizer and deadline.
class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    statements_.clear();
    if (db_ != nullptr) {
      sqlite3_close_v2(db_);
    }
  }

  Status Open(const std::string& path, bool scoped) {
    int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
      return MakeError(ErrorCode::kUnavailable,
                       "rules: cannot open " + path + " read-only: " +
                           (db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc)));
    }
    sqlite3_busy_timeout(db_, 5000);
    sqlite3_extended_result_codes(db_, 1);
    if (scoped) {
      DOZOR_RETURN_IF_ERROR(Exec("CREATE TEMP TABLE scope_hosts(host_id INTEGER PRIMARY KEY)"));
    }
    for (const auto& [name, text] : FactViewFiles()) {
      std::string sql = ExpandScope(text, scoped);
      if (Status created = Exec(sql); !created.ok()) {
        return created.error().Wrap("fact views " + std::string(name));
      }
      static const std::regex kViewName(R"(CREATE\s+TEMP\s+VIEW\s+(\w+))",
                                        std::regex::icase);
      for (std::sregex_iterator it(sql.begin(), sql.end(), kViewName), end; it != end; ++it) {
        auth_.view_names.insert((*it)[1].str());
      }
    }
    rc = sqlite3_create_function_v2(db_, "version_compare", 2,
                                    SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                                    nullptr, &VersionCompare, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      return MakeError(ErrorCode::kInternal, "rules: cannot register version_compare");
    }
    sqlite3_set_authorizer(db_, &Authorize, &auth_);
    // Probe what the views read, so rule SQL can reach exactly those columns through them.
    auth_.mode = AuthState::Mode::kProbe;
    for (const std::string& view : auth_.view_names) {
      sqlite3_stmt* stmt = nullptr;
      std::string sql = "SELECT * FROM temp." + view;
      rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr);
      sqlite3_finalize(stmt);
      if (rc != SQLITE_OK) {
        auth_.mode = AuthState::Mode::kTrusted;
        return MakeError(ErrorCode::kFailedPrecondition,
                         "rules: fact view " + view + " does not work on this store: " +
                             sqlite3_errmsg(db_));
      }
    }
    auth_.mode = AuthState::Mode::kTrusted;
    sqlite3_progress_handler(db_, 1000, &ProgressHandler, &deadline_);
    return OkStatus();
  }

  // Fixed SQL of the engine itself (transactions, scope table), run with full rights.
  Status Exec(const std::string& sql) {
    auto previous = auth_.mode;
    auth_.mode = AuthState::Mode::kTrusted;
    char* message = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
    auth_.mode = previous;
    if (rc != SQLITE_OK) {
      std::string text = message != nullptr ? message : sqlite3_errstr(rc);
      sqlite3_free(message);
      return MakeError(rc == SQLITE_BUSY ? ErrorCode::kUnavailable : ErrorCode::kInternal,
                       "rules: " + text);
    }
    return OkStatus();
  }

  // A statement of the engine itself, prepared with full rights.
  Result<sqlite3_stmt*> PrepareTrusted(const std::string& sql) {
    auth_.mode = AuthState::Mode::kTrusted;
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      return MakeError(ErrorCode::kInternal, "rules: " + std::string(sqlite3_errmsg(db_)));
    }
    statements_.emplace_back(stmt);
    return stmt;
  }

  sqlite3* db() const { return db_; }
  AuthState& auth() { return auth_; }
  Deadline& deadline() { return deadline_; }
  void Own(sqlite3_stmt* stmt) { statements_.emplace_back(stmt); }

 private:
  static std::string ExpandScope(std::string_view text, bool scoped) {
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
        out += "AND " + std::string(expr) + " IN (SELECT host_id FROM temp.scope_hosts)";
      }
      pos = end + 1;
    }
  }

  sqlite3* db_ = nullptr;
  AuthState auth_;
  Deadline deadline_;
  std::vector<StmtPtr> statements_;
};

// A rule statement prepared on one connection.
struct RuleStatement {
  sqlite3_stmt* stmt = nullptr;  // owned by the connection
  int key_column = -1;
  int now_index = 0;  // 0: :now_ms not used
};

struct CompiledRule {
  size_t rule_index = 0;
  RuleStatement condition_full, sustain_full, condition_scoped, sustain_scoped;
  std::set<std::string> views;
  bool health = false;  // re-run on health reports (window views or hosts.last_seen_ms)
  bool window = false;  // reads the health windows: needs fresh samples to say anything
};

bool OnlyWhitespaceOrComments(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ';') {
      ++i;
    } else if (text.substr(i, 2) == "--") {
      size_t end = text.find('\n', i);
      i = end == std::string_view::npos ? text.size() : end;
    } else if (text.substr(i, 2) == "/*") {
      size_t end = text.find("*/", i + 2);
      i = end == std::string_view::npos ? text.size() : end + 2;
    } else {
      return false;
    }
  }
  return true;
}

void BindParam(sqlite3_stmt* stmt, int index, const ParamValue& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) {
    sqlite3_bind_int64(stmt, index, *i);
  } else if (const auto* d = std::get_if<double>(&value)) {
    sqlite3_bind_double(stmt, index, *d);
  } else if (const auto* b = std::get_if<bool>(&value)) {
    sqlite3_bind_int(stmt, index, *b ? 1 : 0);
  } else {
    const std::string& s = std::get<std::string>(value);
    sqlite3_bind_text64(stmt, index, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  }
}

// Prepares one rule SQL text under the authorizer; on failure fills `error` with file:line.
// The first identifier in `sql` (outside string literals and comments) that names a store table
// or schema ("main", "temp"), or empty. Rules read the fact views only; naming a table directly,
// even inside a CTE that borrows a view's name, is refused before SQLite sees the text.
std::string FirstStoreTableReference(std::string_view sql,
                                     const std::map<std::string, std::set<std::string>>& tables,
                                     const std::set<std::string>& view_names) {
  std::string word;
  auto check = [&](std::string& w) -> bool {
    std::string lower = Lower(w);
    w.clear();
    return lower == "main" || lower == "temp" || lower == "sqlite_master" ||
           lower == "sqlite_schema" || lower == "sqlite_temp_master" ||
           (tables.count(lower) != 0 && view_names.count(lower) == 0);
  };
  for (size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (c == '\'' || c == '"' || c == '`' || c == '[') {
      std::string quoted_word;
      char close = c == '[' ? ']' : c;
      size_t end = sql.find(close, i + 1);
      if (end == std::string_view::npos) {
        break;
      }
      if (c != '\'') {  // a quoted identifier is still an identifier
        quoted_word = std::string(sql.substr(i + 1, end - i - 1));
        std::string copy = quoted_word;
        if (check(copy)) {
          return quoted_word;
        }
      }
      if (!word.empty()) {
        std::string w = word;
        if (check(word)) {
          return w;
        }
      }
      i = end;
      continue;
    }
    if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      size_t end = sql.find('\n', i);
      i = end == std::string_view::npos ? sql.size() : end;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      size_t end = sql.find("*/", i + 2);
      i = end == std::string_view::npos ? sql.size() : end + 1;
    } else if (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_') {
      word.push_back(c);
      continue;
    }
    if (!word.empty()) {
      std::string w = word;
      if (check(word)) {
        return w;
      }
    }
  }
  if (!word.empty()) {
    std::string w = word;
    if (check(word)) {
      return w;
    }
  }
  return {};
}

bool PrepareRuleSql(Connection& conn, const Rule& rule, const std::string& sql, int first_line,
                    std::string_view what, std::set<std::string>& views, bool& reads_last_seen,
                    RuleStatement& out, RuleLoadError& error) {
  AuthState& auth = conn.auth();
  auth.mode = AuthState::Mode::kRule;
  auth.denial.clear();
  auth.views_read = &views;
  auth.reads_last_seen = false;
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(conn.db(), sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
  int offset = rc != SQLITE_OK ? sqlite3_error_offset(conn.db()) : -1;
  std::string sqlite_message = sqlite3_errmsg(conn.db());
  auth.mode = AuthState::Mode::kTrusted;
  auth.views_read = nullptr;
  reads_last_seen = reads_last_seen || auth.reads_last_seen;
  error.source = rule.source;
  error.line = first_line > 0 ? first_line : 1;
  error.column = 1;
  auto fail = [&](std::string message) {
    sqlite3_finalize(stmt);
    error.message = std::string(what) + ": " + message;
    return false;
  };
  if (rc != SQLITE_OK) {
    if (offset >= 0 && static_cast<size_t>(offset) <= sql.size()) {
      std::string_view before = std::string_view(sql).substr(0, static_cast<size_t>(offset));
      error.line += static_cast<int>(std::count(before.begin(), before.end(), '\n'));
      size_t last_newline = before.rfind('\n');
      error.column = static_cast<int>(last_newline == std::string_view::npos
                                          ? before.size() + 1
                                          : before.size() - last_newline);
    }
    return fail(!auth.denial.empty() ? auth.denial : sqlite_message);
  }
  if (stmt == nullptr) {
    return fail("no SQL statement");
  }
  size_t consumed = static_cast<size_t>(tail - sql.data());
  if (!OnlyWhitespaceOrComments(std::string_view(sql).substr(consumed))) {
    return fail("only one SELECT statement is allowed");
  }
  if (sqlite3_stmt_readonly(stmt) == 0) {
    return fail("only SELECT statements are allowed in rules");
  }
  // After the authorizer (whose messages are more precise): a rule that names a store table
  // even where the authorizer cannot tell (a CTE borrowing a view's name) is refused.
  if (std::string table = FirstStoreTableReference(sql, auth.table_views, auth.view_names);
      !table.empty()) {
    return fail("names the store table or schema '" + table +
                "': rules may read only the fact views (docs/rule-language.md)");
  }
  std::string_view key = rule.scope == RuleScope::kHost ? "host_id" : "org_id";
  out.key_column = -1;
  for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
    const char* name = sqlite3_column_name(stmt, i);
    if (name != nullptr && Lower(name) == key) {
      out.key_column = i;
      break;
    }
  }
  if (out.key_column < 0) {
    return fail(std::string(RuleScopeName(rule.scope)) + " rules must return a column " +
                std::string(key));
  }
  out.now_index = 0;
  for (int i = 1; i <= sqlite3_bind_parameter_count(stmt); ++i) {
    const char* raw = sqlite3_bind_parameter_name(stmt, i);
    if (raw == nullptr || raw[0] != ':') {
      return fail("use named parameters (:name), not ? or $name");
    }
    std::string name(raw + 1);
    if (name == "now_ms") {
      out.now_index = i;
      continue;
    }
    if (name == "server_version") {
      // Fixed for the life of the process, so bound once here.
      sqlite3_bind_text(stmt, i, kVersion, -1, SQLITE_STATIC);
      continue;
    }
    auto param = std::find_if(rule.params.begin(), rule.params.end(),
                              [&name](const auto& p) { return p.first == name; });
    if (param == rule.params.end()) {
      return fail("unknown parameter :" + name + " (declare it under [params])");
    }
    BindParam(stmt, i, param->second);
  }
  conn.Own(stmt);
  out.stmt = stmt;
  return true;
}

void AppendColumn(Json& object, sqlite3_stmt* stmt, int column) {
  const char* name = sqlite3_column_name(stmt, column);
  std::string key = name != nullptr ? name : ("column" + std::to_string(column));
  switch (sqlite3_column_type(stmt, column)) {
    case SQLITE_INTEGER:
      object[key] = static_cast<int64_t>(sqlite3_column_int64(stmt, column));
      break;
    case SQLITE_FLOAT:
      object[key] = sqlite3_column_double(stmt, column);
      break;
    case SQLITE_NULL:
      object[key] = nullptr;
      break;
    case SQLITE_BLOB: {
      const auto* data = static_cast<const unsigned char*>(sqlite3_column_blob(stmt, column));
      int size = sqlite3_column_bytes(stmt, column);
      static const char kHex[] = "0123456789abcdef";
      std::string hex;
      for (int i = 0; i < size; ++i) {
        hex += kHex[data[i] >> 4];
        hex += kHex[data[i] & 15];
      }
      object[key] = hex;
      break;
    }
    default: {
      const unsigned char* text = sqlite3_column_text(stmt, column);
      int size = sqlite3_column_bytes(stmt, column);
      object[key] = std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
      break;
    }
  }
}

using TargetRows = std::map<int64_t, Json>;  // target -> JSON array of evidence rows

}  // namespace

struct RuleEngine::Impl {
  RulePack pack;
  EngineOptions options;
  Connection full;
  Connection scoped;
  std::vector<CompiledRule> compiled;
  std::unordered_map<std::string, size_t> by_id;  // rule id -> index in compiled
  sqlite3_stmt* full_live_hosts = nullptr;
  sqlite3_stmt* full_orgs = nullptr;
  sqlite3_stmt* scoped_host_org = nullptr;
  sqlite3_stmt* scoped_org_exists = nullptr;
  sqlite3_stmt* scoped_clear = nullptr;
  sqlite3_stmt* scoped_add_host = nullptr;
  sqlite3_stmt* scoped_add_org = nullptr;

  Status Prepare();
  Status RunStatement(Connection& conn, const RuleStatement& statement, int64_t now_ms,
                      int64_t& total_rows, TargetRows& out);
  void EvaluateRules(Connection& conn, bool use_scoped, RuleScope scope,
                     const std::function<bool(const CompiledRule&)>& select,
                     const std::unordered_map<int64_t, int64_t>& target_org, int64_t now_ms,
                     EvaluationResult& result, const ActiveTargets* active = nullptr);
  // Runs a rule's sustain query on the scoped connection over only `targets` (hosts, or the
  // hosts of organisations for estate rules).
  Status RunSustainScoped(const CompiledRule& compiled_rule, RuleScope scope,
                          const std::vector<int64_t>& targets, int64_t now_ms,
                          int64_t& total_rows, TargetRows& out);
  // A window rule says nothing about a host without fresh samples: every active finding of such a
  // host gets an evidence-less sustain hit, which the store treats as "leave it as it is". Without
  // `active` (too many findings to list) those findings resolve as before.
  void KeepStaleWindowFindings(EvaluationResult& result,
                               const std::unordered_map<int64_t, int64_t>& host_org,
                               const std::unordered_set<int64_t>& stale_hosts,
                               const ActiveTargets* active) const {
    if (active == nullptr || stale_hosts.empty()) {
      return;
    }
    std::set<std::pair<std::string, int64_t>> hit;
    for (const RuleHit& h : result.hits) {
      if (h.host_id) {
        hit.emplace(h.rule_id, *h.host_id);
      }
    }
    for (const std::string& rule_id : result.rule_ids) {
      auto compiled_it = by_id.find(rule_id);
      auto targets = active->find(rule_id);
      if (compiled_it == by_id.end() || !compiled[compiled_it->second].window ||
          targets == active->end()) {
        continue;
      }
      for (int64_t host : targets->second) {
        auto org = host_org.find(host);
        if (stale_hosts.count(host) == 0 || org == host_org.end() ||
            hit.count({rule_id, host}) != 0) {
          continue;
        }
        RuleHit keep;
        keep.rule_id = rule_id;
        keep.org_id = org->second;
        keep.host_id = host;
        keep.sustain_only = true;  // evidence_json stays empty: "no fresh data"
        result.hits.push_back(std::move(keep));
      }
    }
  }
  Status RunTrusted(Connection& conn, sqlite3_stmt* stmt,
                    const std::function<void(sqlite3_stmt*)>& on_row = nullptr);
};

Status RuleEngine::Impl::Prepare() {
  std::vector<Rule> kept;
  for (size_t i = 0; i < pack.rules.size(); ++i) {
    const Rule& rule = pack.rules[i];
    CompiledRule compiled_rule;
    RuleLoadError error;
    bool reads_last_seen = false;
    bool ok = PrepareRuleSql(full, rule, rule.condition_sql, rule.condition_line, "condition",
                             compiled_rule.views, reads_last_seen, compiled_rule.condition_full,
                             error) &&
              PrepareRuleSql(scoped, rule, rule.condition_sql, rule.condition_line, "condition",
                             compiled_rule.views, reads_last_seen,
                             compiled_rule.condition_scoped, error);
    if (ok && !rule.sustain_sql.empty()) {
      ok = PrepareRuleSql(full, rule, rule.sustain_sql, rule.sustain_line, "sustain",
                          compiled_rule.views, reads_last_seen, compiled_rule.sustain_full,
                          error) &&
           PrepareRuleSql(scoped, rule, rule.sustain_sql, rule.sustain_line, "sustain",
                          compiled_rule.views, reads_last_seen, compiled_rule.sustain_scoped,
                          error);
    }
    if (!ok) {
      pack.errors.push_back(std::move(error));
      continue;
    }
    for (const std::string& view : compiled_rule.views) {
      compiled_rule.window = compiled_rule.window || HealthViews().count(view) != 0;
    }
    compiled_rule.health = compiled_rule.window || reads_last_seen;
    compiled_rule.rule_index = kept.size();
    by_id.emplace(rule.id, compiled.size());
    compiled.push_back(std::move(compiled_rule));
    kept.push_back(rule);
  }
  pack.rules = std::move(kept);
  return OkStatus();
}

Status RuleEngine::Impl::RunTrusted(Connection& conn, sqlite3_stmt* stmt,
                                    const std::function<void(sqlite3_stmt*)>& on_row) {
  conn.auth().mode = AuthState::Mode::kTrusted;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    if (on_row) {
      on_row(stmt);
    }
  }
  sqlite3_reset(stmt);
  if (rc != SQLITE_DONE) {
    return MakeError(rc == SQLITE_BUSY ? ErrorCode::kUnavailable : ErrorCode::kInternal,
                     "rules: " + std::string(sqlite3_errmsg(conn.db())));
  }
  return OkStatus();
}

Status RuleEngine::Impl::RunStatement(Connection& conn, const RuleStatement& statement,
                                      int64_t now_ms, int64_t& total_rows, TargetRows& out) {
  sqlite3_stmt* stmt = statement.stmt;
  if (statement.now_index > 0) {
    sqlite3_bind_int64(stmt, statement.now_index, now_ms);
  }
  // A statement re-prepared after a schema change must pass the authorizer again.
  conn.auth().mode = AuthState::Mode::kRule;
  conn.deadline().active = true;
  conn.deadline().at = SteadyClock::now() + std::chrono::milliseconds(options.statement_timeout_ms);
  int columns = sqlite3_column_count(stmt);
  int rc;
  Status status = OkStatus();
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    if (++total_rows > options.max_rows_per_rule) {
      status = MakeError(ErrorCode::kResourceExhausted,
                         "returned more than " + std::to_string(options.max_rows_per_rule) +
                             " rows");
      break;
    }
    if (sqlite3_column_type(stmt, statement.key_column) == SQLITE_NULL) {
      continue;
    }
    int64_t key = sqlite3_column_int64(stmt, statement.key_column);
    Json& rows = out[key];
    if (!rows.is_array()) {
      rows = Json::array();
    }
    if (rows.size() >= static_cast<size_t>(options.max_evidence_rows_per_target)) {
      continue;
    }
    Json row = Json::object();
    for (int c = 0; c < columns; ++c) {
      if (c != statement.key_column) {
        AppendColumn(row, stmt, c);
      }
    }
    rows.push_back(std::move(row));
  }
  if (status.ok() && rc != SQLITE_DONE) {
    if (rc == SQLITE_INTERRUPT) {
      status = MakeError(ErrorCode::kResourceExhausted,
                         "exceeded the " + std::to_string(options.statement_timeout_ms) +
                             " ms deadline and was stopped");
    } else {
      status = MakeError(rc == SQLITE_BUSY ? ErrorCode::kUnavailable : ErrorCode::kInternal,
                         sqlite3_errmsg(conn.db()));
    }
  }
  conn.deadline().active = false;
  conn.auth().mode = AuthState::Mode::kTrusted;
  sqlite3_reset(stmt);
  return status;
}

Status RuleEngine::Impl::RunSustainScoped(const CompiledRule& compiled_rule, RuleScope scope,
                                          const std::vector<int64_t>& targets, int64_t now_ms,
                                          int64_t& total_rows, TargetRows& out) {
  DOZOR_RETURN_IF_ERROR(RunTrusted(scoped, scoped_clear));
  for (int64_t target : targets) {
    sqlite3_stmt* add = scope == RuleScope::kHost ? scoped_add_host : scoped_add_org;
    sqlite3_bind_int64(add, 1, target);
    DOZOR_RETURN_IF_ERROR(RunTrusted(scoped, add));
  }
  return RunStatement(scoped, compiled_rule.sustain_scoped, now_ms, total_rows, out);
}

void RuleEngine::Impl::EvaluateRules(Connection& conn, bool use_scoped, RuleScope scope,
                                     const std::function<bool(const CompiledRule&)>& select,
                                     const std::unordered_map<int64_t, int64_t>& target_org,
                                     int64_t now_ms, EvaluationResult& result,
                                     const ActiveTargets* active) {
  result.scope = scope;
  for (const CompiledRule& compiled_rule : compiled) {
    const Rule& rule = pack.rules[compiled_rule.rule_index];
    if (rule.scope != scope || !select(compiled_rule)) {
      continue;
    }
    const RuleStatement& condition =
        use_scoped ? compiled_rule.condition_scoped : compiled_rule.condition_full;
    const RuleStatement& sustain =
        use_scoped ? compiled_rule.sustain_scoped : compiled_rule.sustain_full;
    int64_t total_rows = 0;
    TargetRows fired;
    TargetRows sustained;
    Status status = RunStatement(conn, condition, now_ms, total_rows, fired);
    if (status.ok() && sustain.stmt != nullptr) {
      if (active == nullptr) {
        status = RunStatement(conn, sustain, now_ms, total_rows, sustained);
      } else if (auto it = active->find(rule.id); it != active->end() && !it->second.empty()) {
        // Sustain can only keep a finding that is active, so over the whole estate it runs
        // for those targets alone (a handful) rather than scanning every host's window again.
        status = RunSustainScoped(compiled_rule, scope, it->second, now_ms, total_rows, sustained);
      }
    }
    if (!status.ok()) {
      result.rule_errors.push_back(rule.id + " (" + rule.source + "): " + status.error().message);
      continue;
    }
    result.rule_ids.push_back(rule.id);
    auto add_hit = [&](int64_t target, const Json& rows, bool sustain_only) {
      auto org = target_org.find(target);
      if (org == target_org.end()) {
        return;  // not a live host / organisation in this evaluation
      }
      RuleHit hit;
      hit.rule_id = rule.id;
      hit.org_id = org->second;
      if (scope == RuleScope::kHost) {
        hit.host_id = target;
      }
      hit.evidence_json = rows.dump(-1, ' ', false, Json::error_handler_t::replace);
      hit.sustain_only = sustain_only;
      result.hits.push_back(std::move(hit));
    };
    for (const auto& [target, rows] : fired) {
      add_hit(target, rows, false);
    }
    for (const auto& [target, rows] : sustained) {
      if (fired.count(target) == 0) {
        add_hit(target, rows, true);
      }
    }
  }
}

RuleEngine::RuleEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RuleEngine::~RuleEngine() = default;

Result<std::unique_ptr<RuleEngine>> RuleEngine::Open(const std::string& db_path, RulePack pack,
                                                     const EngineOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->pack = std::move(pack);
  impl->options = options;
  DOZOR_RETURN_IF_ERROR(impl->full.Open(db_path, false));
  DOZOR_RETURN_IF_ERROR(impl->scoped.Open(db_path, true));
  DOZOR_ASSIGN_OR_RETURN(impl->full_live_hosts,
                         impl->full.PrepareTrusted(
                             "SELECT id, org_id, last_health_at FROM main.agents "
                             "WHERE revoked_at IS NULL"));
  DOZOR_ASSIGN_OR_RETURN(impl->full_orgs,
                         impl->full.PrepareTrusted("SELECT id FROM main.organizations"));
  DOZOR_ASSIGN_OR_RETURN(
      impl->scoped_host_org,
      impl->scoped.PrepareTrusted(
          "SELECT org_id, last_health_at FROM main.agents WHERE id = ?1 AND revoked_at IS NULL"));
  DOZOR_ASSIGN_OR_RETURN(impl->scoped_org_exists,
                         impl->scoped.PrepareTrusted(
                             "SELECT id FROM main.organizations WHERE id = ?1"));
  DOZOR_ASSIGN_OR_RETURN(impl->scoped_clear,
                         impl->scoped.PrepareTrusted("DELETE FROM temp.scope_hosts"));
  DOZOR_ASSIGN_OR_RETURN(impl->scoped_add_host,
                         impl->scoped.PrepareTrusted(
                             "INSERT OR IGNORE INTO temp.scope_hosts(host_id) VALUES (?1)"));
  DOZOR_ASSIGN_OR_RETURN(
      impl->scoped_add_org,
      impl->scoped.PrepareTrusted("INSERT OR IGNORE INTO temp.scope_hosts(host_id) "
                                  "SELECT id FROM main.agents WHERE org_id = ?1 AND "
                                  "revoked_at IS NULL"));
  DOZOR_RETURN_IF_ERROR(impl->Prepare());
  return std::unique_ptr<RuleEngine>(new RuleEngine(std::move(impl)));
}

const RulePack& RuleEngine::pack() const { return impl_->pack; }

std::set<std::string> RuleEngine::ViewsReadBy(std::string_view rule_id) const {
  auto it = impl_->by_id.find(std::string(rule_id));
  return it == impl_->by_id.end() ? std::set<std::string>() : impl_->compiled[it->second].views;
}

bool RuleEngine::IsHealthRule(std::string_view rule_id) const {
  auto it = impl_->by_id.find(std::string(rule_id));
  return it != impl_->by_id.end() && impl_->compiled[it->second].health;
}

namespace {
// BEGIN on construction (a consistent snapshot for one evaluation), COMMIT on destruction:
// rule connections never write the store, so ending the read transaction is all it does.
class ReadTransaction {
 public:
  explicit ReadTransaction(Connection& conn) : conn_(conn) { status_ = conn_.Exec("BEGIN"); }
  ~ReadTransaction() {
    if (status_.ok()) {
      (void)conn_.Exec("COMMIT");
    }
  }
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;
  [[nodiscard]] const Status& status() const { return status_; }

 private:
  Connection& conn_;
  Status status_;
};
}  // namespace

Result<EvaluationResult> RuleEngine::EvaluateHost(int64_t host_id, int64_t now_ms,
                                                  RuleFilter filter) {
  Impl& impl = *impl_;
  ReadTransaction txn(impl.scoped);
  DOZOR_RETURN_IF_ERROR(txn.status());
  std::unordered_map<int64_t, int64_t> target_org;
  bool stale = false;
  sqlite3_bind_int64(impl.scoped_host_org, 1, host_id);
  DOZOR_RETURN_IF_ERROR(impl.RunTrusted(impl.scoped, impl.scoped_host_org, [&](sqlite3_stmt* s) {
    target_org[host_id] = sqlite3_column_int64(s, 0);
    stale = sqlite3_column_int64(s, 1) < now_ms - impl.options.health_stale_after_ms;
  }));
  EvaluationResult result;
  result.scope = RuleScope::kHost;
  if (target_org.empty()) {
    return result;  // revoked or unknown: nothing to evaluate
  }
  result.targets.push_back(host_id);
  DOZOR_RETURN_IF_ERROR(impl.RunTrusted(impl.scoped, impl.scoped_clear));
  sqlite3_bind_int64(impl.scoped_add_host, 1, host_id);
  DOZOR_RETURN_IF_ERROR(impl.RunTrusted(impl.scoped, impl.scoped_add_host));
  auto select = [filter, stale](const CompiledRule& rule) {
    if (stale && rule.window) {
      return false;  // no fresh samples: leave these findings as they are
    }
    return filter == RuleFilter::kAll || (filter == RuleFilter::kHealthOnly) == rule.health;
  };
  impl.EvaluateRules(impl.scoped, true, RuleScope::kHost, select, target_org, now_ms, result);
  return result;
}

Result<EvaluationResult> RuleEngine::EvaluateOrganization(int64_t org_id, int64_t now_ms) {
  Impl& impl = *impl_;
  ReadTransaction txn(impl.scoped);
  DOZOR_RETURN_IF_ERROR(txn.status());
  std::unordered_map<int64_t, int64_t> target_org;
  sqlite3_bind_int64(impl.scoped_org_exists, 1, org_id);
  DOZOR_RETURN_IF_ERROR(impl.RunTrusted(impl.scoped, impl.scoped_org_exists,
                                        [&](sqlite3_stmt*) { target_org[org_id] = org_id; }));
  EvaluationResult result;
  result.scope = RuleScope::kEstate;
  if (target_org.empty()) {
    return MakeError(ErrorCode::kNotFound, "rules: no organisation " + std::to_string(org_id));
  }
  result.targets.push_back(org_id);
  DOZOR_RETURN_IF_ERROR(impl.RunTrusted(impl.scoped, impl.scoped_clear));
  sqlite3_bind_int64(impl.scoped_add_org, 1, org_id);
  DOZOR_RETURN_IF_ERROR(impl.RunTrusted(impl.scoped, impl.scoped_add_org));
  impl.EvaluateRules(impl.scoped, true, RuleScope::kEstate, [](const CompiledRule&) { return true; },
                     target_org, now_ms, result);
  return result;
}

Result<std::vector<EvaluationResult>> RuleEngine::EvaluateAll(int64_t now_ms,
                                                              const ActiveTargets* active) {
  Impl& impl = *impl_;
  ReadTransaction txn(impl.full);
  DOZOR_RETURN_IF_ERROR(txn.status());
  std::optional<ReadTransaction> scoped_txn;
  if (active != nullptr) {
    scoped_txn.emplace(impl.scoped);
    DOZOR_RETURN_IF_ERROR(scoped_txn->status());
  }
  std::unordered_map<int64_t, int64_t> host_org;
  std::unordered_map<int64_t, int64_t> orgs;
  EvaluationResult hosts;
  EvaluationResult estate;
  hosts.scope = RuleScope::kHost;
  estate.scope = RuleScope::kEstate;
  std::unordered_set<int64_t> stale_hosts;
  DOZOR_RETURN_IF_ERROR(impl.RunTrusted(impl.full, impl.full_live_hosts, [&](sqlite3_stmt* s) {
    int64_t id = sqlite3_column_int64(s, 0);
    host_org[id] = sqlite3_column_int64(s, 1);
    hosts.targets.push_back(id);
    if (sqlite3_column_int64(s, 2) < now_ms - impl.options.health_stale_after_ms) {
      stale_hosts.insert(id);
    }
  }));
  DOZOR_RETURN_IF_ERROR(impl.RunTrusted(impl.full, impl.full_orgs, [&](sqlite3_stmt* s) {
    int64_t id = sqlite3_column_int64(s, 0);
    orgs[id] = id;
    estate.targets.push_back(id);
  }));
  std::sort(hosts.targets.begin(), hosts.targets.end());
  std::sort(estate.targets.begin(), estate.targets.end());
  auto all = [](const CompiledRule&) { return true; };
  impl.EvaluateRules(impl.full, false, RuleScope::kHost, all, host_org, now_ms, hosts, active);
  impl.KeepStaleWindowFindings(hosts, host_org, stale_hosts, active);
  impl.EvaluateRules(impl.full, false, RuleScope::kEstate, all, orgs, now_ms, estate, active);
  std::vector<EvaluationResult> out;
  out.push_back(std::move(hosts));
  out.push_back(std::move(estate));
  return out;
}

}  // namespace dozor::server::rules
