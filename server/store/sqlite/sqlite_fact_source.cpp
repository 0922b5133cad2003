#include "store/sqlite/sqlite_fact_source.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <unordered_set>

#include "domain/version_compare.hpp"
#include "dozor/common/civil_time.hpp"
#include "dozor/common/text.hpp"
#include "dozor/common/utc_time.hpp"

namespace dozor::server {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Functions rule SQL may call on SQLite. The rule dialect's checker (rules/dialect.hpp) narrows
// this to what also runs on PostgreSQL; this list is the security line: anything else
// (load_extension, randomblob, zeroblob, sqlite_* internals, unknown extensions) is refused.
const std::unordered_set<std::string>& FunctionWhitelist() {
  static const std::unordered_set<std::string> kNames = {
      // scalar
      "abs", "char", "coalesce", "concat", "concat_ws", "format", "glob", "hex", "ifnull", "iif",
      "instr", "length", "like", "likelihood", "likely", "lower", "ltrim", "max", "min", "nullif",
      "octet_length", "printf", "quote", "replace", "round", "rtrim", "sign", "substr", "substring",
      "trim", "typeof", "unhex", "unicode", "unlikely", "upper", "sqlite_version",
      // aggregate
      "avg", "count", "group_concat", "string_agg", "sum", "total",
      // window
      "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead",
      "first_value", "last_value", "nth_value",
      // date and time
      "date", "time", "datetime", "julianday", "unixepoch", "strftime", "timediff", "current_date",
      "current_time", "current_timestamp",
      // math
      "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "ceil", "ceiling", "cos", "cosh",
      "degrees", "exp", "floor", "ln", "log", "log10", "log2", "mod", "pi", "pow", "power",
      "radians", "sin", "sinh", "sqrt", "tan", "tanh", "trunc",
      // json
      "json", "json_array", "json_array_length", "json_extract", "json_insert", "json_object",
      "json_patch", "json_quote", "json_remove", "json_replace", "json_set", "json_type",
      "json_valid", "json_group_array", "json_group_object",
      // the Dozor function library (registered below)
      "version_compare", "greatest", "least", "strpos", "text_list", "date_to_ms", "ms_to_date"};
  return kNames;
}

// ---- The Dozor function library on SQLite (same semantics as postgres_functions.sql). ----

std::string_view TextOf(sqlite3_value* value) {
  const unsigned char* data = sqlite3_value_text(value);
  int size = sqlite3_value_bytes(value);
  return data != nullptr
             ? std::string_view(reinterpret_cast<const char*>(data), static_cast<size_t>(size))
             : std::string_view();
}

void VersionCompare(sqlite3_context* context, int argc, sqlite3_value** argv) {
  if (argc != 2 || sqlite3_value_type(argv[0]) == SQLITE_NULL ||
      sqlite3_value_type(argv[1]) == SQLITE_NULL) {
    sqlite3_result_null(context);
    return;
  }
  int cmp = CompareDebianVersions(TextOf(argv[0]), TextOf(argv[1]));
  sqlite3_result_int(context, cmp < 0 ? -1 : (cmp > 0 ? 1 : 0));
}

// greatest/least as PostgreSQL defines them: NULL arguments are ignored; NULL only when all are.
template <bool kGreatest>
void Extreme(sqlite3_context* context, int argc, sqlite3_value** argv) {
  sqlite3_value* best = nullptr;
  for (int i = 0; i < argc; ++i) {
    if (sqlite3_value_type(argv[i]) == SQLITE_NULL) {
      continue;
    }
    if (best == nullptr) {
      best = argv[i];
      continue;
    }
    int a_type = sqlite3_value_numeric_type(argv[i]);
    int b_type = sqlite3_value_numeric_type(best);
    bool numeric = (a_type == SQLITE_INTEGER || a_type == SQLITE_FLOAT) &&
                   (b_type == SQLITE_INTEGER || b_type == SQLITE_FLOAT);
    int cmp;
    if (numeric) {
      if (a_type == SQLITE_INTEGER && b_type == SQLITE_INTEGER) {
        sqlite3_int64 a = sqlite3_value_int64(argv[i]);
        sqlite3_int64 b = sqlite3_value_int64(best);
        cmp = a < b ? -1 : (a > b ? 1 : 0);
      } else {
        double a = sqlite3_value_double(argv[i]);
        double b = sqlite3_value_double(best);
        cmp = a < b ? -1 : (a > b ? 1 : 0);
      }
    } else {
      cmp = TextOf(argv[i]).compare(TextOf(best));
    }
    if (kGreatest ? cmp > 0 : cmp < 0) {
      best = argv[i];
    }
  }
  if (best == nullptr) {
    sqlite3_result_null(context);
  } else {
    sqlite3_result_value(context, best);
  }
}

// strpos(haystack, needle): 1-based position of the first occurrence in characters, 0 if none.
void StrPos(sqlite3_context* context, int argc, sqlite3_value** argv) {
  if (argc != 2 || sqlite3_value_type(argv[0]) == SQLITE_NULL ||
      sqlite3_value_type(argv[1]) == SQLITE_NULL) {
    sqlite3_result_null(context);
    return;
  }
  std::string_view haystack = TextOf(argv[0]);
  size_t at = haystack.find(TextOf(argv[1]));
  if (at == std::string_view::npos) {
    sqlite3_result_int(context, 0);
    return;
  }
  int64_t characters = 0;  // UTF-8: count lead bytes only
  for (size_t i = 0; i < at; ++i) {
    characters += (static_cast<unsigned char>(haystack[i]) & 0xC0) != 0x80 ? 1 : 0;
  }
  sqlite3_result_int64(context, characters + 1);
}

// text_list(x): the distinct-or-not non-NULL values of x as text, sorted bytewise, joined by ','.
// Sorted so that evidence reads the same on every backend (string_agg's order is unspecified).
struct TextList {
  std::vector<std::string> items;
  size_t bytes = 0;  // what the joined text will take
  bool too_big = false;
};

void TextListStep(sqlite3_context* context, int /*argc*/, sqlite3_value** argv) {
  auto** list = static_cast<TextList**>(sqlite3_aggregate_context(context, sizeof(TextList*)));
  if (list == nullptr) {
    sqlite3_result_error_nomem(context);
    return;
  }
  if (*list == nullptr) {
    *list = new TextList();
  }
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || (*list)->too_big) {
    return;
  }
  std::string_view item = TextOf(argv[0]);
  // Bounded like any other value of the connection (SQLITE_LIMIT_LENGTH): one aggregate over a
  // huge group must fail its rule, not grow without limit before the deadline is checked.
  const auto limit = static_cast<size_t>(
      sqlite3_limit(sqlite3_context_db_handle(context), SQLITE_LIMIT_LENGTH, -1));
  (*list)->bytes += item.size() + 1;
  if ((*list)->bytes > limit) {
    (*list)->too_big = true;
    (*list)->items.clear();
    return;
  }
  (*list)->items.emplace_back(item);
}

