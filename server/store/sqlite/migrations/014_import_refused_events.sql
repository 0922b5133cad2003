-- Refused imports (a signature that does not verify, a file naming a token that cannot sign, an
-- organisation that does not match) become security events beside refused enrollments and wrong
-- secrets. SQLite cannot change a CHECK constraint in place, so the table is rebuilt with the
-- same columns and every row kept.
CREATE TABLE security_events_014 (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,            -- Unix ms of the first refusal the row stands for
  kind TEXT NOT NULL CHECK (kind IN ('enroll_refused', 'agent_auth_failed', 'throttled',
                                     'api_auth_failed', 'import_refused')),
  source TEXT NOT NULL,           -- peer address as gRPC/HTTP saw it
  subject TEXT NOT NULL,          -- agent id, token hint or file the caller presented (escaped)
  detail TEXT NOT NULL,           -- the reason given to the caller
  count INTEGER NOT NULL DEFAULT 1 CHECK (count > 0)
);
INSERT INTO security_events_014(id, at, kind, source, subject, detail, count)
  SELECT id, at, kind, source, subject, detail, count FROM security_events;
DROP TABLE security_events;
ALTER TABLE security_events_014 RENAME TO security_events;
CREATE INDEX security_events_at ON security_events(at);
