-- Alerts (docs/alerts.md): what the dispatcher planned from the event feed, and the outbox of
-- messages, one row per recipient and channel, each with its body rendered when planned.

-- The last feed event the dispatcher planned from (one row once it has run).
CREATE TABLE alert_cursor (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  event_id INTEGER NOT NULL
);

CREATE TABLE alerts (
  id INTEGER PRIMARY KEY,
  created_at INTEGER NOT NULL,
  event_id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  org_id INTEGER NOT NULL REFERENCES organizations(id),
  finding_id INTEGER,
  agent_id TEXT NOT NULL DEFAULT '',
  severity TEXT NOT NULL DEFAULT '',
  summary TEXT NOT NULL,
  -- 0: the assigned (primary) engineers; 1: the backups; 2: the duty list.
  stage INTEGER NOT NULL DEFAULT 0,
  escalate_at INTEGER,
  acked_at INTEGER,
  acked_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alerts_by_org ON alerts(org_id, id);
CREATE INDEX alerts_by_event ON alerts(event_id);
CREATE INDEX alerts_by_finding ON alerts(finding_id) WHERE finding_id IS NOT NULL;
CREATE INDEX alerts_open_host_offline ON alerts(agent_id)
  WHERE kind = 'host_offline' AND acked_at IS NULL;
CREATE INDEX alerts_escalation_due ON alerts(escalate_at)
  WHERE acked_at IS NULL AND escalate_at IS NOT NULL;

CREATE TABLE alert_deliveries (
  id INTEGER PRIMARY KEY,
  alert_id INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
  stage INTEGER NOT NULL,
  user_id INTEGER REFERENCES users(id),
  channel TEXT NOT NULL CHECK (channel IN ('email', 'telegram', 'webhook')),
  address TEXT NOT NULL,
  language TEXT NOT NULL,
  idempotency_key TEXT NOT NULL UNIQUE,
  payload TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  last_attempt_at INTEGER,
  sent_at INTEGER,
  created_at INTEGER NOT NULL
);
-- The delivery workers' question: per channel and recipient, the oldest pending message.
CREATE INDEX alert_deliveries_pending ON alert_deliveries(channel, address, id)
  WHERE state = 'pending';
CREATE INDEX alert_deliveries_by_alert ON alert_deliveries(alert_id);
