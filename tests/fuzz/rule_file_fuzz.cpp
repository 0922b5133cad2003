// Fuzz target: an override rule file as an engineer (or an attacker with write access to the
// override directory) may write it: TOML, the rule's fields, and the SQL dialect check.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "rules/dialect.hpp"
#include "rules/rule.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)dozor::server::rules::ParseRule(text, "fuzz.toml");
  (void)dozor::server::rules::CheckRuleDialect(text);
  return 0;
}
