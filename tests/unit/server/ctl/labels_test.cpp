// dozorctl's output language: the translation table, and Russian headers in the list renderers.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <string>

#include "ctl/format.hpp"
#include "ctl/labels.hpp"

namespace dozor::ctl {
namespace {

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

// Latin words of a header line that are not abbreviations read as-is in Russian IT usage.
std::set<std::string> UntranslatedWords(const std::string& header) {
  static const std::set<std::string> kKept = {"ID", "CPU%", "SWAP%", "MAC", "SMART", "UID"};
  std::set<std::string> words;
  std::istringstream stream(header);
  for (std::string word; stream >> word;) {
    const bool latin = std::any_of(word.begin(), word.end(), [](char c) {
      return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    });
    if (latin && kKept.count(word) == 0) {
      words.insert(word);
    }
  }
  return words;
}

TEST_CASE("dozorctl labels: the table has one translation per English label") {
  std::set<std::string_view> seen;
  for (const auto& [english, russian] : RussianLabels()) {
    CHECK_MESSAGE(seen.insert(english).second, english);
    CHECK_FALSE(russian.empty());
    // A sentence keeps its placeholders.
    const auto count = [](std::string_view text) {
      size_t n = 0;
      for (size_t at = text.find("{}"); at != std::string_view::npos;
           at = text.find("{}", at + 2)) {
        ++n;
      }
      return n;
    };
    CHECK_MESSAGE(count(english) == count(russian), english);
  }
}

TEST_CASE("dozorctl labels: English stays, Russian is looked up, a gap falls back to English") {
  CHECK(Label("LOGIN", Lang::kEn) == "LOGIN");
  CHECK(Label("LOGIN", Lang::kRu) == "ЛОГИН");
  CHECK(Label("no such label", Lang::kRu) == "no such label");
  CHECK(ParseLang("ru") == Lang::kRu);
  CHECK(ParseLang("en") == Lang::kEn);
  CHECK_FALSE(ParseLang("de").has_value());
  CHECK(LangCode(Lang::kRu) == "ru");
  CHECK(Sentence("{} is no longer an engineer of {}.", Lang::kRu, {"alice", "Альфа"}) ==
        "alice больше не инженер организации Альфа.");
  CHECK(Sentence("{} is no longer an engineer of {}.", Lang::kEn, {"alice"}) ==
        "alice is no longer an engineer of {}.");
}

TEST_CASE("dozorctl --lang ru: every list's header row is Russian") {
  const auto empty = nlohmann::json::object();
  const OrgNames orgs;
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"org list", FirstLine(RenderOrgList(empty, Lang::kRu))},
      {"token list", FirstLine(RenderTokenList(empty, Lang::kRu))},
      {"apitoken list", FirstLine(RenderApiTokenList(empty, Lang::kRu))},
      {"host list", FirstLine(RenderHostList(empty, Lang::kRu))},
      {"host changes", FirstLine(RenderChanges(empty, Lang::kRu))},
      {"host health", FirstLine(RenderHealth(empty, Lang::kRu))},
      {"rules list", FirstLine(RenderRuleList(empty, Lang::kRu))},
      {"findings list", FirstLine(RenderFindingList(
                            nlohmann::json::parse(R"({"findings":[{"id":1}]})"), Lang::kRu))},
      {"user list", FirstLine(RenderUserList(nlohmann::json::parse(R"({"users":[{"id":1}]})"), orgs,
                                             Lang::kRu))},
      {"org engineers", FirstLine(RenderEngineers(
                            nlohmann::json::parse(R"({"engineers":[{"login":"a"}]})"), Lang::kRu))},
      {"audit", FirstLine(RenderAuditLog(nlohmann::json::parse(R"({"entries":[{"id":1}]})"), orgs,
                                         Lang::kRu))},
  };
  for (const auto& [command, header] : headers) {
    INFO(command << ": " << header);
    CHECK(UntranslatedWords(header).empty());
  }
  CHECK(FirstLine(RenderOrgList(empty, Lang::kRu)).find("НАЗВАНИЕ") != std::string::npos);
  CHECK(FirstLine(RenderOrgList(empty)).find("NAME") != std::string::npos);
}

