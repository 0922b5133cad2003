// Pure parsers for software inventory sources: the dpkg status file, RPM header
// blobs (as stored in rpmdb.sqlite), `systemctl list-units` output and systemd
// unit files, and the 1C:Enterprise install layout rules. No I/O here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/parsers/text.hpp"
#include "dozor/common/result.hpp"
#include "dozor/v1/agent.pb.h"

namespace dozor::agent {

// Installed packages from /var/lib/dpkg/status: stanzas whose Status is
// "install ok installed" or "hold ok installed" (the latter sets held). Fills
// name, version (epoch kept, "1:2.3-4"), architecture, vendor (Maintainer),
// held and source "dpkg"; install_time stays 0 (the status file has none).
// Fed in chunks of any size (a line may span chunks): only the current line
// and the few fields emitted are held, never the file, so a 34 MB status file
// of 20,000 packages costs the packages and one line. Tolerates CRLF, a
// missing final newline and continuation lines; a single line longer than
// kMaxLineBytes is skipped (its remainder too), not buffered.
class DpkgStatusParser {
 public:
  static constexpr size_t kMaxLineBytes = 1024 * 1024;

  // Packages are appended to `out`, which must outlive the parser.
  explicit DpkgStatusParser(google::protobuf::RepeatedPtrField<dozor::v1::Package>* out)
      : out_(out) {}

  void Feed(std::string_view chunk);
  // Ends the last line and stanza. Error (kDataLoss) only for input that was
  // not blank yet had no "Package:" field at all.
  [[nodiscard]] Status Finish();

 private:
  void Line(std::string_view line);
  void Flush();

  google::protobuf::RepeatedPtrField<dozor::v1::Package>* out_;
  ChunkLineSplitter lines_{kMaxLineBytes};
  std::string name_, version_, architecture_, maintainer_, status_;
  bool any_package_ = false;
  bool any_text_ = false;
};

// The whole text at once (tests, fuzzing, the parse benchmark): DpkgStatusParser
// over one chunk.
[[nodiscard]] Result<std::vector<dozor::v1::Package>> ParseDpkgStatus(std::string_view text);

// RPM header tags and types used by ParseRpmHeader.
inline constexpr int32_t kRpmTagName = 1000;
inline constexpr int32_t kRpmTagVersion = 1001;
inline constexpr int32_t kRpmTagRelease = 1002;
inline constexpr int32_t kRpmTagEpoch = 1003;
inline constexpr int32_t kRpmTagSummary = 1004;
inline constexpr int32_t kRpmTagInstallTime = 1008;
inline constexpr int32_t kRpmTagVendor = 1011;
inline constexpr int32_t kRpmTagArch = 1022;
inline constexpr int32_t kRpmTypeInt32 = 4;
inline constexpr int32_t kRpmTypeString = 6;
inline constexpr int32_t kRpmTypeStringArray = 8;
inline constexpr int32_t kRpmTypeI18nString = 9;

// One RPM header blob (rpmdb.sqlite Packages.blob): int32 il, int32 dl, il
// index entries of {tag, type, offset, count} (all big-endian), then dl bytes
// of data. Every offset, count and string is bounds-checked; a corrupt or
// hostile blob gives kDataLoss, never an out-of-range read. version =
// [epoch:]version-release; source "rpm"; vendor and install_time when present.
// A header without NAME or VERSION is an error.
[[nodiscard]] Result<dozor::v1::Package> ParseRpmHeader(std::string_view blob);

// One row of `systemctl list-units --type=service --all --no-legend --no-pager
// --plain`.
struct UnitState {
  std::string unit;
  std::string load_state;
  std::string active_state;
  std::string sub_state;
  std::string description;
};

// Skips the leading "●"/"*" marker systemd prints for failed or not-found units
// and blank lines.
[[nodiscard]] std::vector<UnitState> ParseSystemctlListUnits(std::string_view text);

// True when a unit file's [Install] section names WantedBy=, RequiredBy=,
// Alias= or Also=, i.e. the unit can be enabled (otherwise systemd calls it
// "static").
[[nodiscard]] bool UnitFileHasInstallSection(std::string_view text);

// Which binaries an /opt/1cv8/<arch>/<version>/ directory holds ->
// Application.kind.
struct OneCBinaries {
  bool ragent = false;
  bool rphost = false;
  bool client = false;       // 1cv8 (thick client)
  bool thin_client = false;  // 1cv8c
};
// "server" (ragent or rphost), "client" (1cv8), "thin client" (only 1cv8c),
// else "platform".
[[nodiscard]] std::string OneCKind(const OneCBinaries& binaries);

// True for "8.3.22.1709"-style directory names (digits and dots, at least 3
// dots-separated parts).
[[nodiscard]] bool LooksLikeOneCVersion(std::string_view name);

// For the old /opt/1C/v8.3/<arch>/ layout: the platform version from a package
// named like 1c-enterprise83-server / 1C_Enterprise83-client /
// 1c-enterprise-8.3.22.1709-server
// ("8.3.22-1709" -> "8.3.22.1709"); empty if the package is not a 1C
// server/client package.
[[nodiscard]] std::string OneCVersionFromPackage(const dozor::v1::Package& package);

// The platform version a 1C program runs from: the first "8.3.24.1467" folder of its command line
// (/opt/1cv8/x86_64/8.3.24.1467/ragent, "C:\Program Files\1cv8\8.3.24.1467\bin\ragent.exe");
// "" when there is none.
[[nodiscard]] std::string OneCVersionFromCommandLine(std::string_view command_line);

// Marks each 1C:Enterprise server application of `software` as "running" or "stopped" from its
// process list: running when a ragent process of that version runs (a ragent whose version
// cannot be told counts for every installed server), and then fills the configured ports from
// that ragent's command line (-port, -regport, -range) where the application has none yet. An
// empty process list (not collected) leaves the state unknown.
void MarkRunningOneCServers(dozor::v1::Software* software);

}  // namespace dozor::agent
