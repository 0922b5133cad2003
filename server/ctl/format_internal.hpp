// Building blocks the dozorctl renderers share (format_*.cpp): lenient JSON access, "-" for
// empty values, sections and "Label:  value" blocks. Internal to dozor_ctl.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ctl/labels.hpp"

namespace dozor::ctl {

// Member `key` of an object, or null: missing fields never throw.
const nlohmann::json& At(const nlohmann::json& object, std::string_view key);
// Member `key` if it is an array, else an empty array.
const nlohmann::json& Array(const nlohmann::json& object, std::string_view key);
bool JsonBool(const nlohmann::json& value);

// `text` without surrounding spaces, or "-" when nothing is left.
std::string OrDash(std::string text);

// Proto3 JSON omits zero values, so an absent count is 0; negative means "unknown".
std::string CountOrUnknown(const nlohmann::json& value);

// A blank line, the title (in `lang`) and a dashed underline as wide as the title.
std::string Section(std::string_view title, Lang lang = Lang::kEn);

// Indents every line of a multi-line text.
std::string Indented(std::string_view text, std::string_view prefix = "  ");

// The string items of a JSON array joined with `separator` (other items skipped).
std::string JoinJsonStrings(const nlohmann::json& array, std::string_view separator);

// Local time of the Unix-ms field `key_ms`; "-" when absent.
std::string TimeField(const nlohmann::json& object, std::string_view key_ms);

// Local time of `expires_at_ms`, or "never" when the token does not expire.
std::string ExpiryField(const nlohmann::json& token);

// A rule's "Why it matters" and "Remediation" sections (findings show, rules show).
std::string WhyAndRemediation(const nlohmann::json& rule, Lang lang);

// "Label:  value" lines with labels padded to one width. Labels are given in English and shown
// in `lang`.
class KeyValues {
 public:
  explicit KeyValues(Lang lang = Lang::kEn) : lang_(lang) {}
  void Add(std::string_view key, std::string value) {
    entries_.emplace_back(Label(key, lang_), std::move(value));
  }
  [[nodiscard]] std::string Render() const;

 private:
  Lang lang_;
  std::vector<std::pair<std::string, std::string>> entries_;
};

}  // namespace dozor::ctl
