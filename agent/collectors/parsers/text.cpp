#include "collectors/parsers/text.hpp"

#include <algorithm>

namespace dozor::agent {

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> pieces;
  while (true) {
    size_t pos = text.find(separator);
    pieces.push_back(text.substr(0, pos));
    if (pos == std::string_view::npos) {
      break;
    }
    text.remove_prefix(pos + 1);
  }
  return pieces;
}

bool SplitKeyValue(std::string_view line, char separator, std::string_view* key,
                   std::string_view* value, std::string_view trim_chars) {
  size_t pos = line.find(separator);
  if (pos == std::string_view::npos) {
    return false;
  }
  *key = Trim(line.substr(0, pos), trim_chars);
  *value = Trim(line.substr(pos + 1), trim_chars);
  return true;
}

bool ContainsWord(std::string_view words, std::string_view word) {
  size_t pos = 0;
  while ((pos = words.find(word, pos)) != std::string_view::npos) {
    bool start_ok = pos == 0 || words[pos - 1] == ' ';
    bool end_ok = pos + word.size() == words.size() || words[pos + word.size()] == ' ';
    if (start_ok && end_ok) {
      return true;
    }
    pos += word.size();
  }
  return false;
}

void AppendJoined(std::string* list, std::string_view item, std::string_view separator) {
  if (!list->empty()) {
    list->append(separator);
  }
  list->append(item);
}

}  // namespace dozor::agent
