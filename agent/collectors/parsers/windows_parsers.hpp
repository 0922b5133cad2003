// Pure parsers of what a Windows machine gives the agent: regedit exports (the registry fixtures
// and what an engineer captures at a client), WMI's own value formats (CIM datetimes, object
// paths, the ATA SMART page of MSStorageDriver_FailurePredictData, Security Center's
// productState), and 1C:Enterprise's files (the infobase list ibases.v8i, the HASP licence client's
// nethasp.ini, the server agent's command line). No I/O and nothing Windows-only here: they are
// built and tested on every platform, and fuzzed (tests/fuzz/windows_text_fuzz.cpp), because
// every one of them reads text a client machine wrote.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dozor/common/result.hpp"
#include "dozor/v1/agent.pb.h"

namespace dozor::agent {

// ------------------------------------------------------------------------------------ registry

// A registry value as regedit exports it. Strings are UTF-8 (decoded from the export's UTF-16).
struct RegValue {
  enum class Type { kString, kExpandString, kMultiString, kDword, kQword, kBinary, kOther };
  Type type = Type::kString;
  std::string text;                  // kString, kExpandString
  std::vector<std::string> strings;  // kMultiString
  uint64_t number = 0;               // kDword, kQword
  std::string bytes;                 // kBinary and kOther: the raw bytes
};

// One key of an export: its path as written ("HKEY_LOCAL_MACHINE\SOFTWARE\...") and its values in
// file order; the default value's name is "".
struct RegExportKey {
  std::string path;
  std::vector<std::pair<std::string, RegValue>> values;
};

// A regedit export: "Windows Registry Editor Version 5.00" in UTF-16LE with a byte-order mark (what
// regedit and `reg export` write) or the same text in UTF-8, or the older "REGEDIT4" (ANSI, taken
// as UTF-8; invalid bytes are repaired later like all agent text). Keys in file order. Deletions
// ("[-key]", "name"=-) are skipped; a value line that cannot be read is skipped and counted in
// *skipped_lines when given. kDataLoss when the header is missing (not a registry export).
[[nodiscard]] Result<std::vector<RegExportKey>> ParseRegExport(std::string_view bytes,
                                                               size_t* skipped_lines = nullptr);

// UTF-16LE bytes (an odd trailing byte ignored, stops at the first NUL code unit when
// `stop_at_nul`) to UTF-8; unpaired surrogates become U+FFFD.
[[nodiscard]] std::string Utf16LeBytesToUtf8(std::string_view bytes, bool stop_at_nul);

// --------------------------------------------------------------------------------------- WMI

// A CIM DATETIME ("20241115093012.000000+180": local time and its offset from UTC in minutes)
// or the "/Date(1731652212000)/" PowerShell writes for one, as Unix seconds. kInvalidArgument
// for anything else, including the all-asterisks "unknown" form.
[[nodiscard]] Result<int64_t> ParseCimDateTime(std::string_view text);

// "2026-11-30T08:12:00Z" or with an offset ("...+03:00") and fractional seconds, as PowerShell's
// Get-Date -Format o and the captures write them (dozor/common/rfc3339.hpp, surrounding blanks
// trimmed), as Unix seconds. kInvalidArgument otherwise.
[[nodiscard]] Result<int64_t> ParseIso8601Utc(std::string_view text);

// A WMI object path, e.g. \\PC01\root\cimv2:Win32_Group.Domain="PC01",Name="Administrators":
// its class and key properties (quotes removed, \" and \\ unescaped). kInvalidArgument when it
// has no class.
struct WmiObjectPath {
  std::string class_name;
  std::map<std::string, std::string> keys;
};
[[nodiscard]] Result<WmiObjectPath> ParseWmiObjectPath(std::string_view text);

// The relative path of an object, its keys in the order given, values quoted with \ and "
// escaped: Win32_Group.Domain="PC01",Name="Administrators". ParseWmiObjectPath reads it back.
[[nodiscard]] std::string WmiObjectPathText(
    std::string_view class_name, const std::vector<std::pair<std::string, std::string>>& keys);

// The SMART attributes in the 512-byte ATA data page MSStorageDriver_FailurePredictData gives in
// VendorSpecific: a 2-byte revision, then 30 slots of 12 bytes (id, 2 flag bytes, current, worst,
// 6 raw bytes little-endian, a reserved byte). Empty slots (id 0) are skipped; names come from
// the common ATA attribute table. Fewer than 2 bytes is kDataLoss; a short page yields the whole
// slots it holds.
[[nodiscard]] Result<std::vector<dozor::v1::SmartAttribute>> ParseAtaSmartPage(
    const std::vector<uint8_t>& page);

// Security Center's productState of an antivirus product (root\SecurityCenter2 AntiVirusProduct):
// the middle byte says whether real-time protection is on (0x10 or 0x11), the low byte whether
// the signatures are out of date (0x10).
struct SecurityCenterState {
  bool enabled = false;
  bool up_to_date = false;
};
[[nodiscard]] SecurityCenterState DecodeSecurityCenterState(uint32_t product_state);

// ------------------------------------------------------------------------------- 1C:Enterprise

// One infobase of a user's list (%APPDATA%\1C\1CEStart\ibases.v8i).
struct InfobaseEntry {
  std::string name;      // the [section] title
  std::string connect;   // the Connect= string as written
  std::string kind;      // "file", "server", "web" or "unknown"
  std::string location;  // file: the folder; server: "server/ref"; web: the URL
  std::string version;   // Version= (the platform it opens with), may be empty
};

// The list's sections in file order (a byte-order mark and CRLF tolerated). A section without a
// Connect= line is kept with kind "unknown" so the report still shows it.
[[nodiscard]] std::vector<InfobaseEntry> ParseInfobaseList(std::string_view text);

// The pairs of a 1C connection string: File="C:\Base";Srvr="srv";Ref="buh"; -> (file, C:\Base),
// (srvr, srv), (ref, buh). Names lower-cased; values unquoted, "" inside quotes is one quote; a
// ';' inside quotes belongs to the value.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> ParseOneCConnectionString(
    std::string_view text);

// A folder on another machine: a UNC path (\\server\share\...) or one the caller knows is on a
// mapped network drive (`network_drives`: upper-case letters such as "Z").
[[nodiscard]] bool IsNetworkPath(std::string_view path, std::string_view network_drives);

// The HASP licence manager client's settings (nethasp.ini next to the 1C platform).
struct HaspClientSettings {
  std::vector<std::string> server_addresses;  // NH_SERVER_ADDR, in order
  std::vector<std::string> server_names;      // NH_SERVER_NAME
  int broadcast = -1;                         // NH_USE_BROADCAST: 1 enabled, 0 disabled, -1 unset
};
[[nodiscard]] HaspClientSettings ParseNethaspIni(std::string_view text);

// The 1C server agent's ports from its service command line (ragent.exe -port 1540 -regport 1541
// -range 1560:1591 ...), with the platform's defaults for what it does not say.
struct OneCServerPorts {
  uint32_t agent_port = 1540;
  uint32_t manager_port = 1541;
  uint32_t range_first = 1560;
  uint32_t range_last = 1591;
};
[[nodiscard]] OneCServerPorts ParseRagentCommandLine(std::string_view command_line);

// "C:\Program Files\1cv8\8.3.22.1709\bin\ragent.exe" -> "8.3.22.1709": the platform version
// folder of a path under a 1cv8 (or 1cv82) folder; "" when there is none.
[[nodiscard]] std::string OneCVersionFromPath(std::string_view path);

}  // namespace dozor::agent
