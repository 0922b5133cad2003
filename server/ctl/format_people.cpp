// dozorctl output for people: accounts (user ...), whoami, an organisation's engineers, client
// notes and the audit log.
#include <string>

#include "ctl/format.hpp"
#include "ctl/format_internal.hpp"

namespace dozor::ctl {

namespace {

std::string YesNo(bool value, Lang lang) { return Label(value ? "yes" : "no", lang); }

std::string AccountState(const nlohmann::json& object, Lang lang) {
  // Proto-free JSON of the users API: "enabled" is always present; absent reads as enabled.
  const auto& enabled = At(object, "enabled");
  return Label(enabled.is_boolean() && !enabled.get<bool>() ? "disabled" : "enabled", lang);
}

// The account's organisation (client accounts only), by name.
std::string UserOrg(const nlohmann::json& user, const OrgNames& orgs) {
  const auto& org_id = At(user, "org_id");
  return org_id.is_null() ? "-" : OrgName(orgs, org_id);
}

}  // namespace

std::string OrgName(const OrgNames& names, const nlohmann::json& org_id) {
  if (org_id.is_null()) {
    return "-";
  }
  const int64_t id = JsonI64(org_id);
  const auto it = names.find(id);
  return it == names.end() ? "#" + std::to_string(id) : it->second;
}

std::string RenderUserList(const nlohmann::json& reply, const OrgNames& orgs, Lang lang) {
  Table table(
      {"ID", "LOGIN", "DISPLAY NAME", "ROLE", "ORG", "E-MAIL", "LANGUAGE", "STATE", "CREATED"},
      lang);
  table.AlignRight(0);
  for (const auto& user : Array(reply, "users")) {
    table.AddRow({std::to_string(JsonI64(At(user, "id"))), JsonStr(user, "login"),
                  OrDash(JsonStr(user, "display_name")), JsonStr(user, "role"), UserOrg(user, orgs),
                  OrDash(JsonStr(user, "email")), OrDash(JsonStr(user, "language")),
                  AccountState(user, lang), TimeField(user, "created_at_ms")});
  }
  if (table.rows() == 0) {
    return Label("No accounts.", lang) + "\n";
  }
  return table.Render();
}

std::string RenderUser(const nlohmann::json& user, const OrgNames& orgs, Lang lang) {
  KeyValues kv(lang);
  kv.Add("ID", std::to_string(JsonI64(At(user, "id"))));
  kv.Add("Login", JsonStr(user, "login"));
  kv.Add("Display name", OrDash(JsonStr(user, "display_name")));
  kv.Add("Role", JsonStr(user, "role"));
  if (!At(user, "org_id").is_null()) {
    kv.Add("Organisation", UserOrg(user, orgs));
  }
  kv.Add("State", AccountState(user, lang));
  kv.Add("E-mail", OrDash(JsonStr(user, "email")));
  kv.Add("Telegram chat id", OrDash(JsonStr(user, "telegram_chat_id")));
  kv.Add("Language", OrDash(JsonStr(user, "language")));
  kv.Add("Time zone", OrDash(JsonStr(user, "time_zone")));
  // Absent from servers older than alert rules: not shown then.
  if (user.contains("quiet_hours")) {
    kv.Add("Quiet hours", OrDash(JsonStr(user, "quiet_hours")));
  }
  if (user.contains("monthly_report")) {
    kv.Add("Monthly report", YesNo(JsonBool(At(user, "monthly_report")), lang));
  }
  kv.Add("Password set", YesNo(JsonBool(At(user, "has_password")), lang));
  kv.Add("Password changed", TimeField(user, "password_changed_at_ms"));
  kv.Add("Created", TimeField(user, "created_at_ms"));
  std::string out = kv.Render();
  const auto& assignments = At(user, "assignments");
  if (!assignments.is_array()) {
    return out;  // a create or update reply: no assignments in it
  }
  out += Section("Assignments", lang);
  Table table({"ORG", "KIND", "SPECIALTY"}, lang);
  for (const auto& assignment : assignments) {
    table.AddRow({OrgName(orgs, At(assignment, "org_id")), Label(JsonStr(assignment, "kind"), lang),
                  OrDash(JsonStr(assignment, "specialty"))});
  }
  if (table.rows() == 0) {
    return out + "  " + Label("none", lang) + "\n";
  }
  return out + table.Render();
}

std::string RenderWhoami(const nlohmann::json& me, const std::string& server_url,
                         int64_t session_expires_ms, Lang lang) {
  KeyValues kv(lang);
  kv.Add("Login", JsonStr(me, "login"));
  kv.Add("Display name", OrDash(JsonStr(me, "display_name")));
  kv.Add("Role", JsonStr(me, "role"));
  std::string orgs;
  if (JsonBool(At(me, "all_organizations"))) {
    orgs = Label("all", lang);
  } else {
    for (const auto& org : Array(me, "organizations")) {
      orgs += (orgs.empty() ? "" : ", ") + JsonStr(org, "name");
    }
  }
  kv.Add("Organisations", OrDash(orgs));
  if (!JsonStr(me, "email").empty()) {
    kv.Add("E-mail", JsonStr(me, "email"));
  }
  if (!JsonStr(me, "language").empty()) {
    kv.Add("Language", JsonStr(me, "language"));
  }
  if (!JsonStr(me, "time_zone").empty()) {
    kv.Add("Time zone", JsonStr(me, "time_zone"));
  }
  if (!JsonStr(me, "quiet_hours").empty()) {
    kv.Add("Quiet hours", JsonStr(me, "quiet_hours"));
  }
  const bool session = JsonBool(At(me, "session"));
  std::string credential = Label(session ? "login session" : "API token", lang);
  if (!session && !JsonStr(me, "token_role").empty()) {
    credential += " (" + Label("token role", lang) + " " + JsonStr(me, "token_role") + ")";
  }
  kv.Add("Signed in with", credential);
  kv.Add("Server", server_url);
  if (session && session_expires_ms > 0) {
    kv.Add("Session expires", FormatLocalTime(session_expires_ms));
  }
  return kv.Render();
}

std::string RenderEngineers(const nlohmann::json& reply, Lang lang) {
  Table table({"LOGIN", "DISPLAY NAME", "KIND", "SPECIALTY", "E-MAIL", "STATE", "ASSIGNED"}, lang);
  for (const auto& engineer : Array(reply, "engineers")) {
    table.AddRow({JsonStr(engineer, "login"), OrDash(JsonStr(engineer, "display_name")),
                  Label(JsonStr(engineer, "kind"), lang), OrDash(JsonStr(engineer, "specialty")),
                  OrDash(JsonStr(engineer, "email")), AccountState(engineer, lang),
                  TimeField(engineer, "assigned_at_ms")});
  }
  if (table.rows() == 0) {
    return Label("No engineers assigned.", lang) + "\n";
  }
  return table.Render();
}

namespace {

// "2026-11-26 18:57  alice" over the note's text, indented.
std::string NoteVersion(const nlohmann::json& note, Lang lang) {
  KeyValues kv(lang);
  kv.Add("Version", std::to_string(JsonI64(At(note, "id"))));
  kv.Add("Updated", TimeField(note, "at_ms"));
  kv.Add("Author", OrDash(JsonStr(note, "author")));
  const std::string text = JsonStr(note, "text");
  return kv.Render() + "\n" + (text.empty() ? "  -\n" : Indented(text));
}

}  // namespace

std::string RenderNotes(const nlohmann::json& reply, bool history, Lang lang) {
  const auto& current = At(reply, "current");
  if (!current.is_object()) {
    return Label("No notes yet.", lang) + "\n";
  }
  std::string out = NoteVersion(current, lang);
  if (!history) {
    return out;
  }
  const auto& versions = Array(reply, "history");
  bool any_earlier = false;
  out += Section("History", lang);
  for (const auto& version : versions) {
    // The history starts with the current version, shown above.
    if (JsonI64(At(version, "id")) == JsonI64(At(current, "id"))) {
      continue;
    }
    any_earlier = true;
    out += "\n" + NoteVersion(version, lang);
  }
  if (!any_earlier) {
    out += "  " + Label("no earlier versions", lang) + "\n";
  }
  return out;
}

std::string RenderAuditLog(const nlohmann::json& reply, const OrgNames& orgs, Lang lang) {
  Table table(
      {"ID", "TIME", "ACTOR", "VIA", "ADDRESS", "ACTION", "OBJECT", "ORG", "STATUS", "DETAIL"},
      lang);
  table.AlignRight(0);
  table.AlignRight(8);
  for (const auto& entry : Array(reply, "entries")) {
    table.AddRow({std::to_string(JsonI64(At(entry, "id"))), TimeField(entry, "at_ms"),
                  OrDash(JsonStr(entry, "actor")), JsonStr(entry, "via"),
                  OrDash(JsonStr(entry, "source")), JsonStr(entry, "action"),
                  OrDash(JsonStr(entry, "object")), OrgName(orgs, At(entry, "org_id")),
                  std::to_string(JsonI64(At(entry, "status"))), OrDash(JsonStr(entry, "detail"))});
  }
  std::string out = table.rows() == 0 ? Label("No audit entries.", lang) + "\n" : table.Render();
  if (const auto& next = At(reply, "next_before"); !next.is_null()) {
    out += "\n" + Label("Next page", lang) + ": --before " + std::to_string(JsonI64(next)) + "\n";
  }
  return out;
}

// The kinds as people say them; the API's words stay in --json and --kind.
std::string SecurityEventKindLabel(std::string_view kind, Lang lang) {
  static const std::vector<std::pair<std::string_view, std::string_view>> kLabels = {
      {"enroll_refused", "enrollment refused"}, {"agent_auth_failed", "wrong agent secret"},
      {"api_auth_failed", "wrong API token"},   {"import_refused", "import refused"},
      {"throttled", "too many attempts"},
  };
  for (const auto& [word, label] : kLabels) {
    if (kind == word) return Label(label, lang);
  }
  return std::string(kind);
}

std::string RenderSecurityEvents(const nlohmann::json& reply, Lang lang) {
  Table table({"ID", "TIME", "KIND", "TIMES", "ADDRESS", "SUBJECT", "DETAIL"}, lang);
  table.AlignRight(0);
  table.AlignRight(3);
  for (const auto& event : Array(reply, "events")) {
    table.AddRow({std::to_string(JsonI64(At(event, "id"))), TimeField(event, "at_ms"),
                  SecurityEventKindLabel(JsonStr(event, "kind"), lang),
                  std::to_string(JsonI64(At(event, "count"))), OrDash(JsonStr(event, "source")),
                  OrDash(JsonStr(event, "subject")), OrDash(JsonStr(event, "detail"))});
  }
  std::string out = table.rows() == 0 ? Label("No security events.", lang) + "\n" : table.Render();
  if (const auto& next = At(reply, "next_before"); !next.is_null()) {
    out += "\n" + Label("Next page", lang) + ": --before " + std::to_string(JsonI64(next)) + "\n";
  }
  return out;
}

}  // namespace dozor::ctl
