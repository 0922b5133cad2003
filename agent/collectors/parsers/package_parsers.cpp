#include "collectors/parsers/package_parsers.hpp"

#include <algorithm>
#include <cstring>

#include "collectors/parsers/text.hpp"
#include "collectors/parsers/windows_parsers.hpp"

namespace dozor::agent {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// deb822 and unit files are line based: only blanks and a stray CR are padding.
constexpr std::string_view kBlanks = " \t\r";

std::string_view TrimBlanks(std::string_view text) { return Trim(text, kBlanks); }

char LowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// `line` starts with `field` (lower-case, including the ':'), compared
// case-insensitively as deb822 field names are; on success *value is the
// trimmed rest of the line.
bool MatchField(std::string_view line, std::string_view field, std::string_view* value) {
  if (line.size() < field.size()) return false;
  for (size_t i = 0; i < field.size(); ++i) {
    if (LowerAscii(line[i]) != field[i]) return false;
  }
  *value = TrimBlanks(line.substr(field.size()));
  return true;
}

// Status: "<want> <flag> <status>"; dpkg-query's ii and hi. *held: the want
// is "hold" (apt-mark hold / dpkg --set-selections), so upgrades skip it.
bool IsInstalledStatus(std::string_view status, bool* held) {
  size_t first = status.find(' ');
  if (first == std::string_view::npos) return false;
  std::string_view want = status.substr(0, first);
  std::string_view rest = TrimBlanks(status.substr(first + 1));
  *held = want == "hold";
  return (want == "install" || *held) && rest == "ok installed";
}

uint32_t ReadBe32(const char* bytes) {
  const auto* u = reinterpret_cast<const unsigned char*>(bytes);
  return (static_cast<uint32_t>(u[0]) << 24) | (static_cast<uint32_t>(u[1]) << 16) |
         (static_cast<uint32_t>(u[2]) << 8) | static_cast<uint32_t>(u[3]);
}

// rpm's own limits (HEADER_TAGS_MAX, HEADER_DATA_MAX): anything larger is not a
// real header.
constexpr uint32_t kRpmMaxTags = 0xFFFF;
constexpr uint32_t kRpmMaxData = 256u * 1024 * 1024;

struct RpmEntry {
  uint32_t tag = 0;
  uint32_t type = 0;
  uint32_t offset = 0;
  uint32_t count = 0;
};

Error RpmCorrupt(const std::string& what) {
  return MakeError(ErrorCode::kDataLoss, "corrupt rpm header: " + what);
}

Result<std::string> RpmString(const RpmEntry& entry, std::string_view data) {
  if (entry.type != kRpmTypeString && entry.type != kRpmTypeI18nString &&
      entry.type != kRpmTypeStringArray) {
    return RpmCorrupt("tag " + std::to_string(entry.tag) + " is not a string");
  }
  if (entry.count == 0 || entry.offset >= data.size()) {
    return RpmCorrupt("tag " + std::to_string(entry.tag) + " points outside the data");
  }
  const char* start = data.data() + entry.offset;
  const void* nul = std::memchr(start, '\0', data.size() - entry.offset);
  if (nul == nullptr) {
    return RpmCorrupt("tag " + std::to_string(entry.tag) + " string is not terminated");
  }
  return std::string(start, static_cast<const char*>(nul));
}

Result<uint32_t> RpmInt32(const RpmEntry& entry, std::string_view data) {
  if (entry.type != kRpmTypeInt32) {
    return RpmCorrupt("tag " + std::to_string(entry.tag) + " is not an int32");
  }
  if (entry.count == 0 || entry.offset > data.size() || data.size() - entry.offset < 4) {
    return RpmCorrupt("tag " + std::to_string(entry.tag) + " points outside the data");
  }
  return ReadBe32(data.data() + entry.offset);
}

}  // namespace

