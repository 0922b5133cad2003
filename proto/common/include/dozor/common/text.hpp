// Small string helpers both binaries use: trimming, ASCII case, joining, UTF-8 code point counts,
// percent-encoding and human-readable byte sizes. Pure functions; views in, and views out where
// the result is a part of the input, so the agent's parsers can trim without allocating.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dozor {

// isspace() in the "C" locale.
inline constexpr std::string_view kWhitespace = " \t\r\n\v\f";

// `text` without leading and trailing characters from `chars`. The view points into `text`: keep
// the text alive, or take Trimmed for a copy.
[[nodiscard]] std::string_view Trim(std::string_view text, std::string_view chars = kWhitespace);
// `text` without trailing characters from `chars`.
[[nodiscard]] std::string_view TrimRight(std::string_view text,
                                         std::string_view chars = kWhitespace);
// Trim, as a string of its own (for values that outlive their input).
[[nodiscard]] std::string Trimmed(std::string_view text, std::string_view chars = kWhitespace);

// ASCII letters lowered, every other byte (UTF-8 included) unchanged: for keywords and
// identifiers, not for human text.
[[nodiscard]] std::string Lower(std::string_view text);

// Text folded for case-insensitive matching of people's text: ASCII, Latin-1, Latin Extended-A,
// Greek and Cyrillic capitals become small letters ("Ромашка", "РОМАШКА" -> "ромашка"); every
// other code point and every byte of invalid UTF-8 is kept as it is. Simple one-to-one folding
// (no "ß" -> "ss"), so a folded text is never longer than its input.
[[nodiscard]] std::string FoldCase(std::string_view text);

// items[0] + separator + items[1] + ...; "" for no items.
[[nodiscard]] std::string JoinStrings(const std::vector<std::string>& items,
                                      std::string_view separator);

// UTF-8 code points of `text` (bytes that do not continue a sequence): "Ромашка" is 7. Invalid
// UTF-8 is counted, not checked.
[[nodiscard]] size_t CodePointCount(std::string_view text);

// Length of the well-formed UTF-8 sequence starting at text[i] (1-4), or 0 when the bytes there
// are not one (stray continuation byte, truncated sequence, overlong form, surrogate, past
// U+10FFFF). The one UTF-8 decoder every validator and escaper of the project uses.
[[nodiscard]] size_t Utf8SequenceLength(std::string_view text, size_t i);
[[nodiscard]] bool IsValidUtf8(std::string_view text);

// Text read from a machine made valid UTF-8 without losing its bytes: unchanged when it is valid
// and holds no NUL; otherwise every byte that is not part of a well-formed sequence, and NUL,
// becomes "\xNN" and a backslash becomes "\\", so the original bytes can be recovered from the
// escaped form. (A Latin-1 "é" in a dpkg Maintainer field becomes "\xe9".)
[[nodiscard]] std::string EscapeInvalidUtf8(std::string_view text);

// Untrusted text for a log line or a terminal: C0 and C1 control characters, DEL and invalid
// UTF-8 bytes become "\xNN" (tab, newline and CR become "\t", "\n", "\r"), so a hostname or
// a package name cannot forge a log line or send escape sequences to an operator's terminal.
[[nodiscard]] std::string EscapeControlText(std::string_view text);

// Percent-encodes every byte but the RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~): a URL
// path segment or query value, or an RFC 5987 header parameter value of UTF-8 text.
[[nodiscard]] std::string PercentEncode(std::string_view text);

// How HumanBytes writes the number: always one decimal ("512.0 MiB"), or none from 100 of a unit
// on ("512 MiB", "1.5 GiB") for narrow report columns.
enum class ByteDecimals { kAlways, kBelowHundred };

// Binary units: 1023 -> "1023 B", 1536 -> "1.5 KiB", 12884901888 -> "12.0 GiB".
[[nodiscard]] std::string HumanBytes(uint64_t bytes, ByteDecimals decimals = ByteDecimals::kAlways);

}  // namespace dozor
