#include "store/postgres/pg_alert_store.hpp"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/postgres/pg_store_internal.hpp"

namespace dozor::server {

using namespace pg_store_internal;  // NOLINT(google-build-using-namespace)

namespace {

constexpr const char* kPgAlertColumns =
    "SELECT al.id, al.created_at, al.event_id, al.kind, al.org_id, coalesce(o.name, ''), "
    "al.finding_id, al.agent_id, coalesce(ag.hostname, ''), al.severity, al.summary, al.stage, "
    "al.escalate_at, al.acked_at, al.acked_by, al.suppressed FROM alerts al "
    "LEFT JOIN organizations o ON o.id = al.org_id "
    "LEFT JOIN agents ag ON ag.agent_id = al.agent_id AND al.agent_id <> '' ";

Alert ReadPgAlert(const pg::Rows& rows, int row) {
  Alert alert;
  alert.id = rows.Int(row, 0);
  alert.created_at_ms = rows.Int(row, 1);
  alert.event_id = rows.Int(row, 2);
  alert.kind = rows.Text(row, 3);
  alert.org_id = rows.Int(row, 4);
  alert.org_name = rows.Text(row, 5);
  alert.finding_id = rows.OptionalInt(row, 6);
  alert.agent_id = rows.Text(row, 7);
  alert.hostname = rows.Text(row, 8);
  alert.severity = rows.Text(row, 9);
  alert.summary = rows.Text(row, 10);
  alert.stage = static_cast<int>(rows.Int(row, 11));
  alert.escalate_at_ms = rows.OptionalInt(row, 12);
  alert.acked_at_ms = rows.OptionalInt(row, 13);
  alert.acked_by = rows.Text(row, 14);
  alert.suppressed = rows.Text(row, 15);
  return alert;
}

std::vector<Alert> ReadPgAlerts(const pg::Rows& rows) {
  std::vector<Alert> alerts;
  alerts.reserve(static_cast<size_t>(rows.size()));
  for (int row = 0; row < rows.size(); ++row) alerts.push_back(ReadPgAlert(rows, row));
  return alerts;
}

constexpr const char* kPgDeliveryColumns =
    "SELECT d.id, d.alert_id, d.stage, d.user_id, coalesce(u.login, ''), d.channel, d.address, "
    "d.language, d.idempotency_key, d.payload, d.state, d.attempts, d.next_attempt_at, "
    "d.last_error, d.sent_at, d.created_at, d.held, d.held_until, d.message_json, "
    "al.org_id, al.kind, al.severity FROM alert_deliveries d "
    "JOIN alerts al ON al.org_id = d.org_id AND al.id = d.alert_id "
    "LEFT JOIN users u ON u.id = d.user_id ";

Delivery ReadPgDelivery(const pg::Rows& rows, int row) {
  Delivery delivery;
  delivery.id = rows.Int(row, 0);
  delivery.alert_id = rows.Int(row, 1);
  delivery.stage = static_cast<int>(rows.Int(row, 2));
  delivery.user_id = rows.OptionalInt(row, 3);
  delivery.login = rows.Text(row, 4);
  delivery.channel = ParseAlertChannel(rows.Text(row, 5)).value_or(AlertChannel::kEmail);
  delivery.address = rows.Text(row, 6);
  delivery.language = rows.Text(row, 7);
  delivery.idempotency_key = rows.Text(row, 8);
  delivery.payload = rows.Text(row, 9);
  delivery.state = ParseDeliveryState(rows.Text(row, 10)).value_or(DeliveryState::kPending);
  delivery.attempts = static_cast<int>(rows.Int(row, 11));
  delivery.next_attempt_ms = rows.Int(row, 12);
  delivery.last_error = rows.Text(row, 13);
  delivery.sent_at_ms = rows.OptionalInt(row, 14);
  delivery.created_at_ms = rows.Int(row, 15);
  delivery.held = rows.Text(row, 16);
  delivery.held_until_ms = rows.Int(row, 17);
  delivery.message_json = rows.Text(row, 18);
  delivery.org_id = rows.Int(row, 19);
  delivery.alert_kind = rows.Text(row, 20);
  delivery.alert_severity = rows.Text(row, 21);
  return delivery;
}

std::vector<Delivery> ReadPgDeliveries(const pg::Rows& rows) {
  std::vector<Delivery> deliveries;
  deliveries.reserve(static_cast<size_t>(rows.size()));
  for (int row = 0; row < rows.size(); ++row) deliveries.push_back(ReadPgDelivery(rows, row));
  return deliveries;
}

// A bigint[] parameter in PostgreSQL's array text form ("{1,2,3}"): bound, never spliced.
std::string PgAlertIdArray(const std::vector<int64_t>& ids) {
  std::string text = "{";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i != 0) text += ',';
    text += std::to_string(ids[i]);
  }
  return text + "}";
}

