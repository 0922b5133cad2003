#include "collectors/parsers/text.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dozor::agent {
namespace {

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  ForEachLine(text, [&](std::string_view line) { lines.push_back(line); });
  return lines;
}

using Views = std::vector<std::string_view>;

TEST_CASE("trim removes only the given characters from the ends") {
  CHECK(Trim("  \t a b \r\n\v\f") == "a b");
  CHECK(Trim(" \t\r\n").empty());
  CHECK(Trim("").empty());
  CHECK(Trim(" \va\v ", " \t\r") == "\va\v");
  CHECK(TrimRight("  a \n\r") == "  a");
  CHECK(TrimRight(" x\t\n \r", "\n \r") == " x\t");
  CHECK(TrimRight("\n\n", "\n").empty());
  CHECK(TrimRight(std::string_view("42\n\0\0", 5), std::string_view("\n\0", 2)) == "42");
}

TEST_CASE("line reader splits on newlines and drops one carriage return") {
  CHECK(Lines("") == Views{});
  CHECK(Lines("a") == Views{"a"});
  CHECK(Lines("a\n") == Views{"a"});
  CHECK(Lines("a\n\nb") == Views{"a", "", "b"});
  CHECK(Lines("a\r\nb\r") == Views{"a", "b"});
  CHECK(Lines("a\r\r\n") == Views{"a\r"});
  CHECK(Lines("\n") == Views{""});

  LineReader reader("x\ny");
  std::string_view line;
  REQUIRE(reader.Next(&line));
  CHECK(line == "x");
  REQUIRE(reader.Next(&line));
  CHECK(line == "y");
  CHECK_FALSE(reader.Next(&line));
}

TEST_CASE("split words honours the separator set and the word limit") {
  CHECK(SplitWords("  a\tb \v c\f\n") == Views{"a", "b", "c"});
  CHECK(SplitWords("a\vb c", IsTableSpace) == Views{"a\vb", "c"});
  CHECK(SplitWords("a b c d", IsWhitespace, 2) == Views{"a", "b"});
  CHECK(SplitWords(" \t ").empty());
  CHECK(SplitWords("a,b;;c", [](char c) { return c == ',' || c == ';'; }) == Views{"a", "b", "c"});

  std::array<std::string_view, 3> words;
  CHECK(SplitWords(" one two  three four", &words) == 3);
  CHECK(words[0] == "one");
  CHECK(words[2] == "three");
  std::array<std::string_view, 4> few;
  CHECK(SplitWords("x\ry", &few) == 2);
  CHECK(SplitWords("", &few) == 0);
}

TEST_CASE("split keeps empty pieces and key value lines are trimmed") {
  CHECK(Split("a::b", ':') == Views{"a", "", "b"});
  CHECK(Split("", ':') == Views{""});
  CHECK(Split("a,", ',') == Views{"a", ""});

  std::string_view key, value;
  REQUIRE(SplitKeyValue("model name\t: Xeon : v2 \r", ':', &key, &value));
  CHECK(key == "model name");
  CHECK(value == "Xeon : v2");
  REQUIRE(SplitKeyValue(" WantedBy=\v", '=', &key, &value, " \t\r"));
  CHECK(key == "WantedBy");
  CHECK(value == "\v");
  CHECK_FALSE(SplitKeyValue("no separator", '=', &key, &value));
}

TEST_CASE("parse number accepts only a whole number in the base") {
  uint32_t u = 0;
  CHECK(ParseNumber("4294967295", &u));
  CHECK(u == 4294967295u);
  CHECK_FALSE(ParseNumber("4294967296", &u));
  CHECK_FALSE(ParseNumber("-1", &u));
  CHECK_FALSE(ParseNumber("+1", &u));
  CHECK_FALSE(ParseNumber(" 1", &u));
  CHECK_FALSE(ParseNumber("1 ", &u));
  CHECK_FALSE(ParseNumber("12abc", &u));
  CHECK_FALSE(ParseNumber("", &u));
  CHECK(ParseNumber("0A", &u, 16));
  CHECK(u == 10);
  CHECK_FALSE(ParseNumber("0x0A", &u, 16));
  int64_t i = 0;
  CHECK(ParseNumber("-273000", &i));
  CHECK(i == -273000);
  double d = 0;
  CHECK(ParseNumber("0.52", &d));
  CHECK(d == doctest::Approx(0.52));
  CHECK_FALSE(ParseNumber("0.5x", &d));
  CHECK(IsAllDigits("0123"));
  CHECK_FALSE(IsAllDigits(""));
  CHECK_FALSE(IsAllDigits("12a"));
}

