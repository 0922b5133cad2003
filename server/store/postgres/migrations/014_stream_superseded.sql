-- An agent's stream moving to another replica supersedes the old one there, as a second stream
-- supersedes the first on one server: the new holder queues a 'superseded' request for the old
-- one (store/postgres/pg_replica_channel.cpp). Unlike 'disconnect' (an operator's revoke, which
-- ends whatever stream the agent has), the old replica acts on it only while the registry does
-- not name it as the holder again: an agent that came straight back keeps its new stream.
ALTER TABLE replica_requests DROP CONSTRAINT replica_requests_kind_check;
ALTER TABLE replica_requests ADD CONSTRAINT replica_requests_kind_check
  CHECK (kind IN ('command', 'disconnect', 'superseded'));
