#include "rules/dialect.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "dozor/common/text.hpp"

namespace dozor::server::rules {
namespace {

enum class TokenKind { kWord, kString, kNumber, kParameter, kSymbol };

struct Token {
  TokenKind kind = TokenKind::kSymbol;
  std::string text;  // words lower-cased; strings without quotes
  size_t offset = 0;
};

bool IsWordStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_'; }
bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

// Splits `sql` into tokens; a construct no backend-neutral tokenizer accepts is a violation.
std::optional<DialectViolation> Tokenize(std::string_view sql, std::vector<Token>& out) {
  size_t i = 0;
  while (i < sql.size()) {
    char c = sql[i];
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      ++i;
    } else if (sql.substr(i, 2) == "--") {
      size_t end = sql.find('\n', i);
      i = end == std::string_view::npos ? sql.size() : end;
    } else if (sql.substr(i, 2) == "/*") {
      size_t end = sql.find("*/", i + 2);
      i = end == std::string_view::npos ? sql.size() : end + 2;
    } else if (c == '\'') {
      std::string text;
      size_t j = i + 1;
      for (; j < sql.size(); ++j) {
        if (sql[j] == '\'') {
          if (j + 1 < sql.size() && sql[j + 1] == '\'') {
            text.push_back('\'');
            ++j;
            continue;
          }
          break;
        }
        text.push_back(sql[j]);
      }
      out.push_back({TokenKind::kString, std::move(text), i});
      i = j + 1;
    } else if (c == '"') {
      return DialectViolation{i,
                              "double quotes are not portable (SQLite reads an unknown \"name\" "
                              "as a string): write names unquoted and strings in 'single quotes'"};
    } else if (c == '`' || c == '[') {
      return DialectViolation{
          i, std::string("names quoted with ") + c + " are SQLite-only: write names unquoted"};
    } else if (c == ':' && i + 1 < sql.size() && sql[i + 1] == ':') {
      return DialectViolation{i, "the :: cast is PostgreSQL-only: use CAST(x AS type)"};
    } else if (c == ':' && i + 1 < sql.size() && IsWordStart(sql[i + 1])) {
      size_t j = i + 1;
      while (j < sql.size() && IsWordChar(sql[j])) {
        ++j;
      }
      out.push_back({TokenKind::kParameter, std::string(sql.substr(i, j - i)), i});
      i = j;
    } else if (c == '?' || c == '$' || c == '@') {
      return DialectViolation{i, "use named parameters (:name), not ?, $n or @name"};
    } else if (IsWordStart(c)) {
      size_t j = i;
      while (j < sql.size() && IsWordChar(sql[j])) {
        ++j;
      }
      if (j < sql.size() && sql[j] == '\'' && j - i == 1) {
        return DialectViolation{i,
                                "prefixed string literals (x'..', E'..', N'..') are not "
                                "portable"};
      }
      out.push_back({TokenKind::kWord, Lower(sql.substr(i, j - i)), i});
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c)) != 0 ||
               (c == '.' && i + 1 < sql.size() &&
                std::isdigit(static_cast<unsigned char>(sql[i + 1])) != 0)) {
      if (c == '0' && i + 1 < sql.size() && (sql[i + 1] == 'x' || sql[i + 1] == 'X')) {
        return DialectViolation{i, "hexadecimal literals are not portable"};
      }
      size_t j = i;
      while (j < sql.size() &&
             (IsWordChar(sql[j]) || sql[j] == '.' ||
              ((sql[j] == '+' || sql[j] == '-') && (sql[j - 1] == 'e' || sql[j - 1] == 'E')))) {
        ++j;
      }
      out.push_back({TokenKind::kNumber, std::string(sql.substr(i, j - i)), i});
      i = j;
    } else {
      static constexpr std::string_view kTwoChar[] = {
          "<=", ">=", "<>", "!=", "==", "||", "<<", ">>"};
      size_t length = 1;
      for (std::string_view two : kTwoChar) {
        if (sql.substr(i, 2) == two) {
          length = 2;
          break;
        }
      }
      out.push_back({TokenKind::kSymbol, std::string(sql.substr(i, length)), i});
      i += length;
    }
  }
  return std::nullopt;
}

// Built-ins that behave the same on SQLite 3.40 and PostgreSQL 15 for the types of the fact
// views, plus the Dozor function library (provided by every fact source).
const std::set<std::string, std::less<>>& PortableFunctions() {
  static const std::set<std::string, std::less<>> kNames = {
      // scalar
      "abs", "coalesce", "nullif", "lower", "upper", "length", "substr", "replace", "trim", "ltrim",
      "rtrim", "round", "floor", "ceil", "sqrt",
      // aggregate (min/max with one argument only)
      "count", "sum", "avg", "min", "max",
      // window
      "row_number", "rank", "dense_rank", "lag", "lead", "first_value", "last_value",
      // the Dozor function library
      "greatest", "least", "strpos", "text_list", "date_to_ms", "ms_to_date", "version_compare"};
  return kNames;
}

