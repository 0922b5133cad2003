#include "collectors/windows/file_source_windows.hpp"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "dozor/common/files.hpp"
#include "platform/windows/wide_text.hpp"

// After the project headers: <windows.h>'s macros break the generated agent.pb.h.
#include <windows.h>

namespace dozor::agent::windows {
namespace {

namespace fs = std::filesystem;

using platform::Narrow;
using platform::Widen;

Result<fs::path> ToPath(std::string_view windows_path) {
  if (windows_path.empty() || windows_path.find('\0') != std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "not a Windows path: \"" + std::string(windows_path) + "\"");
  }
  return fs::path(Widen(windows_path));
}

Error ListError(std::string_view folder, const std::error_code& ec) {
  // libstdc++ reports Win32 codes in the system category, errno values in the generic one.
  const bool win32 = ec.category() == std::system_category();
  const int value = ec.value();
  const bool missing =
      win32 ? (value == ERROR_FILE_NOT_FOUND || value == ERROR_PATH_NOT_FOUND ||
               value == ERROR_DIRECTORY)
            : ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory;
  if (missing) {
    return MakeError(ErrorCode::kNotFound, std::string(folder) + " not found");
  }
  const bool denied = win32 ? value == ERROR_ACCESS_DENIED : ec == std::errc::permission_denied;
  const std::string reason =
      win32 ? platform::WindowsErrorMessage(static_cast<DWORD>(value)) : ec.message();
  return MakeError(denied ? ErrorCode::kPermissionDenied : ErrorCode::kUnavailable,
                   std::string(folder) + ": " + reason);
}

}  // namespace

Result<std::string> Win32Files::Read(std::string_view windows_path, size_t max_bytes) {
  DOZOR_ASSIGN_OR_RETURN(fs::path path, ToPath(windows_path));
  return ReadFile(path, max_bytes, ReadFrom::kRegularFile);
}

Result<std::vector<std::string>> Win32Files::List(std::string_view windows_folder) {
  DOZOR_ASSIGN_OR_RETURN(fs::path folder, ToPath(windows_folder));
  std::error_code ec;
  // skip_permission_denied: a profile folder of another user the agent may not list is not an
  // error of the whole listing (only of that entry, which is then absent).
  fs::directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec);
  if (ec) {
    return ListError(windows_folder, ec);
  }
  std::vector<std::string> names;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) {
      return ListError(windows_folder, ec);
    }
    if (names.size() >= limits_.max_entries) {
      return MakeError(ErrorCode::kResourceExhausted, std::string(windows_folder) + ": more than " +
                                                          std::to_string(limits_.max_entries) +
                                                          " entries");
    }
    names.push_back(Narrow(it->path().filename().native()));
  }
  if (ec) {
    return ListError(windows_folder, ec);
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace dozor::agent::windows
