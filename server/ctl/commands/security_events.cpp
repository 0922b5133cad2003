// `security-events`: what anonymous callers and agents were refused (admins): enrollments, agent
// secrets, API tokens, imports, throttled addresses. A burst from one caller is one row with its
// count. Newest recorded first, one page at a time; the next page's --before is printed.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ctl/cli.hpp"
#include "ctl/commands/commands.hpp"
#include "ctl/format.hpp"
#include "ctl/time_argument.hpp"
#include "dozor/common/clock.hpp"

namespace dozor::ctl {
namespace {

struct SecurityEventOptions {
  std::vector<std::string> kinds;
  std::string since;
  std::string until;
  int limit = 100;
  std::optional<int64_t> before;
};

int RunSecurityEvents(Context& context, const SecurityEventOptions& options) {
  auto range = ParseTimeRange(options.since, options.until, SystemClock().NowMs());
  if (!range.ok()) {
    context.err << "dozorctl: " << range.error().message << "\n";
    return kExitUsage;
  }
  std::string kinds;
  for (const auto& kind : options.kinds) {
    kinds += (kinds.empty() ? "" : ",") + kind;
  }
  const std::string query =
      QueryString({{"kind", kinds},
                   {"since_ms", range->since_ms},
                   {"until_ms", range->until_ms},
                   {"before", options.before ? std::to_string(*options.before) : ""},
                   {"limit", std::to_string(options.limit)}});
  return Emit(context, context.client.Get("/api/v1/security-events" + query), RenderSecurityEvents);
}

}  // namespace

void AddSecurityEventsCommand(CLI::App& app, Action& action) {
  auto options = std::make_shared<SecurityEventOptions>();
  auto* command = app.add_subcommand(
      "security-events", "refused enrollments, agent secrets, API tokens and imports (admin)");
  command
      ->add_option("--kind", options->kinds,
                   "only these kinds: enroll_refused, agent_auth_failed, api_auth_failed, "
                   "import_refused, throttled (repeat or separate with commas)")
      ->delimiter(',')
      ->check(CLI::IsMember({"enroll_refused", "agent_auth_failed", "api_auth_failed",
                             "import_refused", "throttled"}));
  command->add_option("--since", options->since,
                      "from this time: 2h, 7d (ago), 2026-11-26 or \"2026-11-26 18:30\" (local)");
  command->add_option("--until", options->until, "up to this time, same forms as --since");
  command->add_option("--limit", options->limit, "events per page")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  command
      ->add_option("--before", options->before,
                   "the page after this event id (printed below each full page)")
      ->check(CLI::PositiveNumber);
  command->callback([options, &action] {
    action = [options](Context& context) { return RunSecurityEvents(context, *options); };
  });
}

}  // namespace dozor::ctl
