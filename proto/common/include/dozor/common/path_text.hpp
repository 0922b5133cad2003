// Paths as the agent's text (UTF-8) and back, the same on every OS. std::filesystem::path's
// string() and its std::string constructor use the ANSI code page on Windows (cp1251 on most of
// the machines this runs on), which turns a Cyrillic folder name into '?'; these never do.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace dozor {

[[nodiscard]] inline std::string PathToUtf8(const std::filesystem::path& path) {
  const std::u8string text = path.u8string();
  return {reinterpret_cast<const char*>(text.data()), text.size()};
}

[[nodiscard]] inline std::filesystem::path PathFromUtf8(std::string_view utf8) {
  return std::filesystem::path(
      std::u8string(reinterpret_cast<const char8_t*>(utf8.data()), utf8.size()));
}

}  // namespace dozor