TEST_CASE("contains word matches whole space-separated words only") {
  CHECK(ContainsWord("fpu vme hypervisor lahf_lm", "hypervisor"));
  CHECK(ContainsWord("hypervisor", "hypervisor"));
  CHECK(ContainsWord("rhel centos fedora", "rhel"));
  CHECK_FALSE(ContainsWord("nohypervisor x", "hypervisor"));
  CHECK_FALSE(ContainsWord("hypervisors", "hypervisor"));
  CHECK_FALSE(ContainsWord("debian\tubuntu", "ubuntu"));
  CHECK_FALSE(ContainsWord("", "debian"));
}

TEST_CASE("joiners put the separator only between items") {
  std::string list;
  AppendJoined(&list, "a");
  AppendJoined(&list, "b");
  AppendJoined(&list, "c", ", ");
  CHECK(list == "a; b, c");
  CHECK(JoinStrings({}, "; ").empty());
  CHECK(JoinStrings({"x"}, "; ") == "x");
  CHECK(JoinStrings({"x", "", "y"}, "; ") == "x; ; y");
}

TEST_CASE("logical lines join backslash continuations and keep the first line's number") {
  std::vector<std::pair<std::string, int>> lines;
  ForEachLogicalLine("a=1\nExecStart=/usr/bin/pg_dump \\\n  -Fc buh \\  \r\n  -f /b.dump\n\nz \\",
                     [&](std::string_view line, int first) { lines.emplace_back(line, first); });
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == std::make_pair(std::string("a=1"), 1));
  CHECK(lines[1] ==
        std::make_pair(std::string("ExecStart=/usr/bin/pg_dump    -Fc buh    -f /b.dump"), 2));
  CHECK(lines[2] == std::make_pair(std::string(""), 5));
  // A file ending inside a continuation still hands over what it has.
  CHECK(lines[3] == std::make_pair(std::string("z  "), 6));
}

}  // namespace
}  // namespace dozor::agent

namespace dozor::agent {
namespace {

// Lines of `chunks` through one ChunkLineSplitter; a dropped line shows as "<long>".
std::vector<std::string> SplitChunks(const std::vector<std::string_view>& chunks, size_t max) {
  ChunkLineSplitter splitter(max);
  std::vector<std::string> lines;
  auto on_line = [&](std::string_view line) { lines.emplace_back(line); };
  for (std::string_view chunk : chunks) {
    splitter.Feed(chunk, on_line, [&] { lines.emplace_back("<long>"); });
  }
  splitter.Finish(on_line);
  return lines;
}

TEST_CASE(
    "ChunkLineSplitter: lines across chunks, a last line without newline, long lines dropped") {
  using Lines = std::vector<std::string>;
  CHECK(SplitChunks({"a\nb", "c\n", "", "d"}, 16) == Lines{"a", "bc", "d"});
  CHECK(SplitChunks({"a\n\nb\n"}, 16) == Lines{"a", "", "b"});
  CHECK(SplitChunks({"x", "y", "z"}, 16) == Lines{"xyz"});
  // Over the limit: dropped once, its remainder too, the next line is whole again.
  CHECK(SplitChunks({"12345", "6789\nok\n"}, 8) == Lines{"<long>", "ok"});
  CHECK(SplitChunks({"123456789", "more", "\nok"}, 8) == Lines{"<long>", "ok"});
  CHECK(SplitChunks({"12345678\n"}, 8) == Lines{"12345678"});
  CHECK(SplitChunks({"123456789"}, 8) == Lines{"<long>"});  // not handed over at Finish
  CHECK(SplitChunks({}, 8).empty());
}

}  // namespace
}  // namespace dozor::agent
