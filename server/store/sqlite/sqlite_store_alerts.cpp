// SqliteStore, the alerts area (alert_store.hpp): alerts planned from the feed and the outbox of
// their messages.
#include <algorithm>
#include <mutex>
#include <unordered_map>

#include "domain/local_time.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"
#include "store/sqlite/statement_helpers.hpp"
#include "store/sqlite/store_rows.hpp"

namespace dozor::server {

using namespace sqlite_store_internal;  // NOLINT(google-build-using-namespace)

namespace {

constexpr char kAlertColumns[] =
    "SELECT al.id, al.created_at, al.event_id, al.kind, al.org_id, coalesce(o.name, ''), "
    "al.finding_id, al.agent_id, coalesce(ag.hostname, ''), al.severity, al.summary, al.stage, "
    "al.escalate_at, al.acked_at, al.acked_by, al.suppressed FROM alerts al "
    "LEFT JOIN organizations o ON o.id = al.org_id "
    "LEFT JOIN agents ag ON ag.agent_id = al.agent_id AND al.agent_id <> '' ";

Alert ReadAlert(const sqlite::Statement& s) {
  Alert alert;
  alert.id = s.Int(0);
  alert.created_at_ms = s.Int(1);
  alert.event_id = s.Int(2);
  alert.kind = s.Text(3);
  alert.org_id = s.Int(4);
  alert.org_name = s.Text(5);
  alert.finding_id = OptionalInt(s, 6);
  alert.agent_id = s.Text(7);
  alert.hostname = s.Text(8);
  alert.severity = s.Text(9);
  alert.summary = s.Text(10);
  alert.stage = static_cast<int>(s.Int(11));
  alert.escalate_at_ms = OptionalInt(s, 12);
  alert.acked_at_ms = OptionalInt(s, 13);
  alert.acked_by = s.Text(14);
  alert.suppressed = s.Text(15);
  return alert;
}

constexpr char kDeliveryColumns[] =
    "SELECT d.id, d.alert_id, d.stage, d.user_id, coalesce(u.login, ''), d.channel, d.address, "
    "d.language, d.idempotency_key, d.payload, d.state, d.attempts, d.next_attempt_at, "
    "d.last_error, d.sent_at, d.created_at, d.held, d.held_until, d.message_json, "
    "al.org_id, al.kind, al.severity FROM alert_deliveries d "
    "JOIN alerts al ON al.id = d.alert_id "
    "LEFT JOIN users u ON u.id = d.user_id ";

Delivery ReadDelivery(const sqlite::Statement& s) {
  Delivery delivery;
  delivery.id = s.Int(0);
  delivery.alert_id = s.Int(1);
  delivery.stage = static_cast<int>(s.Int(2));
  delivery.user_id = OptionalInt(s, 3);
  delivery.login = s.Text(4);
  delivery.channel = ParseAlertChannel(s.Text(5)).value_or(AlertChannel::kEmail);
  delivery.address = s.Text(6);
  delivery.language = s.Text(7);
  delivery.idempotency_key = s.Text(8);
  delivery.payload = s.Text(9);
  delivery.state = ParseDeliveryState(s.Text(10)).value_or(DeliveryState::kPending);
  delivery.attempts = static_cast<int>(s.Int(11));
  delivery.next_attempt_ms = s.Int(12);
  delivery.last_error = s.Text(13);
  delivery.sent_at_ms = OptionalInt(s, 14);
  delivery.created_at_ms = s.Int(15);
  delivery.held = s.Text(16);
  delivery.held_until_ms = s.Int(17);
  delivery.message_json = s.Text(18);
  delivery.org_id = s.Int(19);
  delivery.alert_kind = s.Text(20);
  delivery.alert_severity = s.Text(21);
  return delivery;
}

Status InsertDeliveries(sqlite::Database& db, int64_t alert_id,
                        const std::vector<NewDelivery>& deliveries, int64_t now_ms) {
  if (deliveries.empty()) {
    return OkStatus();
  }
  // A key seen before is skipped. The dispatcher never plans an event twice (its plan and its
  // cursor commit together); this guards a caller that would.
  DOZOR_ASSIGN_OR_RETURN(
      auto insert,
      db.Prepare("INSERT OR IGNORE INTO alert_deliveries(alert_id, stage, user_id, channel, "
                 "address, language, idempotency_key, payload, next_attempt_at, created_at, "
                 "held, held_until, message_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  for (const auto& d : deliveries) {
    const int64_t release = std::max(now_ms, d.release_at_ms);
    const bool held = release > now_ms && !d.held.empty();
    DOZOR_RETURN_IF_ERROR(RunWith(insert, alert_id, d.stage, d.user_id, d.channel, d.address,
                                  d.language, d.idempotency_key, d.payload, release, now_ms,
                                  held ? d.held : std::string(), held ? release : int64_t{0},
                                  d.message_json));
  }
  return OkStatus();
}

// One alert and its messages (inside the caller's transaction).
Status InsertAlert(sqlite::Database& db, const NewAlert& alert, int64_t now_ms) {
  DOZOR_ASSIGN_OR_RETURN(
      auto insert,
      db.Prepare("INSERT INTO alerts(created_at, event_id, kind, org_id, finding_id, agent_id, "
                 "severity, summary, stage, escalate_at, suppressed) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  DOZOR_RETURN_IF_ERROR(RunWith(insert, now_ms, alert.event_id, alert.kind, alert.org_id,
                                alert.finding_id, alert.agent_id, alert.severity, alert.summary,
                                alert.stage, alert.escalate_at_ms, alert.suppressed));
  return InsertDeliveries(db, db.LastInsertRowId(), alert.deliveries, now_ms);
}

// Messages still held (grace, working or quiet hours) of alerts acknowledged meanwhile never go
// out: the server came back within its grace, the finding resolved overnight. Only alerts that
// ask someone to act: a notice ("resolved", "verify") is news whenever it arrives. A message
// already released, or being retried, is not cancelled: someone is waiting for it in order.
Status CancelHeldOfAcknowledged(sqlite::Database& db, int64_t now_ms) {
  DOZOR_ASSIGN_OR_RETURN(
      auto cancel,
      db.Prepare("UPDATE alert_deliveries SET state = 'cancelled', last_attempt_at = ?1 "
                 "WHERE state = 'pending' AND attempts = 0 AND held <> '' AND held_until > ?1 "
                 "AND alert_id IN (SELECT id FROM alerts WHERE acked_at = ?1 AND kind IN "
                 "('finding_opened', 'finding_regressed', 'host_offline'))"));
  return RunWith(cancel, now_ms);
}

}  // namespace

Result<std::optional<int64_t>> SqliteStore::AlertCursor() {
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(auto select,
                         reader->db.Prepare("SELECT event_id FROM alert_cursor WHERE id = 1"));
  return ReadOptional(select, [](const sqlite::Statement& s) { return s.Int(0); });
}

Status SqliteStore::RecordAlerts(const std::vector<NewAlert>& alerts,
                                 const std::vector<AlertAck>& acks, int64_t cursor,
                                 int64_t now_ms) {
  std::lock_guard lock(write_mu_);
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  for (const auto& alert : alerts) {
    DOZOR_RETURN_IF_ERROR(InsertAlert(writer_, alert, now_ms));
  }
  if (!acks.empty()) {
    DOZOR_ASSIGN_OR_RETURN(
        auto by_finding,
        writer_.Prepare("UPDATE alerts SET acked_at = ?2, acked_by = ?3, escalate_at = NULL "
                        "WHERE finding_id = ?1 AND acked_at IS NULL"));
    DOZOR_ASSIGN_OR_RETURN(
        auto by_host,
        writer_.Prepare("UPDATE alerts SET acked_at = ?2, acked_by = ?3, escalate_at = NULL "
                        "WHERE acked_at IS NULL AND ((kind = 'host_offline' AND agent_id = ?1) "
                        "OR (kind = 'site_offline' AND org_id = ?4))"));
    for (const auto& ack : acks) {
      const std::string actor = ack.actor.empty() ? std::string("system") : ack.actor;
      if (ack.finding_id) {
        DOZOR_RETURN_IF_ERROR(RunWith(by_finding, *ack.finding_id, now_ms, actor));
      } else if (!ack.agent_id.empty()) {
        DOZOR_RETURN_IF_ERROR(RunWith(by_host, ack.agent_id, now_ms, actor, ack.org_id));
      }
    }
    DOZOR_RETURN_IF_ERROR(CancelHeldOfAcknowledged(writer_, now_ms));
  }
  DOZOR_ASSIGN_OR_RETURN(
      auto move, writer_.Prepare("INSERT INTO alert_cursor(id, event_id) VALUES (1, ?1) "
                                 "ON CONFLICT(id) DO UPDATE SET event_id = max(event_id, ?1)"));
  DOZOR_RETURN_IF_ERROR(RunWith(move, cursor));
  return txn.Commit();
}

namespace {

// Drops the claims that ran out by now_ms; the count of those still held.
int64_t DropExpiredClaims(std::unordered_map<int64_t, int64_t>& claims, int64_t now_ms) {
  for (auto it = claims.begin(); it != claims.end();) {
    it = it->second <= now_ms ? claims.erase(it) : std::next(it);
  }
  return static_cast<int64_t>(claims.size());
}

// Runs `release` when it goes out of scope: a claim ends only once the outcome is committed, or a
// second caller could take the message between the two.
template <typename Release>
class ClaimRelease {
 public:
  explicit ClaimRelease(Release release) : release_(std::move(release)) {}
  ~ClaimRelease() { release_(); }
  ClaimRelease(const ClaimRelease&) = delete;
  ClaimRelease& operator=(const ClaimRelease&) = delete;

