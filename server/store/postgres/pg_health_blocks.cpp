#include "store/postgres/pg_health_blocks.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <map>
#include <utility>

#include "dozor/contract/codec.hpp"
#include "store/postgres/pg_locks.hpp"

namespace dozor::server {
namespace {

// A raw row of health_samples, decoded.
Result<BlockSample> DecodeRawRow(const pg::Rows& rows, int row) {
  BlockSample item;
  item.collected_at_ms = rows.Int(row, 0);
  item.seq = static_cast<uint64_t>(rows.Int(row, 1));
  const std::string bytes = rows.Bytes(row, 2);
  if (bytes.size() > kMaxDecodedMessageBytes ||
      !item.sample.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return MakeError(ErrorCode::kDataLoss,
                     "health sample " + std::to_string(item.seq) + " collected at " +
                         std::to_string(item.collected_at_ms) + " does not parse");
  }
  return item;
}

// Appends the decodable rows of a (collected_at, seq, sample) result; a damaged sample is logged
// and skipped, so it does not hide the rest of the history.
void AppendRawRows(const pg::Rows& rows, int64_t agent, std::vector<BlockSample>* out) {
  for (int row = 0; row < rows.size(); ++row) {
    auto item = DecodeRawRow(rows, row);
    if (!item.ok()) {
      spdlog::warn("store: {} of agent {}", item.error().message, agent);
      continue;
    }
    out->push_back(std::move(item).value());
  }
}

// Decodes one block (a damaged one as far as it reads, logged).
std::vector<BlockSample> BlockSamples(std::string_view data, int64_t agent) {
  std::vector<BlockSample> decoded;
  if (Status read = DecodeHealthBlock(data, &decoded); !read.ok()) {
    spdlog::warn("store: health block of agent {}: {}", agent, read.error().ToString());
  }
  return decoded;
}

Status InsertBlocks(pg::Connection& db, int64_t org_id, int64_t agent,
                    const std::vector<EncodedHealthBlock>& blocks) {
  if (blocks.empty()) {
    return OkStatus();
  }
  pg::ArrayLiteral start, end, count, first, last;
  pg::ByteaArray data;
  for (const EncodedHealthBlock& block : blocks) {
    start.Add(block.start_at);
    end.Add(block.end_at);
    count.Add(block.count);
    first.Add(static_cast<int64_t>(block.first_seq));
    last.Add(static_cast<int64_t>(block.last_seq));
    data.Add(block.data);
  }
  DOZOR_RETURN_IF_ERROR(
      db.Run("INSERT INTO health_blocks(org_id, agent, start_at, end_at, count, first_seq, "
             "last_seq, data) SELECT $1::bigint, $2::bigint, * FROM unnest($3::bigint[], "
             "$4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bytea[])",
             pg::Params(org_id, agent, start, end, count, first, last, data)));
  return OkStatus();
}

constexpr int64_t kVisitWindowMs = PgHealthPartitions::kDayMs;

}  // namespace

// ------------------------------------------------------------------ compaction

Result<PgCompactionStats> PgHealthBlocks::Compact(int64_t older_than_ms,
                                                  const std::atomic<bool>* stop,
                                                  std::chrono::steady_clock::time_point deadline) {
  PgCompactionStats stats;
  DOZOR_ASSIGN_OR_RETURN(auto partitions, partitions_.List());
  std::vector<std::pair<int64_t, int64_t>> agents;  // (org_id, id)
  {
    DOZOR_ASSIGN_OR_RETURN(auto db, pool_.Acquire());
    DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db->Query("SELECT org_id, id FROM agents ORDER BY id"));
    for (int row = 0; row < rows.size(); ++row) {
      agents.emplace_back(rows.Int(row, 0), rows.Int(row, 1));
    }
  }
  for (const auto& [day, name] : partitions) {
    if (day + PgHealthPartitions::kDayMs > older_than_ms) {
      continue;  // still open for the day's samples
    }
    // Empty (truncated by an earlier pass, or never used): nothing to do. Emptied by an earlier
    // pass: give its space back. Under the partitions' lock, so a partition being created or
    // dropped at the same time is not touched.
    enum class Found { kNothing, kTruncated, kRows };
    DOZOR_ASSIGN_OR_RETURN(
        Found found, pg::InTransaction(pool_, [&](pg::Connection& db) -> Result<Found> {
          DOZOR_RETURN_IF_ERROR(db.Query("SELECT pg_advisory_xact_lock($1)",
                                         pg::Params(pg_locks::kHealthPartitions)));
          DOZOR_ASSIGN_OR_RETURN(pg::Rows exists,
                                 db.Query("SELECT to_regclass($1) IS NOT NULL AND pg_relation_size("
                                          "to_regclass($1)) > 0",
                                          pg::Params(name)));
          if (!exists.Bool(0, 0)) {
            return Found::kNothing;
          }
          // A partition name from List(): digits and our prefix only.
          DOZOR_ASSIGN_OR_RETURN(pg::Rows any,
                                 db.Query("SELECT EXISTS (SELECT 1 FROM " + name + ")"));
          if (any.Bool(0, 0)) {
            return Found::kRows;
          }
          DOZOR_RETURN_IF_ERROR(db.Exec("TRUNCATE " + name));
          return Found::kTruncated;
        }));
    if (found == Found::kTruncated) {
      ++stats.partitions_truncated;
    }
    if (found != Found::kRows) {
      continue;
    }
    for (const auto& [org_id, agent] : agents) {
      if ((stop != nullptr && stop->load()) || std::chrono::steady_clock::now() >= deadline) {
        return stats;
      }
      if (Status done = CompactAgent(name, org_id, agent, &stats); !done.ok()) {
        ++stats.failed_buckets;
        if (stats.first_failure.empty()) {
          stats.first_failure =
              name + ", agent " + std::to_string(agent) + ": " + done.error().ToString();
        }
      }
    }
  }
  return stats;
}

