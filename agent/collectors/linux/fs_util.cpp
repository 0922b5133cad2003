#include "collectors/linux/fs_util.hpp"

#include <algorithm>
#include <cstdint>
#include <system_error>

#include "dozor/common/files.hpp"

namespace dozor::agent {

namespace fs = std::filesystem;

std::string ReadSmallFile(const fs::path& path, size_t max_bytes) {
  Result<std::string> text = ReadFile(path, max_bytes);
  return text.ok() ? std::move(text).value() : std::string();
}

std::string ReadTrimmedFile(const fs::path& path, size_t max_bytes) {
  return std::string(Trim(ReadSmallFile(path, max_bytes)));
}

std::string ReadFirstLine(const fs::path& path, size_t max_bytes) {
  std::string text = ReadSmallFile(path, max_bytes);
  return std::string(Trim(std::string_view(text).substr(0, text.find('\n'))));
}

std::string ReadSysfsValue(const fs::path& path) {
  return std::string(TrimRight(ReadSmallFile(path), "\n \r"));
}

bool PathExists(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

bool IsDirectory(const fs::path& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

Result<std::vector<std::string>> ListDirectory(const fs::path& dir, size_t max_entries) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    return MakeError(ErrorCode::kNotFound, "cannot list " + dir.string() + ": " + ec.message());
  }
  std::vector<std::string> names;
  for (; !ec && it != fs::directory_iterator() && names.size() < max_entries; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> ListNamesOrEmpty(const fs::path& dir, size_t max_entries) {
  Result<std::vector<std::string>> names = ListDirectory(dir, max_entries);
  return names.ok() ? std::move(names).value() : std::vector<std::string>();
}

}  // namespace dozor::agent
