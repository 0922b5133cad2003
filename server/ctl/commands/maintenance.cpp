// `maintenance`: an organisation's maintenance windows (list, add, remove). While one is on, the
// organisation's alerts (or only its host's) are recorded but sent to nobody. Staff only.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "ctl/cli.hpp"
#include "ctl/commands/commands.hpp"
#include "ctl/format.hpp"
#include "ctl/time_argument.hpp"

namespace dozor::ctl {
namespace {

struct MaintenanceOptions {
  std::string org;
  int64_t id = 0;
  std::optional<std::string> from;
  std::optional<std::string> to;
  std::optional<std::string> weekly;
  std::optional<std::string> start;
  std::optional<int> minutes;
  std::optional<std::string> host;
  std::optional<std::string> reason;
};
using MaintenanceState = std::shared_ptr<MaintenanceOptions>;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A time of --from / --to as the API takes it: "now"; "+30m", "+2h", "+1d" after `base_ms`; a
// local date and time ("2026-12-06 22:00") as Unix ms; anything else (an RFC 3339 time with its
// offset) is passed on for the server to read.
Result<nlohmann::json> WindowTime(const std::string& text, int64_t base_ms, int64_t now_ms) {
  if (text == "now") {
    return nlohmann::json(now_ms);
  }
  if (!text.empty() && text.front() == '+') {
    // ParseTimeArgument reads a span as that long before the base: turned around here.
    auto before = ParseTimeArgument(text.substr(1), base_ms);
    if (!before.ok() || text.size() < 3 || (text.back() >= '0' && text.back() <= '9')) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "cannot read '" + text + "': a span is +30m, +2h, +1d or +1w");
    }
    return nlohmann::json(base_ms + (base_ms - *before));
  }
  if (text.size() == 10 || text.size() == 16) {
    auto local = ParseTimeArgument(text, now_ms);
    if (local.ok()) {
      return nlohmann::json(*local);
    }
  }
  return nlohmann::json(text);
}

Result<nlohmann::json> WindowBody(Context& context, const MaintenanceOptions& options) {
  nlohmann::json body = nlohmann::json::object();
  if (options.from) {
    const int64_t now_ms = NowMs();
    DOZOR_ASSIGN_OR_RETURN(body["starts_at"], WindowTime(*options.from, now_ms, now_ms));
    // "+4h" after the start, when the start is a time dozorctl read.
    const int64_t start_ms =
        body["starts_at"].is_number_integer() ? body["starts_at"].get<int64_t>() : now_ms;
    DOZOR_ASSIGN_OR_RETURN(body["ends_at"], WindowTime(*options.to, start_ms, now_ms));
  } else {
    body["weekdays"] = *options.weekly;
    body["start"] = *options.start;
    body["duration_minutes"] = *options.minutes;
  }
  if (options.host) {
    DOZOR_ASSIGN_OR_RETURN(body["agent_id"], ResolveHost(context.client, *options.host));
  }
  PutIfSet(body, "reason", options.reason);
  return body;
}

void AddOrgArgument(CLI::App* command, const MaintenanceState& options) {
  command->add_option("ORG", options->org, "organisation id or name")->required();
}

void AddList(CLI::App* parent, const MaintenanceState& options, Action& action) {
  auto* list = parent->add_subcommand("list", "the organisation's windows and whether each is on");
  AddOrgArgument(list, options);
  list->callback([options, &action] {
    action = [options](Context& context) {
      return Emit(context, context.client.Get(OrgPath(options->org, "/maintenance")),
                  RenderMaintenanceList);
    };
  });
}

void AddAdd(CLI::App* parent, const MaintenanceState& options, Action& action) {
  auto* add = parent->add_subcommand(
      "add",
      "add a window: one-off (--from, --to) or weekly in the client's time zone (--weekly, "
      "--start, --minutes)");
  AddOrgArgument(add, options);
  add->add_option("--from", options->from,
                  "start: now, +2h, a local 2026-12-06 22:00, or RFC 3339 with its offset");
  add->add_option("--to", options->to,
                  "end: +4h (after --from), a local 2026-12-07 02:00, or RFC 3339");
  add->add_option("--weekly", options->weekly,
                  "weekdays of a weekly window: sat, sat-sun, mon-fri");
  add->add_option("--start", options->start, "a weekly window's start, e.g. 22:00");
  add->add_option("--minutes", options->minutes, "a weekly window's length in minutes")
      ->check(CLI::Range(1, 7 * 24 * 60));
  add->add_option("--host", options->host,
                  "only this host (agent id or hostname); default: the whole organisation");
  add->add_option("--reason", options->reason, "why, e.g. the client's backup night");
  add->callback([options, &action] {
    const bool one_off = options->from || options->to;
    const bool weekly = options->weekly || options->start || options->minutes;
    if (one_off == weekly) {
      throw CLI::ValidationError("maintenance add",
                                 "give --from and --to (one-off), or --weekly, --start and "
                                 "--minutes (weekly)");
    }
    if (one_off && !(options->from && options->to)) {
      throw CLI::ValidationError("maintenance add", "a one-off window needs --from and --to");
    }
    if (weekly && !(options->weekly && options->start && options->minutes)) {
      throw CLI::ValidationError("maintenance add",
                                 "a weekly window needs --weekly, --start and --minutes");
    }
    for (const auto* time : {&options->from, &options->to}) {
      if (*time) {
        if (auto read = WindowTime(**time, 0, 0); !read.ok()) {
          throw CLI::ValidationError("maintenance add", read.error().message);
        }
      }
    }
    action = [options](Context& context) {
      auto body = WindowBody(context, *options);
      if (!body.ok()) {
        return ReportError(context, body.error());
      }
      return Emit(context, context.client.Post(OrgPath(options->org, "/maintenance"), *body),
                  RenderMaintenanceWindow);
    };
  });
}

void AddRemove(CLI::App* parent, const MaintenanceState& options, Action& action) {
  auto* remove = parent->add_subcommand("remove", "delete a window");
  AddOrgArgument(remove, options);
  remove->add_option("ID", options->id, "window id (maintenance list)")
      ->required()
      ->check(CLI::PositiveNumber);
  remove->callback([options, &action] {
    action = [options](Context& context) {
      const std::string path = OrgPath(options->org, "/maintenance/" + std::to_string(options->id));
      return Emit(context, context.client.Delete(path), [&](const nlohmann::json&) {
        return Sentence("Removed maintenance window {}.", context.lang,
                        {std::to_string(options->id)}) +
               "\n";
      });
    };
  });
}

}  // namespace

void AddMaintenanceCommands(CLI::App& app, Action& action) {
  auto options = std::make_shared<MaintenanceOptions>();
  auto* command = app.add_subcommand(
      "maintenance", "maintenance windows: alerts recorded but sent to nobody while one is on");
  command->require_subcommand(1);
  AddList(command, options, action);
  AddAdd(command, options, action);
  AddRemove(command, options, action);
}

}  // namespace dozor::ctl
