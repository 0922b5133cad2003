// A small, bounded scanner of the tags of XML configuration files the agent reads (1C's
// logcfg.xml, firewalld's zones, services and policies): start and end tags with their
// attributes, no text content, no DTD, no validation. Pure functions over text: any bytes
// (malformed, truncated, non-UTF-8) give an answer; an unterminated tag or comment ends the scan.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace dozor::agent {

struct XmlTag {
  std::string name;             // lower-case, without a namespace prefix ("tl:log" -> "log")
  bool end = false;             // </name>
  bool self_closing = false;    // <name ... />
  std::string_view attributes;  // the tag's text after its name; a view into the input
  int line = 0;                 // 1-based line of the '<'
};

// Calls `visit` for each tag in document order, skipping comments, <?...?> and <!...>
// declarations (CDATA too). Stops after `max_tags` tags or when `visit` returns false.
void ForEachXmlTag(std::string_view text, size_t max_tags,
                   const std::function<bool(const XmlTag&)>& visit);

// The value of attribute `name` (case-sensitive, as XML is) in a tag's attribute text, the five
// predefined entities decoded; false when absent.
[[nodiscard]] bool XmlAttribute(std::string_view attributes, std::string_view name,
                                std::string* value);

// "&lt;" -> "<" and the other predefined entities; anything else stays as written.
[[nodiscard]] std::string DecodeXmlEntities(std::string_view text);

}  // namespace dozor::agent
