#include "collectors/parsers/database_parsers.hpp"

#include <cstdint>

#include "collectors/parsers/text.hpp"

namespace dozor::agent {
namespace {

// pg_hba.conf's fields: whitespace-separated, "…" quoting, '#' outside quotes ends the line.
std::vector<std::string> HbaFields(std::string_view line) {
  std::vector<std::string> fields;
  std::string field;
  bool in_field = false;
  bool quoted = false;
  for (char c : line) {
    if (quoted) {
      if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
      in_field = true;
    } else if (c == '#') {
      break;
    } else if (c == ' ' || c == '\t' || c == '\r') {
      if (in_field) fields.push_back(std::move(field));
      field.clear();
      in_field = false;
    } else {
      field += c;
      in_field = true;
    }
  }
  if (in_field) fields.push_back(std::move(field));
  return fields;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> ParsePostgresConf(std::string_view text,
                                                                   size_t max_settings) {
  std::vector<std::pair<std::string, std::string>> settings;
  ForEachLine(text, [&](std::string_view line) {
    if (settings.size() >= max_settings) return;
    line = Trim(line, " \t\r");
    if (line.empty() || line[0] == '#') return;
    // name [=] value [# comment]
    size_t name_end = 0;
    while (name_end < line.size() && line[name_end] != '=' && line[name_end] != ' ' &&
           line[name_end] != '\t') {
      ++name_end;
    }
    std::string name = Lower(line.substr(0, name_end));
    std::string_view rest = Trim(line.substr(name_end), " \t");
    if (!rest.empty() && rest[0] == '=') rest = Trim(rest.substr(1), " \t");
    std::string value;
    if (!rest.empty() && rest[0] == '\'') {
      for (size_t i = 1; i < rest.size(); ++i) {
        if (rest[i] == '\'' && i + 1 < rest.size() && rest[i + 1] == '\'') {
          value += '\'';
          ++i;
        } else if (rest[i] == '\\' && i + 1 < rest.size()) {
          value += rest[++i];
        } else if (rest[i] == '\'') {
          break;
        } else {
          value += rest[i];
        }
      }
    } else {
      size_t end = rest.find_first_of(" \t#");
      value = std::string(rest.substr(0, end));
    }
    if (!name.empty()) settings.emplace_back(std::move(name), std::move(value));
  });
  return settings;
}

int Ipv4MaskPrefix(std::string_view mask) {
  std::vector<std::string_view> parts = Split(mask, '.');
  if (parts.size() != 4) return -1;
  uint32_t bits = 0;
  for (std::string_view part : parts) {
    uint32_t octet = 0;
    if (!ParseNumber(part, &octet) || octet > 255) return -1;
    bits = (bits << 8) | octet;
  }
  int prefix = 0;
  while (prefix < 32 && (bits & (0x80000000U >> prefix)) != 0) ++prefix;
  // Contiguous: nothing set after the first zero.
  if (prefix < 32 && (bits & (0xFFFFFFFFU >> prefix)) != 0) return -1;
  return prefix;
}

std::vector<HbaEntry> ParsePgHba(std::string_view text, size_t max_rules) {
  std::vector<HbaEntry> rules;
  ForEachLogicalLine(text, [&](std::string_view logical, int logical_start) {
    if (rules.size() >= max_rules) return;
    std::vector<std::string> fields = HbaFields(logical);
    if (fields.empty()) return;
    HbaEntry entry;
    entry.line = logical_start;
    entry.type = Lower(fields[0]);
    size_t method_index = 0;
    if (entry.type == "local") {
      if (fields.size() < 4) return;
      method_index = 3;
    } else if (entry.type.rfind("host", 0) == 0) {
      if (fields.size() < 5) return;
      entry.address = fields[3];
      method_index = 4;
      // "192.168.1.0 255.255.255.0": the mask as a separate field.
      int prefix = fields.size() >= 6 ? Ipv4MaskPrefix(fields[4]) : -1;
      if (prefix >= 0 && entry.address.find('/') == std::string::npos) {
        entry.address += "/" + std::to_string(prefix);
        method_index = 5;
      }
    } else {
      return;  // include directives and unknown types
    }
    entry.database = fields[1];
    entry.user = fields[2];
    entry.method = Lower(fields[method_index]);
    rules.push_back(std::move(entry));
  });
  return rules;
}

std::vector<PsqlDatabase> ParsePsqlDatabases(std::string_view text, size_t max_databases) {
  std::vector<PsqlDatabase> out;
  ForEachLine(text, [&](std::string_view line) {
    if (out.size() >= max_databases) return;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t bar = line.rfind('|');
    if (bar == std::string_view::npos || bar == 0) return;
    PsqlDatabase database;
    database.name = std::string(line.substr(0, bar));
    int64_t size = -1;
    if (ParseNumber(Trim(line.substr(bar + 1)), &size) && size >= 0) database.size_bytes = size;
    out.push_back(std::move(database));
  });
  return out;
}

bool FileNameCarriesDatabase(std::string_view file_name, std::string_view database) {
  if (database.empty() || file_name.size() < database.size()) return false;
  auto is_word = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           static_cast<unsigned char>(c) >= 0x80;
  };
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  for (size_t at = 0; at + database.size() <= file_name.size(); ++at) {
    bool same = true;
    for (size_t k = 0; k < database.size() && same; ++k) {
      same = lower(file_name[at + k]) == lower(database[k]);
    }
    if (!same) continue;
    const bool starts = at == 0 || !is_word(file_name[at - 1]);
    const size_t end = at + database.size();
    const bool ends = end == file_name.size() || !is_word(file_name[end]);
    if (starts && ends) return true;
  }
  return false;
}

}  // namespace dozor::agent
