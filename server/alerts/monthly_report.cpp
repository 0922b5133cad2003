#include "alerts/monthly_report.hpp"

#include <spdlog/spdlog.h>

#include <ctime>
#include <map>

#include "dozor/common/utc_time.hpp"
#include "report/renderers.hpp"
#include "report/report_builder.hpp"

namespace dozor::server::alerts {

namespace {

bool IsPrimaryOf(const Assignment& assignment, int64_t org_id) {
  return assignment.org_id == org_id && assignment.kind == AssignmentKind::kPrimary &&
         assignment.enabled;
}

}  // namespace

int64_t MonthStartMs(int64_t now_ms) {
  const UtcDateTime now = UtcFromMs(now_ms);
  return MsFromUtc(now.year, now.month, 1);
}

std::string PreviousMonth(int64_t now_ms) {
  // The last millisecond before this month began is in the previous month.
  return FormatUtc(MonthStartMs(now_ms) - 1, UtcStyle::kMonth);
}

MonthlyReporter::MonthlyReporter(Store& store, const rules::RulePack* rules,
                                 MonthlyReportSettings settings, const Clock& clock)
    : store_(store), rules_(rules), settings_(std::move(settings)), clock_(clock) {
  while (!settings_.dashboard_url.empty() && settings_.dashboard_url.back() == '/') {
    settings_.dashboard_url.pop_back();
  }
}

Result<int> MonthlyReporter::Pass(bool force) {
  const int64_t now_ms = clock_.NowMs();
  if (!force && last_check_ms_ != 0 && now_ms - last_check_ms_ < settings_.check_every_ms) {
    return 0;
  }
  if (rules_ == nullptr) return 0;
  const std::string month = PreviousMonth(now_ms);
  DOZOR_ASSIGN_OR_RETURN(auto orgs, store_.Organizations().ListOrganizations());
  std::optional<std::vector<Assignment>> assignments;
  std::optional<std::vector<User>> users;
  int sent = 0;
  int built = 0;
  const int64_t month_start = MonthStartMs(now_ms);
  for (const auto& org : orgs) {
    // A client that did not exist last month has no month to report on.
    if (org.contract_status != ContractPhase::kActive || org.created_at_ms >= month_start) {
      continue;
    }
    DOZOR_ASSIGN_OR_RETURN(auto done, store_.Alerts().GetMonthlyReport(org.id, month));
    if (done || failed_this_round_.count(org.id) > 0) continue;
    if (built >= kReportsPerPass) {
      // PDFs take time and this thread also plans alerts: the rest on the next pass, seconds
      // later.
      return sent;
    }
    ++built;
    if (!assignments) {
      DOZOR_ASSIGN_OR_RETURN(auto all, store_.Users().ListAssignments(std::nullopt));
      assignments = std::move(all);
      DOZOR_ASSIGN_OR_RETURN(auto people, store_.Users().ListUsers());
      users = std::move(people);
    }
    // One organisation's failure (a report that cannot be built) does not stop the others.
    auto one = SendOne(org, month, *assignments, *users, now_ms);
    if (!one.ok()) {
      spdlog::warn("monthly report {} of {} not sent: {}", month, org.name, one.error().message);
      failed_this_round_.insert(org.id);  // tried again after check_every_ms
      continue;
    }
    if (*one) ++sent;
  }
  // Every organisation looked at: the next look (and another try of the failed) later.
  last_check_ms_ = now_ms;
  failed_this_round_.clear();
  return sent;
}

Result<bool> MonthlyReporter::SendOne(const Organization& org, const std::string& month,
                                      const std::vector<Assignment>& assignments,
                                      const std::vector<User>& users, int64_t now_ms) {
  std::vector<const User*> recipients;
  for (const auto& user : users) {
    if (!user.enabled || user.email.empty()) continue;
    const bool engineer = std::any_of(assignments.begin(), assignments.end(), [&](const auto& a) {
      return a.user_id == user.id && IsPrimaryOf(a, org.id);
    });
    const bool contact =
        user.role == UserRole::kClient && user.org_id == org.id && user.monthly_report;
    if (engineer || contact) recipients.push_back(&user);
  }
  // Nobody to send to: not recorded, so someone who opts in later this month still gets it.
  if (recipients.empty()) return false;
  NewAlert alert;
  alert.kind = std::string(ToString(AlertKind::kMonthlyReport));
  alert.org_id = org.id;
  alert.summary = "monthly_report " + month + " (" + org.name +
                  "): " + std::to_string(recipients.size()) + " recipients";
  std::map<std::string, Attachment> pdf_by_language;
  for (const User* person : recipients) {
    const std::string language = person->language == "ru" ? "ru" : "en";
    auto pdf = pdf_by_language.find(language);
    if (pdf == pdf_by_language.end()) {
      DOZOR_ASSIGN_OR_RETURN(auto model,
                             report::BuildAuditReport(store_, *rules_, org.id, now_ms, language));
      DOZOR_ASSIGN_OR_RETURN(auto bytes, report::RenderPdf(model));
      Attachment attachment;
      attachment.filename = "dozor-" + month + "-org" + std::to_string(org.id) + ".pdf";
      attachment.content_type = "application/pdf";
      attachment.bytes = std::move(bytes);
      pdf = pdf_by_language.emplace(language, std::move(attachment)).first;
    }
    AlertFacts words;
    words.kind = AlertKind::kMonthlyReport;
    words.org_name = org.name;
    words.at_ms = now_ms;
    words.time_zone = person->time_zone;
    words.detail = language == "ru"
                       ? "Отчёт за " + month +
                             " во вложении (PDF): что найдено, что исправлено, что ещё открыто, и "
                             "динамика готовности."
                       : "The report for " + month +
                             " is attached (PDF): what was found, what was fixed, what is still "
                             "open, and the readiness trend.";
    if (!settings_.dashboard_url.empty()) {
      words.link = settings_.dashboard_url + "/orgs/" + std::to_string(org.id);
    }
    const RenderedAlert message = RenderAlert(words, language);
    NewDelivery d;
    d.user_id = person->id;
    d.channel = AlertChannel::kEmail;
    d.address = person->email;
    d.language = language;
    d.idempotency_key =
        "monthly-" + month + "-o" + std::to_string(org.id) + "-u" + std::to_string(person->id);
    d.payload = EmailMessage(message, settings_.mail_from, person->email, d.idempotency_key, now_ms,
                             &pdf->second);
    alert.deliveries.push_back(std::move(d));
  }
  MonthlyReportRecord record;
  record.org_id = org.id;
  record.month = month;
  record.sent_at_ms = now_ms;
  record.recipients = static_cast<int>(alert.deliveries.size());
  DOZOR_ASSIGN_OR_RETURN(const bool recorded, store_.Alerts().RecordNotice(alert, &record, now_ms));
  if (recorded) {
    spdlog::info("monthly report {} of {} queued for {} recipient(s)", month, org.name,
                 alert.deliveries.size());
  }
  return recorded;
}

}  // namespace dozor::server::alerts