void TextListFinal(sqlite3_context* context) {
  auto** list = static_cast<TextList**>(sqlite3_aggregate_context(context, 0));
  if (list == nullptr || *list == nullptr) {
    sqlite3_result_null(context);
    return;
  }
  std::unique_ptr<TextList> owned(*list);
  *list = nullptr;
  if (owned->too_big) {
    sqlite3_result_error_toobig(context);
    return;
  }
  if (owned->items.empty()) {
    sqlite3_result_null(context);
    return;
  }
  std::sort(owned->items.begin(), owned->items.end());
  std::string joined;
  joined.reserve(owned->bytes);
  for (const std::string& item : owned->items) {
    if (!joined.empty()) {
      joined += ',';
    }
    joined += item;
  }
  sqlite3_result_text64(context, joined.data(), joined.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

// date_to_ms('YYYY-MM-DD'): milliseconds since the epoch at 00:00 UTC of that day; NULL for
// anything that is not exactly a valid calendar date in that form.
void DateToMs(sqlite3_context* context, int /*argc*/, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
    sqlite3_result_null(context);
    return;
  }
  std::string_view text = TextOf(argv[0]);
  auto digits = [&text](size_t from, size_t count, int& out) {
    out = 0;
    for (size_t i = from; i < from + count; ++i) {
      if (std::isdigit(static_cast<unsigned char>(text[i])) == 0) {
        return false;
      }
      out = out * 10 + (text[i] - '0');
    }
    return true;
  };
  int year = 0;
  int month = 0;
  int day = 0;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-' || !digits(0, 4, year) ||
      !digits(5, 2, month) || !digits(8, 2, day) || year < 1 ||
      !IsValidCivilDate(year, month, day)) {
    sqlite3_result_null(context);
    return;
  }
  sqlite3_result_int64(context, DaysFromCivil(year, month, day) * 86'400'000);
}

