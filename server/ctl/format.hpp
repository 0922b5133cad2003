// Human output of dozorctl: aligned tables and the per-command renderers. Pure functions over the
// API's JSON, so they are testable without a network. The renderers live in one file per
// resource (format_orgs.cpp, format_tokens.cpp, format_hosts.cpp, format_findings.cpp,
// format_rules.cpp); tables and value helpers in format.cpp.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "dozor/common/text.hpp"  // HumanBytes, used by the renderers and their tests

namespace dozor::ctl {

// Terminal columns of UTF-8 text: counts code points, so Cyrillic letters are one column each.
size_t DisplayWidth(std::string_view text);

// Aligned plain-text table: header row, then rows; columns separated by two spaces.
class Table {
 public:
  explicit Table(std::vector<std::string> headers);
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

std::string RenderOrgList(const nlohmann::json& reply);
std::string RenderOrg(const nlohmann::json& org);
std::string RenderTokenList(const nlohmann::json& reply);
// Includes the one-line install command when the server sends one (install_command).
std::string RenderTokenCreated(const nlohmann::json& token);
// `import`: host, and whether it is new, updated, older than stored (kept) or a duplicate.
std::string RenderImport(const nlohmann::json& reply);
std::string RenderHostList(const nlohmann::json& reply);
// `host show`: summary plus an inventory overview (inventory may be null when none arrived yet).
std::string RenderHostShow(const nlohmann::json& host, const nlohmann::json& inventory_reply);
std::string RenderInventory(const nlohmann::json& inventory_reply);
std::string RenderChanges(const nlohmann::json& reply);
std::string RenderHealth(const nlohmann::json& reply);
std::string RenderApiTokenList(const nlohmann::json& reply);
std::string RenderApiTokenCreated(const nlohmann::json& token);

// One evidence row ({"mount":"/","used_pct":95}) as "mount=/ used_pct=95".
std::string EvidenceLine(const nlohmann::json& row);
std::string RenderFindingList(const nlohmann::json& reply);
// `findings show` ({"finding", "events", "rule"}): the finding, its evidence, the rule's
// why/remediation and the event history.
std::string RenderFinding(const nlohmann::json& reply);
std::string RenderContract(const nlohmann::json& contract);
std::string RenderSnapshot(const nlohmann::json& snapshot);
std::string RenderRuleList(const nlohmann::json& reply);
std::string RenderRule(const nlohmann::json& rule);

}  // namespace dozor::ctl
