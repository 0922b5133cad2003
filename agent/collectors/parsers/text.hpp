// Small text helpers shared by the pure parsers and the platform collectors: line and word
// splitting, key/value lines, exact number parsing; trimming and joining come from
// dozor/common/text.hpp. Views in, views out: nothing here allocates except the vector-returning
// splitters and the string joiners.
#pragma once

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include "dozor/common/text.hpp"

namespace dozor::agent {

// Character classes, as function objects so that the splitters below inline them.
// The separators of kernel-generated tables (/proc/*): blanks and line ends, no \v or \f.
struct IsTableSpaceFn {
  [[nodiscard]] constexpr bool operator()(char c) const {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
  }
};
inline constexpr IsTableSpaceFn IsTableSpace;

// isspace() in the "C" locale: the characters of kWhitespace.
struct IsWhitespaceFn {
  [[nodiscard]] constexpr bool operator()(char c) const {
    return IsTableSpace(c) || c == '\v' || c == '\f';
  }
};
inline constexpr IsWhitespaceFn IsWhitespace;

[[nodiscard]] constexpr bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Non-empty and only ASCII digits.
[[nodiscard]] inline bool IsAllDigits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), IsDigit);
}

// Walks text line by line without copying. A line excludes its '\n' and one '\r' before it; a
// final line without '\n' is still a line, and "a\n" is one line, not two.
class LineReader {
 public:
  explicit LineReader(std::string_view text) : rest_(text) {}
  bool Next(std::string_view* line) {
    if (rest_.empty()) {
      return false;
    }
    size_t end = rest_.find('\n');
    if (end == std::string_view::npos) {
      *line = rest_;
      rest_ = {};
    } else {
      *line = rest_.substr(0, end);
      rest_.remove_prefix(end + 1);
    }
    if (!line->empty() && line->back() == '\r') {
      line->remove_suffix(1);
    }
    return true;
  }

 private:
  std::string_view rest_;
};

// Calls fn(line) for every line as LineReader splits them.
template <typename Fn>
void ForEachLine(std::string_view text, Fn&& fn) {
  LineReader lines(text);
  std::string_view line;
  while (lines.Next(&line)) {
    fn(line);
  }
}

// Calls fn(logical_line, first_line_number) for every logical line: a line whose last non-blank
// character is a backslash continues on the next one (systemd units, pg_hba.conf, shell), joined
// with one space in place of the backslash. Line numbers count from 1; a file ending inside a
// continuation still hands over what it has.
template <typename Fn>
void ForEachLogicalLine(std::string_view text, Fn&& fn) {
  std::string logical;
  int number = 0, first = 0;
  ForEachLine(text, [&](std::string_view line) {
    ++number;
    if (logical.empty()) first = number;
    size_t end = line.size();
    while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t' || line[end - 1] == '\r')) {
      --end;
    }
    if (end > 0 && line[end - 1] == '\\') {
      logical.append(line.substr(0, end - 1)).append(" ");
      return;
    }
    logical.append(line.substr(0, end));
    fn(std::string_view(logical), first);
    logical.clear();
  });
  if (!logical.empty()) fn(std::string_view(logical), first);
}

// Calls on_word(word) for each run of non-separator characters of `text`, in order, until
// on_word returns false.
template <typename IsSeparator, typename OnWord>
void ForEachWord(std::string_view text, IsSeparator is_separator, OnWord on_word) {
  size_t i = 0;
  while (true) {
    while (i < text.size() && is_separator(text[i])) {
      ++i;
    }
    if (i >= text.size()) {
      return;
    }
    size_t start = i;
    while (i < text.size() && !is_separator(text[i])) {
      ++i;
    }
    if (!on_word(text.substr(start, i - start))) {
      return;
    }
  }
}

// The first `max_words` words of `text`; the rest of the text is ignored.
template <typename IsSeparator = IsWhitespaceFn>
std::vector<std::string_view> SplitWords(std::string_view text,
                                         IsSeparator is_separator = IsWhitespace,
                                         size_t max_words = std::numeric_limits<size_t>::max()) {
  std::vector<std::string_view> words;
  if (max_words > 0) {
    ForEachWord(text, is_separator, [&](std::string_view word) {
      words.push_back(word);
      return words.size() < max_words;
    });
  }
  return words;
}

