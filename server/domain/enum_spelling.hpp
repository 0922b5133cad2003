// One spelling table per enum keeps its ToString and Parse from drifting apart. Internal to
// server/domain.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

namespace dozor::server::enum_spelling {

template <typename Enum, size_t N>
using Table = std::array<std::pair<Enum, std::string_view>, N>;

template <typename Enum, size_t N>
std::string_view Spell(const Table<Enum, N>& table, Enum value) {
  for (const auto& [candidate, text] : table) {
    if (candidate == value) {
      return text;
    }
  }
  return "unknown";
}

template <typename Enum, size_t N>
std::optional<Enum> Lookup(const Table<Enum, N>& table, std::string_view text) {
  for (const auto& [candidate, spelling] : table) {
    if (spelling == text) {
      return candidate;
    }
  }
  return std::nullopt;
}

}  // namespace dozor::server::enum_spelling
