// The rule dialect: the portable subset of SQL that rule conditions are written in, so one rule
// runs unchanged on SQLite (3.40) and PostgreSQL (15). docs/rule-language.md is its reference.
//
// CheckRuleDialect is a token-level check (it does not parse SQL): it refuses the constructs
// that either backend lacks or reads differently — functions outside the portable list and the
// Dozor function library, SQLite-only syntax (==, GLOB, "quoted" or [bracketed] names,
// LIMIT a, b, IS with a value, rowid, ...), PostgreSQL-only syntax (::, ILIKE, $1) and casts
// whose meaning differs. Typing and GROUP BY strictness are PostgreSQL's to judge; the
// PostgreSQL prepare test (tests/unit/server/rules/postgres_dialect_test.py) runs the pack there.
//
// Pure; thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dozor::server::rules {

struct DialectViolation {
  size_t offset = 0;  // byte offset of the offending token in the SQL text
  std::string message;
};

// The first construct of `sql` outside the rule dialect, or nothing when the text is portable.
std::optional<DialectViolation> CheckRuleDialect(std::string_view sql);

// Functions a rule may call: portable built-ins and the Dozor function library, sorted.
const std::vector<std::string_view>& RuleDialectFunctions();

}  // namespace dozor::server::rules
