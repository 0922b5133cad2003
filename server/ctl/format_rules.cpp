// dozorctl output for the server's rule pack (rules list, rules show).
#include <string>

#include "ctl/format.hpp"
#include "ctl/format_internal.hpp"

namespace dozor::ctl {

std::string WhyAndRemediation(const nlohmann::json& rule, Lang lang) {
  return Section("Why it matters", lang) + Indented(JsonStr(rule, "why")) +
         Section("Remediation", lang) + Indented(JsonStr(rule, "remediation"));
}

std::string RenderRuleList(const nlohmann::json& reply, Lang lang) {
  Table table({"ID", "SEVERITY", "CATEGORY", "SCOPE", "CONTRACTS", "EFFORT", "SOURCE", "TITLE"},
              lang);
  for (const auto& rule : Array(reply, "rules")) {
    std::string source = JsonStr(rule, "source");
    if (source.rfind("builtin:", 0) == 0) {
      source = "builtin";
    }
    if (At(rule, "enabled").is_boolean() && !JsonBool(At(rule, "enabled"))) {
      source += " (disabled)";
    }
    table.AddRow({JsonStr(rule, "id"), JsonStr(rule, "severity"), JsonStr(rule, "category"),
                  JsonStr(rule, "scope"), OrDash(JoinJsonStrings(At(rule, "contracts"), ",")),
                  OrDash(JsonStr(rule, "effort")), source, JsonStr(rule, "title")});
  }
  std::string out = table.Render();
  const auto& errors = Array(reply, "errors");
  if (!errors.empty()) {
    out += Section("Rule files that failed to load", lang);
    for (const auto& error : errors) {
      out += "  " + JsonStr(error, "text") + "\n";
    }
  }
  return out;
}

std::string RenderRule(const nlohmann::json& rule, Lang lang) {
  KeyValues kv(lang);
  kv.Add("ID", JsonStr(rule, "id"));
  kv.Add("Title", JsonStr(rule, "title"));
  kv.Add("Severity", JsonStr(rule, "severity"));
  kv.Add("Category", JsonStr(rule, "category"));
  kv.Add("Scope", JsonStr(rule, "scope"));
  kv.Add("Contracts", OrDash(JoinJsonStrings(At(rule, "contracts"), ", ")));
  kv.Add("Effort", OrDash(JsonStr(rule, "effort")));
  kv.Add("Source", JsonStr(rule, "source"));
  kv.Add("Enabled",
         At(rule, "enabled").is_boolean() && !JsonBool(At(rule, "enabled")) ? "no" : "yes");
  std::string params;
  const auto& param_object = At(rule, "params");
  if (param_object.is_object()) {
    for (const auto& [key, value] : param_object.items()) {
      params += (params.empty() ? "" : ", ") + key + "=" +
                (value.is_string() ? value.get<std::string>() : value.dump());
    }
  }
  kv.Add("Params", OrDash(params));
  std::string out = kv.Render();
  out += WhyAndRemediation(rule, lang);
  out += Section("Condition", lang) + Indented(JsonStr(rule, "condition"));
  if (!JsonStr(rule, "sustain").empty()) {
    out += Section("Sustain (keeps an active finding open)", lang) +
           Indented(JsonStr(rule, "sustain"));
  }
  return out;
}

}  // namespace dozor::ctl
