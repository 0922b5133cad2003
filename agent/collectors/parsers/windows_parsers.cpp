#include "collectors/parsers/windows_parsers.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>

#include "collectors/parsers/text.hpp"
#include "dozor/common/civil_time.hpp"
#include "dozor/common/rfc3339.hpp"

namespace dozor::agent {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
constexpr std::string_view kUtf16LeBom = "\xFF\xFE";

void AppendUtf8(uint32_t code_point, std::string* out) {
  if (code_point < 0x80) {
    out->push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && Lower(text.substr(0, prefix.size())) == Lower(prefix);
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "01,ff,0a" (spaces allowed) -> bytes; false on anything that is not a byte list.
bool ParseHexBytes(std::string_view text, std::string* out) {
  out->clear();
  text = Trim(text);
  if (text.empty()) return true;
  for (std::string_view piece : Split(text, ',')) {
    piece = Trim(piece);
    if (piece.size() != 2) return false;
    const int high = HexDigit(piece[0]);
    const int low = HexDigit(piece[1]);
    if (high < 0 || low < 0) return false;
    out->push_back(static_cast<char>(high * 16 + low));
  }
  return true;
}

uint64_t LittleEndian(std::string_view bytes, size_t count) {
  uint64_t value = 0;
  for (size_t i = 0; i < count && i < bytes.size(); ++i) {
    value |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
  }
  return value;
}

// A quoted regedit string starting at text[0] == '"': unescapes \\ and \" up to the closing
// quote; *rest is what follows it. False without a closing quote.
bool ReadQuoted(std::string_view text, std::string* out, std::string_view* rest) {
  out->clear();
  for (size_t i = 1; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\' && i + 1 < text.size()) {
      out->push_back(text[++i]);
    } else if (c == '"') {
      *rest = text.substr(i + 1);
      return true;
    } else {
      out->push_back(c);
    }
  }
  return false;
}

// The data of one value (what follows '='); false when it cannot be read.
bool ParseRegData(std::string_view data, RegValue* value) {
  data = Trim(data);
  if (!data.empty() && data.front() == '"') {
    std::string_view rest;
    if (!ReadQuoted(data, &value->text, &rest) || !Trim(rest).empty()) return false;
    value->type = RegValue::Type::kString;
    return true;
  }
  if (StartsWithNoCase(data, "dword:")) {
    uint32_t number = 0;
    if (!ParseNumber(Trim(data.substr(6)), &number, 16)) return false;
    value->type = RegValue::Type::kDword;
    value->number = number;
    return true;
  }
  if (!StartsWithNoCase(data, "hex")) return false;
  data.remove_prefix(3);
  int kind = 3;  // "hex:" is REG_BINARY
  if (!data.empty() && data.front() == '(') {
    const size_t close = data.find(')');
    if (close == std::string_view::npos || !ParseNumber(data.substr(1, close - 1), &kind, 16)) {
      return false;
    }
    data.remove_prefix(close + 1);
  }
  if (data.empty() || data.front() != ':') return false;
  if (!ParseHexBytes(data.substr(1), &value->bytes)) return false;
  switch (kind) {
    case 1:
      value->type = RegValue::Type::kString;
      value->text = Utf16LeBytesToUtf8(value->bytes, /*stop_at_nul=*/true);
      break;
    case 2:
      value->type = RegValue::Type::kExpandString;
      value->text = Utf16LeBytesToUtf8(value->bytes, /*stop_at_nul=*/true);
      break;
    case 3:
      value->type = RegValue::Type::kBinary;
      break;
    case 4:
      value->type = RegValue::Type::kDword;
      value->number = LittleEndian(value->bytes, 4);
      break;
    case 7: {
      value->type = RegValue::Type::kMultiString;
      // NUL-separated UTF-16 strings ending with an empty one.
      const std::string all = Utf16LeBytesToUtf8(value->bytes, /*stop_at_nul=*/false);
      for (std::string_view piece : Split(all, '\0')) {
        if (!piece.empty()) value->strings.emplace_back(piece);
      }
      break;
    }
    case 11:
      value->type = RegValue::Type::kQword;
      value->number = LittleEndian(value->bytes, 8);
      break;
    default:
      value->type = RegValue::Type::kOther;
      break;
  }
  return true;
}

// The ATA attribute names smartctl prints for the attributes rules and reports use.
std::string_view AtaAttributeName(uint32_t id) {
  switch (id) {
    case 1:
      return "Raw_Read_Error_Rate";
    case 3:
      return "Spin_Up_Time";
    case 4:
      return "Start_Stop_Count";
    case 5:
      return "Reallocated_Sector_Ct";
    case 7:
      return "Seek_Error_Rate";
    case 9:
      return "Power_On_Hours";
    case 10:
      return "Spin_Retry_Count";
    case 12:
      return "Power_Cycle_Count";
    case 177:
      return "Wear_Leveling_Count";
    case 184:
      return "End-to-End_Error";
    case 187:
      return "Reported_Uncorrect";
    case 188:
      return "Command_Timeout";
    case 190:
      return "Airflow_Temperature_Cel";
    case 194:
      return "Temperature_Celsius";
    case 196:
      return "Reallocated_Event_Count";
    case 197:
      return "Current_Pending_Sector";
    case 198:
      return "Offline_Uncorrectable";
    case 199:
      return "UDMA_CRC_Error_Count";
    case 231:
      return "SSD_Life_Left";
    case 241:
      return "Total_LBAs_Written";
    default:
      return "Unknown_Attribute";
  }
}

template <typename T>
bool Digits(std::string_view text, size_t at, size_t count, T* out) {
  return at + count <= text.size() && IsAllDigits(text.substr(at, count)) &&
         ParseNumber(text.substr(at, count), out);
}

// Where the fields of a date-time stand in its text.
struct DateTimeLayout {
  size_t year, month, day, hour, minute, second;
};

// A date-time's fields read at `at` (4 digits of year, 2 of the rest) as seconds since the epoch,
// taking them as UTC; nullopt when a field is not digits or no such date or time exists.
std::optional<int64_t> CivilSeconds(std::string_view text, const DateTimeLayout& at) {
  int64_t year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!Digits(text, at.year, 4, &year) || !Digits(text, at.month, 2, &month) ||
      !Digits(text, at.day, 2, &day) || !Digits(text, at.hour, 2, &hour) ||
      !Digits(text, at.minute, 2, &minute) || !Digits(text, at.second, 2, &second) ||
      !IsValidCivilDate(year, month, day) || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  return DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
}

std::string_view StripBom(std::string_view text) {
  if (text.substr(0, kUtf8Bom.size()) == kUtf8Bom) text.remove_prefix(kUtf8Bom.size());
  return text;
}

}  // namespace

std::string Utf16LeBytesToUtf8(std::string_view bytes, bool stop_at_nul) {
  std::string out;
  out.reserve(bytes.size() / 2);
  const size_t units = bytes.size() / 2;
  auto unit_at = [&](size_t i) {
    return static_cast<uint32_t>(LittleEndian(bytes.substr(2 * i), 2));
  };
  for (size_t i = 0; i < units; ++i) {
    uint32_t unit = unit_at(i);
    if (unit == 0 && stop_at_nul) break;
    if (unit >= 0xD800 && unit <= 0xDBFF && i + 1 < units) {
      const uint32_t low = unit_at(i + 1);
      if (low >= 0xDC00 && low <= 0xDFFF) {
        AppendUtf8(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00), &out);
        ++i;
        continue;
      }
    }
    if (unit >= 0xD800 && unit <= 0xDFFF) unit = 0xFFFD;
    AppendUtf8(unit, &out);
  }
  return out;
}

