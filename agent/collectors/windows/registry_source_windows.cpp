#include "collectors/windows/registry_source_windows.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "collectors/parsers/text.hpp"
#include "collectors/parsers/windows_parsers.hpp"
#include "platform/windows/wide_text.hpp"

// After the project headers: <windows.h>'s macros break the generated agent.pb.h.
#include <windows.h>

namespace dozor::agent::windows {
namespace {

using platform::Narrow;
using platform::Widen;
using platform::WindowsErrorMessage;

// A key name is at most 255 characters, a value name at most 16383 (documented registry limits).
constexpr DWORD kMaxKeyNameChars = 256;
constexpr DWORD kMaxValueNameChars = 16384;
// A value that keeps growing between the size query and the read is given up on after this.
constexpr int kMaxReadAttempts = 3;

class OpenKey {
 public:
  OpenKey() = default;
  ~OpenKey() {
    if (key_ != nullptr) {
      ::RegCloseKey(key_);
    }
  }
  OpenKey(OpenKey&& other) noexcept : key_(std::exchange(other.key_, nullptr)) {}
  OpenKey& operator=(OpenKey&&) = delete;
  OpenKey(const OpenKey&) = delete;
  OpenKey& operator=(const OpenKey&) = delete;
  [[nodiscard]] HKEY get() const { return key_; }
  [[nodiscard]] HKEY* Put() { return &key_; }

 private:
  HKEY key_ = nullptr;
};

Error RegistryError(std::string_view key, LSTATUS status) {
  const DWORD error = static_cast<DWORD>(status);
  if (error == ERROR_FILE_NOT_FOUND || error == ERROR_PATH_NOT_FOUND) {
    return MakeError(ErrorCode::kNotFound, "registry key " + std::string(key) + " not found");
  }
  return MakeError(
      error == ERROR_ACCESS_DENIED ? ErrorCode::kPermissionDenied : ErrorCode::kUnavailable,
      "registry key " + std::string(key) + ": " + WindowsErrorMessage(error));
}

// "HKLM\SOFTWARE\X" (or "HKEY_LOCAL_MACHINE\..."), "HKU" alone -> the hive and its subkey.
// HKCU is the agent's own account's hive (SYSTEM's, for the service): the builders read users'
// settings through HKU\<SID> instead.
Result<OpenKey> Open(std::string_view key, RegistryView view) {
  const std::string_view path = Trim(key, "\\ ");
  const size_t slash = path.find('\\');
  const std::string hive_name = Lower(path.substr(0, slash));
  const std::string_view subkey =
      slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
  HKEY hive = nullptr;
  if (hive_name == "hklm" || hive_name == "hkey_local_machine") {
    hive = HKEY_LOCAL_MACHINE;
  } else if (hive_name == "hku" || hive_name == "hkey_users") {
    hive = HKEY_USERS;
  } else if (hive_name == "hkcu" || hive_name == "hkey_current_user") {
    hive = HKEY_CURRENT_USER;
  } else if (hive_name == "hkcr" || hive_name == "hkey_classes_root") {
    hive = HKEY_CLASSES_ROOT;
  } else {
    return MakeError(ErrorCode::kInvalidArgument,
                     "registry key " + std::string(key) + ": unknown hive");
  }
  if (subkey.find('\0') != std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "registry key " + std::string(key) + ": holds a NUL byte");
  }
  const std::wstring wide_subkey = Widen(subkey);
  // KEY_WOW64_64KEY also in the native view, so a 32-bit build reads what a 64-bit one does.
  const REGSAM access =
      KEY_READ | (view == RegistryView::kWow32 ? KEY_WOW64_32KEY : KEY_WOW64_64KEY);
  OpenKey opened;
  const LSTATUS status = ::RegOpenKeyExW(hive, wide_subkey.empty() ? nullptr : wide_subkey.c_str(),
                                         0, access, opened.Put());
  if (status != ERROR_SUCCESS) {
    return RegistryError(key, status);
  }
  return opened;
}

uint64_t LittleEndian(std::string_view bytes, size_t count) {
  uint64_t value = 0;
  for (size_t i = 0; i < count && i < bytes.size(); ++i) {
    value |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
  }
  return value;
}

// A value's data as RegValue holds it, the same way ParseRegExport reads an export's, so the
// builders see no difference between a live machine and its capture.
RegValue ToRegValue(DWORD type, std::string_view bytes) {
  RegValue value;
  switch (type) {
    case REG_SZ:
      value.type = RegValue::Type::kString;
      value.text = Utf16LeBytesToUtf8(bytes, /*stop_at_nul=*/true);
      break;
    case REG_EXPAND_SZ:
      value.type = RegValue::Type::kExpandString;
      value.text = Utf16LeBytesToUtf8(bytes, /*stop_at_nul=*/true);
      break;
    case REG_MULTI_SZ: {
      value.type = RegValue::Type::kMultiString;
      const std::string all = Utf16LeBytesToUtf8(bytes, /*stop_at_nul=*/false);
      for (std::string_view piece : Split(all, '\0')) {
        if (!piece.empty()) {
          value.strings.emplace_back(piece);
        }
      }
      break;
    }
    case REG_DWORD:
      value.type = RegValue::Type::kDword;
      value.number = LittleEndian(bytes, 4);
      break;
    case REG_QWORD:
      value.type = RegValue::Type::kQword;
      value.number = LittleEndian(bytes, 8);
      break;
    case REG_BINARY:
      value.type = RegValue::Type::kBinary;
      value.bytes.assign(bytes);
      break;
    default:
      value.type = RegValue::Type::kOther;
      value.bytes.assign(bytes);
      break;
  }
  return value;
}

struct KeyInfo {
  DWORD subkeys = 0;
  DWORD values = 0;
  DWORD max_value_name_chars = 0;
  DWORD max_value_bytes = 0;
};

Result<KeyInfo> QueryInfo(HKEY key, std::string_view name) {
  KeyInfo info;
  const LSTATUS status = ::RegQueryInfoKeyW(key, nullptr, nullptr, nullptr, &info.subkeys, nullptr,
                                            nullptr, &info.values, &info.max_value_name_chars,
                                            &info.max_value_bytes, nullptr, nullptr);
  if (status != ERROR_SUCCESS) {
    return RegistryError(name, status);
  }
  return info;
}

Error TooMany(std::string_view key, const char* what, size_t limit) {
  return MakeError(
      ErrorCode::kResourceExhausted,
      "registry key " + std::string(key) + ": more than " + std::to_string(limit) + " " + what);
}

}  // namespace

