-- Alert rules of an organisation and of a person (docs/alerts.md): working hours in the client's
-- time zone and what pages outside them, the severity threshold and per-rule overrides, the grace
-- before a silent server pages; maintenance windows; a person's quiet hours and whether a client
-- contact gets the monthly report. Messages may now wait (held) or be cancelled before sending.

CREATE TABLE org_alert_settings (
  org_id INTEGER PRIMARY KEY REFERENCES organizations(id),
  time_zone TEXT NOT NULL DEFAULT 'Europe/Moscow',
  -- bit 0 Monday ... bit 6 Sunday
  work_days INTEGER NOT NULL DEFAULT 31 CHECK (work_days BETWEEN 0 AND 127),
  work_start_minute INTEGER NOT NULL DEFAULT 540 CHECK (work_start_minute BETWEEN 0 AND 1439),
  work_end_minute INTEGER NOT NULL DEFAULT 1080 CHECK (work_end_minute BETWEEN 1 AND 1440),
  -- what is sent outside working hours: everything, only what is urgent, nothing (all waits)
  after_hours TEXT NOT NULL DEFAULT 'all' CHECK (after_hours IN ('all', 'urgent', 'none')),
  -- NULL: the server's [alerts] min_severity
  min_severity TEXT,
  server_grace_minutes INTEGER NOT NULL DEFAULT 0 CHECK (server_grace_minutes BETWEEN 0 AND 1440),
  updated_at INTEGER NOT NULL,
  updated_by TEXT NOT NULL DEFAULT ''
);

-- A rule pages this organisation from min_severity on; NULL: never.
CREATE TABLE org_alert_rule_overrides (
  org_id INTEGER NOT NULL REFERENCES organizations(id),
  rule_id TEXT NOT NULL,
  min_severity TEXT,
  PRIMARY KEY (org_id, rule_id)
);

-- One-off (starts_at..ends_at, UTC ms) or weekly (weekdays mask, start minute and duration in the
-- organisation's time zone). agent_id '' covers the whole organisation.
CREATE TABLE maintenance_windows (
  id INTEGER PRIMARY KEY,
  org_id INTEGER NOT NULL REFERENCES organizations(id),
  agent_id TEXT NOT NULL DEFAULT '',
  starts_at INTEGER,
  ends_at INTEGER,
  weekdays INTEGER NOT NULL DEFAULT 0 CHECK (weekdays BETWEEN 0 AND 127),
  start_minute INTEGER NOT NULL DEFAULT 0,
  duration_minutes INTEGER NOT NULL DEFAULT 0,
  reason TEXT NOT NULL DEFAULT '',
  created_by TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  CHECK ((starts_at IS NOT NULL AND ends_at > starts_at AND weekdays = 0) OR
         (starts_at IS NULL AND ends_at IS NULL AND weekdays > 0 AND duration_minutes > 0))
);
CREATE INDEX maintenance_windows_by_org ON maintenance_windows(org_id, id);

-- "22:00-07:00" in the person's time zone, '' none.
ALTER TABLE users ADD COLUMN quiet_hours TEXT NOT NULL DEFAULT '';
-- A client contact who asked for the monthly report by e-mail.
ALTER TABLE users ADD COLUMN monthly_report INTEGER NOT NULL DEFAULT 0 CHECK (monthly_report IN (0, 1));

-- Why an alert was recorded without messages: 'maintenance', 'flapping'; '' it was sent.
ALTER TABLE alerts ADD COLUMN suppressed TEXT NOT NULL DEFAULT '';

-- The outbox gains: held (why its first attempt waits: grace, working_hours, quiet_hours,
-- rate_limit) with held_until, the message's words for grouping, and the state 'cancelled' (acknowledged before a held message went
-- out). SQLite cannot change a CHECK in place, so the table is rebuilt.
CREATE TABLE alert_deliveries_new (
  id INTEGER PRIMARY KEY,
  alert_id INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
  stage INTEGER NOT NULL,
  user_id INTEGER REFERENCES users(id),
  channel TEXT NOT NULL CHECK (channel IN ('email', 'telegram', 'webhook')),
  address TEXT NOT NULL,
  language TEXT NOT NULL,
  idempotency_key TEXT NOT NULL UNIQUE,
  payload TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending'
    CHECK (state IN ('pending', 'sent', 'failed', 'cancelled')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  last_attempt_at INTEGER,
  sent_at INTEGER,
  created_at INTEGER NOT NULL,
  held TEXT NOT NULL DEFAULT '',
  held_until INTEGER NOT NULL DEFAULT 0,
  -- The message's words ({"org", "subject", "text", "html"}) for a person's channel, so that a
  -- burst of one organisation's messages to one person can be sent as one; '' not groupable.
  message_json TEXT NOT NULL DEFAULT ''
);
INSERT INTO alert_deliveries_new(id, alert_id, stage, user_id, channel, address, language,
  idempotency_key, payload, state, attempts, next_attempt_at, last_error, last_attempt_at,
  sent_at, created_at)
SELECT id, alert_id, stage, user_id, channel, address, language, idempotency_key, payload, state,
  attempts, next_attempt_at, last_error, last_attempt_at, sent_at, created_at
FROM alert_deliveries;
DROP TABLE alert_deliveries;
ALTER TABLE alert_deliveries_new RENAME TO alert_deliveries;
CREATE INDEX alert_deliveries_pending ON alert_deliveries(channel, address, id)
  WHERE state = 'pending';
CREATE INDEX alert_deliveries_by_alert ON alert_deliveries(alert_id);
-- The rate limit's question: what one person was sent lately.
CREATE INDEX alert_deliveries_sent_by_user ON alert_deliveries(user_id, channel, sent_at)
  WHERE state = 'sent';

-- The monthly report: one row per organisation and month once it went out.
CREATE TABLE monthly_reports (
  org_id INTEGER NOT NULL REFERENCES organizations(id),
  month TEXT NOT NULL,  -- "2026-11"
  sent_at INTEGER NOT NULL,
  recipients INTEGER NOT NULL,
  PRIMARY KEY (org_id, month)
);
