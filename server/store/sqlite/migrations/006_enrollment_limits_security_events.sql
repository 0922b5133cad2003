-- Enrollment tokens get a use limit, and refusals of anonymous and agent callers are recorded.
--
-- max_uses: NULL means unlimited. Tokens created before this migration keep working as they were
-- issued (NULL); new tokens get the API's default (see enrollment_tokens_handler.cpp). The check
-- and the count happen in the same transaction as the enrollment, so a token cannot be used once
-- more than its limit even under concurrent enrollments.
ALTER TABLE enrollment_tokens ADD COLUMN max_uses INTEGER CHECK (max_uses IS NULL OR max_uses > 0);

-- Security events: enrollments refused, wrong agent secrets, callers throttled. One row stands for
-- `count` refusals of the same kind from the same source within a minute (the server aggregates
-- them in memory), so a brute-force flood costs a few rows, not one per attempt. Rows older than
-- the retention (90 days) are pruned with the health data.
CREATE TABLE security_events (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,            -- Unix ms of the first refusal the row stands for
  kind TEXT NOT NULL CHECK (kind IN ('enroll_refused', 'agent_auth_failed', 'throttled',
                                     'api_auth_failed')),
  source TEXT NOT NULL,           -- peer address as gRPC/HTTP saw it
  subject TEXT NOT NULL,          -- agent id or token hint the caller presented (escaped)
  detail TEXT NOT NULL,           -- the reason given to the caller
  count INTEGER NOT NULL DEFAULT 1 CHECK (count > 0)
);
CREATE INDEX security_events_at ON security_events(at);
