// Text and errors at the Win32 boundary (dozor/common/win32_text.hpp): built only for Windows.
#include "dozor/common/win32_text.hpp"

#include <windows.h>

#include <climits>
#include <cstdio>
#include <string>

namespace dozor {
namespace {

// MultiByteToWideChar and WideCharToMultiByte count in int; nothing the agent converts comes
// near 2 GiB, and a longer input is cut rather than overflowing the count.
int ClampedLength(size_t length) {
  return length > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(length);
}

// FormatMessageW's text for `error` in `language` (0: the system's choice); "" when it has none.
std::wstring SystemMessage(DWORD error, DWORD language) {
  wchar_t* buffer = nullptr;
  const DWORD length = ::FormatMessageW(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
      nullptr, error, language, reinterpret_cast<wchar_t*>(&buffer), 0, nullptr);
  std::wstring text;
  if (length > 0 && buffer != nullptr) {
    text.assign(buffer, length);
  }
  if (buffer != nullptr) {
    ::LocalFree(buffer);
  }
  return text;
}

}  // namespace

std::wstring Widen(std::string_view utf8) {
  if (utf8.empty()) {
    return {};
  }
  const int length = ClampedLength(utf8.size());
  const int wide_length = ::MultiByteToWideChar(CP_UTF8, 0, utf8.data(), length, nullptr, 0);
  if (wide_length <= 0) {
    return {};
  }
  std::wstring wide(static_cast<size_t>(wide_length), L'\0');
  ::MultiByteToWideChar(CP_UTF8, 0, utf8.data(), length, wide.data(), wide_length);
  return wide;
}

std::string Narrow(std::wstring_view utf16) {
  if (utf16.empty()) {
    return {};
  }
  const int length = ClampedLength(utf16.size());
  const int narrow_length =
      ::WideCharToMultiByte(CP_UTF8, 0, utf16.data(), length, nullptr, 0, nullptr, nullptr);
  if (narrow_length <= 0) {
    return {};
  }
  std::string narrow(static_cast<size_t>(narrow_length), '\0');
  ::WideCharToMultiByte(CP_UTF8, 0, utf16.data(), length, narrow.data(), narrow_length, nullptr,
                        nullptr);
  return narrow;
}

std::string WindowsErrorMessage(unsigned long error) {
  // English first: these messages end up in the server's logs and reports, read by people who
  // search the web for them. A Russian Windows without the English language pack has no English
  // text, so then the system's own.
  std::wstring text = SystemMessage(error, MAKELANGID(LANG_ENGLISH, SUBLANG_ENGLISH_US));
  if (text.empty()) {
    text = SystemMessage(error, 0);
  }
  // FormatMessage ends its text with ".\r\n"; the number follows in parentheses.
  while (!text.empty() && (text.back() == L'\r' || text.back() == L'\n' || text.back() == L' ' ||
                           text.back() == L'.')) {
    text.pop_back();
  }
  std::string message = Narrow(text);
  if (message.empty()) {
    message = "Windows error";
  }
  return message + " (error " + std::to_string(error) + ")";
}

ErrorCode ErrorCodeFromWin32(unsigned long error) {
  switch (error) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_DRIVE:
    case ERROR_BAD_NETPATH:
    case ERROR_BAD_NET_NAME:
    case ERROR_NOT_FOUND:
    case ERROR_MOD_NOT_FOUND:
      return ErrorCode::kNotFound;
    case ERROR_ACCESS_DENIED:
    case ERROR_PRIVILEGE_NOT_HELD:
    case ERROR_INVALID_OWNER:
      return ErrorCode::kPermissionDenied;
    case ERROR_ALREADY_EXISTS:
    case ERROR_FILE_EXISTS:
      return ErrorCode::kAlreadyExists;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case ERROR_NOT_ENOUGH_QUOTA:
      return ErrorCode::kResourceExhausted;
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
    case ERROR_BUSY:
    case ERROR_TIMEOUT:
    case WAIT_TIMEOUT:
    case ERROR_SEM_TIMEOUT:
    case ERROR_NOT_READY:
    case ERROR_NETNAME_DELETED:
    case ERROR_UNEXP_NET_ERR:
      return ErrorCode::kUnavailable;
    case ERROR_INVALID_NAME:
    case ERROR_INVALID_PARAMETER:
    case ERROR_DIRECTORY:
    case ERROR_FILENAME_EXCED_RANGE:
    case ERROR_BAD_PATHNAME:
      return ErrorCode::kInvalidArgument;
    case ERROR_FILE_CORRUPT:
    case ERROR_DISK_CORRUPT:
    case ERROR_CRC:
      return ErrorCode::kDataLoss;
    default:
      return ErrorCode::kInternal;
  }
}

Error Win32Error(std::string_view context, unsigned long error) {
  return MakeError(ErrorCodeFromWin32(error),
                   std::string(context) + ": " + WindowsErrorMessage(error));
}

std::string HresultText(long hresult) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%08lX", static_cast<unsigned long>(hresult));
  return text;
}

}  // namespace dozor
