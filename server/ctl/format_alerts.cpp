// dozorctl output for alerts (alerts list|show|channels).
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
  Table table({"ID", "STAGE", "CHANNEL", "RECIPIENT", "ADDRESS", "STATE", "ATTEMPTS", "ERROR"},
              lang);
  table.AlignRight(0);
  table.AlignRight(6);
  for (const auto& delivery : Array(alert, "deliveries")) {
    table.AddRow({std::to_string(JsonI64(At(delivery, "id"))),
                  std::to_string(JsonI64(At(delivery, "stage"))), JsonStr(delivery, "channel"),
                  OrDash(JsonStr(delivery, "recipient")), JsonStr(delivery, "address"),
                  JsonStr(delivery, "state"), std::to_string(JsonI64(At(delivery, "attempts"))),
                  OrDash(JsonStr(delivery, "last_error"))});
  }
  out += "\n" + (table.rows() == 0 ? Label("Nobody to tell.", lang) + "\n" : table.Render());
  return out;
}

std::string RenderAlertChannels(const nlohmann::json& reply, Lang lang) {
  Table table({"CHANNEL", "PENDING", "FAILED", "SENT", "OLDEST PENDING", "LAST ERROR"}, lang);
  for (int column = 1; column <= 3; ++column) table.AlignRight(column);
  for (const auto& channel : Array(reply, "channels")) {
    table.AddRow({JsonStr(channel, "channel"), std::to_string(JsonI64(At(channel, "pending"))),
                  std::to_string(JsonI64(At(channel, "failed"))),
                  std::to_string(JsonI64(At(channel, "sent"))),
                  TimeField(channel, "oldest_pending_at_ms"),
                  OrDash(JsonStr(channel, "last_error"))});
  }
  return table.Render();
}

}  // namespace dozor::ctl