Result<std::vector<RegExportKey>> ParseRegExport(std::string_view bytes, size_t* skipped_lines) {
  std::string decoded;
  std::string_view text;
  if (bytes.substr(0, kUtf16LeBom.size()) == kUtf16LeBom) {
    decoded = Utf16LeBytesToUtf8(bytes.substr(kUtf16LeBom.size()), /*stop_at_nul=*/false);
    text = decoded;
  } else {
    text = StripBom(bytes);
  }
  LineReader lines(text);
  std::string_view line;
  while (lines.Next(&line) && Trim(line).empty()) {
  }
  const std::string_view header = Trim(line);
  if (header != "Windows Registry Editor Version 5.00" && header != "REGEDIT4") {
    return MakeError(ErrorCode::kDataLoss, "not a registry export (no regedit header)");
  }
  std::vector<RegExportKey> keys;
  bool in_deleted_key = true;  // values before the first key belong to nothing
  size_t skipped = 0;
  std::string logical;
  while (lines.Next(&line)) {
    // Long hex values continue on the next line after a trailing backslash.
    logical.assign(line);
    while (!logical.empty() && logical.back() == '\\' && lines.Next(&line)) {
      logical.pop_back();
      logical.append(Trim(line));
    }
    const std::string_view entry = Trim(logical);
    if (entry.empty() || entry.front() == ';') continue;
    if (entry.front() == '[') {
      if (entry.back() != ']' || entry.size() < 3) {
        ++skipped;
        in_deleted_key = true;
        continue;
      }
      const std::string_view path = entry.substr(1, entry.size() - 2);
      in_deleted_key = path.front() == '-';
      if (!in_deleted_key) keys.push_back({std::string(path), {}});
      continue;
    }
    if (in_deleted_key) continue;
    std::string name;
    std::string_view rest;
    if (entry.front() == '@') {
      rest = entry.substr(1);
    } else if (entry.front() != '"' || !ReadQuoted(entry, &name, &rest)) {
      ++skipped;
      continue;
    }
    rest = Trim(rest);
    if (rest.empty() || rest.front() != '=') {
      ++skipped;
      continue;
    }
    rest.remove_prefix(1);
    if (Trim(rest) == "-") continue;  // a deleted value
    RegValue value;
    if (!ParseRegData(rest, &value)) {
      ++skipped;
      continue;
    }
    keys.back().values.emplace_back(std::move(name), std::move(value));
  }
  if (skipped_lines) *skipped_lines = skipped;
  return keys;
}