void DpkgStatusParser::Flush() {
  if (!name_.empty()) {
    bool held = false;
    if (IsInstalledStatus(status_, &held)) {
      dozor::v1::Package* package = out_->Add();
      package->set_name(std::move(name_));
      package->set_version(std::move(version_));
      package->set_architecture(std::move(architecture_));
      package->set_vendor(std::move(maintainer_));
      package->set_source("dpkg");
      package->set_held(held);
    }
  }
  // clear() keeps the capacity: the next stanza's fields reuse it.
  name_.clear();
  version_.clear();
  architecture_.clear();
  maintainer_.clear();
  status_.clear();
}

void DpkgStatusParser::Line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) {
    Flush();
    return;
  }
  if (!any_text_ &&
      !std::all_of(line.begin(), line.end(), [](char c) { return IsBlank(c) || c == '\r'; })) {
    any_text_ = true;
  }
  std::string_view value;
  switch (LowerAscii(line.front())) {
    case 'p':
      if (MatchField(line, "package:", &value)) {
        // Two Package fields without a blank line between: treat as a new stanza.
        if (!name_.empty()) Flush();
        name_.assign(value);
        any_package_ = true;
      }
      break;
    case 's':
      if (MatchField(line, "status:", &value)) status_.assign(value);
      break;
    case 'v':
      if (MatchField(line, "version:", &value)) version_.assign(value);
      break;
    case 'a':
      if (MatchField(line, "architecture:", &value)) architecture_.assign(value);
      break;
    case 'm':
      if (MatchField(line, "maintainer:", &value)) maintainer_.assign(value);
      break;
    default:  // continuation lines (' ', '\t') and fields we do not keep
      break;
  }
}

void DpkgStatusParser::Feed(std::string_view chunk) {
  // Nothing dpkg writes is longer than kMaxLineBytes: such a line is dropped, not held.
  lines_.Feed(
      chunk, [this](std::string_view line) { Line(line); }, [this] { any_text_ = true; });
}

Status DpkgStatusParser::Finish() {
  lines_.Finish([this](std::string_view line) { Line(line); });
  Flush();
  // Whitespace-only is an empty database; anything else without a Package field is not dpkg's.
  if (!any_package_ && any_text_) {
    return MakeError(ErrorCode::kDataLoss, "dpkg status has no Package field");
  }
  return OkStatus();
}

Result<std::vector<dozor::v1::Package>> ParseDpkgStatus(std::string_view text) {
  google::protobuf::RepeatedPtrField<dozor::v1::Package> parsed;
  DpkgStatusParser parser(&parsed);
  parser.Feed(text);
  DOZOR_RETURN_IF_ERROR(parser.Finish());
  std::vector<dozor::v1::Package> packages;
  packages.reserve(static_cast<size_t>(parsed.size()));
  for (auto& package : parsed) packages.push_back(std::move(package));
  return packages;
}

