// files.hpp on Windows: CreateFileW / ReadFile / WriteFile on the wide path, FlushFileBuffers for
// fsync and MoveFileExW for the atomic replace. Paths are std::filesystem::path, wide on Windows:
// path.c_str() goes to the W functions as it is, with no code-page conversion.
#include "dozor/common/files.hpp"
#include "dozor/common/win32_text.hpp"

#include <windows.h>

#include <sddl.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace dozor {
namespace {

// How often and how long a replace is retried while another process has the target open without
// delete sharing: antivirus and backup agents open a freshly written file for a moment.
constexpr int kReplaceAttempts = 10;
constexpr DWORD kReplaceRetryStepMs = 20;

// Owns a file handle. (dozor_common sits below the agent, so the agent's platform/windows
// helpers are out of reach here.)
class FileHandle {
 public:
  explicit FileHandle(HANDLE handle) : handle_(handle) {}
  ~FileHandle() { Close(); }
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;
  [[nodiscard]] bool valid() const { return handle_ != INVALID_HANDLE_VALUE; }
  [[nodiscard]] HANDLE get() const { return handle_; }
  void Close() {
    if (valid()) {
      ::CloseHandle(handle_);
      handle_ = INVALID_HANDLE_VALUE;
    }
  }

 private:
  HANDLE handle_;
};

// The security descriptor of an owner-only folder, in SDDL: a protected list (P: nothing
// inherited from above) of full-access entries for SYSTEM (SY), Administrators (BA) and the
// owner (OW, "owner rights"), each inherited by files and folders inside (OI CI).
class OwnerOnlySecurity {
 public:
  OwnerOnlySecurity() {
    ::ConvertStringSecurityDescriptorToSecurityDescriptorW(
        L"D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;OW)", SDDL_REVISION_1, &descriptor_,
        nullptr);
  }
  ~OwnerOnlySecurity() { ::LocalFree(descriptor_); }
  OwnerOnlySecurity(const OwnerOnlySecurity&) = delete;
  OwnerOnlySecurity& operator=(const OwnerOnlySecurity&) = delete;
  [[nodiscard]] bool valid() const { return descriptor_ != nullptr; }
  [[nodiscard]] PSECURITY_DESCRIPTOR get() const { return descriptor_; }

 private:
  PSECURITY_DESCRIPTOR descriptor_ = nullptr;
};

// The same codes as the POSIX version's errno mapping (ErrorCodeFromWin32).
Error Win32FileError(const std::string& what, const std::filesystem::path& path, DWORD error) {
  return MakeError(ErrorCodeFromWin32(error),
                   what + " " + PathText(path) + ": " + WindowsErrorMessage(error));
}

bool IsDirectory(const std::filesystem::path& path) {
  const DWORD attributes = ::GetFileAttributesW(path.c_str());
  return attributes != INVALID_FILE_ATTRIBUTES && (attributes & FILE_ATTRIBUTE_DIRECTORY) != 0;
}

}  // namespace