// Allocation-free SplitWords for hot paths: at most N words into *words; returns how many.
template <size_t N, typename IsSeparator = IsTableSpaceFn>
size_t SplitWords(std::string_view text, std::array<std::string_view, N>* words,
                  IsSeparator is_separator = IsTableSpace) {
  size_t count = 0;
  if constexpr (N > 0) {
    ForEachWord(text, is_separator, [&](std::string_view word) {
      (*words)[count++] = word;
      return count < N;
    });
  }
  return count;
}

// Every piece between `separator`s, empty ones included ("a::b" -> "a", "", "b"; "" -> "").
[[nodiscard]] std::vector<std::string_view> Split(std::string_view text, char separator);

// "key <separator> value" with both sides trimmed of `trim_chars`; false without a separator.
bool SplitKeyValue(std::string_view line, char separator, std::string_view* key,
                   std::string_view* value, std::string_view trim_chars = kWhitespace);

// The whole of `text` as a number in `base` (no sign for unsigned types, no spaces, no "0x");
// floating-point types ignore `base`. False (and *out unspecified) otherwise.
template <typename T>
bool ParseNumber(std::string_view text, T* out, int base = 10) {
  if (text.empty()) {
    return false;
  }
  const char* end = text.data() + text.size();
  std::from_chars_result result;
  if constexpr (std::is_floating_point_v<T>) {
    result = std::from_chars(text.data(), end, *out);
  } else {
    result = std::from_chars(text.data(), end, *out, base);
  }
  return result.ec == std::errc() && result.ptr == end;
}

// True when `word` is one of the space-separated words of `words` ("a b" has "b", not "a b").
[[nodiscard]] bool ContainsWord(std::string_view words, std::string_view word);

// Appends `item` to a "; "-style list: no separator before the first item.
void AppendJoined(std::string* list, std::string_view item, std::string_view separator = "; ");

// The lines of a text that arrives in chunks (a file read piece by piece), '\n' removed. A line
// lying whole inside one chunk is handed over without a copy; only a line split across chunks is
// assembled. A line longer than `max_line_bytes` is dropped rather than held (its remainder too):
// on_long_line() is called once for it. The view given to on_line is valid during the call only.
class ChunkLineSplitter {
 public:
  explicit ChunkLineSplitter(size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

  template <typename OnLine, typename OnLongLine>
  void Feed(std::string_view chunk, OnLine&& on_line, OnLongLine&& on_long_line) {
    while (!chunk.empty()) {
      const size_t end = chunk.find('\n');
      const std::string_view piece = chunk.substr(0, end);
      if (skipping_long_line_) {
        // Still inside the dropped line.
      } else if (partial_.size() + piece.size() > max_line_bytes_) {
        skipping_long_line_ = true;
        partial_.clear();
        on_long_line();
      } else if (end != std::string_view::npos && partial_.empty()) {
        on_line(piece);  // the common case: a whole line inside the chunk
      } else {
        partial_.append(piece);
        if (end != std::string_view::npos) {
          on_line(std::string_view(partial_));
          partial_.clear();
        }
      }
      if (end == std::string_view::npos) return;
      skipping_long_line_ = false;
      chunk.remove_prefix(end + 1);
    }
  }

  // The last line of a text that does not end with '\n'; frees the carried-over buffer.
  template <typename OnLine>
  void Finish(OnLine&& on_line) {
    if (!partial_.empty() && !skipping_long_line_) on_line(std::string_view(partial_));
    partial_.clear();
    partial_.shrink_to_fit();
    skipping_long_line_ = false;
  }

 private:
  size_t max_line_bytes_;
  std::string partial_;  // the unfinished line carried over from the previous chunk
  bool skipping_long_line_ = false;
};

}  // namespace dozor::agent