Status PgHealthBlocks::CompactAgent(const std::string& partition, int64_t org_id, int64_t agent,
                                    PgCompactionStats* stats) {
  PgCompactionStats added;
  Status done = pg::InTransaction(pool_, [&](pg::Connection& db) -> Status {
    added = PgCompactionStats{};
    // Locked, so a retention pass deleting them meanwhile waits instead of racing the move.
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows rows,
        db.Query("SELECT collected_at, seq, sample FROM " + partition +
                     " WHERE org_id = $1 AND agent = $2 ORDER BY collected_at, seq FOR UPDATE",
                 pg::Params(org_id, agent)));
    if (rows.empty()) {
      return OkStatus();
    }
    // Hour by hour; a bucket that fails keeps its rows and is reported, the others move on.
    std::map<int64_t, std::vector<BlockSample>> buckets;
    std::map<int64_t, std::vector<std::pair<int64_t, int64_t>>> keys;  // rows each bucket holds
    for (int row = 0; row < rows.size(); ++row) {
      const int64_t bucket = HealthBucketStart(rows.Int(row, 0));
      keys[bucket].emplace_back(rows.Int(row, 0), rows.Int(row, 1));
      added.raw_bytes += static_cast<int64_t>(rows.Bytes(row, 2).size());
      auto item = DecodeRawRow(rows, row);
      if (!item.ok()) {
        // It could not be read before compaction either; dropping it keeps the bucket moving.
        spdlog::warn("store: dropping undecodable health sample of agent {}: {}", agent,
                     item.error().ToString());
        continue;
      }
      buckets[bucket].push_back(std::move(item).value());
    }
    pg::ArrayLiteral moved_at, moved_seq;
    for (auto& [bucket, bucket_keys] : keys) {
      DOZOR_ASSIGN_OR_RETURN(
          pg::Rows existing,
          db.Query("SELECT data FROM health_blocks WHERE agent = $1 AND org_id = $2 AND "
                   "start_at >= $3 AND start_at < $4 FOR UPDATE",
                   pg::Params(agent, org_id, bucket, bucket + kHealthBucketMs)));
      std::vector<std::string> old_blocks;
      for (int row = 0; row < existing.size(); ++row) {
        old_blocks.push_back(existing.Bytes(row, 0));
      }
      auto merged = MergeHealthBucket(std::move(buckets[bucket]), old_blocks);
      Result<std::vector<EncodedHealthBlock>> blocks =
          merged.ok() ? EncodeHealthBlocks(*merged)
                      : Result<std::vector<EncodedHealthBlock>>(merged.error());
      if (!blocks.ok()) {
        ++added.failed_buckets;
        if (added.first_failure.empty()) {
          added.first_failure = partition + ", agent " + std::to_string(agent) + ", hour " +
                                std::to_string(bucket) + ": " + blocks.error().ToString();
        }
        continue;
      }
      DOZOR_RETURN_IF_ERROR(
          db.Run("DELETE FROM health_blocks WHERE agent = $1 AND org_id = $2 AND start_at >= $3 "
                 "AND start_at < $4",
                 pg::Params(agent, org_id, bucket, bucket + kHealthBucketMs)));
      DOZOR_RETURN_IF_ERROR(InsertBlocks(db, org_id, agent, *blocks));
      for (const auto& [at, seq] : bucket_keys) {
        moved_at.Add(at);
        moved_seq.Add(seq);
      }
      ++added.buckets;
      added.samples += static_cast<int64_t>(bucket_keys.size());
      added.blocks_written += static_cast<int64_t>(blocks->size());
      for (const EncodedHealthBlock& block : *blocks) {
        added.block_bytes += static_cast<int64_t>(block.data.size());
      }
    }
    if (moved_at.size() > 0) {
      DOZOR_RETURN_IF_ERROR(
          db.Run("DELETE FROM " + partition +
                     " WHERE org_id = $1 AND agent = $2 AND (collected_at, seq) IN (SELECT * FROM "
                     "unnest($3::bigint[], $4::bigint[]))",
                 pg::Params(org_id, agent, moved_at, moved_seq)));
    }
    return OkStatus();
  });
  if (!done.ok()) {
    return done;
  }
  stats->buckets += added.buckets;
  stats->samples += added.samples;
  stats->raw_bytes += added.buckets > 0 ? added.raw_bytes : 0;
  stats->block_bytes += added.block_bytes;
  stats->blocks_written += added.blocks_written;
  // Counted once the transaction is through: a retried one starts its count over.
  stats->failed_buckets += added.failed_buckets;
  if (stats->first_failure.empty()) {
    stats->first_failure = added.first_failure;
  }
  return OkStatus();
}

