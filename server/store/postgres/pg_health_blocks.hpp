// Compacted health samples on PostgreSQL (migration 015), SQLite's hourly blocks ported: the
// samples of one agent-hour in one block (store/health_block_codec.hpp).
//
// Compaction works a daily partition of health_samples once its day has ended before
// `older_than_ms`: agent by agent, one transaction each, it merges the agent's rows of that day
// (and any blocks those hours already have: samples that arrived late) into blocks and deletes
// the rows it compacted. A bucket that cannot be encoded (samples sharing a timestamp over the
// block limit, a damaged old block) is skipped and reported; its rows stay readable. A partition
// found empty at the start of a later pass is TRUNCATEd, which gives its space back at once
// (deleted rows alone would keep the partition's size until retention dropped it). Waiting a
// pass means no reader still holds a snapshot from before the last rows moved, which TRUNCATE
// (not MVCC-safe) could otherwise show an empty partition. The default partition (samples from
// beyond the partition window) stays raw.
//
// Readers (ListHealth, VisitHealth) read raw rows and blocks in one REPEATABLE READ snapshot, so
// a sample moving into a block is seen exactly once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dozor/common/result.hpp"
#include "store/health_block_codec.hpp"
#include "store/postgres/pg_client.hpp"
#include "store/postgres/pg_health_partitions.hpp"

namespace dozor::server {

// The shared pass counters, and the emptied daily partitions given back.
struct PgCompactionStats : CompactionStats {
  int64_t partitions_truncated = 0;
};

class PgHealthBlocks {
 public:
  PgHealthBlocks(pg::Pool& pool, PgHealthPartitions& partitions)
      : pool_(pool), partitions_(partitions) {}

  // Compacts the daily partitions whose day ended at or before older_than_ms. Returns between
  // agents when `stop` (may be null) is set or `deadline` has passed; the next pass goes on
  // where this one left off (compacted agents have no rows left to read).
  Result<PgCompactionStats> Compact(int64_t older_than_ms, const std::atomic<bool>* stop = nullptr,
                                    std::chrono::steady_clock::time_point deadline =
                                        std::chrono::steady_clock::time_point::max());

  // Deletes blocks whose newest sample is before cutoff_ms and rewrites those straddling it
  // without their older samples. Returns the samples removed.
  Result<int64_t> Prune(int64_t cutoff_ms);

  // Within the caller's snapshot on `db`: the samples of one host collected in [from_ms, to_ms),
  // raw rows and blocks merged, oldest first (ties by seq), one per (collected_at, seq), handed
  // to `visit` a day at a time so memory stays bounded whatever the range.
  static Status Visit(pg::Connection& db, int64_t org_id, int64_t agent, int64_t from_ms,
                      int64_t to_ms, const BlockSampleVisitor& visit);
  // Within the caller's snapshot: the newest `limit` samples collected at or after since_ms,
  // newest first.
  static Result<std::vector<BlockSample>> Newest(pg::Connection& db, int64_t org_id, int64_t agent,
                                                 int64_t since_ms, int limit);

 private:
  // One agent's rows of one partition into blocks; adds to *stats.
  Status CompactAgent(const std::string& partition, int64_t org_id, int64_t agent,
                      PgCompactionStats* stats);

  pg::Pool& pool_;
  PgHealthPartitions& partitions_;
};

}  // namespace dozor::server