std::vector<int64_t> PgAlertIdsOf(const pg::Rows& rows) {
  std::vector<int64_t> ids;
  for (int row = 0; row < rows.size(); ++row) ids.push_back(rows.Int(row, 0));
  return ids;
}

// A consistent view over several reads (an alert page and its messages, the backlog's totals).
Status PgAlertReadSnapshot(pg::Connection& db) {
  return db.Exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
}

// Fills each alert's messages, in id order.
Status AttachPgDeliveries(pg::Connection& db, std::vector<Alert>& alerts) {
  if (alerts.empty()) return OkStatus();
  std::unordered_map<int64_t, size_t> index_by_id;
  std::vector<int64_t> ids;
  for (size_t i = 0; i < alerts.size(); ++i) {
    index_by_id[alerts[i].id] = i;
    ids.push_back(alerts[i].id);
  }
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows,
                         db.Query(std::string(kPgDeliveryColumns) +
                                      "WHERE d.alert_id = ANY($1::bigint[]) ORDER BY d.id",
                                  pg::Params(PgAlertIdArray(ids))));
  for (int row = 0; row < rows.size(); ++row) {
    Delivery delivery = ReadPgDelivery(rows, row);
    auto it = index_by_id.find(delivery.alert_id);
    if (it != index_by_id.end()) alerts[it->second].deliveries.push_back(std::move(delivery));
  }
  return OkStatus();
}

Status InsertPgDeliveries(pg::Connection& db, int64_t org_id, int64_t alert_id,
                          const std::vector<NewDelivery>& deliveries, int64_t now_ms) {
  for (const auto& d : deliveries) {
    const int64_t release = std::max(now_ms, d.release_at_ms);
    const bool held = release > now_ms && !d.held.empty();
    // A key seen before is skipped (another replica's plan, a caller planning twice); ON
    // CONFLICT waits for a concurrent insert of the same key to settle instead of failing.
    DOZOR_RETURN_IF_ERROR(db.Run(
        "INSERT INTO alert_deliveries(org_id, alert_id, stage, user_id, channel, address, "
        "language, idempotency_key, payload, next_attempt_at, created_at, held, held_until, "
        "message_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) "
        "ON CONFLICT (idempotency_key) DO NOTHING",
        pg::Params(org_id, alert_id, d.stage, d.user_id, d.channel, d.address, d.language,
                   d.idempotency_key, d.payload, release, now_ms, held ? d.held : std::string(),
                   held ? release : int64_t{0}, d.message_json)));
  }
  return OkStatus();
}

Status InsertPgAlert(pg::Connection& db, const NewAlert& alert, int64_t now_ms) {
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows inserted,
      db.Query("INSERT INTO alerts(created_at, event_id, kind, org_id, finding_id, agent_id, "
               "severity, summary, stage, escalate_at, suppressed) "
               "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
               pg::Params(now_ms, alert.event_id, alert.kind, alert.org_id, alert.finding_id,
                          alert.agent_id, alert.severity, alert.summary, alert.stage,
                          alert.escalate_at_ms, alert.suppressed)));
  return InsertPgDeliveries(db, alert.org_id, inserted.Int(0, 0), alert.deliveries, now_ms);
}

// Messages still held (grace, working or quiet hours) of alerts acknowledged at now_ms never go
// out; see the SQLite backend's CancelHeldOfAcknowledged for why only these.
Status CancelPgHeldOfAcknowledged(pg::Connection& db, int64_t now_ms) {
  DOZOR_RETURN_IF_ERROR(
      db.Run("UPDATE alert_deliveries d SET state = 'cancelled', last_attempt_at = $1, "
             "claimed_until = 0 FROM alerts al WHERE al.org_id = d.org_id AND al.id = d.alert_id "
             "AND d.state = 'pending' AND d.attempts = 0 AND d.held <> '' AND d.held_until > $1 "
             "AND al.acked_at = $1 AND al.kind IN ('finding_opened', 'finding_regressed', "
             "'host_offline')",
             pg::Params(now_ms)));
  return OkStatus();
}

Error NoPendingMessage(int64_t delivery_id) {
  return MakeError(ErrorCode::kNotFound, "no pending alert message " + std::to_string(delivery_id));
}

}  // namespace

Result<std::optional<int64_t>> PgAlertStore::AlertCursor() {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows,
                         db->Query("SELECT event_id FROM alert_cursor WHERE id = 1"));
  if (rows.empty()) return std::optional<int64_t>();
  return std::optional<int64_t>(rows.Int(0, 0));
}