Result<std::string> ReadFile(const std::filesystem::path& path, size_t max_bytes, ReadFrom from) {
  // Every sharing mode, delete included: reading must never stop the agent (or anyone) from
  // replacing or deleting the file, which is what WriteFileAtomic's rename does.
  FileHandle file(::CreateFileW(path.c_str(), GENERIC_READ,
                                FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                                OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!file.valid()) {
    const DWORD error = ::GetLastError();
    // Windows refuses to open a folder as a file with "access denied"; say what it is instead.
    if (error == ERROR_ACCESS_DENIED && IsDirectory(path)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       PathText(path) + " is a directory, not a regular file: not read");
    }
    return Win32FileError("cannot open", path, error);
  }
  // A pipe, console or device (\\.\pipe\x, CON, COM1) is refused at once for kRegularFile,
  // as the POSIX version refuses a FIFO.
  const DWORD type = ::GetFileType(file.get());
  if (from == ReadFrom::kRegularFile && type != FILE_TYPE_DISK) {
    return MakeError(ErrorCode::kInvalidArgument,
                     PathText(path) + " is not a regular file (pipe or device): not read");
  }
  std::string out;
  if (type == FILE_TYPE_DISK) {
    LARGE_INTEGER size = {};
    if (::GetFileSizeEx(file.get(), &size) && size.QuadPart > 0) {
      if (static_cast<uint64_t>(size.QuadPart) > max_bytes) {
        return MakeError(ErrorCode::kResourceExhausted, PathText(path) + " is larger than " +
                                                            std::to_string(max_bytes) + " bytes");
      }
      out.reserve(static_cast<size_t>(size.QuadPart));
    }
  }
  char buffer[16384];
  while (true) {
    DWORD read = 0;
    if (!::ReadFile(file.get(), buffer, sizeof(buffer), &read, nullptr)) {
      const DWORD error = ::GetLastError();
      if (error == ERROR_BROKEN_PIPE || error == ERROR_HANDLE_EOF) {
        break;  // a pipe whose writer closed: the end, as read() returning 0
      }
      return Win32FileError("cannot read", path, error);
    }
    if (read == 0) {
      if (type == FILE_TYPE_PIPE) {
        continue;  // a zero-byte write on a pipe, not its end
      }
      break;
    }
    if (out.size() + read > max_bytes) {
      return MakeError(ErrorCode::kResourceExhausted,
                       PathText(path) + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
    out.append(buffer, read);
  }
  return out;
}

Status WriteFileAtomic(const std::filesystem::path& path, std::string_view content, mode_t mode) {
  // A file for its owner only (mode 0600: the identity, the CA the installer placed is 0644) gets
  // the owner-only access list of its own (as EnsureDirectory's folders, below), whatever the
  // folder would pass on; any other file takes what its folder passes on.
  // platform/file_access.hpp checks the result for secrets.
  OwnerOnlySecurity owner_only;
  SECURITY_ATTRIBUTES attributes{};
  attributes.nLength = sizeof(attributes);
  if ((mode & 077) == 0) {
    if (!owner_only.valid()) {
      return MakeError(ErrorCode::kInternal, "cannot build the access list for " + PathText(path) +
                                                 ": " + WindowsErrorMessage(::GetLastError()));
    }
    attributes.lpSecurityDescriptor = owner_only.get();
  }
  std::filesystem::path tmp = path;
  tmp += L".tmp." + std::to_wstring(::GetCurrentProcessId());
  FileHandle file(::CreateFileW(tmp.c_str(), GENERIC_WRITE, 0, &attributes, CREATE_ALWAYS,
                                FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!file.valid()) {
    return Win32FileError("cannot create", tmp, ::GetLastError());
  }
  const auto fail = [&](const std::string& what, DWORD error) {
    file.Close();
    ::DeleteFileW(tmp.c_str());
    return Win32FileError(what, tmp, error);
  };
  size_t written = 0;
  while (written < content.size()) {
    // WriteFile counts in DWORD: write at most 1 GiB at a time.
    const DWORD chunk =
        static_cast<DWORD>(std::min<size_t>(content.size() - written, size_t{1} << 30));
    DWORD done = 0;
    if (!::WriteFile(file.get(), content.data() + written, chunk, &done, nullptr)) {
      return fail("cannot write", ::GetLastError());
    }
    written += done;
  }
  if (!::FlushFileBuffers(file.get())) {
    return fail("cannot flush", ::GetLastError());
  }
  file.Close();
  DWORD error = ERROR_SUCCESS;
  for (int attempt = 1; attempt <= kReplaceAttempts; ++attempt) {
    if (::MoveFileExW(tmp.c_str(), path.c_str(),
                      MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
      return OkStatus();
    }
    error = ::GetLastError();
    if (error != ERROR_ACCESS_DENIED && error != ERROR_SHARING_VIOLATION &&
        error != ERROR_LOCK_VIOLATION) {
      break;
    }
    ::Sleep(kReplaceRetryStepMs * static_cast<DWORD>(attempt));
  }
  ::DeleteFileW(tmp.c_str());
  return Win32FileError("cannot rename onto", path, error);
}

Status EnsureDirectory(const std::filesystem::path& given, mode_t mode) {
  // "C:\x\state\" is the folder "C:\x\state": without this its parent would be itself, created
  // below with the inherited list, and the owner-only list never applied.
  const std::filesystem::path path = given.has_filename() ? given : given.parent_path();
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return OkStatus();
  }
  // The parents take the access list their own parents pass on.
  if (path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), ec);
  }
  if (!ec) {
    OwnerOnlySecurity owner_only;
    SECURITY_ATTRIBUTES attributes{};
    attributes.nLength = sizeof(attributes);
    // A folder for the owner only (mode 0700: identity, spool, status): an access list of its
    // own, not inherited, that admits SYSTEM, Administrators and the folder's owner (the user
    // who ran the agent from a console; SYSTEM for the service), passed on to everything inside.
    // Without this a state folder under ProgramData would be readable by every user.
    if ((mode & 077) == 0) {
      if (!owner_only.valid()) {
        return MakeError(ErrorCode::kInternal, "cannot build the access list for " +
                                                   PathText(path) + ": " +
                                                   WindowsErrorMessage(::GetLastError()));
      }
      attributes.lpSecurityDescriptor = owner_only.get();
    }
    if (!::CreateDirectoryW(path.c_str(), &attributes)) {
      const DWORD error = ::GetLastError();
      if (error == ERROR_ALREADY_EXISTS && std::filesystem::is_directory(path, ec)) {
        return OkStatus();  // created meanwhile by someone else
      }
      return MakeError(ErrorCode::kInternal, "cannot create directory " + PathText(path) + ": " +
                                                 WindowsErrorMessage(error));
    }
    return OkStatus();
  }
  // The system category holds a Win32 code here; its message() would be in the ANSI code page.
  const std::string reason = ec.category() == std::system_category()
                                 ? WindowsErrorMessage(static_cast<DWORD>(ec.value()))
                                 : ec.message();
  return MakeError(ErrorCode::kInternal,
                   "cannot create directory " + PathText(path) + ": " + reason);
}

}  // namespace dozor
