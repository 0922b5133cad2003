#include "domain/host_search_term.hpp"

#include <algorithm>
#include <cctype>

namespace dozor::server {

namespace {

bool IsHex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

// Whether `text` is groups of `group` hex digits separated by `separator` (12 digits in all).
bool Grouped(std::string_view text, size_t group, char separator) {
  const size_t groups = 12 / group;
  if (text.size() != 12 + groups - 1) {
    return false;
  }
  for (size_t i = 0; i < text.size(); ++i) {
    const bool separator_place = (i + 1) % (group + 1) == 0;
    if (separator_place ? text[i] != separator : !IsHex(text[i])) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<std::string> NormalizeMac(std::string_view text) {
  const bool ok = Grouped(text, 2, ':') || Grouped(text, 2, '-') || Grouped(text, 4, '.') ||
                  Grouped(text, 12, ' ');
  if (!ok) {
    return std::nullopt;
  }
  std::string digits;
  for (const char c : text) {
    if (IsHex(c)) {
      digits += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  std::string out;
  for (size_t i = 0; i < digits.size(); i += 2) {
    if (!out.empty()) {
      out += ':';
    }
    out += digits.substr(i, 2);
  }
  return out;
}

std::optional<PackageTerm> ParsePackageTerm(std::string_view text) {
  const bool has_space = std::any_of(text.begin(), text.end(), [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) != 0;
  });
  if (text.empty() || has_space) {
    return std::nullopt;
  }
  const size_t equals = text.find('=');
  if (equals == std::string_view::npos) {
    return PackageTerm{std::string(text), std::nullopt};
  }
  const std::string_view name = text.substr(0, equals);
  const std::string_view version = text.substr(equals + 1);
  if (name.empty() || version.empty()) {
    return std::nullopt;
  }
  return PackageTerm{std::string(name), std::string(version)};
}

}  // namespace dozor::server
