// SqliteStore, the alerts area (alert_store.hpp): alerts planned from the feed and the outbox of
// their messages.
#include <algorithm>
#include <mutex>
#include <unordered_map>

#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"
#include "store/sqlite/statement_helpers.hpp"
#include "store/sqlite/store_rows.hpp"

namespace dozor::server {

using namespace sqlite_store_internal;  // NOLINT(google-build-using-namespace)

namespace {

// A failed attempt's error as kept: bounded, one line.
constexpr size_t kMaxErrorBytes = 1000;

constexpr char kAlertColumns[] =
    "SELECT al.id, al.created_at, al.event_id, al.kind, al.org_id, coalesce(o.name, ''), "
    "al.finding_id, al.agent_id, coalesce(ag.hostname, ''), al.severity, al.summary, al.stage, "
    "al.escalate_at, al.acked_at, al.acked_by FROM alerts al "
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
  return alert;
}

constexpr char kDeliveryColumns[] =
    "SELECT d.id, d.alert_id, d.stage, d.user_id, coalesce(u.login, ''), d.channel, d.address, "
    "d.language, d.idempotency_key, d.payload, d.state, d.attempts, d.next_attempt_at, "
    "d.last_error, d.sent_at, d.created_at FROM alert_deliveries d "
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
                 "address, language, idempotency_key, payload, next_attempt_at, created_at) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  for (const auto& d : deliveries) {
    DOZOR_RETURN_IF_ERROR(RunWith(insert, alert_id, d.stage, d.user_id, d.channel, d.address,
                                  d.language, d.idempotency_key, d.payload, now_ms, now_ms));
  }
  return OkStatus();
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
  DOZOR_ASSIGN_OR_RETURN(
      auto insert,
      writer_.Prepare(
          "INSERT INTO alerts(created_at, event_id, kind, org_id, finding_id, agent_id, "
          "severity, summary, stage, escalate_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  for (const auto& alert : alerts) {
    DOZOR_RETURN_IF_ERROR(RunWith(insert, now_ms, alert.event_id, alert.kind, alert.org_id,
                                  alert.finding_id, alert.agent_id, alert.severity, alert.summary,
                                  alert.stage, alert.escalate_at_ms));
    DOZOR_RETURN_IF_ERROR(
        InsertDeliveries(writer_, writer_.LastInsertRowId(), alert.deliveries, now_ms));
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
  }
  DOZOR_ASSIGN_OR_RETURN(
      auto move, writer_.Prepare("INSERT INTO alert_cursor(id, event_id) VALUES (1, ?1) "
                                 "ON CONFLICT(id) DO UPDATE SET event_id = max(event_id, ?1)"));
  DOZOR_RETURN_IF_ERROR(RunWith(move, cursor));
  return txn.Commit();
}

Result<std::vector<Alert>> SqliteStore::DueEscalations(int64_t now_ms, int limit) {
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(
      auto select, reader->db.Prepare(std::string(kAlertColumns) +
                                      "WHERE al.acked_at IS NULL AND al.escalate_at IS NOT NULL "
                                      "AND al.escalate_at <= ? ORDER BY al.escalate_at, al.id "
                                      "LIMIT ?"));
  return ReadAll(BindAll(select, now_ms, static_cast<int64_t>(std::clamp(limit, 1, 1000))),
                 ReadAlert);
}

Result<bool> SqliteStore::EscalateAlert(int64_t alert_id, int stage,
                                        std::optional<int64_t> next_escalate_at_ms,
                                        const std::vector<NewDelivery>& deliveries,
                                        int64_t now_ms) {
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
  ReaderLease reader = AcquireReader();
  // The oldest pending message of each recipient (the partial index answers the inner query);
  // a recipient whose oldest is waiting for its retry gets nothing newer meanwhile.
  DOZOR_ASSIGN_OR_RETURN(
      auto select, reader->db.Prepare(std::string(kDeliveryColumns) +
                                      "WHERE d.id IN (SELECT min(id) FROM alert_deliveries "
                                      "WHERE state = 'pending' AND channel = ?1 GROUP BY address) "
                                      "AND d.next_attempt_at <= ?2 ORDER BY d.id LIMIT ?3"));
  return ReadAll(BindAll(select, channel, now_ms, static_cast<int64_t>(std::clamp(limit, 1, 1000))),
                 ReadDelivery);
}

Status SqliteStore::MarkDelivered(int64_t delivery_id, int64_t now_ms) {
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

Status SqliteStore::MarkAttemptFailed(int64_t delivery_id, std::string_view error,
                                      std::optional<int64_t> retry_at_ms, int64_t now_ms) {
  std::string kept(error.substr(0, kMaxErrorBytes));
  std::replace(kept.begin(), kept.end(), '\n', ' ');
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

}  // namespace dozor::server