// ------------------------------------------------------------------ retention

Result<int64_t> PgHealthBlocks::Prune(int64_t cutoff_ms) {
  return pg::InTransaction(pool_, [&](pg::Connection& db) -> Result<int64_t> {
    DOZOR_ASSIGN_OR_RETURN(pg::Rows whole,
                           db.Query("WITH gone AS (DELETE FROM health_blocks WHERE end_at < $1 "
                                    "RETURNING count) SELECT coalesce(sum(count), 0)::bigint "
                                    "FROM gone",
                                    pg::Params(cutoff_ms)));
    int64_t removed = whole.Int(0, 0);
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows straddling,
        db.Query("DELETE FROM health_blocks WHERE start_at < $1 AND end_at >= $1 RETURNING "
                 "org_id, agent, data",
                 pg::Params(cutoff_ms)));
    for (int row = 0; row < straddling.size(); ++row) {
      int64_t dropped = 0;
      auto kept = HealthBlockFrom(straddling.Bytes(row, 2), cutoff_ms, &dropped);
      if (!kept.ok()) {
        spdlog::warn("store: pruning undecodable health block of agent {}: {}",
                     straddling.Int(row, 1), kept.error().ToString());
        continue;
      }
      removed += dropped;
      if (*kept) {
        DOZOR_RETURN_IF_ERROR(
            InsertBlocks(db, straddling.Int(row, 0), straddling.Int(row, 1), {**kept}));
      }
    }
    return removed;
  });
}

// ------------------------------------------------------------------ reads

