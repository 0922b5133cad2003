-- The fact views leave revoked hosts out of the health windows with
-- `agent NOT IN (SELECT id FROM agents WHERE revoked_at IS NOT NULL)`, computed once per rule
-- statement: this index (empty on most estates) makes that a lookup instead of a scan of every
-- agent, which cost a host's evaluation after its report 5 ms instead of 0.5 ms.
CREATE INDEX agents_revoked ON agents(id) WHERE revoked_at IS NOT NULL;