// ms_to_date(ms): the UTC calendar date 'YYYY-MM-DD' of that instant.
void MsToDate(sqlite3_context* context, int /*argc*/, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
    sqlite3_result_null(context);
    return;
  }
  const double ms = sqlite3_value_double(argv[0]);
  if (!std::isfinite(ms) || std::fabs(ms) > 1e17) {  // beyond year 3 million: no date to name
    sqlite3_result_null(context);
    return;
  }
  const std::string date = FormatUtc(static_cast<int64_t>(std::floor(ms)), UtcStyle::kDate);
  sqlite3_result_text(context, date.c_str(), static_cast<int>(date.size()), SQLITE_TRANSIENT);
}

Status RegisterFunctionLibrary(sqlite3* db) {
  constexpr int kFlags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
  struct Scalar {
    const char* name;
    int arguments;
    void (*function)(sqlite3_context*, int, sqlite3_value**);
  };
  const Scalar scalars[] = {{"version_compare", 2, &VersionCompare},
                            {"greatest", -1, &Extreme<true>},
                            {"least", -1, &Extreme<false>},
                            {"strpos", 2, &StrPos},
                            {"date_to_ms", 1, &DateToMs},
                            {"ms_to_date", 1, &MsToDate}};
  for (const Scalar& scalar : scalars) {
    if (sqlite3_create_function_v2(db, scalar.name, scalar.arguments, kFlags, nullptr,
                                   scalar.function, nullptr, nullptr, nullptr) != SQLITE_OK) {
      return MakeError(ErrorCode::kInternal, std::string("facts: cannot register ") + scalar.name);
    }
  }
  if (sqlite3_create_function_v2(db, "text_list", 1, kFlags, nullptr, nullptr, &TextListStep,
                                 &TextListFinal, nullptr) != SQLITE_OK) {
    return MakeError(ErrorCode::kInternal, "facts: cannot register text_list");
  }
  return OkStatus();
}

// ---- The guard: what rule SQL may do on a session's connection. ----

// The largest string or blob a rule expression may build, and the largest rule statement (the
// fact views are created before the limit matters; rule files are far smaller).
constexpr int kMaxRuleValueBytes = 16 * 1024 * 1024;
constexpr int kMaxRuleSqlBytes = 1024 * 1024;

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
  std::set<std::string>* columns_read = nullptr;
  std::string denial;
};

void Deny(AuthState& state, std::string reason) {
  if (state.denial.empty()) {
    state.denial = std::move(reason);
  }
}