Result<dozor::v1::Package> ParseRpmHeader(std::string_view blob) {
  if (blob.size() < 8) return RpmCorrupt("shorter than its 8-byte preamble");
  uint32_t index_count = ReadBe32(blob.data());
  uint32_t data_length = ReadBe32(blob.data() + 4);
  if (index_count == 0 || index_count > kRpmMaxTags) {
    return RpmCorrupt("index count " + std::to_string(index_count) + " out of range");
  }
  if (data_length > kRpmMaxData) {
    return RpmCorrupt("data length " + std::to_string(data_length) + " out of range");
  }
  // 64-bit arithmetic: il * 16 + dl cannot wrap with the limits above, but be
  // explicit.
  uint64_t index_bytes = static_cast<uint64_t>(index_count) * 16;
  uint64_t needed = 8 + index_bytes + data_length;
  if (needed > blob.size()) {
    return RpmCorrupt("needs " + std::to_string(needed) + " bytes, has " +
                      std::to_string(blob.size()));
  }
  std::string_view data = blob.substr(8 + index_bytes, data_length);

  RpmEntry name, version, release, epoch, arch, vendor, install_time;
  for (uint32_t i = 0; i < index_count; ++i) {
    const char* raw = blob.data() + 8 + static_cast<size_t>(i) * 16;
    RpmEntry entry{ReadBe32(raw), ReadBe32(raw + 4), ReadBe32(raw + 8), ReadBe32(raw + 12)};
    if (entry.offset > data_length) {
      return RpmCorrupt("entry " + std::to_string(i) + " offset beyond the data store");
    }
    if (entry.count > data_length) {
      // Every element takes at least one byte, so a count beyond dl cannot be
      // real.
      return RpmCorrupt("entry " + std::to_string(i) + " count overflows the data store");
    }
    RpmEntry* slot = nullptr;
    switch (entry.tag) {
      case kRpmTagName:
        slot = &name;
        break;
      case kRpmTagVersion:
        slot = &version;
        break;
      case kRpmTagRelease:
        slot = &release;
        break;
      case kRpmTagEpoch:
        slot = &epoch;
        break;
      case kRpmTagArch:
        slot = &arch;
        break;
      case kRpmTagVendor:
        slot = &vendor;
        break;
      case kRpmTagInstallTime:
        slot = &install_time;
        break;
      default:
        break;
    }
    if (slot != nullptr && slot->tag == 0) *slot = entry;  // first occurrence wins
  }
  if (name.tag == 0 || version.tag == 0) return RpmCorrupt("no NAME or VERSION tag");

  dozor::v1::Package package;
  package.set_source("rpm");
  DOZOR_ASSIGN_OR_RETURN(std::string name_text, RpmString(name, data));
  DOZOR_ASSIGN_OR_RETURN(std::string version_text, RpmString(version, data));
  if (name_text.empty()) return RpmCorrupt("empty NAME");
  std::string full_version;
  if (epoch.tag != 0) {
    DOZOR_ASSIGN_OR_RETURN(uint32_t epoch_value, RpmInt32(epoch, data));
    // rpm and dnf print no epoch when it is 0; keep the same identity.
    if (epoch_value != 0) full_version = std::to_string(epoch_value) + ":";
  }
  full_version += version_text;
  if (release.tag != 0) {
    DOZOR_ASSIGN_OR_RETURN(std::string release_text, RpmString(release, data));
    if (!release_text.empty()) full_version += "-" + release_text;
  }
  package.set_name(std::move(name_text));
  package.set_version(std::move(full_version));
  if (arch.tag != 0) {
    DOZOR_ASSIGN_OR_RETURN(std::string arch_text, RpmString(arch, data));
    package.set_architecture(std::move(arch_text));
  }
  if (vendor.tag != 0) {
    DOZOR_ASSIGN_OR_RETURN(std::string vendor_text, RpmString(vendor, data));
    package.set_vendor(std::move(vendor_text));
  }
  if (install_time.tag != 0) {
    DOZOR_ASSIGN_OR_RETURN(uint32_t seconds, RpmInt32(install_time, data));
    package.set_install_time(static_cast<int64_t>(seconds));
  }
  return package;
}

std::vector<UnitState> ParseSystemctlListUnits(std::string_view text) {
  std::vector<UnitState> units;
  LineReader lines(text);
  std::string_view line;
  while (lines.Next(&line)) {
    line = TrimBlanks(line);
    // "●" (UTF-8) or "*" (non-UTF-8 locale) marks failed / not-found units.
    for (std::string_view marker : {std::string_view("\xE2\x97\x8F"), std::string_view("*")}) {
      if (line.substr(0, marker.size()) == marker) line = TrimBlanks(line.substr(marker.size()));
    }
    std::string_view fields[4];
    bool complete = true;
    for (auto& field : fields) {
      size_t space = line.find_first_of(" \t");
      if (line.empty()) {
        complete = false;
        break;
      }
      field = line.substr(0, space);
      line = TrimBlanks(space == std::string_view::npos ? std::string_view() : line.substr(space));
    }
    if (!complete) continue;
    units.push_back(UnitState{std::string(fields[0]), std::string(fields[1]),
                              std::string(fields[2]), std::string(fields[3]), std::string(line)});
  }
  return units;
}