Result<std::vector<std::string>> Win32Registry::Subkeys(std::string_view key, RegistryView view) {
  DOZOR_ASSIGN_OR_RETURN(OpenKey opened, Open(key, view));
  DOZOR_ASSIGN_OR_RETURN(KeyInfo info, QueryInfo(opened.get(), key));
  if (info.subkeys > limits_.max_entries) {
    return TooMany(key, "subkeys", limits_.max_entries);
  }
  std::vector<std::string> names;
  names.reserve(info.subkeys);
  wchar_t name[kMaxKeyNameChars + 1];
  for (DWORD index = 0;; ++index) {
    DWORD length = kMaxKeyNameChars + 1;
    const LSTATUS status =
        ::RegEnumKeyExW(opened.get(), index, name, &length, nullptr, nullptr, nullptr, nullptr);
    if (status == ERROR_NO_MORE_ITEMS) {
      break;
    }
    if (status != ERROR_SUCCESS) {
      return RegistryError(key, status);
    }
    if (names.size() >= limits_.max_entries) {
      return TooMany(key, "subkeys", limits_.max_entries);
    }
    names.push_back(Narrow(std::wstring_view(name, length)));
  }
  return names;
}

Result<RegistryValues> Win32Registry::Values(std::string_view key, RegistryView view) {
  DOZOR_ASSIGN_OR_RETURN(OpenKey opened, Open(key, view));
  DOZOR_ASSIGN_OR_RETURN(KeyInfo info, QueryInfo(opened.get(), key));
  if (info.values > limits_.max_entries) {
    return TooMany(key, "values", limits_.max_entries);
  }
  const size_t value_cap = limits_.max_value_bytes;
  std::vector<wchar_t> name(std::min<DWORD>(info.max_value_name_chars + 1, kMaxValueNameChars));
  std::vector<BYTE> data(std::max<size_t>(std::min<size_t>(info.max_value_bytes, value_cap), 16));
  RegistryValues values;
  values.values.reserve(info.values);
  int attempts = 0;
  for (DWORD index = 0;;) {
    DWORD name_length = static_cast<DWORD>(name.size());
    DWORD data_length = static_cast<DWORD>(data.size());
    DWORD type = REG_NONE;
    LSTATUS status = ::RegEnumValueW(opened.get(), index, name.data(), &name_length, nullptr, &type,
                                     data.data(), &data_length);
    if (status == ERROR_NO_MORE_ITEMS) {
      break;
    }
    if (status == ERROR_MORE_DATA) {
      // The value (or its name) grew since RegQueryInfoKey, or it is over the cap: ask its size.
      name.resize(kMaxValueNameChars);
      name_length = static_cast<DWORD>(name.size());
      data_length = 0;
      status = ::RegEnumValueW(opened.get(), index, name.data(), &name_length, nullptr, &type,
                               nullptr, &data_length);
      if (status != ERROR_SUCCESS && status != ERROR_NO_MORE_ITEMS) {
        return RegistryError(key, status);
      }
      // Over the cap (a blob no builder reads), or still changing: skipped, not failed.
      if (status == ERROR_SUCCESS && data_length <= value_cap && ++attempts < kMaxReadAttempts) {
        data.resize(std::max<size_t>(data_length, 16));
        continue;  // the same index again, with room for it
      }
      attempts = 0;
      ++index;
      continue;
    }
    if (status != ERROR_SUCCESS) {
      return RegistryError(key, status);
    }
    if (values.values.size() >= limits_.max_entries) {
      return TooMany(key, "values", limits_.max_entries);
    }
    const std::string_view bytes(reinterpret_cast<const char*>(data.data()), data_length);
    values.values.emplace_back(Narrow(std::wstring_view(name.data(), name_length)),
                               ToRegValue(type, bytes));
    attempts = 0;
    ++index;
  }
  return values;
}

}  // namespace dozor::agent::windows
