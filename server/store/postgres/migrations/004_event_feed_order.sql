-- The event feed's ids in commit order. A follower (the dashboard, alerts, another replica's
-- poller) reads "id > cursor" and moves its cursor to the last id it saw, so an id must never
-- become visible after a larger one. An identity alone does not promise that: two transactions
-- draw 5 and 6, the one holding 6 commits first, a reader sees 6, and 5 (committed a moment
-- later) is behind its cursor for good.
--
-- The id's default therefore takes a transaction-level advisory lock before drawing from the
-- sequence. The lock is held to COMMIT or ROLLBACK, so the transaction holding the newest id ends
-- before another can draw a larger one, and a snapshot that shows an id shows every smaller id
-- that will ever commit. Every writer of events (AppendEvent, finding changes, contract moves)
-- gets this by inserting without an id; an explicit id (`dozor-server store migrate` copying
-- SQLite's) bypasses it, which is fine while nothing else writes. Writers should insert their
-- event as late as possible in a transaction: other event writers wait from there to its end.
--
-- Lock key: "dz" (0x647a), migration 004, lock 1 (see kEventFeedLockKey in pg_event_store.hpp).

CREATE FUNCTION dozor_next_event_id() RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(x'647a000000040001'::bigint);
  RETURN nextval('events_id_seq');
END
$$;

-- The identity becomes a plain sequence (an identity column cannot have another default), owned
-- by the column so pg_get_serial_sequence('events', 'id') still names it; it continues where
-- the identity stopped, so no id is handed out twice.
DO $$
DECLARE
  next_id bigint;
BEGIN
  SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END INTO next_id
    FROM events_id_seq;
  ALTER TABLE events ALTER COLUMN id DROP IDENTITY;
  CREATE SEQUENCE events_id_seq AS bigint OWNED BY events.id;
  PERFORM setval('events_id_seq',
                 greatest(next_id, coalesce((SELECT max(id) FROM events), 0) + 1), false);
END
$$;

ALTER TABLE events ALTER COLUMN id SET DEFAULT dozor_next_event_id();
