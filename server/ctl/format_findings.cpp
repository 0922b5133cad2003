// dozorctl output for findings (findings list, findings show).
#include <string>

#include "ctl/format.hpp"
#include "ctl/format_internal.hpp"

namespace dozor::ctl {

std::string EvidenceLine(const nlohmann::json& row) {
  if (!row.is_object()) {
    return row.is_string() ? row.get<std::string>()
                           : row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string out;
  for (const auto& [key, value] : row.items()) {
    if (!out.empty()) {
      out += " ";
    }
    out +=
        key + "=" +
        (value.is_string() ? value.get<std::string>()
                           : value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  return out;
}

namespace {

// "db1" for a host finding, "db1: /var" for one about an object of the host, "(estate)" for an
// organisation-wide one.
std::string FindingTarget(const nlohmann::json& finding) {
  const auto& host = At(finding, "host");
  if (host.is_object()) {
    std::string name = OrDash(JsonStr(host, "hostname").empty() ? JsonStr(host, "agent_id")
                                                                : JsonStr(host, "hostname"));
    const std::string object = JsonStr(finding, "object");
    return object.empty() ? name : name + ": " + object;
  }
  return "(estate)";
}

}  // namespace

std::string RenderFindingList(const nlohmann::json& reply, Lang lang) {
  Table table({"ID", "SEVERITY", "STATE", "RULE", "HOST", "ORG", "LAST SEEN", "TITLE"}, lang);
  table.AlignRight(0);
  for (const auto& finding : Array(reply, "findings")) {
    table.AddRow({std::to_string(JsonI64(At(finding, "id"))), JsonStr(finding, "severity"),
                  JsonStr(finding, "state"), JsonStr(finding, "rule_id"), FindingTarget(finding),
                  OrDash(JsonStr(finding, "org")), TimeField(finding, "last_seen_ms"),
                  JsonStr(finding, "title")});
  }
  if (table.rows() == 0) {
    return Label("No findings.", lang) + "\n";
  }
  return table.Render();
}

std::string RenderFinding(const nlohmann::json& reply, Lang lang) {
  const nlohmann::json& finding = At(reply, "finding");
  KeyValues kv(lang);
  kv.Add("ID", std::to_string(JsonI64(At(finding, "id"))));
  kv.Add("Title", JsonStr(finding, "title"));
  kv.Add("Rule", JsonStr(finding, "rule_id"));
  kv.Add("Severity", JsonStr(finding, "severity"));
  kv.Add("Category", JsonStr(finding, "category"));
  kv.Add("State", JsonStr(finding, "state"));
  kv.Add("Organisation", OrDash(JsonStr(finding, "org")));
  const auto& host = At(finding, "host");
  kv.Add("Host", host.is_object()
                     ? JsonStr(host, "hostname") + " (" + JsonStr(host, "agent_id") + ")"
                     : std::string("(estate-wide)"));
  if (!JsonStr(finding, "object").empty()) {
    kv.Add("Object", JsonStr(finding, "object"));
  }
  kv.Add("First seen", TimeField(finding, "first_seen_ms"));
  kv.Add("Last seen", TimeField(finding, "last_seen_ms"));
  if (!At(finding, "resolved_at_ms").is_null()) {
    kv.Add("Resolved", TimeField(finding, "resolved_at_ms"));
  }
  if (JsonI64(At(finding, "regressions")) > 0) {
    kv.Add("Regressions", std::to_string(JsonI64(At(finding, "regressions"))));
  }
  if (!JsonStr(finding, "ack_by").empty()) {
    const std::string comment = JsonStr(finding, "ack_comment");
    kv.Add("Acknowledged by", JsonStr(finding, "ack_by") + (comment.empty() ? "" : ": " + comment));
  }
  if (!JsonStr(finding, "waived_by").empty()) {
    kv.Add("Waived by", JsonStr(finding, "waived_by") + ": " + JsonStr(finding, "waive_reason"));
    const auto& until = At(finding, "waived_until_ms");
    kv.Add("Waived until", until.is_null() ? "no expiry" : FormatLocalTime(JsonI64(until)));
  }
  const auto& rule = At(reply, "rule");
  if (rule.is_object() && !JsonStr(rule, "effort").empty()) {
    kv.Add("Effort", JsonStr(rule, "effort"));
  }
  std::string out = kv.Render();
  out += Section("Evidence", lang);
  const auto& evidence = At(finding, "evidence");
  if (evidence.is_array() && !evidence.empty()) {
    for (const auto& row : evidence) {
      out += "  " + EvidenceLine(row) + "\n";
    }
  } else if (evidence.is_string()) {
    out += "  " + evidence.get<std::string>() + "\n";
  } else {
    out += "  -\n";
  }
  if (rule.is_object()) {
    out += WhyAndRemediation(rule, lang);
  }
  out += Section("History", lang);
  Table events({"TIME", "EVENT", "BY", "STATE", "COMMENT"}, lang);
  for (const auto& event : Array(reply, "events")) {
    const std::string from = JsonStr(event, "from_state");
    const std::string to = JsonStr(event, "to_state");
    events.AddRow({TimeField(event, "at_ms"), JsonStr(event, "kind"),
                   OrDash(JsonStr(event, "actor")),
                   from.empty() || from == to ? OrDash(to) : from + " -> " + to,
                   OrDash(JsonStr(event, "comment"))});
  }
  out += events.Render();
  return out;
}

}  // namespace dozor::ctl
