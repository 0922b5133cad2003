-- Compacted health: one agent's samples of one hour in a block (store/health_block_codec.hpp, the
-- codec SQLite's health_blocks use), several times smaller than a row per sample. Maintenance
-- compacts the daily partitions of health_samples once their day is over and TRUNCATEs a
-- partition it has emptied (store/postgres/pg_health_blocks.hpp); samples that arrive late for a
-- compacted hour are merged into its blocks by a later pass. Readers see raw rows and blocks in
-- one snapshot.
CREATE TABLE health_blocks (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  start_at bigint NOT NULL,  -- collected_at of the oldest sample
  end_at bigint NOT NULL,    -- collected_at of the newest sample
  count bigint NOT NULL,
  first_seq bigint NOT NULL,
  last_seq bigint NOT NULL,
  data bytea NOT NULL,
  PRIMARY KEY (agent, start_at, org_id),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);
-- Blocks are zlib streams already: stored out of line without another compression attempt.
ALTER TABLE health_blocks ALTER COLUMN data SET STORAGE EXTERNAL;
-- Retention: blocks wholly before the cutoff.
CREATE INDEX health_blocks_end ON health_blocks(end_at);
