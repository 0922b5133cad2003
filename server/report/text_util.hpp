// Text helpers shared by the report renderers: UTF-8 repair and escaping for HTML, Pango markup
// and CSV. Report text comes partly from agents (hostnames, evidence), so it is untrusted.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dozor::server::report {

// Valid UTF-8 with invalid sequences replaced by U+FFFD and C0 control characters other than
// tab and newline (and DEL) dropped: safe for XML-based formats and for Pango.
std::string SanitizeUtf8(std::string_view text);
// & < > " ' escaped; input sanitised first. Usable for HTML text, attributes and Pango markup.
std::string XmlEscape(std::string_view text);
// One RFC 4180 field: quoted when it holds , " CR or LF (quotes doubled); a field starting with
// = + - @ (or tab / CR) gets a leading ' so spreadsheets do not run it as a formula.
std::string CsvField(std::string_view text);
// "n word" with the Russian plural form for n: one ("1 машина", "21 день"), few ("2 машины",
// "3 дня") or many ("5 машин", "11 дней").
std::string RussianCount(int64_t n, std::string_view one, std::string_view few,
                         std::string_view many);

}  // namespace dozor::server::report
