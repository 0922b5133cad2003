// Text and errors at the Win32 boundary, for the Windows sources of every library (the agent's
// platform and collectors, dozor_common's own files). Text inside Dozor is UTF-8; Windows speaks
// UTF-16 (the W functions) and numbers its errors (GetLastError, HRESULT). Converting at the call
// site of every Win32 function keeps the ANSI code page (cp1251 on the Russian machines the agent
// mostly runs on) away from all text.
//
// Defined only in Windows builds (src/windows/win32_text.cpp). No <windows.h> here on purpose:
// its macros (`interface`, `DUPLICATE`) break generated protobuf headers, so only .cpp files
// include it, after the project headers.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "dozor/common/result.hpp"

namespace dozor {

// UTF-8 -> UTF-16. Invalid UTF-8 becomes U+FFFD; "" for "". An embedded NUL is kept (the caller
// refuses it where Windows would cut the string there).
[[nodiscard]] std::wstring Widen(std::string_view utf8);

// UTF-16 -> UTF-8. An unpaired surrogate becomes U+FFFD (Windows names may hold one).
[[nodiscard]] std::string Narrow(std::wstring_view utf16);

// A path for a message: Narrow of its UTF-16 form. Not path::string() (the ANSI code page) nor
// u8string() (throws on an unpaired surrogate, which NTFS names may hold).
[[nodiscard]] inline std::string PathText(const std::filesystem::path& path) {
  return Narrow(path.native());
}

// The system's text for a Win32 error code (a DWORD), in English when that language is installed,
// else in the system's language; trimmed, followed by the number: "Access is denied (error 5)".
[[nodiscard]] std::string WindowsErrorMessage(unsigned long error);

// The ErrorCode a Win32 error code (a DWORD) means for a caller: kNotFound for missing files,
// paths, keys; kPermissionDenied for access denied; kUnavailable for sharing and lock violations
// and timeouts (a retry may help); kResourceExhausted for a full disk or no memory;
// kAlreadyExists; kInvalidArgument for bad names; kInternal for the rest.
[[nodiscard]] ErrorCode ErrorCodeFromWin32(unsigned long error);

// MakeError(ErrorCodeFromWin32(error), context + ": " + WindowsErrorMessage(error)).
[[nodiscard]] Error Win32Error(std::string_view context, unsigned long error);

// An HRESULT (a long) as WMI, COM and the update agent document it: "0x80041010".
[[nodiscard]] std::string HresultText(long hresult);

}  // namespace dozor
