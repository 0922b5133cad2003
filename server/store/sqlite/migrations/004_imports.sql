-- One-shot audit files (issue 4): `dozor-agent collect` writes a snapshot on a machine without a
-- permanent agent, `dozorctl import` loads it as a host of the organisation.
--
-- Where a host's data comes from: 'agent' (a running dozor-agent) or 'import' (snapshots). An
-- imported host has a random secret hash that matches no secret, so it can never stream.
ALTER TABLE agents ADD COLUMN source TEXT NOT NULL DEFAULT 'agent';

-- Every imported file, once: sha256 (over the file's payload bytes) makes a re-import of the same
-- file a no-op. outcome: created (new host) | updated (newer inventory stored) | stale (recorded
-- only: the host already held an inventory at least as new).
CREATE TABLE imports (
  id INTEGER PRIMARY KEY,
  org_id INTEGER NOT NULL REFERENCES organizations(id),
  sha256 TEXT NOT NULL UNIQUE,
  agent INTEGER NOT NULL REFERENCES agents(id),
  hostname TEXT NOT NULL DEFAULT '',
  machine_id TEXT NOT NULL,
  agent_version TEXT NOT NULL DEFAULT '',
  collected_at INTEGER NOT NULL,
  imported_at INTEGER NOT NULL,
  actor TEXT NOT NULL DEFAULT '',
  token_id INTEGER REFERENCES enrollment_tokens(id),
  outcome TEXT NOT NULL
);
CREATE INDEX imports_org ON imports(org_id, imported_at);
CREATE INDEX imports_agent ON imports(agent);