bool UnitFileHasInstallSection(std::string_view text) {
  bool in_install = false;
  LineReader lines(text);
  std::string_view line;
  while (lines.Next(&line)) {
    line = TrimBlanks(line);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      in_install = line == "[Install]";
      continue;
    }
    if (!in_install) continue;
    std::string_view key, value;
    if (!SplitKeyValue(line, '=', &key, &value, kBlanks)) continue;
    if (!value.empty() && (key == "WantedBy" || key == "RequiredBy" || key == "Alias" ||
                           key == "Also" || key == "UpheldBy")) {
      return true;
    }
  }
  return false;
}

std::string OneCKind(const OneCBinaries& binaries) {
  if (binaries.ragent || binaries.rphost) return "server";
  if (binaries.client) return "client";
  if (binaries.thin_client) return "thin client";
  return "platform";
}

bool LooksLikeOneCVersion(std::string_view name) {
  int parts = 0;
  bool in_part = false;
  for (char c : name) {
    if (c >= '0' && c <= '9') {
      if (!in_part) ++parts;
      in_part = true;
    } else if (c == '.' && in_part) {
      in_part = false;
    } else {
      return false;
    }
  }
  return in_part && parts >= 3;
}

std::string OneCVersionFromPackage(const dozor::v1::Package& package) {
  std::string name = package.name();
  for (char& c : name) c = c == '_' ? '-' : LowerAscii(c);
  if (name.rfind("1c-enterprise", 0) != 0) return {};
  if (name.find("-server") == std::string::npos && name.find("-client") == std::string::npos) {
    return {};
  }
  std::string_view version = package.version();
  size_t colon = version.find(':');
  if (colon != std::string_view::npos) version.remove_prefix(colon + 1);
  std::string result(version);
  std::replace(result.begin(), result.end(), '-', '.');
  return result;
}

std::string OneCVersionFromCommandLine(std::string_view command_line) {
  // The first "8.3.24.1467" folder of the command line (its program path, quoted or not).
  std::string_view rest = command_line;
  while (!rest.empty()) {
    size_t end = rest.find_first_of("/\\\" ");
    std::string_view part = rest.substr(0, end);
    if (LooksLikeOneCVersion(part) && std::count(part.begin(), part.end(), '.') == 3) {
      return std::string(part);
    }
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  }
  return {};
}

void MarkRunningOneCServers(dozor::v1::Software* software) {
  if (software->processes_size() == 0) return;
  // The ragent processes: the platform version from their program path
  // (/opt/1cv8/x86_64/8.3.24.1467/ragent, C:\Program Files\1cv8\8.3.24.1467\bin\ragent.exe).
  struct Ragent {
    std::string version;
    std::string command;
  };
  std::vector<Ragent> ragents;
  for (const auto& process : software->processes()) {
    std::string name = Lower(process.name());
    if (name != "ragent" && name != "ragent.exe") continue;
    ragents.push_back(Ragent{OneCVersionFromCommandLine(process.command()), process.command()});
  }
  for (auto& app : *software->mutable_applications()) {
    if (app.name() != "1C:Enterprise" || app.kind() != "server") continue;
    const Ragent* match = nullptr;
    for (const auto& ragent : ragents) {
      if (ragent.version == app.version() || ragent.version.empty()) {
        match = &ragent;
        break;
      }
    }
    app.set_state(match != nullptr ? "running" : "stopped");
    if (match != nullptr && app.ports_size() == 0) {
      const OneCServerPorts ports = ParseRagentCommandLine(match->command);
      app.add_ports(ports.agent_port);
      app.add_ports(ports.manager_port);
      for (uint32_t port = ports.range_first;
           port <= ports.range_last && port - ports.range_first < 1024; ++port) {
        app.add_ports(port);
      }
    }
  }
}

}  // namespace dozor::agent