// Why a known non-portable function is refused, and what to write instead.
std::string FunctionAdvice(std::string_view name) {
  static const std::pair<std::string_view, std::string_view> kAdvice[] = {
      {"group_concat", "use text_list(x) (sorted, comma-separated)"},
      {"string_agg", "use text_list(x) (sorted, comma-separated; SQLite 3.40 has no string_agg)"},
      {"instr", "use strpos(haystack, needle)"},
      {"ifnull", "use coalesce()"},
      {"iif", "use CASE WHEN ... THEN ... ELSE ... END"},
      {"julianday", "use date_to_ms('YYYY-MM-DD') and :now_ms arithmetic"},
      {"date", "use ms_to_date(ms) / date_to_ms('YYYY-MM-DD')"},
      {"datetime", "use ms_to_date(ms) / date_to_ms('YYYY-MM-DD')"},
      {"strftime", "use ms_to_date(ms) / date_to_ms('YYYY-MM-DD')"},
      {"unixepoch", "use :now_ms"},
      {"printf", "use || concatenation"},
      {"format", "use || concatenation"},
      {"total", "use coalesce(sum(x), 0)"},
      {"typeof", "fact view columns have fixed types (docs/rule-language.md)"},
      {"glob", "use LIKE or date_to_ms() to validate"},
      {"substring", "use substr()"},
      {"ceiling", "use ceil()"},
      {"concat", "use ||"},
      {"ilike", "use lower(x) LIKE 'pattern'"},
  };
  for (const auto& [function, advice] : kAdvice) {
    if (function == name) {
      return std::string(advice);
    }
  }
  return "see the function list in docs/rule-language.md";
}

// Words that may stand before "(" without being a function call.
bool IsKeywordBeforeParenthesis(std::string_view word) {
  static const std::set<std::string, std::less<>> kWords = {
      "in",       "exists", "as",      "values",    "using",     "over",      "filter",
      "and",      "or",     "not",     "on",        "where",     "from",      "select",
      "when",     "then",   "else",    "join",      "union",     "all",       "by",
      "having",   "case",   "between", "is",        "like",      "recursive", "materialized",
      "distinct", "with",   "except",  "intersect", "partition", "lateral",   "return"};
  return kWords.count(word) != 0;
}

// Index of the ")" closing the "(" at `open`, or tokens.size().
size_t ClosingParenthesis(const std::vector<Token>& tokens, size_t open) {
  int depth = 0;
  for (size_t i = open; i < tokens.size(); ++i) {
    if (tokens[i].kind != TokenKind::kSymbol) {
      continue;
    }
    if (tokens[i].text == "(") {
      ++depth;
    } else if (tokens[i].text == ")" && --depth == 0) {
      return i;
    }
  }
  return tokens.size();
}

// Commas directly inside the parentheses opened at `open` (the argument count minus one).
int TopLevelCommas(const std::vector<Token>& tokens, size_t open, size_t close) {
  int depth = 0;
  int commas = 0;
  for (size_t i = open; i < close; ++i) {
    if (tokens[i].kind != TokenKind::kSymbol) {
      continue;
    }
    if (tokens[i].text == "(") {
      ++depth;
    } else if (tokens[i].text == ")") {
      --depth;
    } else if (tokens[i].text == "," && depth == 1) {
      ++commas;
    }
  }
  return commas;
}

bool IsWord(const Token& token, std::string_view word) {
  return token.kind == TokenKind::kWord && token.text == word;
}
bool IsSymbol(const Token& token, std::string_view symbol) {
  return token.kind == TokenKind::kSymbol && token.text == symbol;
}

}  // namespace

const std::vector<std::string_view>& RuleDialectFunctions() {
  static const std::vector<std::string_view> kNames(PortableFunctions().begin(),
                                                    PortableFunctions().end());
  return kNames;
}

