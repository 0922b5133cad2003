#include "collectors/parsers/xml_tags.hpp"

#include <algorithm>
#include <utility>

#include "collectors/parsers/text.hpp"

namespace dozor::agent {

std::string DecodeXmlEntities(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out.push_back(text[i]);
      continue;
    }
    bool decoded = false;
    for (const auto& [entity, character] : {std::pair<std::string_view, char>{"&amp;", '&'},
                                            {"&lt;", '<'},
                                            {"&gt;", '>'},
                                            {"&quot;", '"'},
                                            {"&apos;", '\''}}) {
      if (text.substr(i, entity.size()) == entity) {
        out.push_back(character);
        i += entity.size() - 1;
        decoded = true;
        break;
      }
    }
    if (!decoded) out.push_back('&');
  }
  return out;
}

bool XmlAttribute(std::string_view tag, std::string_view name, std::string* value) {
  size_t i = 0;
  while (i < tag.size()) {
    while (i < tag.size() && (IsWhitespace(tag[i]) || tag[i] == '/')) ++i;
    const size_t name_start = i;
    while (i < tag.size() && tag[i] != '=' && !IsWhitespace(tag[i]) && tag[i] != '/') ++i;
    const std::string_view attribute = tag.substr(name_start, i - name_start);
    while (i < tag.size() && IsWhitespace(tag[i])) ++i;
    if (i >= tag.size() || tag[i] != '=') {
      if (i == name_start) ++i;  // a stray character: step over it
      continue;
    }
    ++i;
    while (i < tag.size() && IsWhitespace(tag[i])) ++i;
    if (i >= tag.size()) return false;
    std::string_view raw;
    if (tag[i] == '"' || tag[i] == '\'') {
      const char quote = tag[i];
      const size_t close = tag.find(quote, i + 1);
      const size_t end = close == std::string_view::npos ? tag.size() : close;
      raw = tag.substr(i + 1, end - i - 1);
      i = end + 1;
    } else {
      const size_t start = i;
      while (i < tag.size() && !IsWhitespace(tag[i])) ++i;
      raw = tag.substr(start, i - start);
    }
    if (attribute == name) {
      *value = DecodeXmlEntities(raw);
      return true;
    }
  }
  return false;
}

void ForEachXmlTag(std::string_view text, size_t max_tags,
                   const std::function<bool(const XmlTag&)>& visit) {
  size_t tags = 0;
  size_t i = 0;
  size_t counted_to = 0;  // lines are counted incrementally: one pass over the text in all
  int line = 1;
  while (i < text.size() && tags < max_tags) {
    const size_t open = text.find('<', i);
    if (open == std::string_view::npos) break;
    if (text.substr(open, 4) == "<!--") {
      const size_t close = text.find("-->", open + 4);
      if (close == std::string_view::npos) break;
      i = close + 3;
      continue;
    }
    if (text.substr(open, 9) == "<![CDATA[") {
      const size_t close = text.find("]]>", open + 9);
      if (close == std::string_view::npos) break;
      i = close + 3;
      continue;
    }
    const size_t close = text.find('>', open + 1);
    if (close == std::string_view::npos) break;
    i = close + 1;
    std::string_view body = text.substr(open + 1, close - open - 1);
    if (!body.empty() && (body.front() == '?' || body.front() == '!')) continue;
    line += static_cast<int>(std::count(text.begin() + static_cast<std::ptrdiff_t>(counted_to),
                                        text.begin() + static_cast<std::ptrdiff_t>(open), '\n'));
    counted_to = open;
    XmlTag tag;
    tag.line = line;
    tag.end = !body.empty() && body.front() == '/';
    if (tag.end) body.remove_prefix(1);
    size_t name_end = 0;
    while (name_end < body.size() && !IsWhitespace(body[name_end]) && body[name_end] != '/') {
      ++name_end;
    }
    std::string_view name = body.substr(0, name_end);
    const size_t colon = name.find(':');
    if (colon != std::string_view::npos) name = name.substr(colon + 1);
    tag.name = Lower(name);
    tag.self_closing = !body.empty() && body.back() == '/';
    tag.attributes = body.substr(name_end);
    ++tags;
    if (!visit(tag)) break;
  }
}

}  // namespace dozor::agent
