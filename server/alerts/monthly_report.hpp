// The monthly report (docs/alerts.md "Monthly report"): on the 1st of each month, each
// organisation under an active contract gets its audit report as a PDF by e-mail, sent to its
// primary engineers and to the client's contacts who opted in (users.monthly_report). The
// messages go through the same durable outbox as alerts (retried, delivered once, visible), and
// the month is recorded with them in one transaction, so a restart neither skips nor repeats it.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_set>

#include "alerts/alert_message.hpp"
#include "dozor/common/clock.hpp"
#include "rules/rule.hpp"
#include "store/store.hpp"

namespace dozor::server::alerts {

struct MonthlyReportSettings {
  std::string mail_from;
  std::string dashboard_url;  // the organisation's page is linked; empty: no link
  // How often a pass looks (a pass after that is a no-op): the organisations are read once per
  // interval, not once per dispatcher pass.
  int64_t check_every_ms = 10 * 60'000;
};

// Reports built per pass at most: the pass runs on the thread that also plans alerts.
inline constexpr int kReportsPerPass = 5;

// "2026-11": the calendar month (UTC) before the one now_ms falls in.
std::string PreviousMonth(int64_t now_ms);
// 00:00 UTC on the 1st of the month now_ms falls in. Organisations created since have no
// previous month to report on.
int64_t MonthStartMs(int64_t now_ms);

class MonthlyReporter {
 public:
  MonthlyReporter(Store& store, const rules::RulePack* rules, MonthlyReportSettings settings,
                  const Clock& clock);

  // Sends last month's reports not sent yet; the number of organisations sent to. `force`
  // ignores check_every_ms (tests, "send now").
  Result<int> Pass(bool force = false);

 private:
  Result<bool> SendOne(const Organization& org, const std::string& month,
                       const std::vector<Assignment>& assignments, const std::vector<User>& users,
                       int64_t now_ms);

  Store& store_;
  const rules::RulePack* rules_;
  MonthlyReportSettings settings_;
  const Clock& clock_;
  int64_t last_check_ms_ = 0;
  std::unordered_set<int64_t> failed_this_round_;
};

}  // namespace dozor::server::alerts
