#include "dozor/common/text.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

namespace dozor {
namespace {

TEST_CASE("trim drops C-locale whitespace, or the given characters, at both ends only") {
  CHECK(Trim("  \t a b \r\n\v\f") == "a b");
  CHECK(Trim(" \t\r\n").empty());
  CHECK(Trim("").empty());
  CHECK(Trim(" \va\v ", " \t\r") == "\va\v");
  CHECK(Trim("  dozor  ", " ") == "dozor");
  CHECK(TrimRight("  a \n\r") == "  a");
  CHECK(TrimRight(" x\t\n \r", "\n \r") == " x\t");
  CHECK(TrimRight("\n\n", "\n").empty());
}

TEST_CASE("trimmed returns an owned copy that outlives its input") {
  std::string copy;
  {
    const std::string input = "\n  dza_token \r\n";
    copy = Trimmed(input);
  }
  CHECK(copy == "dza_token");
  CHECK(Trimmed("   ").empty());
  CHECK(Trimmed("--x--", "-") == "x");
}

TEST_CASE("lower changes ASCII letters only and leaves UTF-8 bytes alone") {
  CHECK(Lower("Desktop PC") == "desktop pc");
  CHECK(Lower("SELECT Host_ID") == "select host_id");
  CHECK(Lower("Ромашка ABC") == "Ромашка abc");
  CHECK(Lower("").empty());
}

TEST_CASE("fold case lowers Latin, Cyrillic and Greek capitals and keeps everything else") {
  CHECK(FoldCase("ООО \"Ромашка\" ЁЖ") == "ооо \"ромашка\" ёж");
  CHECK(FoldCase("ÀÉÎ Straße ŁÓDŹ ΑΘΩ") == "àéî straße łódź αθω");
  CHECK(FoldCase("ЄІЇҐЎ") == "єіїґў");
  CHECK(FoldCase("×÷ 123 日本 😀") == "×÷ 123 日本 😀");
  CHECK(FoldCase("ромашка") == "ромашка");
  // Invalid UTF-8 is kept byte for byte.
  CHECK(FoldCase(std::string("A\xff\xd0B", 4)) == std::string("a\xff\xd0b", 4));
  CHECK(FoldCase("").empty());
}

TEST_CASE("join puts the separator between items only") {
  CHECK(JoinStrings({}, "; ").empty());
  CHECK(JoinStrings({"x"}, "; ") == "x");
  CHECK(JoinStrings({"x", "", "y"}, "; ") == "x; ; y");
  CHECK(JoinStrings({"a", "b"}, "\n") == "a\nb");
}

TEST_CASE("code point count counts Cyrillic letters once each") {
  CHECK(CodePointCount("") == 0);
  CHECK(CodePointCount("abc") == 3);
  CHECK(CodePointCount("Ромашка") == 7);
  CHECK(CodePointCount("ООО «Ёлка»") == 10);
  CHECK(CodePointCount("€") == 1);
}

TEST_CASE("percent-encoding keeps unreserved characters and encodes UTF-8 bytes") {
  CHECK(PercentEncode("AZaz09-._~") == "AZaz09-._~");
  CHECK(PercentEncode("Sales/North") == "Sales%2FNorth");
  CHECK(PercentEncode("a b&c=d?") == "a%20b%26c%3Dd%3F");
  CHECK(PercentEncode("Ро") == "%D0%A0%D0%BE");
  CHECK(PercentEncode("").empty());
}

TEST_CASE("human byte sizes use binary units with one decimal") {
  CHECK(HumanBytes(0) == "0 B");
  CHECK(HumanBytes(1023) == "1023 B");
  CHECK(HumanBytes(1024) == "1.0 KiB");
  CHECK(HumanBytes(1536) == "1.5 KiB");
  CHECK(HumanBytes(512ULL << 20) == "512.0 MiB");
  CHECK(HumanBytes(12884901888ULL) == "12.0 GiB");
  CHECK(HumanBytes(UINT64_MAX) == "16.0 EiB");
}

TEST_CASE("compact byte sizes drop the decimal from 100 of a unit on") {
  CHECK(HumanBytes(1023, ByteDecimals::kBelowHundred) == "1023 B");
  CHECK(HumanBytes(1536, ByteDecimals::kBelowHundred) == "1.5 KiB");
  CHECK(HumanBytes(99ULL << 20, ByteDecimals::kBelowHundred) == "99.0 MiB");
  CHECK(HumanBytes(512ULL << 20, ByteDecimals::kBelowHundred) == "512 MiB");
  CHECK(HumanBytes(3ULL << 30, ByteDecimals::kBelowHundred) == "3.0 GiB");
}

TEST_CASE("UTF-8 sequences are checked strictly: overlong, surrogate, truncated, past U+10FFFF") {
  CHECK(IsValidUtf8("plain ascii"));
  CHECK(IsValidUtf8("Ромашка ✓ 😀"));
  CHECK_FALSE(IsValidUtf8("\xff"));
  CHECK_FALSE(IsValidUtf8("caf\xe9"));           // Latin-1
  CHECK_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  CHECK_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate U+D800
  CHECK_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // U+110000
  CHECK_FALSE(IsValidUtf8("\xd0"));              // truncated
  CHECK(Utf8SequenceLength("Я", 0) == 2);
  CHECK(Utf8SequenceLength("\x80", 0) == 0);
}

TEST_CASE("invalid text from a machine is escaped so its bytes stay recoverable") {
  CHECK(EscapeInvalidUtf8("Jos\xe9 Garc\xed"
                          "a <jose@example.org>") == "Jos\\xe9 Garc\\xeda <jose@example.org>");
  CHECK(EscapeInvalidUtf8(std::string("a\0b", 3)) == "a\\x00b");
  // Valid text is left exactly as it is, backslashes included.
  CHECK(EscapeInvalidUtf8("C:\\Program Files\\1cv8") == "C:\\Program Files\\1cv8");
  CHECK(EscapeInvalidUtf8("Ромашка") == "Ромашка");
  // In text that needed repair a backslash is doubled, so "\\xe9" and a real 0xE9 differ.
  CHECK(EscapeInvalidUtf8("\\xe9 \xe9") == "\\\\xe9 \\xe9");
  CHECK(IsValidUtf8(EscapeInvalidUtf8("\xff\xfe\xc0\xaf")));
}

TEST_CASE("text for logs and terminals shows control characters instead of sending them") {
  CHECK(EscapeControlText("web01\n[error] forged line") == "web01\\n[error] forged line");
  CHECK(EscapeControlText("\x1b[31mred\x07") == "\\x1b[31mred\\x07");
  CHECK(EscapeControlText(std::string("nul\0", 4)) == "nul\\x00");
  CHECK(EscapeControlText("c1 \xc2\x9b"
                          "2J") == "c1 \\xc2\\x9b2J");
  CHECK(EscapeControlText("bad \xff") == "bad \\xff");
  CHECK(EscapeControlText("Сервер 1С: ok") == "Сервер 1С: ok");
}

}  // namespace
}  // namespace dozor