TEST_CASE("dozorctl --lang ru: labels and sections of the detail views are Russian") {
  const auto host = nlohmann::json::parse(R"({"agent_id":"a1","hostname":"db1"})");
  const auto inventory = nlohmann::json::parse(R"({"inventory":{"os":{"pretty_name":"Debian"}}})");
  const std::string shown = RenderHostShow(host, inventory, Lang::kRu);
  CHECK(shown.find("Организация:") != std::string::npos);
  CHECK(shown.find("Обзор\n-----\n") != std::string::npos);  // underline as wide as the title
  CHECK(shown.find("Organisation") == std::string::npos);
  const std::string inventory_text = RenderInventory(inventory, Lang::kRu);
  CHECK(inventory_text.find("Операционная система") != std::string::npos);
  CHECK(inventory_text.find("Пакеты (0)") != std::string::npos);
  const std::string finding = RenderFinding(
      nlohmann::json::parse(R"({"finding":{"id":3},"rule":{"why":"w","remediation":"r"}})"),
      Lang::kRu);
  CHECK(finding.find("Почему это важно") != std::string::npos);
  CHECK(finding.find("Важность:") != std::string::npos);
  CHECK(RenderFindingList(nlohmann::json::object(), Lang::kRu) == "Находок нет.\n");
}

TEST_CASE("dozorctl people renderers: users, whoami, engineers, notes and the audit page") {
  const OrgNames orgs = {{7, "Альфа"}};
  const auto users = nlohmann::json::parse(R"({"users":[
      {"id":1,"login":"admin","display_name":"Admin","role":"admin","org_id":null,"enabled":true},
      {"id":2,"login":"sys.alpha","display_name":"Пётр","role":"client","org_id":7,"enabled":false},
      {"id":3,"login":"x","role":"client","org_id":9}]})");
  const std::string list = RenderUserList(users, orgs, Lang::kEn);
  CHECK(list.find("Альфа") != std::string::npos);
  CHECK(list.find("#9") != std::string::npos);  // an organisation the names do not cover
  CHECK(list.find("disabled") != std::string::npos);

  const auto user = nlohmann::json::parse(R"({"id":4,"login":"ivan","role":"engineer",
      "has_password":true,"assignments":[{"org_id":7,"kind":"backup","specialty":"1C"}]})");
  const std::string shown = RenderUser(user, orgs, Lang::kRu);
  CHECK(shown.find("Назначения") != std::string::npos);
  CHECK(shown.find("резервный") != std::string::npos);
  CHECK(shown.find("Пароль задан:") != std::string::npos);

  const auto me = nlohmann::json::parse(R"({"login":"ivan","role":"engineer","session":true,
      "organizations":[{"id":7,"name":"Альфа"},{"id":8,"name":"Бета"}]})");
  const std::string whoami = RenderWhoami(me, "http://s:1", 1'700'000'000'000, Lang::kEn);
  CHECK(whoami.find("Альфа, Бета") != std::string::npos);
  CHECK(whoami.find("login session") != std::string::npos);
  CHECK(whoami.find("Session expires:") != std::string::npos);
  const auto admin_token = nlohmann::json::parse(
      R"({"login":"ops","role":"admin","session":false,"token_role":"viewer","all_organizations":true})");
  const std::string token_whoami = RenderWhoami(admin_token, "http://s:1", 0, Lang::kEn);
  CHECK(token_whoami.find("all") != std::string::npos);
  CHECK(token_whoami.find("API token (token role viewer)") != std::string::npos);

  CHECK(RenderEngineers(nlohmann::json::object(), Lang::kRu) == "Инженеры не назначены.\n");

  const auto notes = nlohmann::json::parse(R"({
      "current":{"id":5,"text":"call before 10:00\nthe director decides","author":"ivan","at_ms":1700000000000},
      "history":[{"id":5,"text":"call before 10:00\nthe director decides","author":"ivan"},
                 {"id":2,"text":"old text","author":"admin"}]})");
  const std::string current = RenderNotes(notes, false, Lang::kEn);
  CHECK(current.find("  call before 10:00\n  the director decides\n") != std::string::npos);
  CHECK(current.find("old text") == std::string::npos);
  const std::string history = RenderNotes(notes, true, Lang::kEn);
  CHECK(history.find("old text") != std::string::npos);
  CHECK(history.find("Author:") != std::string::npos);
  CHECK(RenderNotes(nlohmann::json::parse(R"({"current":null,"history":[]})"), true, Lang::kEn) ==
        "No notes yet.\n");

  const auto page = nlohmann::json::parse(R"({"entries":[{"id":41,"actor":"ivan","via":"cli",
      "action":"PUT /api/v1/orgs/{org}/notes","org_id":7,"status":201}],"next_before":41})");
  const std::string audit = RenderAuditLog(page, orgs, Lang::kEn);
  CHECK(audit.find("cli") != std::string::npos);
  CHECK(audit.find("Альфа") != std::string::npos);
  CHECK(audit.find("Next page: --before 41") != std::string::npos);
  CHECK(RenderAuditLog(nlohmann::json::parse(R"({"entries":[],"next_before":null})"), orgs,
                       Lang::kEn) == "No audit entries.\n");
}

}  // namespace
}  // namespace dozor::ctl