Result<int64_t> ParseCimDateTime(std::string_view text) {
  text = Trim(text);
  if (text.starts_with("/Date(") || text.starts_with("\\/Date(")) {
    const size_t open = text.find('(');
    const size_t close = text.find(')', open);
    int64_t ms = 0;
    if (close == std::string_view::npos) {
      return MakeError(ErrorCode::kInvalidArgument, "not a date");
    }
    std::string_view number = text.substr(open + 1, close - open - 1);
    // "/Date(1731652212000+0300)/": the offset is informational, the number is UTC.
    const size_t sign = number.find_first_of("+-", 1);
    if (sign != std::string_view::npos) number = number.substr(0, sign);
    if (!ParseNumber(number, &ms)) {
      return MakeError(ErrorCode::kInvalidArgument, "not a date");
    }
    return ms / 1000;
  }
  // yyyymmddHHMMSS.mmmmmmsUUU; the years before 1601 do not exist for Windows.
  int offset = 0;
  const auto local = text.size() == 25 && text[14] == '.' && (text[21] == '+' || text[21] == '-') &&
                             Digits(text, 22, 3, &offset) && text.substr(0, 4) >= "1601"
                         ? CivilSeconds(text, {0, 4, 6, 8, 10, 12})
                         : std::nullopt;
  if (!local) {
    return MakeError(ErrorCode::kInvalidArgument, "not a CIM datetime");
  }
  const int64_t offset_seconds = static_cast<int64_t>(offset) * 60;
  return text[21] == '+' ? *local - offset_seconds : *local + offset_seconds;
}

Result<int64_t> ParseIso8601Utc(std::string_view text) {
  const std::optional<int64_t> ms = ParseRfc3339Ms(Trim(text));
  if (!ms) {
    return MakeError(ErrorCode::kInvalidArgument, "not an RFC 3339 time");
  }
  // Whole seconds, rounded down also before 1970.
  return *ms / 1000 - (*ms % 1000 < 0 ? 1 : 0);
}

Result<WmiObjectPath> ParseWmiObjectPath(std::string_view text) {
  // Skip "\\server\namespace:" up to the class.
  const size_t colon = text.find(':');
  std::string_view rest = colon == std::string_view::npos ? text : text.substr(colon + 1);
  const size_t dot = rest.find('.');
  WmiObjectPath path;
  path.class_name = Trimmed(rest.substr(0, dot));
  if (path.class_name.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "WMI object path without a class");
  }
  if (dot == std::string_view::npos) return path;
  rest.remove_prefix(dot + 1);
  while (!rest.empty()) {
    const size_t equals = rest.find('=');
    if (equals == std::string_view::npos) break;
    std::string key = Trimmed(rest.substr(0, equals));
    rest.remove_prefix(equals + 1);
    std::string value;
    if (!rest.empty() && rest.front() == '"') {
      std::string_view after;
      if (!ReadQuoted(rest, &value, &after)) {
        return MakeError(ErrorCode::kInvalidArgument, "WMI object path with an open quote");
      }
      rest = after;
    } else {
      const size_t comma = rest.find(',');
      value = Trimmed(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma);
    }
    path.keys[std::move(key)] = std::move(value);
    if (!rest.empty() && rest.front() == ',') rest.remove_prefix(1);
  }
  return path;
}