Status PgAlertStore::RecordAlerts(const std::vector<NewAlert>& alerts,
                                  const std::vector<AlertAck>& acks, int64_t cursor,
                                  int64_t now_ms) {
  return pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Status {
    for (const auto& alert : alerts) {
      DOZOR_RETURN_IF_ERROR(InsertPgAlert(db, alert, now_ms));
    }
    if (!acks.empty()) {
      for (const auto& ack : acks) {
        const std::string actor = ActorOr(ack.actor, "system");
        if (ack.finding_id) {
          DOZOR_RETURN_IF_ERROR(
              db.Run("UPDATE alerts SET acked_at = $2, acked_by = $3, escalate_at = NULL "
                     "WHERE finding_id = $1 AND acked_at IS NULL",
                     pg::Params(*ack.finding_id, now_ms, actor)));
        } else if (!ack.agent_id.empty()) {
          DOZOR_RETURN_IF_ERROR(
              db.Run("UPDATE alerts SET acked_at = $2, acked_by = $3, escalate_at = NULL "
                     "WHERE acked_at IS NULL AND ((kind = 'host_offline' AND agent_id = $1) "
                     "OR (kind = 'site_offline' AND org_id = $4::bigint))",
                     pg::Params(ack.agent_id, now_ms, actor, ack.org_id)));
        }
      }
      DOZOR_RETURN_IF_ERROR(CancelPgHeldOfAcknowledged(db, now_ms));
    }
    // Never backwards: a slower writer with an older cursor does not undo a newer one.
    DOZOR_RETURN_IF_ERROR(
        db.Run("INSERT INTO alert_cursor(id, event_id) VALUES (1, $1) ON CONFLICT (id) DO "
               "UPDATE SET event_id = greatest(alert_cursor.event_id, EXCLUDED.event_id)",
               pg::Params(cursor)));
    return OkStatus();
  });
}

Result<std::vector<Alert>> PgAlertStore::DueEscalations(int64_t now_ms, int limit) {
  const int64_t bounded = std::clamp(limit, 1, 1000);
  return pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Result<std::vector<Alert>> {
    // SKIP LOCKED: an alert another replica is claiming (or acknowledging) right now is left to
    // it. Its claimed_until is checked again on the locked row, so one claimed and committed
    // since this statement's snapshot is skipped too.
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows claimed,
        db.Query("WITH picked AS (SELECT org_id, id FROM alerts WHERE acked_at IS NULL AND "
                 "escalate_at IS NOT NULL AND escalate_at <= $1 AND claimed_until <= $1 "
                 "ORDER BY escalate_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) "
                 "UPDATE alerts a SET claimed_until = $3 FROM picked "
                 "WHERE a.org_id = picked.org_id AND a.id = picked.id RETURNING a.id",
                 pg::Params(now_ms, bounded, now_ms + kAlertClaimMs)));
    if (claimed.empty()) return std::vector<Alert>();
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows rows,
        db.Query(std::string(kPgAlertColumns) +
                     "WHERE al.id = ANY($1::bigint[]) ORDER BY al.escalate_at, al.id",
                 pg::Params(PgAlertIdArray(PgAlertIdsOf(claimed)))));
    return ReadPgAlerts(rows);
  });
}

Result<bool> PgAlertStore::EscalateAlert(int64_t alert_id, int stage,
                                         std::optional<int64_t> next_escalate_at_ms,
                                         const std::vector<NewDelivery>& deliveries,
                                         int64_t now_ms) {
  return pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Result<bool> {
    // Only from the stage before, and only while nobody acknowledged it: an acknowledgement or
    // another replica's escalation that lands first wins (the row lock orders them, and the
    // condition is checked again on the row as it is then).
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows moved,
        db.Query("UPDATE alerts SET stage = $2, escalate_at = $3, claimed_until = 0 WHERE id = $1 "
                 "AND acked_at IS NULL AND stage < $2 RETURNING org_id",
                 pg::Params(alert_id, stage, next_escalate_at_ms)));
    if (moved.empty()) {
      // Settled all the same: nothing of it is left to this caller.
      DOZOR_RETURN_IF_ERROR(
          db.Run("UPDATE alerts SET claimed_until = 0 WHERE id = $1 AND "
                 "claimed_until <> 0",
                 pg::Params(alert_id)));
      return false;
    }
    DOZOR_RETURN_IF_ERROR(InsertPgDeliveries(db, moved.Int(0, 0), alert_id, deliveries, now_ms));
    return true;
  });
}

