// What a Windows machine is read through: WMI (CIM instances), the registry, files at Windows
// paths, and the few facts only Win32 APIs or the update agent give. The inventory builders
// (windows_inventory.hpp) see the machine only through these interfaces, so the same code runs
// on a live machine (collectors/windows/: COM, RegOpenKeyEx, NetUserModalsGet, the Windows
// Update Agent) and, on any platform, on a fixture tree as deploy/windows/capture-fixture.ps1
// writes it (fixture_machine.hpp) — which is how the Linux CI tests them.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "collectors/parsers/windows_parsers.hpp"
#include "dozor/common/result.hpp"

namespace dozor::agent::windows {

// One CIM instance: property name -> value as JSON. Strings, numbers, booleans, arrays, null;
// CIM_UINT64 may arrive as a decimal string (COM gives it as a BSTR) and datetimes as DMTF
// strings: read values with the helpers of cim_values.hpp, which accept every form.
using CimInstance = nlohmann::json;

// "property = value", one condition of a query (every one must hold). Strings compare as WQL
// compares them: without regard to case; a string that is a WMI object path
// (Win32_Group.Domain="PC",Name="Administrators") matches the same object however it is spelt.
// What keeps a query to this machine where the class would otherwise enumerate a whole domain
// (Win32_UserAccount, Win32_Group and Win32_GroupUser on a domain member).
struct CimCondition {
  std::string property;
  std::variant<bool, std::string> value;
};

class CimSource {
 public:
  virtual ~CimSource() = default;
  // Every instance of `class_name` in `wmi_namespace` ("root/cimv2", '/'-separated, any case)
  // that meets every one of `conditions`, with at least `properties`. kNotFound when the
  // namespace or class does not exist on this machine (root/SecurityCenter2 on a server,
  // root/Microsoft/Windows/Storage before Windows 8); kPermissionDenied when the agent may not
  // read it; kUnavailable when WMI itself fails.
  [[nodiscard]] virtual Result<std::vector<CimInstance>> Instances(
      std::string_view wmi_namespace, std::string_view class_name,
      const std::vector<std::string>& properties, const std::vector<CimCondition>& conditions) = 0;
};

// Whether `instance` meets every one of `conditions` (as WMI would decide): what a source that
// cannot ask WMI to filter (a fixture) applies itself.
[[nodiscard]] bool MeetsConditions(const CimInstance& instance,
                                   const std::vector<CimCondition>& conditions);

// The 64-bit registry (kNative) or what 32-bit programs see (kWow32: SOFTWARE\WOW6432Node).
enum class RegistryView { kNative, kWow32 };

// A key's values; names compare case-insensitively, as the registry's do.
struct RegistryValues {
  std::vector<std::pair<std::string, RegValue>> values;

  [[nodiscard]] const RegValue* Find(std::string_view name) const;
  // A string value (REG_SZ / REG_EXPAND_SZ; a number as decimal text); "" when absent.
  [[nodiscard]] std::string Text(std::string_view name) const;
  // A DWORD / QWORD (or a string holding a decimal number); nullopt when absent or not a number.
  [[nodiscard]] std::optional<uint64_t> Number(std::string_view name) const;
};

class RegistrySource {
 public:
  virtual ~RegistrySource() = default;
  // Keys are written "HKLM\SOFTWARE\...", "HKU\S-1-5-21-...\Software\..." (HKLM, HKU, HKCU, HKCR).
  // kNotFound when the key does not exist.
  [[nodiscard]] virtual Result<std::vector<std::string>> Subkeys(std::string_view key,
                                                                 RegistryView view) = 0;
  [[nodiscard]] virtual Result<RegistryValues> Values(std::string_view key, RegistryView view) = 0;
};

class FileSource {
 public:
  virtual ~FileSource() = default;
  // A file at a Windows path ("C:\Users\ivanov\AppData\Roaming\1C\1CEStart\ibases.v8i"), at most
  // `max_bytes` (kResourceExhausted beyond). kNotFound when it does not exist.
  [[nodiscard]] virtual Result<std::string> Read(std::string_view windows_path,
                                                 size_t max_bytes) = 0;
  // The entry names of a folder, sorted. kNotFound when it does not exist.
  [[nodiscard]] virtual Result<std::vector<std::string>> List(std::string_view windows_folder) = 0;
};

// The account policy (NetUserModalsGet, secedit): -1 where unknown.
struct AccountPolicy {
  int32_t min_password_length = -1;
  int32_t max_password_age_days = -1;  // 0: passwords never expire
  int32_t lockout_threshold = -1;      // 0: accounts are never locked out
  int32_t password_complexity = -1;    // 1 required, 0 not
};

// What the Windows Update Agent last said. Times are Unix seconds, 0 unknown.
struct PendingUpdate {
  std::string title;
  std::string kb;
  bool security = false;
};
struct UpdateState {
  int64_t last_search_success = 0;
  int64_t last_install_success = 0;
  std::vector<PendingUpdate> pending;
  std::string error;  // the last search's failure, "" when it worked
};

class SystemSource {
 public:
  virtual ~SystemSource() = default;
  [[nodiscard]] virtual Result<AccountPolicy> ReadAccountPolicy() = 0;
  // The update agent is slow (seconds to minutes): a live source answers from its background
  // search's cache and kUnavailable until the first search finishes.
  [[nodiscard]] virtual Result<UpdateState> ReadUpdateState() = 0;
};

// One machine's sources, and the time the builders measure ages against.
struct Machine {
  CimSource* cim = nullptr;
  RegistrySource* registry = nullptr;
  FileSource* files = nullptr;
  SystemSource* system = nullptr;
  int64_t now_s = 0;
};

}  // namespace dozor::agent::windows