 private:
  Release release_;
};

// Keeps the first `limit` items not claimed by somebody else and claims them until `until_ms`.
template <typename Item>
std::vector<Item> ClaimUnclaimed(std::vector<Item> items, int limit,
                                 std::unordered_map<int64_t, int64_t>& claims, int64_t until_ms) {
  std::vector<Item> out;
  for (auto& item : items) {
    if (static_cast<int>(out.size()) >= limit) break;
    if (claims.count(item.id) != 0) continue;
    claims[item.id] = until_ms;
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace

Result<std::vector<Alert>> SqliteStore::DueEscalations(int64_t now_ms, int limit) {
  limit = std::clamp(limit, 1, 1000);
  // Under the claims' lock from the read to the claim: two callers never both get one alert.
  std::lock_guard claims_lock(alert_claims_mu_);
  const int64_t held = DropExpiredClaims(claimed_escalations_, now_ms);
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(
      auto select, reader->db.Prepare(std::string(kAlertColumns) +
                                      "WHERE al.acked_at IS NULL AND al.escalate_at IS NOT NULL "
                                      "AND al.escalate_at <= ? ORDER BY al.escalate_at, al.id "
                                      "LIMIT ?"));
  DOZOR_ASSIGN_OR_RETURN(auto due, ReadAll(BindAll(select, now_ms, limit + held), ReadAlert));
  return ClaimUnclaimed(std::move(due), limit, claimed_escalations_, now_ms + kAlertClaimMs);
}

void SqliteStore::ReleaseDeliveryClaims(const std::vector<int64_t>& delivery_ids) {
  std::lock_guard claims_lock(alert_claims_mu_);
  for (const int64_t id : delivery_ids) claimed_deliveries_.erase(id);
}

Result<bool> SqliteStore::EscalateAlert(int64_t alert_id, int stage,
                                        std::optional<int64_t> next_escalate_at_ms,
                                        const std::vector<NewDelivery>& deliveries,
                                        int64_t now_ms) {
  // Settled whichever way this goes: moved, or acknowledged meanwhile.
  ClaimRelease release([&] {
    std::lock_guard claims_lock(alert_claims_mu_);
    claimed_escalations_.erase(alert_id);
  });
  std::lock_guard lock(write_mu_);
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  // Only from the stage before, and only while nobody acknowledged it: an acknowledgement that
  // lands between the dispatcher's read and this write wins.
  DOZOR_ASSIGN_OR_RETURN(
      auto update,
      writer_.Prepare("UPDATE alerts SET stage = ?2, escalate_at = ?3 WHERE id = ?1 AND "
                      "acked_at IS NULL AND stage < ?2"));
  DOZOR_RETURN_IF_ERROR(RunWith(update, alert_id, stage, next_escalate_at_ms));
  if (writer_.Changes() == 0) {
    return false;
  }
  DOZOR_RETURN_IF_ERROR(InsertDeliveries(writer_, alert_id, deliveries, now_ms));
  DOZOR_RETURN_IF_ERROR(txn.Commit());
  return true;
}

Result<std::vector<Delivery>> SqliteStore::DueDeliveries(AlertChannel channel, int64_t now_ms,
                                                         int limit) {
  limit = std::clamp(limit, 1, 1000);
  // Under the claims' lock from the read to the claim: two callers never both get one message.
  // A claimed message stays its recipient's oldest pending one, so nothing newer to that
  // address is handed out meanwhile either.
  std::lock_guard claims_lock(alert_claims_mu_);
  const int64_t held = DropExpiredClaims(claimed_deliveries_, now_ms);
  ReaderLease reader = AcquireReader();
  // The oldest released pending message of each recipient (the partial index answers the inner
  // query); a recipient whose oldest is waiting for its retry gets nothing newer meanwhile. A
  // message still held (until the morning, say) does not hold up an urgent one behind it.
  DOZOR_ASSIGN_OR_RETURN(auto select,
                         reader->db.Prepare(std::string(kDeliveryColumns) +
                                            "WHERE d.id IN (SELECT min(id) FROM alert_deliveries "
                                            "WHERE state = 'pending' AND channel = ?1 AND "
                                            "held_until <= ?2 AND NOT (attempts = 0 AND "
                                            "next_attempt_at > ?2) GROUP BY address) "
                                            "AND d.next_attempt_at <= ?2 ORDER BY d.id LIMIT ?3"));
  DOZOR_ASSIGN_OR_RETURN(auto due,
                         ReadAll(BindAll(select, channel, now_ms, limit + held), ReadDelivery));
  return ClaimUnclaimed(std::move(due), limit, claimed_deliveries_, now_ms + kAlertClaimMs);
}

Status SqliteStore::MarkDelivered(int64_t delivery_id, int64_t now_ms) {
  ClaimRelease release([&] { ReleaseDeliveryClaims({delivery_id}); });
  std::lock_guard lock(write_mu_);
  DOZOR_ASSIGN_OR_RETURN(
      auto update, writer_.Prepare("UPDATE alert_deliveries SET state = 'sent', sent_at = ?2, "
                                   "last_attempt_at = ?2, attempts = attempts + 1 WHERE id = ?1"));
  DOZOR_RETURN_IF_ERROR(RunWith(update, delivery_id, now_ms));
  if (writer_.Changes() == 0) {
    return MakeError(ErrorCode::kNotFound, "no alert message " + std::to_string(delivery_id));
  }
  return OkStatus();
}

Status SqliteStore::MarkAllDelivered(const std::vector<int64_t>& delivery_ids, int64_t now_ms) {
  ClaimRelease release([&] { ReleaseDeliveryClaims(delivery_ids); });
  std::lock_guard lock(write_mu_);
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(
      auto update,
      writer_.Prepare("UPDATE alert_deliveries SET state = 'sent', sent_at = ?2, "
                      "last_attempt_at = ?2, attempts = attempts + ?3 WHERE id = ?1 AND "
                      "state = 'pending'"));
  // The first is the message that was sent; the others went inside it (attempts stay 0, so the
  // rate limit counts the group once).
  for (size_t i = 0; i < delivery_ids.size(); ++i) {
    DOZOR_RETURN_IF_ERROR(RunWith(update, delivery_ids[i], now_ms, i == 0 ? 1 : 0));
  }
  return txn.Commit();
}

Result<std::vector<Delivery>> SqliteStore::GroupCompanions(const Delivery& leader, int64_t now_ms,
                                                           int64_t window_ms, int limit) {
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(
      auto select, reader->db.Prepare(
                       std::string(kDeliveryColumns) +
                       "WHERE d.state = 'pending' AND d.channel = ?1 AND d.address = ?2 AND "
                       "d.id > ?3 AND d.attempts = 0 AND d.held_until <= ?4 AND "
                       "d.message_json <> '' AND d.created_at <= ?5 AND d.alert_id IN "
                       "(SELECT id FROM alerts WHERE org_id = ?6 AND kind NOT IN "
                       "('host_offline', 'site_offline') AND NOT (kind IN ('finding_opened', "
                       "'finding_regressed') AND severity = 'critical')) ORDER BY d.id LIMIT ?7"));
  return ReadAll(BindAll(select, leader.channel, leader.address, leader.id, now_ms,
                         leader.created_at_ms + window_ms, leader.org_id,
                         static_cast<int64_t>(std::clamp(limit, 1, 100))),
                 ReadDelivery);
}

Status SqliteStore::MarkAttemptFailed(int64_t delivery_id, std::string_view error,
                                      std::optional<int64_t> retry_at_ms, int64_t now_ms) {
  const std::string kept = KeptDeliveryError(error);
  ClaimRelease release([&] { ReleaseDeliveryClaims({delivery_id}); });
  std::lock_guard lock(write_mu_);
  DOZOR_ASSIGN_OR_RETURN(
      auto update,
      writer_.Prepare("UPDATE alert_deliveries SET attempts = attempts + 1, last_error = ?2, "
                      "last_attempt_at = ?4, state = CASE WHEN ?3 IS NULL THEN 'failed' ELSE "
                      "'pending' END, next_attempt_at = coalesce(?3, next_attempt_at) "
                      "WHERE id = ?1 AND state = 'pending'"));
  DOZOR_RETURN_IF_ERROR(RunWith(update, delivery_id, kept, retry_at_ms, now_ms));
  if (writer_.Changes() == 0) {
    return MakeError(ErrorCode::kNotFound,
                     "no pending alert message " + std::to_string(delivery_id));
  }
  return OkStatus();
}

Result<Alert> SqliteStore::GetAlert(int64_t alert_id) {
  AlertFilter filter;
  filter.before_id = alert_id + 1;
  filter.limit = 1;
  DOZOR_ASSIGN_OR_RETURN(auto alerts, ListAlerts(filter));
  if (alerts.empty() || alerts.front().id != alert_id) {
    return MakeError(ErrorCode::kNotFound, "no alert " + std::to_string(alert_id));
  }
  return std::move(alerts.front());
}

Result<Alert> SqliteStore::FindAlertByEvent(int64_t event_id, std::string_view kind) {
  int64_t id = 0;
  {
    ReaderLease reader = AcquireReader();
    DOZOR_ASSIGN_OR_RETURN(auto select,
                           reader->db.Prepare("SELECT id FROM alerts WHERE event_id = ? "
                                              "AND kind = ? ORDER BY id LIMIT 1"));
    DOZOR_ASSIGN_OR_RETURN(auto found,
                           ReadOptional(BindAll(select, event_id, kind),
                                        [](const sqlite::Statement& s) { return s.Int(0); }));
    if (!found) {
      return MakeError(ErrorCode::kNotFound, "no such alert");
    }
    id = *found;
  }
  return GetAlert(id);
}

Result<std::vector<Alert>> SqliteStore::ListAlerts(const AlertFilter& filter) {
  std::optional<std::string> org_ids;
  if (filter.visible_org_ids) {
    org_ids = ",";
    for (const int64_t id : *filter.visible_org_ids) {
      *org_ids += std::to_string(id) + ",";
    }
  }
  ReaderLease reader = AcquireReader();
  sqlite::ReadTransaction txn(reader->db);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(
      auto select,
      reader->db.Prepare(std::string(kAlertColumns) +
                         "WHERE (?1 = 0 OR al.id < ?1) AND (?2 IS NULL OR al.org_id = ?2) "
                         "AND (?3 IS NULL OR instr(?3, ',' || al.org_id || ',') > 0) "
                         "AND (?4 = 0 OR al.acked_at IS NULL) ORDER BY al.id DESC LIMIT ?5"));
  DOZOR_ASSIGN_OR_RETURN(
      auto alerts,
      ReadAll(BindAll(select, filter.before_id, filter.org_id, org_ids, filter.unacknowledged_only,
                      static_cast<int64_t>(std::clamp(filter.limit, 1, 500))),
              ReadAlert));
  if (alerts.empty()) {
    return alerts;
  }
  std::unordered_map<int64_t, size_t> index_by_id;
  for (size_t i = 0; i < alerts.size(); ++i) index_by_id[alerts[i].id] = i;
  // The page's ids are contiguous in id order between its first and last alert.
  DOZOR_ASSIGN_OR_RETURN(auto deliveries,
                         reader->db.Prepare(std::string(kDeliveryColumns) +
                                            "WHERE d.alert_id BETWEEN ? AND ? ORDER BY d.id"));
  DOZOR_RETURN_IF_ERROR(ForEachRow(BindAll(deliveries, alerts.back().id, alerts.front().id),
                                   [&](const sqlite::Statement& s) {
                                     auto delivery = ReadDelivery(s);
                                     auto it = index_by_id.find(delivery.alert_id);
                                     if (it != index_by_id.end()) {
                                       alerts[it->second].deliveries.push_back(std::move(delivery));
                                     }
                                   }));
  return alerts;
}

Result<Alert> SqliteStore::AcknowledgeAlert(int64_t alert_id, std::string_view actor,
                                            int64_t now_ms) {
  {
    std::lock_guard lock(write_mu_);
    DOZOR_ASSIGN_OR_RETURN(
        auto update, writer_.Prepare("UPDATE alerts SET acked_at = ?2, acked_by = ?3, "
                                     "escalate_at = NULL WHERE id = ?1 AND acked_at IS NULL"));
    DOZOR_RETURN_IF_ERROR(RunWith(update, alert_id, now_ms, actor));
    if (writer_.Changes() == 0) {
      DOZOR_ASSIGN_OR_RETURN(auto exists, writer_.Prepare("SELECT 1 FROM alerts WHERE id = ?"));
      DOZOR_ASSIGN_OR_RETURN(bool found, HasRow(BindAll(exists, alert_id)));
      if (!found) {
        return MakeError(ErrorCode::kNotFound, "no alert " + std::to_string(alert_id));
      }
      return MakeError(ErrorCode::kFailedPrecondition,
                       "alert " + std::to_string(alert_id) + " is already acknowledged");
    }
    DOZOR_RETURN_IF_ERROR(CancelHeldOfAcknowledged(writer_, now_ms));
  }
  return GetAlert(alert_id);
}

Result<std::vector<ChannelBacklog>> SqliteStore::AlertBacklog() {
  ReaderLease reader = AcquireReader();
  sqlite::ReadTransaction txn(reader->db);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  std::vector<ChannelBacklog> out;
  for (const auto channel :
       {AlertChannel::kEmail, AlertChannel::kTelegram, AlertChannel::kWebhook}) {
    ChannelBacklog backlog;
    backlog.channel = channel;
    out.push_back(backlog);
  }
  DOZOR_ASSIGN_OR_RETURN(
      auto counts,
      reader->db.Prepare("SELECT channel, state, count(*), min(created_at) FROM alert_deliveries "
                         "GROUP BY channel, state"));
  DOZOR_RETURN_IF_ERROR(ForEachRow(counts, [&](const sqlite::Statement& s) {
    const auto channel = ParseAlertChannel(s.Text(0));
    const auto state = ParseDeliveryState(s.Text(1));
    if (!channel || !state) return;
    auto& backlog = out[static_cast<size_t>(*channel)];
    switch (*state) {
      case DeliveryState::kPending:
        backlog.pending = s.Int(2);
        backlog.oldest_pending_ms = s.Int(3);
        break;
      case DeliveryState::kFailed:
        backlog.failed = s.Int(2);
        break;
      case DeliveryState::kSent:
        backlog.sent = s.Int(2);
        break;
      case DeliveryState::kCancelled:
        backlog.cancelled = s.Int(2);
        break;
    }
  }));
  DOZOR_ASSIGN_OR_RETURN(
      auto errors,
      reader->db.Prepare(
          "SELECT channel, last_error FROM alert_deliveries WHERE id IN ("
          "SELECT max(id) FROM alert_deliveries WHERE last_error <> '' AND state <> 'sent' "
          "GROUP BY channel)"));
  DOZOR_RETURN_IF_ERROR(ForEachRow(errors, [&](const sqlite::Statement& s) {
    if (const auto channel = ParseAlertChannel(s.Text(0))) {
      out[static_cast<size_t>(*channel)].last_error = s.Text(1);
    }
  }));
  return out;
}

Result<int64_t> SqliteStore::PruneAlerts(int64_t before_ms) {
  std::lock_guard lock(write_mu_);
  DOZOR_ASSIGN_OR_RETURN(
      auto remove,
      writer_.Prepare("DELETE FROM alerts WHERE created_at < ?1 AND NOT EXISTS (SELECT 1 FROM "
                      "alert_deliveries d WHERE d.alert_id = alerts.id AND d.state = 'pending')"));
  DOZOR_RETURN_IF_ERROR(RunWith(remove, before_ms));
  return static_cast<int64_t>(writer_.Changes());
}

// ------------------------------------------------------------------ alert rules

Result<OrgAlertSettings> SqliteStore::GetOrgAlertSettings(int64_t org_id) {
  ReaderLease reader = AcquireReader();
  sqlite::ReadTransaction txn(reader->db);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(auto exists,
                         reader->db.Prepare("SELECT 1 FROM organizations WHERE id = ?"));
  DOZOR_ASSIGN_OR_RETURN(const bool found, HasRow(BindAll(exists, org_id)));
  if (!found) {
    return MakeError(ErrorCode::kNotFound, "no organization with id " + std::to_string(org_id));
  }
  OrgAlertSettings settings;
  settings.org_id = org_id;
  DOZOR_ASSIGN_OR_RETURN(
      auto select,
      reader->db.Prepare("SELECT time_zone, work_days, work_start_minute, work_end_minute, "
                         "after_hours, min_severity, server_grace_minutes, updated_at, "
                         "updated_by FROM org_alert_settings WHERE org_id = ?"));
  DOZOR_RETURN_IF_ERROR(ForEachRow(BindAll(select, org_id), [&](const sqlite::Statement& s) {
    settings.time_zone = s.Text(0);
    settings.work_days = static_cast<int>(s.Int(1));
    settings.work_start_minute = static_cast<int>(s.Int(2));
    settings.work_end_minute = static_cast<int>(s.Int(3));
    settings.after_hours = ParseAfterHours(s.Text(4)).value_or(AfterHours::kAll);
    if (!s.IsNull(5)) settings.min_severity = ParseSeverity(s.Text(5));
    settings.server_grace_minutes = static_cast<int>(s.Int(6));
    settings.updated_at_ms = s.Int(7);
    settings.updated_by = s.Text(8);
  }));
  DOZOR_ASSIGN_OR_RETURN(auto overrides,
                         reader->db.Prepare("SELECT rule_id, min_severity FROM "
                                            "org_alert_rule_overrides WHERE org_id = ? "
                                            "ORDER BY rule_id"));
  DOZOR_RETURN_IF_ERROR(ForEachRow(BindAll(overrides, org_id), [&](const sqlite::Statement& s) {
    RuleAlertOverride override_rule;
    override_rule.rule_id = s.Text(0);
    if (!s.IsNull(1)) override_rule.min_severity = ParseSeverity(s.Text(1));
    settings.rule_overrides.push_back(std::move(override_rule));
  }));
  return settings;
}

Result<OrgAlertSettings> SqliteStore::PutOrgAlertSettings(const OrgAlertSettings& settings,
                                                          std::string_view actor, int64_t now_ms) {
  DOZOR_RETURN_IF_ERROR(CheckOrgAlertSettings(settings));
  {
    std::lock_guard lock(write_mu_);
    sqlite::Transaction txn(writer_);
    DOZOR_RETURN_IF_ERROR(txn.Begin());
    DOZOR_ASSIGN_OR_RETURN(auto exists,
                           writer_.Prepare("SELECT 1 FROM organizations WHERE id = ?"));
    DOZOR_ASSIGN_OR_RETURN(const bool found, HasRow(BindAll(exists, settings.org_id)));
    if (!found) {
      return MakeError(ErrorCode::kNotFound,
                       "no organization with id " + std::to_string(settings.org_id));
    }
    DOZOR_ASSIGN_OR_RETURN(
        auto upsert,
        writer_.Prepare(
            "INSERT INTO org_alert_settings(org_id, time_zone, work_days, work_start_minute, "
            "work_end_minute, after_hours, min_severity, server_grace_minutes, updated_at, "
            "updated_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
            "ON CONFLICT(org_id) DO UPDATE SET time_zone = ?2, work_days = ?3, "
            "work_start_minute = ?4, work_end_minute = ?5, after_hours = ?6, min_severity = ?7, "
            "server_grace_minutes = ?8, updated_at = ?9, updated_by = ?10"));
    DOZOR_RETURN_IF_ERROR(RunWith(upsert, settings.org_id, settings.time_zone, settings.work_days,
                                  settings.work_start_minute, settings.work_end_minute,
                                  settings.after_hours, settings.min_severity,
                                  settings.server_grace_minutes, now_ms, actor));
    DOZOR_ASSIGN_OR_RETURN(
        auto clear, writer_.Prepare("DELETE FROM org_alert_rule_overrides WHERE org_id = ?"));
    DOZOR_RETURN_IF_ERROR(RunWith(clear, settings.org_id));
    DOZOR_ASSIGN_OR_RETURN(
        auto insert,
        writer_.Prepare("INSERT OR REPLACE INTO org_alert_rule_overrides(org_id, rule_id, "
                        "min_severity) VALUES (?, ?, ?)"));
    for (const auto& override_rule : settings.rule_overrides) {
      DOZOR_RETURN_IF_ERROR(
          RunWith(insert, settings.org_id, override_rule.rule_id, override_rule.min_severity));
    }
    DOZOR_RETURN_IF_ERROR(txn.Commit());
  }
  return GetOrgAlertSettings(settings.org_id);
}

namespace {

constexpr char kWindowColumns[] =
    "SELECT id, org_id, agent_id, starts_at, ends_at, weekdays, start_minute, duration_minutes, "
    "reason, created_by, created_at FROM maintenance_windows ";

MaintenanceWindow ReadWindow(const sqlite::Statement& s) {
  MaintenanceWindow window;
  window.id = s.Int(0);
  window.org_id = s.Int(1);
  window.agent_id = s.Text(2);
  window.starts_at_ms = OptionalInt(s, 3);
  window.ends_at_ms = OptionalInt(s, 4);
  window.weekdays = static_cast<int>(s.Int(5));
  window.start_minute = static_cast<int>(s.Int(6));
  window.duration_minutes = static_cast<int>(s.Int(7));
  window.reason = s.Text(8);
  window.created_by = s.Text(9);
  window.created_at_ms = s.Int(10);
  return window;
}

}  // namespace

Result<std::vector<MaintenanceWindow>> SqliteStore::ListMaintenanceWindows(
    std::optional<int64_t> org_id) {
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(
      auto select,
      reader->db.Prepare(std::string(kWindowColumns) +
                         "WHERE ?1 IS NULL OR org_id = ?1 ORDER BY org_id, id LIMIT 10000"));
  return ReadAll(BindAll(select, org_id), ReadWindow);
}

Result<MaintenanceWindow> SqliteStore::AddMaintenanceWindow(const MaintenanceWindow& window,
                                                            int64_t now_ms) {
  DOZOR_RETURN_IF_ERROR(CheckMaintenanceWindow(window));
  std::lock_guard lock(write_mu_);
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(auto exists, writer_.Prepare("SELECT 1 FROM organizations WHERE id = ?"));
  DOZOR_ASSIGN_OR_RETURN(const bool found, HasRow(BindAll(exists, window.org_id)));
  if (!found) {
    return MakeError(ErrorCode::kNotFound,
                     "no organization with id " + std::to_string(window.org_id));
  }
  DOZOR_ASSIGN_OR_RETURN(
      auto count, writer_.Prepare("SELECT count(*) FROM maintenance_windows WHERE org_id = ?"));
  DOZOR_ASSIGN_OR_RETURN(auto windows,
                         ReadOptional(BindAll(count, window.org_id),
                                      [](const sqlite::Statement& s) { return s.Int(0); }));
  if (windows.value_or(0) >= kMaxMaintenanceWindowsPerOrg) {
    return MakeError(ErrorCode::kResourceExhausted,
                     "an organisation has at most " + std::to_string(kMaxMaintenanceWindowsPerOrg) +
                         " maintenance windows; delete old ones first");
  }
  if (!window.agent_id.empty()) {
    DOZOR_ASSIGN_OR_RETURN(
        auto host, writer_.Prepare("SELECT 1 FROM agents WHERE agent_id = ? AND org_id = ?"));
    DOZOR_ASSIGN_OR_RETURN(const bool in_org,
                           HasRow(BindAll(host, window.agent_id, window.org_id)));
    if (!in_org) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          "host " + window.agent_id + " is not in organization " + std::to_string(window.org_id));
    }
  }
  DOZOR_ASSIGN_OR_RETURN(
      auto insert,
      writer_.Prepare("INSERT INTO maintenance_windows(org_id, agent_id, starts_at, ends_at, "
                      "weekdays, start_minute, duration_minutes, reason, created_by, created_at) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  const bool one_off = window.starts_at_ms.has_value();
  DOZOR_RETURN_IF_ERROR(
      RunWith(insert, window.org_id, window.agent_id, window.starts_at_ms, window.ends_at_ms,
              one_off ? 0 : window.weekdays, one_off ? 0 : window.start_minute,
              one_off ? 0 : window.duration_minutes, window.reason, window.created_by, now_ms));
  const int64_t id = writer_.LastInsertRowId();
  DOZOR_RETURN_IF_ERROR(txn.Commit());
  MaintenanceWindow added = window;
  added.id = id;
  added.created_at_ms = now_ms;
  if (one_off) {
    added.weekdays = 0;
    added.start_minute = 0;
    added.duration_minutes = 0;
  }
  return added;
}

Status SqliteStore::DeleteMaintenanceWindow(int64_t org_id, int64_t window_id) {
  std::lock_guard lock(write_mu_);
  DOZOR_ASSIGN_OR_RETURN(
      auto remove, writer_.Prepare("DELETE FROM maintenance_windows WHERE id = ? AND org_id = ?"));
  DOZOR_RETURN_IF_ERROR(RunWith(remove, window_id, org_id));
  if (writer_.Changes() == 0) {
    return MakeError(ErrorCode::kNotFound, "no maintenance window " + std::to_string(window_id) +
                                               " in organization " + std::to_string(org_id));
  }
  return OkStatus();
}

Result<int64_t> SqliteStore::PruneMaintenanceWindows(int64_t before_ms) {
  std::lock_guard lock(write_mu_);
  DOZOR_ASSIGN_OR_RETURN(
      auto remove, writer_.Prepare("DELETE FROM maintenance_windows WHERE ends_at IS NOT NULL "
                                   "AND ends_at < ?"));
  DOZOR_RETURN_IF_ERROR(RunWith(remove, before_ms));
  return static_cast<int64_t>(writer_.Changes());
}

Result<int> SqliteStore::CountFindingAlerts(int64_t finding_id, int64_t since_ms) {
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(
      auto select,
      reader->db.Prepare("SELECT count(*) FROM alerts WHERE finding_id = ? AND created_at >= ? "
                         "AND kind IN ('finding_opened', 'finding_regressed') AND "
                         "suppressed <> 'maintenance'"));
  DOZOR_ASSIGN_OR_RETURN(auto count,
                         ReadOptional(BindAll(select, finding_id, since_ms),
                                      [](const sqlite::Statement& s) { return s.Int(0); }));
  return static_cast<int>(count.value_or(0));
}

Result<bool> SqliteStore::FindingAnnounced(int64_t finding_id, int64_t now_ms) {
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(
      auto select,
      reader->db.Prepare("SELECT 1 FROM alert_deliveries d JOIN alerts al ON al.id = d.alert_id "
                         "WHERE al.finding_id = ? AND al.kind IN ('finding_opened', "
                         "'finding_regressed') AND (d.state = 'sent' OR (d.state = 'pending' "
                         "AND d.held_until <= ?)) LIMIT 1"));
  return HasRow(BindAll(select, finding_id, now_ms));
}

Result<int> SqliteStore::CountSentTo(int64_t user_id, AlertChannel channel, int64_t since_ms) {
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(
      auto select,
      reader->db.Prepare("SELECT count(*) FROM alert_deliveries WHERE state = 'sent' AND "
                         "attempts > 0 AND user_id = ? AND channel = ? AND sent_at >= ? AND "
                         "alert_id IN (SELECT id FROM alerts WHERE kind NOT IN ('host_offline', "
                         "'site_offline', 'channel_failed', 'monthly_report') AND NOT (kind IN "
                         "('finding_opened', 'finding_regressed') AND severity = 'critical'))"));
  DOZOR_ASSIGN_OR_RETURN(auto count,
                         ReadOptional(BindAll(select, user_id, channel, since_ms),
                                      [](const sqlite::Statement& s) { return s.Int(0); }));
  return static_cast<int>(count.value_or(0));
}

Status SqliteStore::HoldDelivery(int64_t delivery_id, std::string_view reason, int64_t until_ms) {
  ClaimRelease release([&] { ReleaseDeliveryClaims({delivery_id}); });
  std::lock_guard lock(write_mu_);
  DOZOR_ASSIGN_OR_RETURN(
      auto update,
      writer_.Prepare("UPDATE alert_deliveries SET next_attempt_at = max(next_attempt_at, ?3), "
                      "held = ?2, held_until = ?3 WHERE id = ?1 AND state = 'pending'"));
  DOZOR_RETURN_IF_ERROR(RunWith(update, delivery_id, reason, until_ms));
  if (writer_.Changes() == 0) {
    return MakeError(ErrorCode::kNotFound,
                     "no pending alert message " + std::to_string(delivery_id));
  }
  return OkStatus();
}

Result<bool> SqliteStore::RecordNotice(const NewAlert& alert, const MonthlyReportRecord* monthly,
                                       int64_t now_ms) {
  std::lock_guard lock(write_mu_);
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  if (monthly != nullptr) {
    DOZOR_ASSIGN_OR_RETURN(auto insert,
                           writer_.Prepare("INSERT OR IGNORE INTO monthly_reports(org_id, month, "
                                           "sent_at, recipients) VALUES (?, ?, ?, ?)"));
    DOZOR_RETURN_IF_ERROR(
        RunWith(insert, monthly->org_id, monthly->month, monthly->sent_at_ms, monthly->recipients));
    if (writer_.Changes() == 0) {
      return false;
    }
  }
  DOZOR_RETURN_IF_ERROR(InsertAlert(writer_, alert, now_ms));
  DOZOR_RETURN_IF_ERROR(txn.Commit());
  return true;
}

Result<std::optional<MonthlyReportRecord>> SqliteStore::GetMonthlyReport(int64_t org_id,
                                                                         std::string_view month) {
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(auto select,
                         reader->db.Prepare("SELECT org_id, month, sent_at, recipients FROM "
                                            "monthly_reports WHERE org_id = ? AND month = ?"));
  return ReadOptional(BindAll(select, org_id, month), [](const sqlite::Statement& s) {
    MonthlyReportRecord record;
    record.org_id = s.Int(0);
    record.month = s.Text(1);
    record.sent_at_ms = s.Int(2);
    record.recipients = static_cast<int>(s.Int(3));
    return record;
  });
}

}  // namespace dozor::server