Result<std::vector<Delivery>> PgAlertStore::DueDeliveries(AlertChannel channel, int64_t now_ms,
                                                          int limit) {
  const int64_t bounded = std::clamp(limit, 1, 1000);
  return pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Result<std::vector<Delivery>> {
    // heads: each recipient's oldest released pending message, as on SQLite (a claimed one
    // included, so nothing newer to that address goes while it is in flight). Of those, the
    // ones due and not claimed are locked, skipping any another replica is locking right now;
    // state and claim are checked again on the locked row, so a message claimed, sent or
    // failed since this statement's snapshot is not handed out again.
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows claimed,
        db.Query("WITH heads AS (SELECT min(id) AS id FROM alert_deliveries WHERE state = "
                 "'pending' AND channel = $1 AND held_until <= $2 AND NOT (attempts = 0 AND "
                 "next_attempt_at > $2) GROUP BY address), "
                 "picked AS (SELECT d.org_id, d.id FROM alert_deliveries d WHERE d.id IN "
                 "(SELECT id FROM heads) AND d.state = 'pending' AND d.next_attempt_at <= $2 "
                 "AND d.claimed_until <= $2 ORDER BY d.id LIMIT $3 FOR UPDATE OF d SKIP LOCKED) "
                 "UPDATE alert_deliveries d SET claimed_until = $4 FROM picked "
                 "WHERE d.org_id = picked.org_id AND d.id = picked.id RETURNING d.id",
                 pg::Params(channel, now_ms, bounded, now_ms + kAlertClaimMs)));
    if (claimed.empty()) return std::vector<Delivery>();
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows rows,
        db.Query(std::string(kPgDeliveryColumns) + "WHERE d.id = ANY($1::bigint[]) ORDER BY d.id",
                 pg::Params(PgAlertIdArray(PgAlertIdsOf(claimed)))));
    return ReadPgDeliveries(rows);
  });
}

Status PgAlertStore::MarkDelivered(int64_t delivery_id, int64_t now_ms) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(
      const int64_t changed,
      db->Run("UPDATE alert_deliveries SET state = 'sent', sent_at = $2, last_attempt_at = $2, "
              "attempts = attempts + 1, claimed_until = 0 WHERE id = $1",
              pg::Params(delivery_id, now_ms)));
  if (changed == 0) {
    return MakeError(ErrorCode::kNotFound, "no alert message " + std::to_string(delivery_id));
  }
  return OkStatus();
}

Status PgAlertStore::MarkAllDelivered(const std::vector<int64_t>& delivery_ids, int64_t now_ms) {
  if (delivery_ids.empty()) return OkStatus();
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  // One statement, so all at once. The first is the message that was sent; the others went
  // inside it (attempts stay 0, so the rate limit counts the group once).
  DOZOR_RETURN_IF_ERROR(
      db->Run("UPDATE alert_deliveries SET state = 'sent', sent_at = $2, last_attempt_at = $2, "
              "attempts = attempts + CASE WHEN id = $3 THEN 1 ELSE 0 END, claimed_until = 0 "
              "WHERE id = ANY($1::bigint[]) AND state = 'pending'",
              pg::Params(PgAlertIdArray(delivery_ids), now_ms, delivery_ids.front())));
  return OkStatus();
}

Result<std::vector<Delivery>> PgAlertStore::GroupCompanions(const Delivery& leader, int64_t now_ms,
                                                            int64_t window_ms, int limit) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db->Query(std::string(kPgDeliveryColumns) +
                    "WHERE d.state = 'pending' AND d.channel = $1 AND d.address = $2 AND "
                    "d.id > $3 AND d.attempts = 0 AND d.held_until <= $4 AND "
                    "d.message_json <> '' AND d.created_at <= $5 AND d.org_id = $6 AND "
                    "al.kind NOT IN ('host_offline', 'site_offline') AND NOT (al.kind IN "
                    "('finding_opened', 'finding_regressed') AND al.severity = 'critical') "
                    "ORDER BY d.id LIMIT $7",
                pg::Params(leader.channel, leader.address, leader.id, now_ms,
                           leader.created_at_ms + window_ms, leader.org_id,
                           static_cast<int64_t>(std::clamp(limit, 1, 100)))));
  return ReadPgDeliveries(rows);
}

Status PgAlertStore::MarkAttemptFailed(int64_t delivery_id, std::string_view error,
                                       std::optional<int64_t> retry_at_ms, int64_t now_ms) {
  const std::string kept = KeptDeliveryError(error);
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(
      const int64_t changed,
      db->Run("UPDATE alert_deliveries SET attempts = attempts + 1, last_error = $2, "
              "last_attempt_at = $4, state = CASE WHEN $3::bigint IS NULL THEN 'failed' ELSE "
              "'pending' END, next_attempt_at = coalesce($3::bigint, next_attempt_at), "
              "claimed_until = 0 WHERE id = $1 AND state = 'pending'",
              pg::Params(delivery_id, kept, retry_at_ms, now_ms)));
  if (changed == 0) return NoPendingMessage(delivery_id);
  return OkStatus();
}

Result<Alert> PgAlertStore::GetAlert(int64_t alert_id) {
  return pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Result<Alert> {
    DOZOR_RETURN_IF_ERROR(PgAlertReadSnapshot(db));
    DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db.Query(std::string(kPgAlertColumns) +
                                                       "WHERE al.id = $1 ORDER BY al.id LIMIT 1",
                                                   pg::Params(alert_id)));
    if (rows.empty()) {
      return MakeError(ErrorCode::kNotFound, "no alert " + std::to_string(alert_id));
    }
    std::vector<Alert> alerts = ReadPgAlerts(rows);
    DOZOR_RETURN_IF_ERROR(AttachPgDeliveries(db, alerts));
    return std::move(alerts.front());
  });
}

