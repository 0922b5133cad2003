// `alerts`: what alerting told whom and whether it arrived (list, show), acknowledging an alert so
// that it does not escalate (ack), each channel's outbox (channels), and an organisation's alert
// rules (settings). Staff only.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ctl/cli.hpp"
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

// `alerts settings ORG [--...]`: shown without options, changed with them.
struct SettingsOptions {
  std::string org;
  std::optional<std::string> time_zone;
  std::optional<std::string> working_days;
  std::optional<std::string> working_hours;
  std::optional<std::string> after_hours;
  std::optional<std::string> min_severity;
  std::optional<int> server_grace;
  std::vector<std::string> rules;  // RULE=SEVERITY | RULE=never | RULE=default
  bool clear_rules = false;

  [[nodiscard]] bool Changes() const {
    return time_zone || working_days || working_hours || after_hours || min_severity ||
           server_grace || !rules.empty() || clear_rules;
  }
};

constexpr const char* kSeverityChoices = "critical | high | medium | low | info";

// "os-eol=high" -> ("os-eol", "high"); the value is checked by the server.
Result<std::pair<std::string, std::string>> SplitRule(const std::string& text) {
  const size_t equals = text.find('=');
  if (equals == std::string::npos || equals == 0 || equals + 1 == text.size()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--rule takes RULE=SEVERITY, RULE=never or RULE=default; got '" + text + "'");
  }
  return std::make_pair(text.substr(0, equals), text.substr(equals + 1));
}

// The overrides after --clear-rules and each --rule, starting from the stored ones.
Result<nlohmann::json> MergedOverrides(const SettingsOptions& options,
                                       const nlohmann::json& current) {
  nlohmann::json overrides = nlohmann::json::array();
  if (!options.clear_rules && current.contains("rule_overrides") &&
      current["rule_overrides"].is_array()) {
    overrides = current["rule_overrides"];
  }
  for (const auto& text : options.rules) {
    DOZOR_ASSIGN_OR_RETURN(auto rule, SplitRule(text));
    nlohmann::json kept = nlohmann::json::array();
    for (const auto& item : overrides) {
      if (JsonStr(item, "rule_id") != rule.first) kept.push_back(item);
    }
    if (rule.second != "default") {
      kept.push_back({{"rule_id", rule.first}, {"min_severity", rule.second}});
    }
    overrides = std::move(kept);
  }
  return overrides;
}

int RunSettings(Context& context, const SettingsOptions& options) {
  const std::string path = OrgPath(options.org, "/alert-settings");
  if (!options.Changes()) {
    return Emit(context, context.client.Get(path), RenderAlertSettings);
  }
  nlohmann::json body = nlohmann::json::object();
  PutIfSet(body, "time_zone", options.time_zone);
  PutIfSet(body, "working_days", options.working_days);
  PutIfSet(body, "working_hours", options.working_hours);
  PutIfSet(body, "after_hours", options.after_hours);
  PutIfSet(body, "server_grace_minutes", options.server_grace);
  if (options.min_severity) {
    // "default": back to the server's [alerts] min_severity.
    body["min_severity"] = *options.min_severity == "default"
                               ? nlohmann::json(nullptr)
                               : nlohmann::json(*options.min_severity);
  }
  if (options.clear_rules || !options.rules.empty()) {
    nlohmann::json current = nlohmann::json::object();
    if (!options.clear_rules) {
      auto stored = context.client.Get(path);
      if (!stored.ok()) {
        return ReportError(context, stored.error());
      }
      current = std::move(stored).value();
    }
    auto overrides = MergedOverrides(options, current);
    if (!overrides.ok()) {
      context.err << "dozorctl: " << overrides.error().message << "\n";
      return kExitUsage;
    }
    body["rule_overrides"] = std::move(overrides).value();
  }
  return Emit(context, context.client.Put(path, body), RenderAlertSettings);
}

void AddSettings(CLI::App* command, Action& action) {
  auto options = std::make_shared<SettingsOptions>();
  auto* settings = command->add_subcommand(
      "settings",
      "an organisation's alert rules: working hours, what pages after hours, thresholds; shown "
      "without options, changed with them");
  settings->add_option("ORG", options->org, "organisation id or name")->required();
  settings->add_option("--time-zone", options->time_zone,
                       "the client's IANA time zone, e.g. Europe/Moscow");
  settings->add_option("--working-days", options->working_days,
                       "weekdays of the working hours: mon-fri, mon,wed,fri, all, none");
  settings->add_option("--working-hours", options->working_hours,
                       "working hours in the client's time zone, e.g. 09:00-18:00");
  settings
      ->add_option("--after-hours", options->after_hours,
                   "what pages outside working hours: all | urgent | none (the rest waits "
                   "for the morning)")
      ->check(CLI::IsMember({"all", "urgent", "none"}));
  settings
      ->add_option("--min-severity", options->min_severity,
                   std::string("page from this severity on: ") + kSeverityChoices +
                       " | default (the server's setting)")
      ->check(CLI::IsMember({"critical", "high", "medium", "low", "info", "default"}));
  settings
      ->add_option("--server-grace", options->server_grace,
                   "minutes a silent server may stay offline before anyone is paged (0-1440)")
      ->check(CLI::Range(0, 1440));
  settings->add_option("--rule", options->rules,
                       "RULE=SEVERITY (page from it on), RULE=never, RULE=default (drop the "
                       "override); repeatable, other overrides are kept");
  settings->add_flag("--clear-rules", options->clear_rules,
                     "drop every rule override (before applying any --rule)");
  settings->callback([options, &action] {
    for (const auto& rule : options->rules) {
      if (auto split = SplitRule(rule); !split.ok()) {
        throw CLI::ValidationError("--rule", split.error().message);
      }
    }
    action = [options](Context& context) { return RunSettings(context, *options); };
  });
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

  AddSettings(command, action);
}

}  // namespace dozor::ctl
