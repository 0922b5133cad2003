#include "report/text_util.hpp"

#include <cstdint>

#include "dozor/common/text.hpp"

namespace dozor::server::report {

std::string SanitizeUtf8(std::string_view text) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t length = Utf8SequenceLength(text, i);
    const auto c = static_cast<unsigned char>(text[i]);
    if (length == 0) {
      out += kReplacement;
      ++i;
    } else if (length == 1) {
      if ((c >= 0x20 && c != 0x7F) || c == '\n' || c == '\t') {
        out += static_cast<char>(c);
      }
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

std::string XmlEscape(std::string_view text) {
  std::string clean = SanitizeUtf8(text);
  std::string out;
  out.reserve(clean.size() + 16);
  for (char c : clean) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string CsvField(std::string_view text) {
  std::string value = SanitizeUtf8(text);
  if (!value.empty() && (value[0] == '=' || value[0] == '+' || value[0] == '-' || value[0] == '@' ||
                         value[0] == '\t' || value[0] == '\r')) {
    value.insert(value.begin(), '\'');
  }
  if (value.find_first_of(",\"\r\n") == std::string::npos) {
    return value;
  }
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') {
      out += '"';
    }
    out += c;
  }
  out += '"';
  return out;
}

std::string RussianCount(int64_t n, std::string_view one, std::string_view few,
                         std::string_view many) {
  const int64_t tens = n % 100, ones = n % 10;
  const std::string_view word = (tens >= 11 && tens <= 14) ? many
                                : ones == 1                ? one
                                : (ones >= 2 && ones <= 4) ? few
                                                           : many;
  return std::to_string(n) + " " + std::string(word);
}

}  // namespace dozor::server::report