Result<Alert> PgAlertStore::FindAlertByEvent(int64_t event_id, std::string_view kind) {
  int64_t id = 0;
  {
    DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
    DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db->Query("SELECT id FROM alerts WHERE event_id = $1 "
                                                    "AND kind = $2 ORDER BY id LIMIT 1",
                                                    pg::Params(event_id, kind)));
    if (rows.empty()) return MakeError(ErrorCode::kNotFound, "no such alert");
    id = rows.Int(0, 0);
  }
  return GetAlert(id);
}

Result<std::vector<Alert>> PgAlertStore::ListAlerts(const AlertFilter& filter) {
  std::optional<std::string> org_ids;
  if (filter.visible_org_ids) org_ids = PgAlertIdArray(*filter.visible_org_ids);
  return pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Result<std::vector<Alert>> {
    DOZOR_RETURN_IF_ERROR(PgAlertReadSnapshot(db));
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows rows,
        db.Query(std::string(kPgAlertColumns) +
                     "WHERE ($1::bigint = 0 OR al.id < $1) AND ($2::bigint IS NULL OR al.org_id = "
                     "$2) AND ($3::bigint[] IS NULL OR al.org_id = ANY($3::bigint[])) AND "
                     "(NOT $4::boolean OR al.acked_at IS NULL) ORDER BY al.id DESC LIMIT $5",
                 pg::Params(filter.before_id, filter.org_id, org_ids, filter.unacknowledged_only,
                            static_cast<int64_t>(std::clamp(filter.limit, 1, 500)))));
    std::vector<Alert> alerts = ReadPgAlerts(rows);
    DOZOR_RETURN_IF_ERROR(AttachPgDeliveries(db, alerts));
    return alerts;
  });
}

Result<Alert> PgAlertStore::AcknowledgeAlert(int64_t alert_id, std::string_view actor,
                                             int64_t now_ms) {
  const Status acknowledged = pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Status {
    // Two acknowledgements at once: the second waits for the first's row lock, then finds the
    // alert acknowledged.
    DOZOR_ASSIGN_OR_RETURN(
        const int64_t changed,
        db.Run("UPDATE alerts SET acked_at = $2, acked_by = $3, escalate_at = NULL "
               "WHERE id = $1 AND acked_at IS NULL",
               pg::Params(alert_id, now_ms, actor)));
    if (changed == 0) {
      DOZOR_ASSIGN_OR_RETURN(pg::Rows exists,
                             db.Query("SELECT 1 FROM alerts WHERE id = $1", pg::Params(alert_id)));
      if (exists.empty()) {
        return MakeError(ErrorCode::kNotFound, "no alert " + std::to_string(alert_id));
      }
      return MakeError(ErrorCode::kFailedPrecondition,
                       "alert " + std::to_string(alert_id) + " is already acknowledged");
    }
    return CancelPgHeldOfAcknowledged(db, now_ms);
  });
  DOZOR_RETURN_IF_ERROR(acknowledged);
  return GetAlert(alert_id);
}

Result<std::vector<ChannelBacklog>> PgAlertStore::AlertBacklog() {
  return pg::InTransaction(
      context_.pool, [&](pg::Connection& db) -> Result<std::vector<ChannelBacklog>> {
        DOZOR_RETURN_IF_ERROR(PgAlertReadSnapshot(db));
        std::vector<ChannelBacklog> out;
        for (const auto channel :
             {AlertChannel::kEmail, AlertChannel::kTelegram, AlertChannel::kWebhook}) {
          ChannelBacklog backlog;
          backlog.channel = channel;
          out.push_back(backlog);
        }
        DOZOR_ASSIGN_OR_RETURN(
            pg::Rows counts,
            db.Query("SELECT channel, state, count(*), min(created_at) FROM alert_deliveries "
                     "GROUP BY channel, state"));
        for (int row = 0; row < counts.size(); ++row) {
          const auto channel = ParseAlertChannel(counts.Text(row, 0));
          const auto state = ParseDeliveryState(counts.Text(row, 1));
          if (!channel || !state) continue;
          auto& backlog = out[static_cast<size_t>(*channel)];
          switch (*state) {
            case DeliveryState::kPending:
              backlog.pending = counts.Int(row, 2);
              backlog.oldest_pending_ms = counts.Int(row, 3);
              break;
            case DeliveryState::kFailed:
              backlog.failed = counts.Int(row, 2);
              break;
            case DeliveryState::kSent:
              backlog.sent = counts.Int(row, 2);
              break;
            case DeliveryState::kCancelled:
              backlog.cancelled = counts.Int(row, 2);
              break;
          }
        }
        DOZOR_ASSIGN_OR_RETURN(
            pg::Rows errors,
            db.Query("SELECT channel, last_error FROM alert_deliveries WHERE id IN (SELECT "
                     "max(id) FROM alert_deliveries WHERE last_error <> '' AND state <> 'sent' "
                     "GROUP BY channel)"));
        for (int row = 0; row < errors.size(); ++row) {
          if (const auto channel = ParseAlertChannel(errors.Text(row, 0))) {
            out[static_cast<size_t>(*channel)].last_error = errors.Text(row, 1);
          }
        }
        return out;
      });
}