Status PgHealthBlocks::Visit(pg::Connection& db, int64_t org_id, int64_t agent, int64_t from_ms,
                             int64_t to_ms, const BlockSampleVisitor& visit) {
  // Where the host's samples in the range begin and end, so a range reaching far back or far
  // ahead does not walk empty days.
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows bounds,
      db.Query("SELECT least((SELECT min(collected_at) FROM health_samples WHERE org_id = $1 AND "
               "agent = $2 AND collected_at >= $3 AND collected_at < $4), (SELECT min(start_at) "
               "FROM health_blocks WHERE agent = $2 AND org_id = $1 AND end_at >= $3 AND "
               "start_at < $4)), greatest((SELECT max(collected_at) FROM health_samples WHERE "
               "org_id = $1 AND agent = $2 AND collected_at >= $3 AND collected_at < $4), (SELECT "
               "max(end_at) FROM health_blocks WHERE agent = $2 AND org_id = $1 AND end_at >= $3 "
               "AND start_at < $4))",
               pg::Params(org_id, agent, from_ms, to_ms)));
  if (bounds.IsNull(0, 0) || bounds.IsNull(0, 1)) {
    return OkStatus();
  }
  int64_t window_from = std::max(from_ms, bounds.Int(0, 0));
  const int64_t last = bounds.Int(0, 1);
  while (window_from < to_ms && window_from <= last) {
    const int64_t window_to =
        to_ms - window_from > kVisitWindowMs ? window_from + kVisitWindowMs : to_ms;
    std::vector<BlockSample> samples;
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows rows,
        db.Query("SELECT collected_at, seq, sample FROM health_samples WHERE org_id = $1 AND "
                 "agent = $2 AND collected_at >= $3 AND collected_at < $4",
                 pg::Params(org_id, agent, window_from, window_to)));
    AppendRawRows(rows, agent, &samples);
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows blocks,
        db.Query("SELECT data FROM health_blocks WHERE agent = $1 AND org_id = $2 AND "
                 "start_at < $4 AND end_at >= $3",
                 pg::Params(agent, org_id, window_from, window_to)));
    for (int row = 0; row < blocks.size(); ++row) {
      for (BlockSample& item : BlockSamples(blocks.Bytes(row, 0), agent)) {
        // A block may reach past the window on either side: those samples are another
        // window's.
        if (item.collected_at_ms >= window_from && item.collected_at_ms < window_to) {
          samples.push_back(std::move(item));
        }
      }
    }
    std::sort(samples.begin(), samples.end(), OlderFirst);
    const BlockSample* previous = nullptr;
    for (const BlockSample& item : samples) {
      if (previous != nullptr && previous->collected_at_ms == item.collected_at_ms &&
          previous->seq == item.seq) {
        continue;
      }
      visit(item);
      previous = &item;
    }
    window_from = window_to;
  }
  return OkStatus();
}

Result<std::vector<BlockSample>> PgHealthBlocks::Newest(pg::Connection& db, int64_t org_id,
                                                        int64_t agent, int64_t since_ms,
                                                        int limit) {
  std::vector<BlockSample> samples;
  if (limit <= 0) {
    return samples;
  }
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db.Query("SELECT collected_at, seq, sample FROM health_samples WHERE org_id = $1 AND "
               "agent = $2 AND collected_at >= $3 ORDER BY collected_at DESC, seq DESC LIMIT $4",
               pg::Params(org_id, agent, since_ms, limit)));
  AppendRawRows(rows, agent, &samples);
  // Blocks newest first, until `limit` of their samples are older than every raw row taken
  // (nothing older can make the cut then). Raw rows and blocks may overlap in time (late
  // samples), so both are merged before the cut.
  const int64_t oldest_raw = rows.size() == static_cast<int>(limit) && !samples.empty()
                                 ? samples.back().collected_at_ms
                                 : std::numeric_limits<int64_t>::max();
  int64_t below_raw = 0;
  int64_t before = std::numeric_limits<int64_t>::max();
  constexpr int kBlockPage = 16;
  while (below_raw < limit) {
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows blocks,
        db.Query("SELECT start_at, data FROM health_blocks WHERE agent = $1 AND org_id = $2 AND "
                 "end_at >= $3 AND start_at < $4 ORDER BY start_at DESC LIMIT $5",
                 pg::Params(agent, org_id, since_ms, before, kBlockPage)));
    for (int row = 0; row < blocks.size(); ++row) {
      before = blocks.Int(row, 0);
      for (BlockSample& item : BlockSamples(blocks.Bytes(row, 1), agent)) {
        if (item.collected_at_ms < since_ms) {
          continue;
        }
        if (item.collected_at_ms < oldest_raw) {
          ++below_raw;
        }
        samples.push_back(std::move(item));
      }
    }
    if (blocks.size() < kBlockPage) {
      break;
    }
  }
  std::sort(samples.begin(), samples.end(), NewerFirst);
  samples.erase(std::unique(samples.begin(), samples.end(),
                            [](const BlockSample& a, const BlockSample& b) {
                              return a.collected_at_ms == b.collected_at_ms && a.seq == b.seq;
                            }),
                samples.end());
  if (samples.size() > static_cast<size_t>(limit)) {
    samples.resize(static_cast<size_t>(limit));
  }
  return samples;
}

}  // namespace dozor::server
