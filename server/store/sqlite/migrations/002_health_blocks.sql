-- Health samples in two tiers (see sqlite_store.cpp, "health compaction"):
--   health_samples  recent samples, one row each, as ingest wrote them. `encoding` says how
--                   `sample` is stored: 0 = zlib with a 4-byte length (codec.hpp, every row
--                   written by migration 001's code), 1 = plain protobuf serialization (rows
--                   written since this migration; cheaper on the ingest hot path).
--   health_blocks   older samples, one row per agent per hour bucket (or a few rows when a
--                   bucket holds many samples), compressed together. start_at/end_at are the
--                   first and last collected_at in the block, first_seq/last_seq the lowest and
--                   highest seq, count the number of samples.
ALTER TABLE health_samples ADD COLUMN encoding INTEGER NOT NULL DEFAULT 0;

CREATE TABLE health_blocks (
  agent INTEGER NOT NULL,
  start_at INTEGER NOT NULL,
  end_at INTEGER NOT NULL,
  count INTEGER NOT NULL,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (agent, start_at)
) WITHOUT ROWID;