Result<int64_t> PgAlertStore::PruneAlerts(int64_t before_ms) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  // Their messages go with them (ON DELETE CASCADE).
  return db->Run(
      "DELETE FROM alerts al WHERE al.created_at < $1 AND NOT EXISTS (SELECT 1 FROM "
      "alert_deliveries d WHERE d.org_id = al.org_id AND d.alert_id = al.id AND "
      "d.state = 'pending')",
      pg::Params(before_ms));
}

// ------------------------------------------------------------------ alert rules

namespace {

Error NoAlertOrganization(int64_t org_id) {
  return MakeError(ErrorCode::kNotFound, "no organization with id " + std::to_string(org_id));
}

}  // namespace

Result<OrgAlertSettings> PgAlertStore::GetOrgAlertSettings(int64_t org_id) {
  return pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Result<OrgAlertSettings> {
    DOZOR_RETURN_IF_ERROR(PgAlertReadSnapshot(db));
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows exists, db.Query("SELECT 1 FROM organizations WHERE id = $1", pg::Params(org_id)));
    if (exists.empty()) return NoAlertOrganization(org_id);
    OrgAlertSettings settings;
    settings.org_id = org_id;
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows rows,
        db.Query("SELECT time_zone, work_days, work_start_minute, work_end_minute, after_hours, "
                 "min_severity, server_grace_minutes, updated_at, updated_by FROM "
                 "org_alert_settings WHERE org_id = $1",
                 pg::Params(org_id)));
    if (!rows.empty()) {
      settings.time_zone = rows.Text(0, 0);
      settings.work_days = static_cast<int>(rows.Int(0, 1));
      settings.work_start_minute = static_cast<int>(rows.Int(0, 2));
      settings.work_end_minute = static_cast<int>(rows.Int(0, 3));
      settings.after_hours = ParseAfterHours(rows.Text(0, 4)).value_or(AfterHours::kAll);
      if (!rows.IsNull(0, 5)) settings.min_severity = ParseSeverity(rows.Text(0, 5));
      settings.server_grace_minutes = static_cast<int>(rows.Int(0, 6));
      settings.updated_at_ms = rows.Int(0, 7);
      settings.updated_by = rows.Text(0, 8);
    }
    // COLLATE "C": byte order, as SQLite's BINARY collation sorts them.
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows overrides,
        db.Query("SELECT rule_id, min_severity FROM org_alert_rule_overrides WHERE org_id = $1 "
                 "ORDER BY rule_id COLLATE \"C\"",
                 pg::Params(org_id)));
    for (int row = 0; row < overrides.size(); ++row) {
      RuleAlertOverride override_rule;
      override_rule.rule_id = overrides.Text(row, 0);
      if (!overrides.IsNull(row, 1))
        override_rule.min_severity = ParseSeverity(overrides.Text(row, 1));
      settings.rule_overrides.push_back(std::move(override_rule));
    }
    return settings;
  });
}

Result<OrgAlertSettings> PgAlertStore::PutOrgAlertSettings(const OrgAlertSettings& settings,
                                                           std::string_view actor, int64_t now_ms) {
  DOZOR_RETURN_IF_ERROR(CheckOrgAlertSettings(settings));
  const Status replaced = pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Status {
    DOZOR_ASSIGN_OR_RETURN(pg::Rows exists, db.Query("SELECT 1 FROM organizations WHERE id = $1",
                                                     pg::Params(settings.org_id)));
    if (exists.empty()) return NoAlertOrganization(settings.org_id);
    // The upsert takes the settings row's lock first: two replicas replacing one organisation's
    // rules at once go one after the other, and the overrides are the last one's.
    DOZOR_RETURN_IF_ERROR(db.Run(
        "INSERT INTO org_alert_settings(org_id, time_zone, work_days, work_start_minute, "
        "work_end_minute, after_hours, min_severity, server_grace_minutes, updated_at, "
        "updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
        "ON CONFLICT (org_id) DO UPDATE SET time_zone = EXCLUDED.time_zone, "
        "work_days = EXCLUDED.work_days, work_start_minute = EXCLUDED.work_start_minute, "
        "work_end_minute = EXCLUDED.work_end_minute, after_hours = EXCLUDED.after_hours, "
        "min_severity = EXCLUDED.min_severity, "
        "server_grace_minutes = EXCLUDED.server_grace_minutes, "
        "updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by",
        pg::Params(settings.org_id, settings.time_zone, settings.work_days,
                   settings.work_start_minute, settings.work_end_minute, settings.after_hours,
                   settings.min_severity, settings.server_grace_minutes, now_ms, actor)));
    DOZOR_RETURN_IF_ERROR(db.Run("DELETE FROM org_alert_rule_overrides WHERE org_id = $1",
                                 pg::Params(settings.org_id)));
    for (const auto& override_rule : settings.rule_overrides) {
      // A rule named twice: the later one wins, as SQLite's INSERT OR REPLACE.
      DOZOR_RETURN_IF_ERROR(db.Run(
          "INSERT INTO org_alert_rule_overrides(org_id, rule_id, min_severity) VALUES ($1, $2, "
          "$3) ON CONFLICT (org_id, rule_id) DO UPDATE SET min_severity = EXCLUDED.min_severity",
          pg::Params(settings.org_id, override_rule.rule_id, override_rule.min_severity)));
    }
    return OkStatus();
  });
  DOZOR_RETURN_IF_ERROR(replaced);
  return GetOrgAlertSettings(settings.org_id);
}

