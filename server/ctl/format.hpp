// Human output of dozorctl: aligned tables and the per-command renderers. Pure functions over the
// API's JSON, so they are testable without a network. The renderers live in one file per
// resource (format_orgs.cpp, format_tokens.cpp, format_hosts.cpp, format_findings.cpp,
// format_rules.cpp, format_people.cpp); tables and value helpers in format.cpp. Each renderer
// takes the output language: headers, labels and section titles go through Label (labels.hpp);
// the one-sentence confirmations of older commands (token created, import, snapshot) stay English.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "ctl/labels.hpp"
#include "dozor/common/text.hpp"  // HumanBytes, used by the renderers and their tests

namespace dozor::ctl {

// Terminal columns of UTF-8 text: counts code points, so Cyrillic letters are one column each.
size_t DisplayWidth(std::string_view text);

// Aligned plain-text table: header row, then rows; columns separated by two spaces. The headers
// are given in English and shown in `lang`.
class Table {
 public:
  explicit Table(std::vector<std::string> headers, Lang lang = Lang::kEn);
  void AddRow(std::vector<std::string> cells);
  // Right-aligns a column (numbers).
  void AlignRight(size_t column);
  [[nodiscard]] std::string Render() const;
  [[nodiscard]] size_t rows() const { return rows_.size(); }

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<bool> right_;
};

// Unix ms -> local "YYYY-MM-DD HH:MM"; "-" for 0 / null.
std::string FormatLocalTime(int64_t ms);
// Number or decimal string (protobuf's JSON writes 64-bit integers as strings) -> value.
uint64_t JsonU64(const nlohmann::json& value);
int64_t JsonI64(const nlohmann::json& value);
double JsonDouble(const nlohmann::json& value);
// String field or "" when absent / not a string.
std::string JsonStr(const nlohmann::json& object, std::string_view key);
std::string FormatPercent(double value);

std::string RenderOrgList(const nlohmann::json& reply, Lang lang = Lang::kEn);
std::string RenderOrg(const nlohmann::json& org, Lang lang = Lang::kEn);
std::string RenderTokenList(const nlohmann::json& reply, Lang lang = Lang::kEn);
// Includes the one-line install command when the server sends one (install_command).
std::string RenderTokenCreated(const nlohmann::json& token, Lang lang = Lang::kEn);
// `import`: host, and whether it is new, updated, older than stored (kept) or a duplicate.
std::string RenderImport(const nlohmann::json& reply, Lang lang = Lang::kEn);
std::string RenderHostList(const nlohmann::json& reply, Lang lang = Lang::kEn);
// The hits of GET /api/v1/search/hosts, each with what matched.
std::string RenderHostSearch(const nlohmann::json& reply, Lang lang = Lang::kEn);
// `host show`: summary plus an inventory overview (inventory may be null when none arrived yet).
std::string RenderHostShow(const nlohmann::json& host, const nlohmann::json& inventory_reply,
                           Lang lang = Lang::kEn);
std::string RenderInventory(const nlohmann::json& inventory_reply, Lang lang = Lang::kEn);
std::string RenderChanges(const nlohmann::json& reply, Lang lang = Lang::kEn);
std::string RenderHealth(const nlohmann::json& reply, Lang lang = Lang::kEn);
std::string RenderApiTokenList(const nlohmann::json& reply, Lang lang = Lang::kEn);
std::string RenderAlertList(const nlohmann::json& reply, Lang lang = Lang::kEn);
std::string RenderAlert(const nlohmann::json& alert, Lang lang = Lang::kEn);
std::string RenderAlertChannels(const nlohmann::json& reply, Lang lang = Lang::kEn);
// `alerts settings`: an organisation's alert rules and its rule overrides.
std::string RenderAlertSettings(const nlohmann::json& settings, Lang lang = Lang::kEn);
// `maintenance list` and one window (maintenance add).
std::string RenderMaintenanceList(const nlohmann::json& reply, Lang lang = Lang::kEn);
std::string RenderMaintenanceWindow(const nlohmann::json& window, Lang lang = Lang::kEn);
std::string RenderApiTokenCreated(const nlohmann::json& token, Lang lang = Lang::kEn);

// One evidence row ({"mount":"/","used_pct":95}) as "mount=/ used_pct=95".
std::string EvidenceLine(const nlohmann::json& row);
std::string RenderFindingList(const nlohmann::json& reply, Lang lang = Lang::kEn);
// `findings show` ({"finding", "events", "rule"}): the finding, its evidence, the rule's
// why/remediation and the event history.
std::string RenderFinding(const nlohmann::json& reply, Lang lang = Lang::kEn);
std::string RenderContract(const nlohmann::json& contract, Lang lang = Lang::kEn);
std::string RenderSnapshot(const nlohmann::json& snapshot, Lang lang = Lang::kEn);
std::string RenderRuleList(const nlohmann::json& reply, Lang lang = Lang::kEn);
std::string RenderRule(const nlohmann::json& rule, Lang lang = Lang::kEn);

// Organisation id -> name, for replies that carry only ids (users, audit log). A missing id is
// shown as "#<id>".
using OrgNames = std::map<int64_t, std::string>;
std::string OrgName(const OrgNames& names, const nlohmann::json& org_id);

// People: accounts, who am I, engineers of an organisation, client notes, the audit log.
std::string RenderUserList(const nlohmann::json& reply, const OrgNames& orgs, Lang lang);
// `user show`: the account and its assignments.
std::string RenderUser(const nlohmann::json& user, const OrgNames& orgs, Lang lang);
// `whoami` from GET /api/v1/me; `server_url` and the session's expiry (0: not a stored session)
// are what only dozorctl knows.
std::string RenderWhoami(const nlohmann::json& me, const std::string& server_url,
                         int64_t session_expires_ms, Lang lang);
std::string RenderEngineers(const nlohmann::json& reply, Lang lang);
// `notes show`: the current text; with `history`, every earlier version too.
std::string RenderNotes(const nlohmann::json& reply, bool history, Lang lang);
// `audit`: the entries, then the cursor of the next page when there is one.
std::string RenderAuditLog(const nlohmann::json& reply, const OrgNames& orgs, Lang lang);
// GET /api/v1/security-events: one row per refused caller and kind, with how many times.
std::string RenderSecurityEvents(const nlohmann::json& reply, Lang lang = Lang::kEn);

}  // namespace dozor::ctl