std::optional<DialectViolation> CheckRuleDialect(std::string_view sql) {
  std::vector<Token> tokens;
  if (auto violation = Tokenize(sql, tokens)) {
    return violation;
  }
  auto at = [&tokens](size_t i) -> const Token* {
    return i < tokens.size() ? &tokens[i] : nullptr;
  };
  for (size_t i = 0; i < tokens.size(); ++i) {
    const Token& token = tokens[i];
    const Token* next = at(i + 1);
    if (token.kind == TokenKind::kSymbol) {
      if (token.text == "==") {
        return DialectViolation{token.offset, "== is SQLite-only: use ="};
      }
      if (token.text == "(" && next != nullptr && IsSymbol(*next, ")") && i > 0 &&
          IsWord(tokens[i - 1], "in")) {
        return DialectViolation{token.offset, "an empty IN () list is SQLite-only"};
      }
      continue;
    }
    if (token.kind != TokenKind::kWord) {
      continue;
    }
    const std::string& word = token.text;
    if (word == "glob" || word == "regexp" || word == "match" || word == "ilike" ||
        word == "similar") {
      return DialectViolation{token.offset, word +
                                                " is not portable: use LIKE (on "
                                                "lower(x) for a case-insensitive match)"};
    }
    if (word == "isnull" || word == "notnull") {
      return DialectViolation{token.offset, "use IS NULL / IS NOT NULL"};
    }
    if (word == "rowid" || word == "_rowid_" || word == "oid" || word == "ctid") {
      return DialectViolation{token.offset,
                              "row identifiers are backend internals: use the "
                              "views' columns"};
    }
    if (word == "current_date" || word == "current_time" || word == "current_timestamp" ||
        word == "localtime" || word == "localtimestamp") {
      return DialectViolation{token.offset,
                              "rules read time from :now_ms (the evaluation's "
                              "clock), never from the database"};
    }
    if (word == "collate") {
      return DialectViolation{token.offset, "COLLATE names differ between backends"};
    }
    if (word == "indexed") {
      return DialectViolation{token.offset, "INDEXED BY is SQLite-only"};
    }
    if (word == "true" || word == "false") {
      return DialectViolation{token.offset,
                              "flags are the integers 0 and 1 on every backend: "
                              "compare with = 1 / = 0"};
    }
    if (word == "is" && next != nullptr) {
      size_t k = i + 1;
      if (IsWord(tokens[k], "not")) {
        ++k;
      }
      const Token* operand = at(k);
      if (operand == nullptr || !(IsWord(*operand, "null") || IsWord(*operand, "distinct"))) {
        return DialectViolation{token.offset,
                                "IS / IS NOT compare with NULL only (SQLite's "
                                "IS with a value is IS NOT DISTINCT FROM)"};
      }
    }
    if (word == "limit") {
      size_t k = i + 1;
      while (k < tokens.size() && !IsSymbol(tokens[k], ",") && !IsSymbol(tokens[k], ")") &&
             !IsWord(tokens[k], "offset") && !IsWord(tokens[k], "union") &&
             tokens[k].kind != TokenKind::kWord) {
        ++k;
      }
      if (k < tokens.size() && IsSymbol(tokens[k], ",")) {
        return DialectViolation{tokens[k].offset,
                                "LIMIT a, b is SQLite-only: use LIMIT b "
                                "OFFSET a"};
      }
    }
    if (word == "like" && next != nullptr && next->kind == TokenKind::kString &&
        next->text.find('\\') != std::string::npos) {
      const Token* after = at(i + 2);
      if (after == nullptr || !IsWord(*after, "escape")) {
        return DialectViolation{next->offset,
                                "a backslash in a LIKE pattern is an escape on PostgreSQL only: "
                                "add ESCAPE to say what you mean"};
      }
    }
    if (word == "cast" && next != nullptr && IsSymbol(*next, "(")) {
      size_t close = ClosingParenthesis(tokens, i + 1);
      // The type follows the last top-level AS inside the parentheses.
      size_t as = close;
      int depth = 0;
      for (size_t k = i + 1; k < close; ++k) {
        if (IsSymbol(tokens[k], "(")) {
          ++depth;
        } else if (IsSymbol(tokens[k], ")")) {
          --depth;
        } else if (depth == 1 && IsWord(tokens[k], "as")) {
          as = k;
        }
      }
      std::string type;
      for (size_t k = as + 1; k < close; ++k) {
        type += (type.empty() ? "" : " ") + tokens[k].text;
      }
      if (type != "bigint" && type != "double precision" && type != "text") {
        return DialectViolation{
            as + 1 < close ? tokens[as + 1].offset : token.offset,
            "CAST to '" + type +
                "' is not portable: cast to BIGINT, DOUBLE "
                "PRECISION or TEXT (and floor()/round() a fraction first: SQLite "
                "truncates, PostgreSQL rounds)"};
      }
      continue;
    }
    if (next == nullptr || !IsSymbol(*next, "(") || IsKeywordBeforeParenthesis(word)) {
      continue;
    }
    size_t close = ClosingParenthesis(tokens, i + 1);
    // name(a, b) AS [NOT] [MATERIALIZED] (...) is a common table expression with column names,
    // not a call (a call is followed by AS and an alias, never by AS and a parenthesis).
    if (const Token* after = at(close + 1); after != nullptr && IsWord(*after, "as")) {
      const Token* body = at(close + 2);
      if (body != nullptr &&
          (IsSymbol(*body, "(") || IsWord(*body, "materialized") || IsWord(*body, "not"))) {
        continue;
      }
    }
    if (PortableFunctions().count(word) == 0) {
      return DialectViolation{token.offset, "function " + word + "() is not in the rule dialect: " +
                                                FunctionAdvice(word)};
    }
    int commas = TopLevelCommas(tokens, i + 1, close);
    if ((word == "min" || word == "max") && commas > 0) {
      return DialectViolation{token.offset, "scalar " + word + "(a, b, ...) is SQLite-only: use " +
                                                (word == "min" ? "least" : "greatest") +
                                                "(a, b, ...)"};
    }
    if (word == "text_list" && commas > 0) {
      return DialectViolation{token.offset, "text_list() takes one argument"};
    }
  }
  return std::nullopt;
}

}  // namespace dozor::server::rules
