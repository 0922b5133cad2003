// The pure parsers of Windows data (agent/collectors/parsers/windows_parsers.hpp) on the forms real
// machines produce, and on the odd ones: UTF-16 exports with continuation lines, localised and
// Cyrillic text, missing fields, hostile bytes.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "collectors/parsers/windows_parsers.hpp"

namespace dozor::agent {
namespace {

// UTF-8 text -> UTF-16LE bytes with a byte-order mark, as regedit writes its exports. Handles the
// BMP, which is all the test texts use.
std::string Utf16LeWithBom(std::string_view utf8) {
  std::string out = "\xFF\xFE";
  for (size_t i = 0; i < utf8.size();) {
    uint32_t code_point = static_cast<uint8_t>(utf8[i]);
    size_t length = 1;
    if (code_point >= 0xE0) {
      code_point = ((code_point & 0x0F) << 12) | ((utf8[i + 1] & 0x3F) << 6) | (utf8[i + 2] & 0x3F);
      length = 3;
    } else if (code_point >= 0xC0) {
      code_point = ((code_point & 0x1F) << 6) | (utf8[i + 1] & 0x3F);
      length = 2;
    }
    out.push_back(static_cast<char>(code_point & 0xFF));
    out.push_back(static_cast<char>(code_point >> 8));
    i += length;
  }
  return out;
}

const RegValue* Value(const RegExportKey& key, std::string_view name) {
  for (const auto& [value_name, value] : key.values) {
    if (value_name == name) return &value;
  }
  return nullptr;
}

TEST_CASE("a regedit export in UTF-16 gives its keys and typed values") {
  const std::string text =
      "Windows Registry Editor Version 5.00\r\n\r\n"
      "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{1C}]\r\n"
      "\"DisplayName\"=\"1С:Предприятие 8 (x86-64) (8.3.23.1865)\"\r\n"
      "\"Publisher\"=\"1С-Софт\"\r\n"
      "\"EstimatedSize\"=dword:0003a2c4\r\n"
      "\"InstallLocation\"=\"C:\\\\Program Files\\\\1cv8\\\\8.3.23.1865\\\\\"\r\n"
      "\"Quoted\"=\"say \\\"hi\\\"\"\r\n"
      "@=\"default\"\r\n"
      "\r\n"
      "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Session Manager]\r\n"
      "\"PendingFileRenameOperations\"=hex(7):5c,00,3f,00,3f,00,5c,00,43,00,3a,00,5c,00,\\\r\n"
      "  78,00,00,00,00,00,00,00\r\n"
      "\"Big\"=hex(b):00,10,00,00,01,00,00,00\r\n"
      "\"Path\"=hex(2):25,00,50,00,41,00,54,00,48,00,25,00,00,00\r\n"
      "\"Blob\"=hex:01,02,ff\r\n"
      "\"Gone\"=-\r\n"
      "[-HKEY_LOCAL_MACHINE\\SOFTWARE\\Deleted]\r\n"
      "\"Ignored\"=\"x\"\r\n";
  size_t skipped = 99;
  auto keys = ParseRegExport(Utf16LeWithBom(text), &skipped);
  REQUIRE(keys.ok());
  CHECK(skipped == 0);
  REQUIRE(keys->size() == 2);
  const RegExportKey& uninstall = (*keys)[0];
  CHECK(uninstall.path ==
        "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{1C}");
  REQUIRE(Value(uninstall, "DisplayName"));
  CHECK(Value(uninstall, "DisplayName")->text == "1С:Предприятие 8 (x86-64) (8.3.23.1865)");
  CHECK(Value(uninstall, "Publisher")->text == "1С-Софт");
  CHECK(Value(uninstall, "EstimatedSize")->type == RegValue::Type::kDword);
  CHECK(Value(uninstall, "EstimatedSize")->number == 0x3a2c4);
  CHECK(Value(uninstall, "InstallLocation")->text == "C:\\Program Files\\1cv8\\8.3.23.1865\\");
  CHECK(Value(uninstall, "Quoted")->text == "say \"hi\"");
  CHECK(Value(uninstall, "")->text == "default");
  const RegExportKey& session = (*keys)[1];
  const RegValue* renames = Value(session, "PendingFileRenameOperations");
  REQUIRE(renames);
  CHECK(renames->type == RegValue::Type::kMultiString);
  REQUIRE(renames->strings.size() == 1);
  CHECK(renames->strings[0] == "\\??\\C:\\x");
  CHECK(Value(session, "Big")->type == RegValue::Type::kQword);
  CHECK(Value(session, "Big")->number == 0x0000000100001000ULL);
  CHECK(Value(session, "Path")->type == RegValue::Type::kExpandString);
  CHECK(Value(session, "Path")->text == "%PATH%");
  CHECK(Value(session, "Blob")->bytes == std::string("\x01\x02\xff", 3));
  CHECK(Value(session, "Gone") == nullptr);
}

TEST_CASE("a registry export without its header, or with broken lines, is reported") {
  auto not_export = ParseRegExport("[HKEY_LOCAL_MACHINE\\X]\n\"a\"=\"b\"\n");
  REQUIRE_FALSE(not_export.ok());
  CHECK(not_export.error().code == ErrorCode::kDataLoss);

  size_t skipped = 0;
  auto keys = ParseRegExport(
      "REGEDIT4\n[HKEY_LOCAL_MACHINE\\X]\n\"ok\"=dword:1\n\"bad\"=dword:zz\n\"open=\"x\n"
      "\"hex\"=hex:1,2\nnot a value\n[broken\n\"after\"=\"y\"\n",
      &skipped);
  REQUIRE(keys.ok());
  REQUIRE(keys->size() == 1);
  CHECK((*keys)[0].values.size() == 1);
  CHECK(Value((*keys)[0], "ok")->number == 1);
  CHECK(skipped == 5);
}

TEST_CASE("UTF-16 decoding keeps astral characters and replaces lone surrogates") {
  // U+1F600 as a surrogate pair, then a lone high surrogate, then 'A'.
  const std::string bytes("\x3D\xD8\x00\xDE\x3D\xD8\x41\x00", 8);
  CHECK(Utf16LeBytesToUtf8(bytes, false) ==
        "\xF0\x9F\x98\x80\xEF\xBF\xBD"
        "A");
  CHECK(Utf16LeBytesToUtf8(std::string("A\0\0\0B\0", 6), true) == "A");
  CHECK(Utf16LeBytesToUtf8(std::string("A\0B", 3), false) == "A");
}

TEST_CASE("CIM datetimes and RFC 3339 times become Unix seconds in UTC") {
  // 2024-11-15 09:30:12 at UTC+3 is 06:30:12 UTC.
  auto moscow = ParseCimDateTime("20241115093012.000000+180");
  REQUIRE(moscow.ok());
  CHECK(*moscow == 1731652212);
  auto west = ParseCimDateTime("20241115013012.500000-300");
  REQUIRE(west.ok());
  CHECK(*west == 1731652212);
  auto powershell = ParseCimDateTime("/Date(1731652212000)/");
  REQUIRE(powershell.ok());
  CHECK(*powershell == 1731652212);
  CHECK_FALSE(ParseCimDateTime("********************.******+***").ok());
  CHECK_FALSE(ParseCimDateTime("20241315093012.000000+180").ok());
  CHECK_FALSE(ParseCimDateTime("").ok());

  auto utc = ParseIso8601Utc("2024-11-15T06:30:12Z");
  REQUIRE(utc.ok());
  CHECK(*utc == 1731652212);
  auto offset = ParseIso8601Utc("2024-11-15T09:30:12.1234567+03:00");
  REQUIRE(offset.ok());
  CHECK(*offset == 1731652212);
  CHECK_FALSE(ParseIso8601Utc("2024-11-15").ok());
  CHECK_FALSE(ParseIso8601Utc("2024-11-15T06:30:12+3").ok());
}

TEST_CASE("WMI object paths give their class and keys, localised names included") {
  auto group = ParseWmiObjectPath(
      "\\\\PC01\\root\\cimv2:Win32_Group.Domain=\"PC01\",Name=\"Администраторы\"");
  REQUIRE(group.ok());
  CHECK(group->class_name == "Win32_Group");
  CHECK(group->keys["Domain"] == "PC01");
  CHECK(group->keys["Name"] == "Администраторы");
  auto escaped = ParseWmiObjectPath("Win32_UserAccount.Domain=\"CORP\",Name=\"o\\\"brien\"");
  REQUIRE(escaped.ok());
  CHECK(escaped->keys["Name"] == "o\"brien");
  CHECK_FALSE(ParseWmiObjectPath("\\\\PC\\root:").ok());
  CHECK_FALSE(ParseWmiObjectPath("Win32_Group.Name=\"open").ok());
}

TEST_CASE("the ATA SMART page gives attributes with their raw values") {
  std::vector<uint8_t> page(512, 0);
  page[0] = 0x10;
  auto put = [&](size_t slot, uint8_t id, uint8_t current, uint8_t worst, uint64_t raw) {
    const size_t at = 2 + slot * 12;
    page[at] = id;
    page[at + 3] = current;
    page[at + 4] = worst;
    for (size_t i = 0; i < 6; ++i) page[at + 5 + i] = static_cast<uint8_t>(raw >> (8 * i));
  };
  put(0, 5, 100, 100, 3);
  put(1, 9, 95, 95, 23456);
  put(3, 194, 64, 50, 0x0000'2B00'1436ULL);  // min/max in the upper bytes, 0x36 = 54 °C
  auto attributes = ParseAtaSmartPage(page);
  REQUIRE(attributes.ok());
  REQUIRE(attributes->size() == 3);
  CHECK((*attributes)[0].name() == "Reallocated_Sector_Ct");
  CHECK((*attributes)[0].raw() == 3);
  CHECK((*attributes)[1].raw() == 23456);
  CHECK((*attributes)[1].value() == 95);
  CHECK((*attributes)[2].name() == "Temperature_Celsius");
  CHECK((*attributes)[2].raw() == 0x36);
  // A short page yields the whole slots it holds; less than a header is an error.
  page.resize(2 + 12 + 5);
  auto short_page = ParseAtaSmartPage(page);
  REQUIRE(short_page.ok());
  CHECK(short_page->size() == 1);
  CHECK_FALSE(ParseAtaSmartPage({1}).ok());
}

TEST_CASE("Security Center's productState says on or off and current or stale") {
  // Defender on and current; Kaspersky on with stale signatures; a snoozed product off.
  CHECK(DecodeSecurityCenterState(0x061100).enabled);
  CHECK(DecodeSecurityCenterState(0x061100).up_to_date);
  CHECK(DecodeSecurityCenterState(0x061110).enabled);
  CHECK_FALSE(DecodeSecurityCenterState(0x061110).up_to_date);
  CHECK_FALSE(DecodeSecurityCenterState(0x060100).enabled);
  CHECK_FALSE(DecodeSecurityCenterState(0x062000).enabled);
}

TEST_CASE("an ibases.v8i list gives file, server and web infobases") {
  const std::string text =
      "\xEF\xBB\xBF[Бухгалтерия предприятия]\r\n"
      "Connect=File=\"\\\\fs01\\1c\\buh\";\r\n"
      "ID=5a4b0d3e-8f1e-4d63-9a4e-1b0b7d3a1f11\r\n"
      "Version=8.3.22\r\n"
      "[Торговля]\r\n"
      "Connect=Srvr=\"srv-1c\";Ref=\"trade\";\r\n"
      "[Web]\r\n"
      "Connect=ws=\"http://web/base\";\r\n"
      "[No connect]\r\n"
      "Folder=/\r\n"
      "orphan line\r\n";
  auto entries = ParseInfobaseList(text);
  REQUIRE(entries.size() == 4);
  CHECK(entries[0].name == "Бухгалтерия предприятия");
  CHECK(entries[0].kind == "file");
  CHECK(entries[0].location == "\\\\fs01\\1c\\buh");
  CHECK(entries[0].version == "8.3.22");
  CHECK(IsNetworkPath(entries[0].location, ""));
  CHECK(entries[1].kind == "server");
  CHECK(entries[1].location == "srv-1c/trade");
  CHECK(entries[2].kind == "web");
  CHECK(entries[2].location == "http://web/base");
  CHECK(entries[3].kind == "unknown");
  CHECK(ParseInfobaseList("").empty());
  CHECK(ParseInfobaseList("Connect=File=\"C:\\x\";\n").empty());
}

TEST_CASE("1C connection strings unquote values, keep quoted semicolons and doubled quotes") {
  auto pairs = ParseOneCConnectionString("File=\"D:\\Base;Zup\";Usr=\"Иванов \"\"И\"\"\";Ref=x;");
  REQUIRE(pairs.size() == 3);
  CHECK(pairs[0] == std::pair<std::string, std::string>{"file", "D:\\Base;Zup"});
  CHECK(pairs[1].second == "Иванов \"И\"");
  CHECK(pairs[2] == std::pair<std::string, std::string>{"ref", "x"});
  CHECK(IsNetworkPath("z:\\1C\\Buh", "Z"));
  CHECK_FALSE(IsNetworkPath("D:\\Base", "Z"));
  CHECK(IsNetworkPath("//nas/1c", ""));
}

TEST_CASE("nethasp.ini gives the licence servers and the broadcast switch") {
  const std::string text =
      "; \xCD\xE0\xF1\xF2\xF0\xEE\xE9\xEA\xE8 (cp1251)\r\n"
      "[NH_COMMON]\r\nNH_TCPIP = Enabled\r\n"
      "[NH_TCPIP]\r\n"
      "NH_SERVER_ADDR = 192.168.10.5, srv-hasp ; main and spare\r\n"
      "NH_SERVER_NAME = HASPSRV\r\n"
      "NH_USE_BROADCAST = Disabled\r\n"
      "[NH_IPX]\r\nNH_SERVER_ADDR = 1.2.3.4\r\n";
  const HaspClientSettings settings = ParseNethaspIni(text);
  CHECK(settings.server_addresses == std::vector<std::string>{"192.168.10.5", "srv-hasp"});
  CHECK(settings.server_names == std::vector<std::string>{"HASPSRV"});
  CHECK(settings.broadcast == 0);
  CHECK(ParseNethaspIni("").broadcast == -1);
}

TEST_CASE("the 1C server agent's command line gives its ports and version") {
  const std::string command =
      "\"C:\\Program Files\\1cv8\\8.3.22.1709\\bin\\ragent.exe\" -srvc -agent -regport 2541 "
      "-port 2540 -range 2560:2591 -d \"C:\\Program Files\\1cv8\\srvinfo -port 1\"";
  const OneCServerPorts ports = ParseRagentCommandLine(command);
  CHECK(ports.agent_port == 2540);
  CHECK(ports.manager_port == 2541);
  CHECK(ports.range_first == 2560);
  CHECK(ports.range_last == 2591);
  const OneCServerPorts defaults = ParseRagentCommandLine("ragent.exe -srvc -range 9:1 -port 0");
  CHECK(defaults.agent_port == 1540);
  CHECK(defaults.range_first == 1560);
  CHECK(OneCVersionFromPath(command) == "8.3.22.1709");
  CHECK(OneCVersionFromPath("C:\\Program Files\\1cv8\\common\\1cestart.exe").empty());
}

}  // namespace
}  // namespace dozor::agent
