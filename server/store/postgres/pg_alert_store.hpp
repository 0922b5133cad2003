// The PostgreSQL backend's alerts area (store/alert_store.hpp): the dispatcher's cursor, the
// alerts and the outbox of their messages, maintenance windows, per-organisation alert rules
// and monthly report records.
//
// Several replicas run the dispatcher's escalation pass and the delivery workers against one
// database. DueEscalations and DueDeliveries therefore claim what they hand out: in one
// transaction they lock the due rows with FOR UPDATE SKIP LOCKED (a row another replica is
// claiming right now is skipped, not waited for) and set their claimed_until to now +
// kAlertClaimMs; a claimed row is not due for anybody else until EscalateAlert / MarkDelivered /
// MarkAllDelivered / MarkAttemptFailed / HoldDelivery settles it (they reset the claim) or the
// claim runs out (a replica that died mid-pass). A claimed message also keeps every newer
// message to the same address back, as the oldest pending one does on SQLite.
#pragma once

#include "store/alert_store.hpp"
#include "store/postgres/pg_context.hpp"

namespace dozor::server {

class PgAlertStore final : public AlertStore {
 public:
  explicit PgAlertStore(PgContext& context) : context_(context) {}

  Result<std::optional<int64_t>> AlertCursor() override;
  Status RecordAlerts(const std::vector<NewAlert>& alerts, const std::vector<AlertAck>& acks,
                      int64_t cursor, int64_t now_ms) override;
  Result<std::vector<Alert>> DueEscalations(int64_t now_ms, int limit) override;
  Result<bool> EscalateAlert(int64_t alert_id, int stage,
                             std::optional<int64_t> next_escalate_at_ms,
                             const std::vector<NewDelivery>& deliveries, int64_t now_ms) override;
  Result<std::vector<Delivery>> DueDeliveries(AlertChannel channel, int64_t now_ms,
                                              int limit) override;
  Status MarkDelivered(int64_t delivery_id, int64_t now_ms) override;
  Status MarkAllDelivered(const std::vector<int64_t>& delivery_ids, int64_t now_ms) override;
  Result<std::vector<Delivery>> GroupCompanions(const Delivery& leader, int64_t now_ms,
                                                int64_t window_ms, int limit) override;
  Status MarkAttemptFailed(int64_t delivery_id, std::string_view error,
                           std::optional<int64_t> retry_at_ms, int64_t now_ms) override;
  Result<Alert> GetAlert(int64_t alert_id) override;
  Result<Alert> FindAlertByEvent(int64_t event_id, std::string_view kind) override;
  Result<std::vector<Alert>> ListAlerts(const AlertFilter& filter) override;
  Result<Alert> AcknowledgeAlert(int64_t alert_id, std::string_view actor, int64_t now_ms) override;
  Result<std::vector<ChannelBacklog>> AlertBacklog() override;
  Result<int64_t> PruneAlerts(int64_t before_ms) override;

  Result<OrgAlertSettings> GetOrgAlertSettings(int64_t org_id) override;
  Result<OrgAlertSettings> PutOrgAlertSettings(const OrgAlertSettings& settings,
                                               std::string_view actor, int64_t now_ms) override;
  Result<std::vector<MaintenanceWindow>> ListMaintenanceWindows(
      std::optional<int64_t> org_id) override;
  Result<MaintenanceWindow> AddMaintenanceWindow(const MaintenanceWindow& window,
                                                 int64_t now_ms) override;
  Status DeleteMaintenanceWindow(int64_t org_id, int64_t window_id) override;
  Result<int64_t> PruneMaintenanceWindows(int64_t before_ms) override;

  Result<int> CountFindingAlerts(int64_t finding_id, int64_t since_ms) override;
  Result<bool> FindingAnnounced(int64_t finding_id, int64_t now_ms) override;
  Result<int> CountSentTo(int64_t user_id, AlertChannel channel, int64_t since_ms) override;
  Status HoldDelivery(int64_t delivery_id, std::string_view reason, int64_t until_ms) override;

  Result<bool> RecordNotice(const NewAlert& alert, const MonthlyReportRecord* monthly,
                            int64_t now_ms) override;
  Result<std::optional<MonthlyReportRecord>> GetMonthlyReport(int64_t org_id,
                                                              std::string_view month) override;

 private:
  PgContext& context_;
};

}  // namespace dozor::server
