// `alerts`: what alerting told whom and whether it arrived (list, show), acknowledging an alert so
// that it does not escalate (ack), and each channel's outbox (channels). Staff only.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "ctl/commands/commands.hpp"
#include "ctl/format.hpp"

namespace dozor::ctl {
namespace {

struct AlertsOptions {
  std::string org;
  bool unacknowledged = false;
  int limit = 50;
  std::optional<int64_t> before;
  int64_t id = 0;
};
using AlertsState = std::shared_ptr<AlertsOptions>;

std::string AlertPath(int64_t id, std::string_view suffix = "") {
  return "/api/v1/alerts/" + std::to_string(id) + std::string(suffix);
}

}  // namespace

void AddAlertsCommands(CLI::App& app, Action& action) {
  auto alerts = std::make_shared<AlertsOptions>();
  auto* command = app.add_subcommand("alerts", "alerts sent to engineers and their delivery");
  command->require_subcommand(1);

  auto* list = command->add_subcommand("list", "alerts, newest first");
  list->add_option("--org", alerts->org, "only this organisation (id or name)");
  list->add_flag("--unacknowledged", alerts->unacknowledged, "only those nobody acknowledged");
  list->add_option("--limit", alerts->limit, "alerts per page")
      ->check(CLI::Range(1, 200))
      ->capture_default_str();
  list->add_option("--before", alerts->before, "the page after this alert id (printed below)")
      ->check(CLI::PositiveNumber);
  list->callback([alerts, &action] {
    action = [alerts](Context& context) {
      const std::string query =
          QueryString({{"org", alerts->org},
                       {"unacknowledged", alerts->unacknowledged ? "true" : ""},
                       {"before", alerts->before ? std::to_string(*alerts->before) : ""},
                       {"limit", std::to_string(alerts->limit)}});
      return Emit(context, context.client.Get("/api/v1/alerts" + query), RenderAlertList);
    };
  });

  auto* show = command->add_subcommand("show", "one alert with each message and its delivery");
  show->add_option("ID", alerts->id, "alert id")->required()->check(CLI::PositiveNumber);
  show->callback([alerts, &action] {
    action = [alerts](Context& context) {
      return Emit(context, context.client.Get(AlertPath(alerts->id)), RenderAlert);
    };
  });

  auto* ack = command->add_subcommand("ack", "acknowledge: someone is on it, stop escalating");
  ack->add_option("ID", alerts->id, "alert id")->required()->check(CLI::PositiveNumber);
  ack->callback([alerts, &action] {
    action = [alerts](Context& context) {
      return Emit(context,
                  context.client.Post(AlertPath(alerts->id, "/ack"), nlohmann::json::object()),
                  RenderAlert);
    };
  });

  auto* channels = command->add_subcommand("channels", "each channel's outbox and last error");
  channels->callback([&action] {
    action = [](Context& context) {
      return Emit(context, context.client.Get("/api/v1/alert-channels"), RenderAlertChannels);
    };
  });
}

}  // namespace dozor::ctl
