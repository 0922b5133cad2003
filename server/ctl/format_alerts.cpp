// dozorctl output for alerts (alerts list|show|channels|settings) and maintenance windows.
#include <string>

#include "ctl/format.hpp"
#include "ctl/format_internal.hpp"

namespace dozor::ctl {

namespace {

// "2/3" messages delivered of all the alert's messages.
std::string Delivered(const nlohmann::json& alert) {
  int sent = 0;
  int all = 0;
  for (const auto& delivery : Array(alert, "deliveries")) {
    ++all;
    if (JsonStr(delivery, "state") == "sent") ++sent;
  }
  return std::to_string(sent) + "/" + std::to_string(all);
}

std::string Host(const nlohmann::json& alert) {
  const std::string hostname = JsonStr(alert, "hostname");
  return OrDash(hostname.empty() ? JsonStr(alert, "agent_id") : hostname);
}

// A message's state; a pending one held back says why and until when ("pending, held
// (quiet_hours) until 2026-12-04 07:00").
std::string DeliveryState(const nlohmann::json& delivery, Lang lang) {
  std::string state = JsonStr(delivery, "state");
  const std::string held = JsonStr(delivery, "held");
  if (JsonStr(delivery, "state") == "pending" && !held.empty()) {
    state += ", " + Label("held", lang) + " (" + Label(held, lang) + ")";
    if (JsonI64(At(delivery, "held_until_ms")) > 0) {
      state += " " + Label("until", lang) + " " + TimeField(delivery, "held_until_ms");
    }
  }
  return state;
}

}  // namespace

std::string RenderAlertList(const nlohmann::json& reply, Lang lang) {
  Table table({"ID", "TIME", "KIND", "ORG", "HOST", "SEVERITY", "STAGE", "DELIVERED", "ACKED BY"},
              lang);
  table.AlignRight(0);
  table.AlignRight(6);
  for (const auto& alert : Array(reply, "alerts")) {
    table.AddRow({std::to_string(JsonI64(At(alert, "id"))), TimeField(alert, "created_at_ms"),
                  JsonStr(alert, "kind"), JsonStr(alert, "org"), Host(alert),
                  OrDash(JsonStr(alert, "severity")), std::to_string(JsonI64(At(alert, "stage"))),
                  Delivered(alert), OrDash(JsonStr(alert, "acked_by"))});
  }
  std::string out = table.rows() == 0 ? Label("No alerts.", lang) + "\n" : table.Render();
  if (const auto& next = At(reply, "next_before"); !next.is_null()) {
    out += "\n" + Label("Next page", lang) + ": --before " + std::to_string(JsonI64(next)) + "\n";
  }
  return out;
}

std::string RenderAlert(const nlohmann::json& alert, Lang lang) {
  std::string out = Label("Alert", lang) + " " + std::to_string(JsonI64(At(alert, "id"))) + ": " +
                    JsonStr(alert, "summary") + "\n";
  out += "  " + Label("Created", lang) + ": " + TimeField(alert, "created_at_ms") + "\n";
  out += "  " + Label("Stage", lang) + ": " + std::to_string(JsonI64(At(alert, "stage")));
  if (!At(alert, "escalate_at_ms").is_null()) {
    out += " (" + Label("escalates", lang) + " " + TimeField(alert, "escalate_at_ms") + ")";
  }
  out += "\n";
  if (!At(alert, "acked_at_ms").is_null()) {
    out += "  " + Label("Acknowledged", lang) + ": " + TimeField(alert, "acked_at_ms") + ", " +
           JsonStr(alert, "acked_by") + "\n";
  }
  if (const std::string suppressed = JsonStr(alert, "suppressed"); !suppressed.empty()) {
    out += "  " + Label("Suppressed", lang) + ": " + Label(suppressed, lang) + " (" +
           Label("recorded, sent to nobody", lang) + ")\n";
  }
  Table table({"ID", "STAGE", "CHANNEL", "RECIPIENT", "ADDRESS", "STATE", "ATTEMPTS", "ERROR"},
              lang);
  table.AlignRight(0);
  table.AlignRight(6);
  for (const auto& delivery : Array(alert, "deliveries")) {
    table.AddRow({std::to_string(JsonI64(At(delivery, "id"))),
                  std::to_string(JsonI64(At(delivery, "stage"))), JsonStr(delivery, "channel"),
                  OrDash(JsonStr(delivery, "recipient")), JsonStr(delivery, "address"),
                  DeliveryState(delivery, lang), std::to_string(JsonI64(At(delivery, "attempts"))),
                  OrDash(JsonStr(delivery, "last_error"))});
  }
  if (table.rows() == 0) {
    // A suppressed alert has no messages by design; "nobody to tell" would mislead.
    return JsonStr(alert, "suppressed").empty() ? out + "\n" + Label("Nobody to tell.", lang) + "\n"
                                                : out;
  }
  return out + "\n" + table.Render();
}

std::string RenderAlertChannels(const nlohmann::json& reply, Lang lang) {
  Table table({"CHANNEL", "PENDING", "FAILED", "SENT", "CANCELLED", "OLDEST PENDING", "LAST ERROR"},
              lang);
  for (int column = 1; column <= 4; ++column) table.AlignRight(column);
  for (const auto& channel : Array(reply, "channels")) {
    table.AddRow({JsonStr(channel, "channel"), std::to_string(JsonI64(At(channel, "pending"))),
                  std::to_string(JsonI64(At(channel, "failed"))),
                  std::to_string(JsonI64(At(channel, "sent"))),
                  std::to_string(JsonI64(At(channel, "cancelled"))),
                  TimeField(channel, "oldest_pending_at_ms"),
                  OrDash(JsonStr(channel, "last_error"))});
  }
  return table.Render();
}

std::string RenderAlertSettings(const nlohmann::json& settings, Lang lang) {
  KeyValues kv(lang);
  kv.Add("Organisation", std::to_string(JsonI64(At(settings, "org_id"))));
  kv.Add("Time zone", JsonStr(settings, "time_zone"));
  kv.Add("Working days", JsonStr(settings, "working_days"));
  kv.Add("Working hours", JsonStr(settings, "working_hours"));
  kv.Add("After hours", Label(JsonStr(settings, "after_hours") == "all"      ? "everything is sent"
                              : JsonStr(settings, "after_hours") == "urgent" ? "only urgent alerts"
                                                                             : "nothing; it waits",
                              lang) +
                            " (" + JsonStr(settings, "after_hours") + ")");
  const std::string min_severity = JsonStr(settings, "min_severity");
  kv.Add("Min severity", min_severity.empty() ? Label("the server's default", lang) : min_severity);
  const int64_t grace = JsonI64(At(settings, "server_grace_minutes"));
  kv.Add("Server grace",
         grace == 0 ? Label("none", lang) : std::to_string(grace) + " " + Label("min", lang));
  kv.Add("Updated", At(settings, "updated_at_ms").is_null()
                        ? Label("never (defaults)", lang)
                        : TimeField(settings, "updated_at_ms") + ", " +
                              OrDash(JsonStr(settings, "updated_by")));
  std::string out = kv.Render() + Section("Rule overrides", lang);
  Table table({"RULE", "PAGES FROM"}, lang);
  for (const auto& rule : Array(settings, "rule_overrides")) {
    table.AddRow({JsonStr(rule, "rule_id"), Label(JsonStr(rule, "min_severity"), lang)});
  }
  return out + (table.rows() == 0 ? "  " + Label("none", lang) + "\n" : table.Render());
}

namespace {

// When a window is on: "2026-12-06 22:00 - 2026-12-07 02:00" or "sat-sun 22:00, 240 min".
std::string WindowWhen(const nlohmann::json& window, Lang lang) {
  if (JsonStr(window, "kind") == "one-off") {
    return TimeField(window, "starts_at_ms") + " - " + TimeField(window, "ends_at_ms");
  }
  return JsonStr(window, "weekdays") + " " + JsonStr(window, "start") + ", " +
         std::to_string(JsonI64(At(window, "duration_minutes"))) + " " + Label("min", lang);
}

std::string WindowHost(const nlohmann::json& window, Lang lang) {
  if (At(window, "agent_id").is_null()) return Label("whole organisation", lang);
  const std::string hostname = JsonStr(window, "hostname");
  return hostname.empty() ? JsonStr(window, "agent_id") : hostname;
}

std::string WindowActive(const nlohmann::json& window, Lang lang) {
  if (!JsonBool(At(window, "active_now"))) return Label("no", lang);
  if (At(window, "active_until_ms").is_null()) return Label("yes", lang);
  return Label("yes", lang) + ", " + Label("until", lang) + " " +
         TimeField(window, "active_until_ms");
}

}  // namespace

std::string RenderMaintenanceList(const nlohmann::json& reply, Lang lang) {
  Table table({"ID", "KIND", "HOST", "WHEN", "ACTIVE", "REASON", "BY"}, lang);
  table.AlignRight(0);
  for (const auto& window : Array(reply, "windows")) {
    table.AddRow({std::to_string(JsonI64(At(window, "id"))), Label(JsonStr(window, "kind"), lang),
                  WindowHost(window, lang), WindowWhen(window, lang), WindowActive(window, lang),
                  OrDash(JsonStr(window, "reason")), OrDash(JsonStr(window, "created_by"))});
  }
  if (table.rows() == 0) {
    return Label("No maintenance windows.", lang) + "\n";
  }
  std::string out = table.Render();
  if (!JsonStr(reply, "time_zone").empty()) {
    out += "\n" +
           Sentence("Weekly windows are in the organisation's time zone, {}.", lang,
                    {JsonStr(reply, "time_zone")}) +
           "\n";
  }
  return out;
}

std::string RenderMaintenanceWindow(const nlohmann::json& window, Lang lang) {
  KeyValues kv(lang);
  kv.Add("Maintenance window", std::to_string(JsonI64(At(window, "id"))));
  kv.Add("Kind", Label(JsonStr(window, "kind"), lang));
  kv.Add("Host", WindowHost(window, lang));
  kv.Add("When", WindowWhen(window, lang));
  kv.Add("Active now", WindowActive(window, lang));
  kv.Add("Reason", OrDash(JsonStr(window, "reason")));
  kv.Add("Created",
         TimeField(window, "created_at_ms") + ", " + OrDash(JsonStr(window, "created_by")));
  return kv.Render();
}

}  // namespace dozor::ctl