namespace {

constexpr const char* kPgWindowColumns =
    "SELECT id, org_id, agent_id, starts_at, ends_at, weekdays, start_minute, duration_minutes, "
    "reason, created_by, created_at FROM maintenance_windows ";

MaintenanceWindow ReadPgWindow(const pg::Rows& rows, int row) {
  MaintenanceWindow window;
  window.id = rows.Int(row, 0);
  window.org_id = rows.Int(row, 1);
  window.agent_id = rows.Text(row, 2);
  window.starts_at_ms = rows.OptionalInt(row, 3);
  window.ends_at_ms = rows.OptionalInt(row, 4);
  window.weekdays = static_cast<int>(rows.Int(row, 5));
  window.start_minute = static_cast<int>(rows.Int(row, 6));
  window.duration_minutes = static_cast<int>(rows.Int(row, 7));
  window.reason = rows.Text(row, 8);
  window.created_by = rows.Text(row, 9);
  window.created_at_ms = rows.Int(row, 10);
  return window;
}

}  // namespace

Result<std::vector<MaintenanceWindow>> PgAlertStore::ListMaintenanceWindows(
    std::optional<int64_t> org_id) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db->Query(std::string(kPgWindowColumns) +
                    "WHERE $1::bigint IS NULL OR org_id = $1 ORDER BY org_id, id LIMIT 10000",
                pg::Params(org_id)));
  std::vector<MaintenanceWindow> windows;
  for (int row = 0; row < rows.size(); ++row) windows.push_back(ReadPgWindow(rows, row));
  return windows;
}

Result<MaintenanceWindow> PgAlertStore::AddMaintenanceWindow(const MaintenanceWindow& window,
                                                             int64_t now_ms) {
  DOZOR_RETURN_IF_ERROR(CheckMaintenanceWindow(window));
  const bool one_off = window.starts_at_ms.has_value();
  const Result<int64_t> inserted_id =
      pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Result<int64_t> {
        // The organisation's row lock (NO KEY: rows referring to it may still be added
        // meanwhile) makes replicas adding windows to one organisation count one after the
        // other, so the limit holds.
        DOZOR_ASSIGN_OR_RETURN(
            pg::Rows exists, db.Query("SELECT 1 FROM organizations WHERE id = $1 FOR NO KEY UPDATE",
                                      pg::Params(window.org_id)));
        if (exists.empty()) return NoAlertOrganization(window.org_id);
        DOZOR_ASSIGN_OR_RETURN(
            pg::Rows count, db.Query("SELECT count(*) FROM maintenance_windows WHERE org_id = $1",
                                     pg::Params(window.org_id)));
        if (count.Int(0, 0) >= kMaxMaintenanceWindowsPerOrg) {
          return MakeError(ErrorCode::kResourceExhausted,
                           "an organisation has at most " +
                               std::to_string(kMaxMaintenanceWindowsPerOrg) +
                               " maintenance windows; delete old ones first");
        }
        if (!window.agent_id.empty()) {
          DOZOR_ASSIGN_OR_RETURN(
              pg::Rows host, db.Query("SELECT 1 FROM agents WHERE agent_id = $1 AND org_id = $2",
                                      pg::Params(window.agent_id, window.org_id)));
          if (host.empty()) {
            return MakeError(ErrorCode::kInvalidArgument, "host " + window.agent_id +
                                                              " is not in organization " +
                                                              std::to_string(window.org_id));
          }
        }
        DOZOR_ASSIGN_OR_RETURN(
            pg::Rows inserted,
            db.Query(
                "INSERT INTO maintenance_windows(org_id, agent_id, starts_at, ends_at, "
                "weekdays, start_minute, duration_minutes, reason, created_by, created_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                pg::Params(window.org_id, window.agent_id, window.starts_at_ms, window.ends_at_ms,
                           one_off ? 0 : window.weekdays, one_off ? 0 : window.start_minute,
                           one_off ? 0 : window.duration_minutes, window.reason, window.created_by,
                           now_ms)));
        return inserted.Int(0, 0);
      });
  DOZOR_ASSIGN_OR_RETURN(const int64_t id, inserted_id);
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

