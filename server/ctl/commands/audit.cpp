// `audit`: the server's audit log (admins): who changed what, when, from where and how (API,
// CLI, dashboard). Newest first, one page at a time; the next page's --before is printed.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "ctl/cli.hpp"
#include "ctl/commands/commands.hpp"
#include "ctl/format.hpp"
#include "ctl/time_argument.hpp"
#include "dozor/common/clock.hpp"

namespace dozor::ctl {
namespace {

struct AuditOptions {
  std::string actor;
  std::string action;
  std::string org;
  std::string since;
  std::string until;
  int limit = 100;
  std::optional<int64_t> before;
};

int RunAudit(Context& context, const AuditOptions& audit) {
  auto range = ParseTimeRange(audit.since, audit.until, SystemClock().NowMs());
  if (!range.ok()) {
    context.err << "dozorctl: " << range.error().message << "\n";
    return kExitUsage;
  }
  const std::string query =
      QueryString({{"actor", audit.actor},
                   {"action", audit.action},
                   {"org", audit.org},
                   {"since_ms", range->since_ms},
                   {"until_ms", range->until_ms},
                   {"before", audit.before ? std::to_string(*audit.before) : ""},
                   {"limit", std::to_string(audit.limit)}});
  return EmitWithOrgNames(context, context.client.Get("/api/v1/audit-log" + query), RenderAuditLog);
}

}  // namespace

void AddAuditCommand(CLI::App& app, Action& action) {
  auto audit = std::make_shared<AuditOptions>();
  auto* command = app.add_subcommand("audit", "the audit log, newest first (admin)");
  command->add_option("--actor", audit->actor, "only this account or token name");
  command->add_option("--action", audit->action,
                      "only actions starting with this, e.g. \"PUT /api/v1/orgs\"");
  command->add_option("--org", audit->org, "only this organisation (id or name)");
  command->add_option("--since", audit->since,
                      "from this time: 2h, 7d (ago), 2026-11-26 or \"2026-11-26 18:30\" (local)");
  command->add_option("--until", audit->until, "up to this time, same forms as --since");
  command->add_option("--limit", audit->limit, "entries per page")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  command
      ->add_option("--before", audit->before,
                   "the page after this entry id (printed below "
                   "each full page)")
      ->check(CLI::PositiveNumber);
  command->callback([audit, &action] {
    action = [audit](Context& context) { return RunAudit(context, *audit); };
  });
}

}  // namespace dozor::ctl