constexpr std::string_view kLastSeen = "hosts.last_seen_ms";

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
  auto record_last_seen = [&state] {
    if (state.columns_read != nullptr) {
      state.columns_read->insert(std::string(kLastSeen));
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
            record_last_seen();
          }
          return SQLITE_OK;
        }
        if (table == "scope_hosts") {
          return SQLITE_OK;
        }
      } else if (db == "main") {
        std::string table_name(table);
        auto views = state.table_views.find(table_name);
        // Only through one of the source's own views that reads this table. (A CTE is reported
        // with its own name here; the store's table names are refused in rule text after
        // prepare, so such a CTE cannot reach a main table.)
        // (SQLite may attribute a read inside a flattened join to the neighbouring view, so any
        // of the source's views counts as "through a view".)
        // An empty column is a row-existence read SQLite makes for joins inside a view, without
        // naming the view; it reveals no values, and a rule cannot name the table itself.
        bool via_view = views != state.table_views.end() &&
                        (state.view_names.count(std::string(inner)) != 0 || column.empty());
        if (via_view &&
            (column.empty() || state.view_columns.count({table_name, std::string(column)}) != 0)) {
          record(inner);
          if (views->second.size() == 1) {
            record(*views->second.begin());
          }
          if (table == "agents" && column == "last_seen" && inner == "hosts") {
            record_last_seen();
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
      Deny(state, "only SELECT statements are allowed in rules (action " + std::to_string(action) +
                      " refused)");
      return SQLITE_DENY;
  }
}

struct Deadline {
  bool active = false;
  SteadyClock::time_point at;
};

int ProgressHandler(void* context) {
  auto& deadline = *static_cast<Deadline*>(context);
  return deadline.active && SteadyClock::now() > deadline.at ? 1 : 0;
}

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

// Whether the text of a 'single-quoted' literal can name a store table: SQLite accepts a string
// token wherever a name belongs (FROM 'agents', 'main'.'agents'). A rule has no reason to compare
// values with the store's table names, so any literal spelling one is refused; "main" and "temp"
// only in front of a '.', since they are plausible values elsewhere.
bool NamesStoreTableAsString(std::string_view literal, std::string_view rest,
                             const std::map<std::string, std::set<std::string>>& tables,
                             const std::set<std::string>& view_names) {
  const std::string lower = Lower(literal);
  if (lower == "sqlite_master" || lower == "sqlite_schema" || lower == "sqlite_temp_master" ||
      (tables.count(lower) != 0 && view_names.count(lower) == 0)) {
    return true;
  }
  if (lower == "main" || lower == "temp") {
    const size_t next = rest.find_first_not_of(" \t\r\n");
    return next != std::string_view::npos && rest[next] == '.';
  }
  return false;
}

// The first identifier in `sql` (outside string literals and comments) that names a store table
// or schema ("main", "temp"), or empty. Rules read the fact views only; naming a table directly,
// even inside a CTE that borrows a view's name, is refused.
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
      quoted_word = std::string(sql.substr(i + 1, end - i - 1));
      if (c != '\'') {  // a quoted identifier is still an identifier
        std::string copy = quoted_word;
        if (check(copy)) {
          return quoted_word;
        }
      } else if (NamesStoreTableAsString(quoted_word, sql.substr(end + 1), tables, view_names)) {
        // SQLite also takes a 'string' where a table name belongs (FROM 'agents').
        return quoted_word;
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

std::string ExpandScope(std::string_view text, bool scoped) {
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

class SqliteFactStatement final : public FactStatement {
 public:
  explicit SqliteFactStatement(sqlite3_stmt* stmt) : stmt_(stmt) {
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      const char* name = sqlite3_column_name(stmt, i);
      columns_.emplace_back(name != nullptr ? name : "column" + std::to_string(i));
    }
    for (int i = 1; i <= sqlite3_bind_parameter_count(stmt); ++i) {
      const char* raw = sqlite3_bind_parameter_name(stmt, i);
      parameters_.emplace_back(raw != nullptr && raw[0] == ':' ? raw + 1 : "");
    }
  }
  ~SqliteFactStatement() override { sqlite3_finalize(stmt_); }
  SqliteFactStatement(const SqliteFactStatement&) = delete;
  SqliteFactStatement& operator=(const SqliteFactStatement&) = delete;

  const std::vector<std::string>& column_names() const override { return columns_; }
  const std::vector<std::string>& parameter_names() const override { return parameters_; }
  const std::set<std::string>& views_read() const override { return views_; }
  const std::set<std::string>& columns_read() const override { return columns_read_; }

  void Bind(size_t index, const FactValue& value) override {
    int at = static_cast<int>(index) + 1;
    if (const auto* i = std::get_if<int64_t>(&value)) {
      sqlite3_bind_int64(stmt_, at, *i);
    } else if (const auto* d = std::get_if<double>(&value)) {
      sqlite3_bind_double(stmt_, at, *d);
    } else if (const auto* s = std::get_if<std::string>(&value)) {
      sqlite3_bind_text64(stmt_, at, s->data(), s->size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    } else {
      sqlite3_bind_null(stmt_, at);
    }
  }

  sqlite3_stmt* stmt() const { return stmt_; }
  std::set<std::string>& mutable_views() { return views_; }
  std::set<std::string>& mutable_columns_read() { return columns_read_; }

 private:
  sqlite3_stmt* stmt_;
  std::vector<std::string> columns_;
  std::vector<std::string> parameters_;
  std::set<std::string> views_;
  std::set<std::string> columns_read_;
};

class SqliteRow final : public FactRow {
 public:
  explicit SqliteRow(sqlite3_stmt* stmt)
      : stmt_(stmt), size_(static_cast<size_t>(sqlite3_column_count(stmt))) {}
  size_t size() const override { return size_; }
  bool IsNull(size_t column) const override {
    return sqlite3_column_type(stmt_, static_cast<int>(column)) == SQLITE_NULL;
  }
  int64_t Int(size_t column) const override {
    return sqlite3_column_int64(stmt_, static_cast<int>(column));
  }
  FactValue Get(size_t column) const override {
    int c = static_cast<int>(column);
    switch (sqlite3_column_type(stmt_, c)) {
      case SQLITE_INTEGER:
        return static_cast<int64_t>(sqlite3_column_int64(stmt_, c));
      case SQLITE_FLOAT:
        return sqlite3_column_double(stmt_, c);
      case SQLITE_NULL:
        return std::monostate{};
      case SQLITE_BLOB: {
        const auto* data = static_cast<const unsigned char*>(sqlite3_column_blob(stmt_, c));
        int size = sqlite3_column_bytes(stmt_, c);
        static const char kHex[] = "0123456789abcdef";
        std::string hex;
        for (int i = 0; i < size; ++i) {
          hex += kHex[data[i] >> 4];
          hex += kHex[data[i] & 15];
        }
        return hex;
      }
      default: {
        const unsigned char* text = sqlite3_column_text(stmt_, c);
        int size = sqlite3_column_bytes(stmt_, c);
        return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
      }
    }
  }

 private:
  sqlite3_stmt* stmt_;
  size_t size_;
};

struct StmtDeleter {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

// One rule session: a read-only connection, the fact views, the authorizer and the deadline.
class SqliteFactSession final : public FactSession {
 public:
  SqliteFactSession() = default;
  SqliteFactSession(const SqliteFactSession&) = delete;
  SqliteFactSession& operator=(const SqliteFactSession&) = delete;
  ~SqliteFactSession() override {
    trusted_.clear();
    if (db_ != nullptr) {
      sqlite3_close_v2(db_);  // closes once the last rule statement is finalized
    }
  }

  Status Open(const std::string& path, bool scoped) {
    scoped_ = scoped;
    int rc =
        sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      return MakeError(ErrorCode::kUnavailable,
                       "rules: cannot open " + path + " read-only: " +
                           (db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc)));
    }
    sqlite3_busy_timeout(db_, 5000);
    sqlite3_extended_result_codes(db_, 1);
    // The deadline is checked between VDBE steps, not inside one function call: without these
    // limits a single expression (nested replace(), a huge text_list) could allocate gigabytes
    // before it fires. A rule over them fails with "string or blob too big"; other rules run.
    sqlite3_limit(db_, SQLITE_LIMIT_LENGTH, kMaxRuleValueBytes);
    sqlite3_limit(db_, SQLITE_LIMIT_SQL_LENGTH, kMaxRuleSqlBytes);
    sqlite3_limit(db_, SQLITE_LIMIT_EXPR_DEPTH, 200);
    sqlite3_limit(db_, SQLITE_LIMIT_COMPOUND_SELECT, 64);
    sqlite3_limit(db_, SQLITE_LIMIT_FUNCTION_ARG, 32);
    sqlite3_limit(db_, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 1024);
    sqlite3_limit(db_, SQLITE_LIMIT_ATTACHED, 0);
    // PostgreSQL's LIKE is case-sensitive; the rule dialect's is too (lower() when needed).
    DOZOR_RETURN_IF_ERROR(Exec("PRAGMA case_sensitive_like = ON"));
    if (scoped) {
      DOZOR_RETURN_IF_ERROR(Exec("CREATE TEMP TABLE scope_hosts(host_id INTEGER PRIMARY KEY)"));
    }
    for (const auto& [name, text] : SqliteFactViewFiles()) {
      std::string sql = ExpandScope(text, scoped);
      if (Status created = Exec(sql); !created.ok()) {
        return created.error().Wrap("fact views " + std::string(name));
      }
      static const std::regex kViewName(R"(CREATE\s+TEMP\s+VIEW\s+(\w+))", std::regex::icase);
      for (std::sregex_iterator it(sql.begin(), sql.end(), kViewName), end; it != end; ++it) {
        auth_.view_names.insert((*it)[1].str());
      }
    }
    DOZOR_RETURN_IF_ERROR(RegisterFunctionLibrary(db_));
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
        return MakeError(
            ErrorCode::kFailedPrecondition,
            "rules: fact view " + view + " does not work on this store: " + sqlite3_errmsg(db_));
      }
    }
    auth_.mode = AuthState::Mode::kTrusted;
    sqlite3_progress_handler(db_, 1000, &ProgressHandler, &deadline_);
    DOZOR_ASSIGN_OR_RETURN(live_hosts_, PrepareTrusted("SELECT id, org_id, last_health_at FROM "
                                                       "main.agents WHERE revoked_at IS NULL"));
    DOZOR_ASSIGN_OR_RETURN(live_host_,
                           PrepareTrusted("SELECT id, org_id, last_health_at FROM main.agents "
                                          "WHERE id = ?1 AND revoked_at IS NULL"));
    DOZOR_ASSIGN_OR_RETURN(orgs_, PrepareTrusted("SELECT id FROM main.organizations"));
    DOZOR_ASSIGN_OR_RETURN(org_exists_,
                           PrepareTrusted("SELECT id FROM main.organizations WHERE id = ?1"));
    if (scoped) {
      DOZOR_ASSIGN_OR_RETURN(scope_clear_, PrepareTrusted("DELETE FROM temp.scope_hosts"));
      DOZOR_ASSIGN_OR_RETURN(scope_add_host_,
                             PrepareTrusted("INSERT OR IGNORE INTO temp.scope_hosts(host_id) "
                                            "VALUES (?1)"));
      DOZOR_ASSIGN_OR_RETURN(scope_add_org_,
                             PrepareTrusted("INSERT OR IGNORE INTO temp.scope_hosts(host_id) "
                                            "SELECT id FROM main.agents WHERE org_id = ?1 AND "
                                            "revoked_at IS NULL"));
    }
    return OkStatus();
  }

  Result<std::unique_ptr<FactStatement>> PrepareRule(std::string_view sql,
                                                     int* error_offset) override {
    if (error_offset != nullptr) {
      *error_offset = -1;
    }
    std::set<std::string> views;
    std::set<std::string> columns_read;
    auth_.mode = AuthState::Mode::kRule;
    auth_.denial.clear();
    auth_.views_read = &views;
    auth_.columns_read = &columns_read;
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &raw, &tail);
    int offset = rc != SQLITE_OK ? sqlite3_error_offset(db_) : -1;
    std::string sqlite_message = sqlite3_errmsg(db_);
    auth_.mode = AuthState::Mode::kTrusted;
    auth_.views_read = nullptr;
    auth_.columns_read = nullptr;
    StmtPtr stmt(raw);
    auto refuse = [](std::string message) {
      return MakeError(ErrorCode::kInvalidArgument, std::move(message));
    };
    if (rc != SQLITE_OK) {
      if (error_offset != nullptr && offset >= 0 && static_cast<size_t>(offset) <= sql.size()) {
        *error_offset = offset;
      }
      return refuse(!auth_.denial.empty() ? auth_.denial : sqlite_message);
    }
    if (!stmt) {
      return refuse("no SQL statement");
    }
    size_t consumed = static_cast<size_t>(tail - sql.data());
    if (!OnlyWhitespaceOrComments(sql.substr(consumed))) {
      return refuse("only one SELECT statement is allowed");
    }
    if (sqlite3_stmt_readonly(stmt.get()) == 0) {
      return refuse("only SELECT statements are allowed in rules");
    }
    // After the authorizer (whose messages are more precise): a rule that names a store table
    // even where the authorizer cannot tell (a CTE borrowing a view's name) is refused.
    if (std::string table = FirstStoreTableReference(sql, auth_.table_views, auth_.view_names);
        !table.empty()) {
      return refuse("names the store table or schema '" + table +
                    "': rules may read only the fact views (docs/rule-language.md)");
    }
    auto prepared = std::make_unique<SqliteFactStatement>(stmt.release());
    prepared->mutable_views() = std::move(views);
    prepared->mutable_columns_read() = std::move(columns_read);
    return std::unique_ptr<FactStatement>(std::move(prepared));
  }

  Status Run(FactStatement& statement, std::chrono::milliseconds timeout,
             const std::function<bool(const FactRow&)>& on_row) override {
    sqlite3_stmt* stmt = static_cast<SqliteFactStatement&>(statement).stmt();
    // A statement re-prepared after a schema change must pass the authorizer again.
    auth_.mode = AuthState::Mode::kRule;
    deadline_.active = true;
    deadline_.at = SteadyClock::now() + timeout;
    SqliteRow row(stmt);
    int rc;
    bool stopped = false;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      if (!on_row(row)) {
        stopped = true;
        break;
      }
    }
    Status status = OkStatus();
    if (!stopped && rc != SQLITE_DONE) {
      if (rc == SQLITE_INTERRUPT) {
        status = MakeError(
            ErrorCode::kResourceExhausted,
            "exceeded the " + std::to_string(timeout.count()) + " ms deadline and was stopped");
      } else {
        status = MakeError(rc == SQLITE_BUSY ? ErrorCode::kUnavailable : ErrorCode::kInternal,
                           sqlite3_errmsg(db_));
      }
    }
    deadline_.active = false;
    auth_.mode = AuthState::Mode::kTrusted;
    sqlite3_reset(stmt);
    return status;
  }

  Status BeginSnapshot() override { return Exec("BEGIN"); }
  Status EndSnapshot() override { return Exec("COMMIT"); }

  Status ScopeToHosts(const std::vector<int64_t>& host_ids) override {
    return Scope(scope_add_host_, host_ids);
  }
  Status ScopeToOrganizations(const std::vector<int64_t>& org_ids) override {
    return Scope(scope_add_org_, org_ids);
  }

  Result<std::vector<FactHost>> LiveHosts() override {
    std::vector<FactHost> hosts;
    DOZOR_RETURN_IF_ERROR(RunTrusted(live_hosts_, [&hosts](sqlite3_stmt* s) {
      hosts.push_back(FactHost{sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1),
                               sqlite3_column_int64(s, 2)});
    }));
    return hosts;
  }

  Result<std::optional<FactHost>> LiveHost(int64_t host_id) override {
    std::optional<FactHost> host;
    sqlite3_bind_int64(live_host_, 1, host_id);
    DOZOR_RETURN_IF_ERROR(RunTrusted(live_host_, [&host](sqlite3_stmt* s) {
      host = FactHost{sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1),
                      sqlite3_column_int64(s, 2)};
    }));
    return host;
  }

  Result<std::vector<int64_t>> Organizations() override {
    std::vector<int64_t> ids;
    DOZOR_RETURN_IF_ERROR(
        RunTrusted(orgs_, [&ids](sqlite3_stmt* s) { ids.push_back(sqlite3_column_int64(s, 0)); }));
    return ids;
  }

  Result<bool> OrganizationExists(int64_t org_id) override {
    bool exists = false;
    sqlite3_bind_int64(org_exists_, 1, org_id);
    DOZOR_RETURN_IF_ERROR(RunTrusted(org_exists_, [&exists](sqlite3_stmt*) { exists = true; }));
    return exists;
  }

 private:
  // Fixed SQL of the source itself (transactions, scope table), run with full rights.
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

  Result<sqlite3_stmt*> PrepareTrusted(const std::string& sql) {
    auth_.mode = AuthState::Mode::kTrusted;
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      return MakeError(ErrorCode::kInternal, "rules: " + std::string(sqlite3_errmsg(db_)));
    }
    trusted_.emplace_back(stmt);
    return stmt;
  }

  Status RunTrusted(sqlite3_stmt* stmt, const std::function<void(sqlite3_stmt*)>& on_row = {}) {
    auth_.mode = AuthState::Mode::kTrusted;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      if (on_row) {
        on_row(stmt);
      }
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
      return MakeError(rc == SQLITE_BUSY ? ErrorCode::kUnavailable : ErrorCode::kInternal,
                       "rules: " + std::string(sqlite3_errmsg(db_)));
    }
    return OkStatus();
  }

  Status Scope(sqlite3_stmt* add, const std::vector<int64_t>& ids) {
    if (!scoped_) {
      return MakeError(ErrorCode::kFailedPrecondition, "facts: not a scoped session");
    }
    DOZOR_RETURN_IF_ERROR(RunTrusted(scope_clear_));
    for (int64_t id : ids) {
      sqlite3_bind_int64(add, 1, id);
      DOZOR_RETURN_IF_ERROR(RunTrusted(add));
    }
    return OkStatus();
  }

  sqlite3* db_ = nullptr;
  bool scoped_ = false;
  AuthState auth_;
  Deadline deadline_;
  std::vector<StmtPtr> trusted_;
  sqlite3_stmt* live_hosts_ = nullptr;
  sqlite3_stmt* live_host_ = nullptr;
  sqlite3_stmt* orgs_ = nullptr;
  sqlite3_stmt* org_exists_ = nullptr;
  sqlite3_stmt* scope_clear_ = nullptr;
  sqlite3_stmt* scope_add_host_ = nullptr;
  sqlite3_stmt* scope_add_org_ = nullptr;
};

class SqliteFactSource final : public FactSource {
 public:
  explicit SqliteFactSource(std::string path) : path_(std::move(path)) {}

  Result<std::unique_ptr<FactSession>> OpenSession(FactSessionKind kind) override {
    auto session = std::make_unique<SqliteFactSession>();
    DOZOR_RETURN_IF_ERROR(session->Open(path_, kind == FactSessionKind::kScoped));
    return std::unique_ptr<FactSession>(std::move(session));
  }

 private:
  std::string path_;
};

}  // namespace

std::unique_ptr<FactSource> MakeSqliteFactSource(std::string db_path) {
  return std::make_unique<SqliteFactSource>(std::move(db_path));
}

}  // namespace dozor::server
