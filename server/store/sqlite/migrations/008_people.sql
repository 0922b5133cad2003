-- People and access: user accounts, engineers assigned to organisations, client notes, browser and
-- CLI sessions, API tokens owned by users, and the audit log of every change.

-- role 'client' users belong to exactly one organisation (org_id); admins and engineers to none
-- (engineers see the organisations they are assigned to). password_hash is libsodium's argon2id
-- string ("$argon2id$v=19$..."); NULL means the account cannot log in until an admin sets a
-- password (accounts made from the old free-text engineer field start that way).
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  login TEXT NOT NULL UNIQUE COLLATE NOCASE,
  display_name TEXT NOT NULL,
  email TEXT NOT NULL DEFAULT '',
  telegram_chat_id TEXT NOT NULL DEFAULT '',
  language TEXT NOT NULL DEFAULT 'ru' CHECK (language IN ('ru', 'en')),
  time_zone TEXT NOT NULL DEFAULT 'Europe/Moscow',
  role TEXT NOT NULL CHECK (role IN ('admin', 'engineer', 'client')),
  org_id INTEGER REFERENCES organizations(id),
  enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  password_hash TEXT,
  password_changed_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  CHECK ((role = 'client') = (org_id IS NOT NULL))
);

-- An engineer works on an organisation as its primary or a backup, with a specialty ("1C",
-- "network"); several engineers per organisation is normal (a complex contract).
CREATE TABLE org_assignments (
  org_id INTEGER NOT NULL REFERENCES organizations(id),
  user_id INTEGER NOT NULL REFERENCES users(id),
  kind TEXT NOT NULL CHECK (kind IN ('primary', 'backup')),
  specialty TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  PRIMARY KEY (org_id, user_id)
) WITHOUT ROWID;
CREATE INDEX org_assignments_user ON org_assignments(user_id);

-- Client notes: one text per organisation, every save a new version (who, when), so the history
-- of what engineers must know about a client is never overwritten.
CREATE TABLE org_note_versions (
  id INTEGER PRIMARY KEY,
  org_id INTEGER NOT NULL REFERENCES organizations(id),
  body TEXT NOT NULL,
  author_user_id INTEGER REFERENCES users(id),
  author TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX org_note_versions_org ON org_note_versions(org_id, id);

-- Sessions: only the SHA-256 of the opaque id is stored. kind: 'browser' (cookie, needs the CSRF
-- token on state-changing requests) or 'cli' (bearer, dozorctl login).
CREATE TABLE sessions (
  id INTEGER PRIMARY KEY,
  session_hash TEXT NOT NULL UNIQUE,
  user_id INTEGER NOT NULL REFERENCES users(id),
  kind TEXT NOT NULL CHECK (kind IN ('browser', 'cli')),
  csrf_token TEXT NOT NULL,
  source TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL      -- the absolute expiry; the idle one is last_seen_at + idle
);
CREATE INDEX sessions_user ON sessions(user_id);

-- API tokens belong to a user and carry that user's role and scope (narrowed by the token's own
-- role). Tokens made before accounts existed have no user and keep working as admin tokens.
ALTER TABLE api_tokens ADD COLUMN user_id INTEGER REFERENCES users(id);

-- Who did what, when, from where, for every change made through the management API (and failed
-- logins). org_id is the organisation the change was about, when it was about one.
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  actor_user_id INTEGER,
  actor TEXT NOT NULL,             -- login, or the API token's name for a token without a user
  via TEXT NOT NULL CHECK (via IN ('api', 'cli', 'dashboard', 'server')),
  source TEXT NOT NULL DEFAULT '', -- client address
  action TEXT NOT NULL,            -- "POST /api/v1/findings/{id}/ack", "login_failed", ...
  org_id INTEGER,
  object TEXT NOT NULL DEFAULT '', -- "finding 12", "user 3"
  status INTEGER NOT NULL,         -- the HTTP status the change was answered with
  detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE INDEX audit_log_org ON audit_log(org_id, id);
CREATE INDEX audit_log_actor ON audit_log(actor_user_id, id);

-- The event feed (store/event_store.hpp): append-only, read by cursor (id).
CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  org_id INTEGER,
  agent_id TEXT NOT NULL DEFAULT '',
  finding_id INTEGER,
  actor TEXT NOT NULL DEFAULT '',
  detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_org ON events(org_id, id);
CREATE INDEX events_at ON events(at);

-- "Fixed — please verify": who asked and when. The next evaluation after a fresh collection of the
-- host decides (the finding resolves, or stays with a verify_failed event) and clears both.
ALTER TABLE findings ADD COLUMN verify_requested_at INTEGER;
ALTER TABLE findings ADD COLUMN verify_requested_by TEXT NOT NULL DEFAULT '';

-- The old free-text engineer field becomes accounts and primary assignments: one engineer account
-- per distinct text (login engineer-N, display name the text, no password: an admin sets one or
-- merges it by re-assigning). organizations.engineer stays as the store-maintained list of the
-- primary engineers' display names (reports and rule facts read it).
INSERT INTO users(login, display_name, role, created_at, updated_at)
SELECT 'engineer-' || row_number() OVER (ORDER BY name), name, 'engineer',
       CAST(strftime('%s', 'now') AS INTEGER) * 1000, CAST(strftime('%s', 'now') AS INTEGER) * 1000
FROM (SELECT DISTINCT trim(engineer) AS name FROM organizations WHERE trim(engineer) <> '');

INSERT INTO org_assignments(org_id, user_id, kind, created_at)
SELECT o.id, u.id, 'primary', CAST(strftime('%s', 'now') AS INTEGER) * 1000
FROM organizations o JOIN users u ON u.display_name = trim(o.engineer) AND u.role = 'engineer'
WHERE trim(o.engineer) <> '';