std::string WmiObjectPathText(std::string_view class_name,
                              const std::vector<std::pair<std::string, std::string>>& keys) {
  std::string text(class_name);
  char separator = '.';
  for (const auto& [key, value] : keys) {
    text += separator;
    text += key;
    text += "=\"";
    for (char c : value) {
      if (c == '"' || c == '\\') text += '\\';
      text += c;
    }
    text += '"';
    separator = ',';
  }
  return text;
}

Result<std::vector<dozor::v1::SmartAttribute>> ParseAtaSmartPage(const std::vector<uint8_t>& page) {
  constexpr size_t kHeader = 2;
  constexpr size_t kSlot = 12;
  constexpr size_t kSlots = 30;
  if (page.size() < kHeader) {
    return MakeError(ErrorCode::kDataLoss, "SMART data page shorter than its header");
  }
  std::vector<dozor::v1::SmartAttribute> attributes;
  for (size_t slot = 0; slot < kSlots; ++slot) {
    const size_t at = kHeader + slot * kSlot;
    if (at + kSlot > page.size()) break;
    const uint32_t id = page[at];
    if (id == 0) continue;
    dozor::v1::SmartAttribute attribute;
    attribute.set_id(id);
    attribute.set_name(std::string(AtaAttributeName(id)));
    attribute.set_value(page[at + 3]);
    attribute.set_worst(page[at + 4]);
    int64_t raw = 0;
    for (size_t i = 0; i < 6; ++i) raw |= static_cast<int64_t>(page[at + 5 + i]) << (8 * i);
    // Temperatures keep min/max in the upper raw bytes; the current value is the low byte.
    if (id == 194 || id == 190) raw &= 0xFF;
    attribute.set_raw(raw);
    attributes.push_back(std::move(attribute));
  }
  return attributes;
}

SecurityCenterState DecodeSecurityCenterState(uint32_t product_state) {
  const uint32_t scanner = (product_state >> 8) & 0xFF;
  const uint32_t signatures = product_state & 0xFF;
  return {.enabled = scanner == 0x10 || scanner == 0x11, .up_to_date = signatures == 0x00};
}

