#include "ctl/format.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "ctl/format_internal.hpp"
#include "dozor/common/text.hpp"

namespace dozor::ctl {

const nlohmann::json& At(const nlohmann::json& object, std::string_view key) {
  static const nlohmann::json kNull = nullptr;
  if (!object.is_object()) {
    return kNull;
  }
  const auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

const nlohmann::json& Array(const nlohmann::json& object, std::string_view key) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  const auto& value = At(object, key);
  return value.is_array() ? value : kEmpty;
}

bool JsonBool(const nlohmann::json& value) { return value.is_boolean() && value.get<bool>(); }

std::string OrDash(std::string text) {
  const std::string_view trimmed = Trim(text, " ");
  return trimmed.empty() ? "-" : std::string(trimmed);
}

std::string CountOrUnknown(const nlohmann::json& value) {
  const int64_t count = JsonI64(value);
  return count < 0 ? std::string("unknown") : std::to_string(count);
}

std::string Section(std::string_view title, Lang lang) {
  const std::string shown = Label(title, lang);
  return "\n" + shown + "\n" + std::string(DisplayWidth(shown), '-') + "\n";
}

std::string Indented(std::string_view text, std::string_view prefix) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    out += std::string(prefix) + std::string(text.substr(start, end - start)) + "\n";
    start = end + 1;
  }
  return out;
}

std::string JoinJsonStrings(const nlohmann::json& array, std::string_view separator) {
  std::string out;
  if (!array.is_array()) {
    return out;
  }
  for (const auto& item : array) {
    if (!item.is_string()) {
      continue;
    }
    if (!out.empty()) {
      out += separator;
    }
    out += item.get<std::string>();
  }
  return out;
}

std::string TimeField(const nlohmann::json& object, std::string_view key_ms) {
  return FormatLocalTime(JsonI64(At(object, key_ms)));
}

std::string ExpiryField(const nlohmann::json& token) {
  const auto& expires = At(token, "expires_at_ms");
  return expires.is_null() ? "never" : FormatLocalTime(JsonI64(expires));
}

std::string KeyValues::Render() const {
  size_t width = 0;
  for (const auto& [key, value] : entries_) {
    width = std::max(width, DisplayWidth(key));
  }
  std::string out;
  for (const auto& [key, value] : entries_) {
    out += key + ":" + std::string(width - DisplayWidth(key) + 2, ' ') + value + "\n";
  }
  return out;
}

size_t DisplayWidth(std::string_view text) { return CodePointCount(text); }

Table::Table(std::vector<std::string> headers, Lang lang)
    : headers_(std::move(headers)), right_(headers_.size(), false) {
  for (auto& header : headers_) {
    header = Label(header, lang);
  }
}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

void Table::AlignRight(size_t column) {
  if (column < right_.size()) {
    right_[column] = true;
  }
}

std::string Table::Render() const {
  std::vector<size_t> widths(headers_.size(), 0);
  for (size_t i = 0; i < headers_.size(); ++i) {
    widths[i] = DisplayWidth(headers_[i]);
  }
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  }
  auto render_row = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t i = 0; i < cells.size(); ++i) {
      const size_t pad = widths[i] - DisplayWidth(cells[i]);
      const bool last = i + 1 == cells.size();
      if (right_[i]) {
        line += std::string(pad, ' ') + cells[i];
      } else {
        line += cells[i];
        if (!last) {
          line += std::string(pad, ' ');
        }
      }
      if (!last) {
        line += "  ";
      }
    }
    // Trailing blanks from empty last cells are noise in terminals and diffs.
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    return line + "\n";
  };
  std::string out = render_row(headers_);
  for (const auto& row : rows_) {
    out += render_row(row);
  }
  return out;
}

std::string FormatLocalTime(int64_t ms) {
  if (ms <= 0) {
    return "-";
  }
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  if (localtime_r(&seconds, &tm) == nullptr) {
    return "-";
  }
  char buffer[32];
  const size_t n = std::strftime(buffer, sizeof(buffer), "%Y-%m-%d %H:%M", &tm);
  return std::string(buffer, n);
}

uint64_t JsonU64(const nlohmann::json& value) {
  if (value.is_number_unsigned()) {
    return value.get<uint64_t>();
  }
  if (value.is_number_integer()) {
    const auto v = value.get<int64_t>();
    return v < 0 ? 0 : static_cast<uint64_t>(v);
  }
  if (value.is_number_float()) {
    const double v = value.get<double>();
    return v < 0 ? 0 : static_cast<uint64_t>(v);
  }
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    uint64_t out = 0;
    for (const char c : text) {
      if (c < '0' || c > '9') {
        return 0;
      }
      out = out * 10 + static_cast<uint64_t>(c - '0');
    }
    return out;
  }
  return 0;
}

int64_t JsonI64(const nlohmann::json& value) {
  if (value.is_number_integer()) {
    return value.get<int64_t>();
  }
  if (value.is_number_float()) {
    return static_cast<int64_t>(value.get<double>());
  }
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (!text.empty() && text[0] == '-') {
      return -static_cast<int64_t>(JsonU64(nlohmann::json(text.substr(1))));
    }
    return static_cast<int64_t>(JsonU64(value));
  }
  return 0;
}

double JsonDouble(const nlohmann::json& value) {
  if (value.is_number()) {
    return value.get<double>();
  }
  if (value.is_string()) {
    // protobuf writes NaN / Infinity as strings; anything unparsable reads as 0.
    char* end = nullptr;
    const auto& text = value.get_ref<const std::string&>();
    const double parsed = std::strtod(text.c_str(), &end);
    return end != text.c_str() && std::isfinite(parsed) ? parsed : 0.0;
  }
  return 0.0;
}

std::string JsonStr(const nlohmann::json& object, std::string_view key) {
  const auto& value = At(object, key);
  return value.is_string() ? value.get<std::string>() : std::string();
}

std::string FormatPercent(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.1f", value);
  return buffer;
}

}  // namespace dozor::ctl