Status PgAlertStore::DeleteMaintenanceWindow(int64_t org_id, int64_t window_id) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(const int64_t changed,
                         db->Run("DELETE FROM maintenance_windows WHERE org_id = $1 AND id = $2",
                                 pg::Params(org_id, window_id)));
  if (changed == 0) {
    return MakeError(ErrorCode::kNotFound, "no maintenance window " + std::to_string(window_id) +
                                               " in organization " + std::to_string(org_id));
  }
  return OkStatus();
}

Result<int64_t> PgAlertStore::PruneMaintenanceWindows(int64_t before_ms) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  return db->Run("DELETE FROM maintenance_windows WHERE ends_at IS NOT NULL AND ends_at < $1",
                 pg::Params(before_ms));
}

Result<int> PgAlertStore::CountFindingAlerts(int64_t finding_id, int64_t since_ms) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db->Query("SELECT count(*) FROM alerts WHERE finding_id = $1 AND created_at >= $2 AND "
                "kind IN ('finding_opened', 'finding_regressed') AND suppressed <> 'maintenance'",
                pg::Params(finding_id, since_ms)));
  return static_cast<int>(rows.Int(0, 0));
}

Result<bool> PgAlertStore::FindingAnnounced(int64_t finding_id, int64_t now_ms) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db->Query("SELECT EXISTS (SELECT 1 FROM alert_deliveries d JOIN alerts al ON "
                "al.org_id = d.org_id AND al.id = d.alert_id WHERE al.finding_id = $1 AND "
                "al.kind IN ('finding_opened', 'finding_regressed') AND (d.state = 'sent' OR "
                "(d.state = 'pending' AND d.held_until <= $2)))",
                pg::Params(finding_id, now_ms)));
  return rows.Bool(0, 0);
}

Result<int> PgAlertStore::CountSentTo(int64_t user_id, AlertChannel channel, int64_t since_ms) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db->Query("SELECT count(*) FROM alert_deliveries d JOIN alerts al ON al.org_id = d.org_id "
                "AND al.id = d.alert_id WHERE d.state = 'sent' AND d.attempts > 0 AND "
                "d.user_id = $1 AND d.channel = $2 AND d.sent_at >= $3 AND al.kind NOT IN "
                "('host_offline', 'site_offline', 'channel_failed', 'monthly_report') AND NOT "
                "(al.kind IN ('finding_opened', 'finding_regressed') AND al.severity = "
                "'critical')",
                pg::Params(user_id, channel, since_ms)));
  return static_cast<int>(rows.Int(0, 0));
}

Status PgAlertStore::HoldDelivery(int64_t delivery_id, std::string_view reason, int64_t until_ms) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(
      const int64_t changed,
      db->Run("UPDATE alert_deliveries SET next_attempt_at = greatest(next_attempt_at, $3), "
              "held = $2, held_until = $3, claimed_until = 0 WHERE id = $1 AND state = 'pending'",
              pg::Params(delivery_id, reason, until_ms)));
  if (changed == 0) return NoPendingMessage(delivery_id);
  return OkStatus();
}

Result<bool> PgAlertStore::RecordNotice(const NewAlert& alert, const MonthlyReportRecord* monthly,
                                        int64_t now_ms) {
  return pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Result<bool> {
    if (monthly != nullptr) {
      // Two replicas sending one month's report: the second waits for the first's row and
      // then records nothing.
      DOZOR_ASSIGN_OR_RETURN(
          pg::Rows recorded,
          db.Query("INSERT INTO monthly_reports(org_id, month, sent_at, recipients) VALUES ($1, "
                   "$2, $3, $4) ON CONFLICT (org_id, month) DO NOTHING RETURNING org_id",
                   pg::Params(monthly->org_id, monthly->month, monthly->sent_at_ms,
                              monthly->recipients)));
      if (recorded.empty()) return false;
    }
    DOZOR_RETURN_IF_ERROR(InsertPgAlert(db, alert, now_ms));
    return true;
  });
}

Result<std::optional<MonthlyReportRecord>> PgAlertStore::GetMonthlyReport(int64_t org_id,
                                                                          std::string_view month) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows,
                         db->Query("SELECT org_id, month, sent_at, recipients FROM "
                                   "monthly_reports WHERE org_id = $1 AND month = $2",
                                   pg::Params(org_id, month)));
  if (rows.empty()) return std::optional<MonthlyReportRecord>();
  MonthlyReportRecord record;
  record.org_id = rows.Int(0, 0);
  record.month = rows.Text(0, 1);
  record.sent_at_ms = rows.Int(0, 2);
  record.recipients = static_cast<int>(rows.Int(0, 3));
  return std::optional<MonthlyReportRecord>(std::move(record));
}

}  // namespace dozor::server