std::vector<std::pair<std::string, std::string>> ParseOneCConnectionString(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> pairs;
  size_t i = 0;
  while (i < text.size()) {
    const size_t equals = text.find('=', i);
    if (equals == std::string_view::npos) break;
    std::string name = Lower(Trim(text.substr(i, equals - i), std::string(kWhitespace) + ";"));
    i = equals + 1;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    std::string value;
    if (i < text.size() && text[i] == '"') {
      ++i;
      while (i < text.size()) {
        if (text[i] == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            value.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        value.push_back(text[i++]);
      }
      const size_t semicolon = text.find(';', i);
      i = semicolon == std::string_view::npos ? text.size() : semicolon + 1;
    } else {
      const size_t semicolon = text.find(';', i);
      const size_t end = semicolon == std::string_view::npos ? text.size() : semicolon;
      value = Trimmed(text.substr(i, end - i));
      i = end == text.size() ? end : end + 1;
    }
    if (!name.empty()) pairs.emplace_back(std::move(name), std::move(value));
  }
  return pairs;
}

bool IsNetworkPath(std::string_view path, std::string_view network_drives) {
  path = Trim(path);
  if (path.starts_with("\\\\") || path.starts_with("//")) return true;
  if (path.size() >= 2 && path[1] == ':') {
    const char letter =
        static_cast<char>(path[0] >= 'a' && path[0] <= 'z' ? path[0] - 32 : path[0]);
    return network_drives.find(letter) != std::string_view::npos;
  }
  return false;
}

std::vector<InfobaseEntry> ParseInfobaseList(std::string_view text) {
  std::vector<InfobaseEntry> entries;
  ForEachLine(StripBom(text), [&](std::string_view raw) {
    const std::string_view line = Trim(raw);
    if (line.empty()) return;
    if (line.front() == '[' && line.back() == ']' && line.size() >= 2) {
      InfobaseEntry entry;
      entry.name = Trimmed(line.substr(1, line.size() - 2));
      entry.kind = "unknown";
      entries.push_back(std::move(entry));
      return;
    }
    if (entries.empty()) return;
    std::string_view key;
    std::string_view value;
    if (!SplitKeyValue(line, '=', &key, &value)) return;
    InfobaseEntry& entry = entries.back();
    const std::string lowered = Lower(key);
    if (lowered == "version") {
      entry.version = std::string(value);
      return;
    }
    if (lowered != "connect") return;
    entry.connect = std::string(value);
    std::string server;
    std::string ref;
    for (auto& [name, field] : ParseOneCConnectionString(value)) {
      if (name == "file") {
        entry.kind = "file";
        entry.location = field;
      } else if (name == "srvr") {
        server = field;
      } else if (name == "ref") {
        ref = field;
      } else if (name == "ws") {
        entry.kind = "web";
        entry.location = field;
      }
    }
    if (entry.kind == "unknown" && !server.empty()) {
      entry.kind = "server";
      entry.location = server + "/" + ref;
    }
  });
  return entries;
}

HaspClientSettings ParseNethaspIni(std::string_view text) {
  HaspClientSettings settings;
  std::string section;
  ForEachLine(StripBom(text), [&](std::string_view raw) {
    std::string_view line = raw;
    const size_t comment = line.find(';');
    if (comment != std::string_view::npos) line = line.substr(0, comment);
    line = Trim(line);
    if (line.empty()) return;
    if (line.front() == '[' && line.back() == ']') {
      section = Lower(Trim(line.substr(1, line.size() - 2)));
      return;
    }
    std::string_view key;
    std::string_view value;
    if (section != "nh_tcpip" || !SplitKeyValue(line, '=', &key, &value)) return;
    const std::string name = Lower(key);
    auto add_list = [&](std::vector<std::string>* list) {
      for (std::string_view item : Split(value, ',')) {
        item = Trim(item);
        if (!item.empty()) list->emplace_back(item);
      }
    };
    if (name == "nh_server_addr") {
      add_list(&settings.server_addresses);
    } else if (name == "nh_server_name") {
      add_list(&settings.server_names);
    } else if (name == "nh_use_broadcast") {
      const std::string flag = Lower(value);
      settings.broadcast = flag == "enabled" || flag == "1" ? 1 : flag.empty() ? -1 : 0;
    }
  });
  return settings;
}

OneCServerPorts ParseRagentCommandLine(std::string_view command_line) {
  OneCServerPorts ports;
  // Quoted arguments (the program path, -d "C:\...") hold no options: skip them whole.
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < command_line.size()) {
    while (i < command_line.size() && IsWhitespace(command_line[i])) ++i;
    if (i >= command_line.size()) break;
    const size_t start = i;
    if (command_line[i] == '"') {
      const size_t close = command_line.find('"', i + 1);
      i = close == std::string_view::npos ? command_line.size() : close + 1;
      words.push_back({});
      continue;
    }
    while (i < command_line.size() && !IsWhitespace(command_line[i])) ++i;
    words.push_back(command_line.substr(start, i - start));
  }
  for (size_t w = 0; w + 1 < words.size(); ++w) {
    const std::string option = Lower(words[w]);
    const std::string_view value = words[w + 1];
    uint32_t number = 0;
    if (option == "-port" && ParseNumber(value, &number) && number > 0 && number < 65536) {
      ports.agent_port = number;
    } else if (option == "-regport" && ParseNumber(value, &number) && number > 0 &&
               number < 65536) {
      ports.manager_port = number;
    } else if (option == "-range") {
      std::string_view first;
      std::string_view last;
      uint32_t low = 0;
      uint32_t high = 0;
      if (SplitKeyValue(value, ':', &first, &last) && ParseNumber(first, &low) &&
          ParseNumber(last, &high) && low > 0 && low <= high && high < 65536) {
        ports.range_first = low;
        ports.range_last = high;
      }
    }
  }
  return ports;
}

std::string OneCVersionFromPath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '\\' || path[i] == '/') {
      parts.push_back(path.substr(start, i - start));
      start = i + 1;
    }
  }
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const std::string folder = Lower(Trim(parts[i], "\" "));
    if (folder != "1cv8" && folder != "1cv82" && folder != "1cv8t") continue;
    const std::string_view version = parts[i + 1];
    // 8.3.22.1709: four dot-separated numbers.
    const auto pieces = Split(version, '.');
    if (pieces.size() == 4 && std::all_of(pieces.begin(), pieces.end(), IsAllDigits)) {
      return std::string(version);
    }
  }
  return {};
}

}  // namespace dozor::agent
