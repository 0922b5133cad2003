// SqliteStore, hosts area: health retention (PruneHealth) and hourly block compaction.
#include "store/sqlite/sqlite_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "dozor/contract/codec.hpp"
#include "store/health_block_codec.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"
#include "store/sqlite/statement_helpers.hpp"
#include "store/sqlite/store_rows.hpp"

namespace dozor::server {

// The helpers and statements the backend's files share.
using namespace sqlite_store_internal;  // NOLINT(google-build-using-namespace)

namespace {

Status InsertBlock(WriterStatements& w, int64_t pk, const EncodedHealthBlock& block) {
  return RunWith(w.block_insert, pk, block.start_at, block.end_at, block.count, block.first_seq,
                 block.last_seq, BlobArg{block.data});
}

// Rewrites a block that straddles the prune cutoff without its samples older than the cutoff.
// Returns how many samples it dropped.
Result<int64_t> PruneStraddlingBlock(WriterStatements& w, int64_t pk, int64_t start_at,
                                     const std::string& data, int64_t cutoff_ms) {
  DOZOR_RETURN_IF_ERROR(RunWith(w.block_delete, pk, start_at));
  int64_t dropped = 0;
  auto kept = HealthBlockFrom(data, cutoff_ms, &dropped);
  if (!kept.ok()) {
    spdlog::warn("store: pruning undecodable health block of agent {}: {}", pk,
                 kept.error().ToString());
    return 0;
  }
  if (*kept) {
    DOZOR_RETURN_IF_ERROR(InsertBlock(w, pk, **kept));
  }
  return dropped;
}

// Decodes raw rows (dropping undecodable ones), then merges them with the existing blocks.
Result<std::vector<BlockSample>> MergeBucketSamples(
    int64_t pk, const std::vector<std::pair<int64_t, uint64_t>>& raw_keys,
    const std::vector<std::pair<std::string, int64_t>>& raw,
    const std::vector<std::string>& blocks) {
  std::vector<BlockSample> samples;
  samples.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    BlockSample item;
    item.collected_at_ms = raw_keys[i].first;
    item.seq = raw_keys[i].second;
    auto decoded = DecodeRawSample(raw[i].first, raw[i].second, &item.sample);
    if (!decoded.ok()) {
      // It could not be read before compaction either; dropping it keeps the bucket moving.
      spdlog::warn("store: dropping undecodable health sample {} of agent {}: {}", item.seq, pk,
                   decoded.error().ToString());
      continue;
    }
    samples.push_back(std::move(item));
  }
  return MergeHealthBucket(std::move(samples), blocks);
}

}  // namespace

// ------------------------------------------------------------------ retention

Result<std::vector<int64_t>> SqliteStore::AgentPks() {
  std::lock_guard lock(write_mu_);
  return ReadAll(ws_->agent_pks, [](const auto& s) { return s.Int(0); });
}

Result<int64_t> SqliteStore::PruneInventoryChanges(int64_t cutoff_ms, int64_t max_rows_per_host) {
  DOZOR_ASSIGN_OR_RETURN(std::vector<int64_t> agents, AgentPks());
  int64_t total = 0;
  // One short transaction per host, so ingest batches interleave with a large prune.
  for (int64_t agent : agents) {
    std::lock_guard lock(write_mu_);
    DOZOR_ASSIGN_OR_RETURN(
        auto by_age, writer_.Prepare("DELETE FROM inventory_changes WHERE agent = ? AND at < ?"));
    DOZOR_RETURN_IF_ERROR(RunWith(by_age, agent, cutoff_ms));
    total += writer_.Changes();
    DOZOR_ASSIGN_OR_RETURN(
        auto by_count, writer_.Prepare("DELETE FROM inventory_changes WHERE agent = ?1 AND id <= ("
                                       "SELECT id FROM inventory_changes WHERE agent = ?1 "
                                       "ORDER BY id DESC LIMIT 1 OFFSET ?2)"));
    DOZOR_RETURN_IF_ERROR(RunWith(by_count, agent, max_rows_per_host));
    total += writer_.Changes();
  }
  return total;
}

Result<int64_t> SqliteStore::PruneHealth(int64_t cutoff_ms) {
  DOZOR_ASSIGN_OR_RETURN(std::vector<int64_t> agents, AgentPks());
  int64_t total = 0;
  size_t next = 0;
  // Each transaction deletes about kPruneChunkRows rows, then releases the writer so ingest
  // batches interleave with a large prune.
  while (next < agents.size()) {
    std::lock_guard lock(write_mu_);
    sqlite::Transaction txn(writer_);
    DOZOR_RETURN_IF_ERROR(txn.Begin());
    int64_t in_txn = 0;
    while (next < agents.size() && in_txn < kPruneChunkRows) {
      DOZOR_RETURN_IF_ERROR(
          RunWith(ws_->prune_chunk, agents[next], cutoff_ms, kPruneChunkRows - in_txn));
      int deleted = writer_.Changes();
      in_txn += deleted;
      if (deleted == 0 || in_txn < kPruneChunkRows) {
        ++next;  // this agent has nothing older left
      }
    }
    DOZOR_RETURN_IF_ERROR(txn.Commit());
    total += in_txn;
  }
  DOZOR_ASSIGN_OR_RETURN(int64_t from_blocks, PruneBlocks(agents, cutoff_ms));
  return total + from_blocks;
}

// Blocks wholly before the cutoff are deleted; a block straddling it is rewritten without its
// older samples, so the cutoff is exact for compacted samples too. One transaction per agent.
Result<int64_t> SqliteStore::PruneBlocks(const std::vector<int64_t>& agents, int64_t cutoff_ms) {
  int64_t total = 0;
  for (int64_t pk : agents) {
    std::lock_guard lock(write_mu_);
    WriterStatements& w = *ws_;
    sqlite::Transaction txn(writer_);
    DOZOR_RETURN_IF_ERROR(txn.Begin());
    DOZOR_ASSIGN_OR_RETURN(auto whole, ReadOptional(BindAll(w.prune_blocks_count, pk, cutoff_ms),
                                                    [](const auto& s) { return s.Int(0); }));
    total += whole.value_or(0);
    DOZOR_RETURN_IF_ERROR(RunWith(w.prune_blocks_delete, pk, cutoff_ms));
    DOZOR_ASSIGN_OR_RETURN(
        auto straddling,
        ReadAll(BindAll(w.prune_blocks_straddling, pk, cutoff_ms),
                [](const auto& s) { return std::make_pair(s.Int(0), s.Blob(1)); }));
    for (const auto& [start_at, data] : straddling) {
      DOZOR_ASSIGN_OR_RETURN(int64_t dropped,
                             PruneStraddlingBlock(w, pk, start_at, data, cutoff_ms));
      total += dropped;
    }
    DOZOR_RETURN_IF_ERROR(txn.Commit());
  }
  return total;
}

// ------------------------------------------------------------------ health compaction

Result<CompactionStats> SqliteStore::CompactHealth(int64_t older_than_ms) {
  // Only whole hour buckets that ended by older_than_ms, so a bucket is normally written once.
  int64_t limit_ms = BucketStart(older_than_ms);
  CompactionStats stats;
  DOZOR_ASSIGN_OR_RETURN(std::vector<int64_t> agents, AgentPks());
  for (int64_t pk : agents) {
    // One bad bucket must not stop the pass: it is skipped (its raw rows stay readable) and the
    // agent's later hours and every other agent are still compacted.
    int64_t from_ms = std::numeric_limits<int64_t>::min();
    while (!closing_.load()) {
      std::optional<int64_t> bucket;
      auto more = CompactNextBucket(pk, from_ms, limit_ms, &stats, &bucket);
      if (more.ok()) {
        if (!*more) {
          break;
        }
        continue;
      }
      ++stats.failed_buckets;
      if (stats.first_failure.empty()) {
        stats.first_failure = "agent " + std::to_string(pk) +
                              (bucket ? ", hour " + std::to_string(*bucket) : std::string()) +
                              ": " + more.error().ToString();
      }
      if (!bucket) {
        break;  // could not even find the bucket: try this agent again next pass
      }
      from_ms = *bucket + kBucketMs;
    }
    if (closing_.load()) {
      break;
    }
  }
  return stats;
}

struct SqliteStore::BucketSnapshot {
  int64_t bucket = 0;
  std::vector<std::pair<int64_t, uint64_t>> raw_keys;  // (collected_at, seq), in key order
  std::vector<std::pair<std::string, int64_t>> raw;    // (sample bytes, encoding), same order
  std::vector<std::string> blocks;                     // existing blocks of the bucket
};

Result<bool> SqliteStore::ReadBucketLocked(int64_t pk, int64_t from_ms, int64_t limit_ms,
                                           BucketSnapshot* snap) {
  WriterStatements& w = *ws_;
  DOZOR_ASSIGN_OR_RETURN(auto first, ReadOptional(BindAll(w.compact_first, pk, from_ms, limit_ms),
                                                  [](const auto& s) { return OptionalInt(s, 0); }));
  if (!first || !*first) {
    return false;
  }
  snap->bucket = BucketStart(**first);
  const int64_t bucket_end = snap->bucket + kBucketMs;
  DOZOR_RETURN_IF_ERROR(
      ForEachRow(BindAll(w.compact_rows, pk, snap->bucket, bucket_end), [&](const auto& s) {
        snap->raw_keys.emplace_back(s.Int(0), static_cast<uint64_t>(s.Int(1)));
        snap->raw.emplace_back(s.Blob(2), s.Int(3));
      }));
  DOZOR_ASSIGN_OR_RETURN(snap->blocks,
                         ReadAll(BindAll(w.compact_blocks, pk, snap->bucket, bucket_end),
                                 [](const auto& s) { return s.Blob(0); }));
  return true;
}

// CPU-heavy part of compaction (decode, merge, encode); needs no lock.
Result<std::vector<SqliteStore::EncodedBlock>> SqliteStore::BuildBlocks(
    int64_t pk, const BucketSnapshot& snap) {
  DOZOR_ASSIGN_OR_RETURN(std::vector<BlockSample> samples,
                         MergeBucketSamples(pk, snap.raw_keys, snap.raw, snap.blocks));
  return EncodeHealthBlocks(samples);
}

// Inside the caller's transaction: replaces the bucket's raw rows and old blocks with `blocks`,
// unless the bucket changed since `snap` was read (then false, nothing written).
Result<bool> SqliteStore::ReplaceBucketLocked(int64_t pk, const BucketSnapshot& snap,
                                              const std::vector<EncodedBlock>& blocks) {
  WriterStatements& w = *ws_;
  const int64_t bucket_end = snap.bucket + kBucketMs;
  // Rows are only ever inserted or deleted, never updated: equal keys mean equal rows.
  DOZOR_ASSIGN_OR_RETURN(
      bool same_rows, RowsEqual(BindAll(w.compact_keys, pk, snap.bucket, bucket_end), snap.raw_keys,
                                [](const auto& s) {
                                  return std::make_pair(s.Int(0), static_cast<uint64_t>(s.Int(1)));
                                }));
  if (!same_rows) {
    return false;
  }
  DOZOR_ASSIGN_OR_RETURN(bool same_blocks,
                         RowsEqual(BindAll(w.compact_blocks, pk, snap.bucket, bucket_end),
                                   snap.blocks, [](const auto& s) { return s.Blob(0); }));
  if (!same_blocks) {
    return false;
  }
  // Delete first, then insert, in one transaction: a failure anywhere rolls both back.
  DOZOR_RETURN_IF_ERROR(RunWith(w.compact_delete_rows, pk, snap.bucket, bucket_end));
  DOZOR_RETURN_IF_ERROR(RunWith(w.compact_delete_blocks, pk, snap.bucket, bucket_end));
  DOZOR_RETURN_IF_ERROR(
      InsertEach(blocks, [&](const EncodedBlock& block) { return InsertBlock(w, pk, block); }));
  return true;
}

Result<bool> SqliteStore::CompactNextBucket(int64_t pk, int64_t from_ms, int64_t limit_ms,
                                            CompactionStats* stats,
                                            std::optional<int64_t>* bucket) {
  // Read the bucket under the writer lock, encode without it (the expensive part: several
  // milliseconds per agent-hour), then write under the lock if nothing changed meanwhile. If a
  // commit or prune did touch the bucket, redo it with the lock held throughout.
  BucketSnapshot snap;
  {
    std::lock_guard lock(write_mu_);
    DOZOR_ASSIGN_OR_RETURN(bool found, ReadBucketLocked(pk, from_ms, limit_ms, &snap));
    if (!found) {
      return false;
    }
  }
  *bucket = snap.bucket;
  DOZOR_ASSIGN_OR_RETURN(std::vector<EncodedBlock> blocks, BuildBlocks(pk, snap));
  std::lock_guard lock(write_mu_);
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(bool replaced, ReplaceBucketLocked(pk, snap, blocks));
  if (!replaced) {
    // Same bucket again (from its own start), now with the lock held throughout.
    const int64_t same_bucket = snap.bucket;
    snap = BucketSnapshot{};
    DOZOR_ASSIGN_OR_RETURN(bool found, ReadBucketLocked(pk, same_bucket, limit_ms, &snap));
    if (!found) {
      return false;
    }
    *bucket = snap.bucket;
    DOZOR_ASSIGN_OR_RETURN(blocks, BuildBlocks(pk, snap));
    DOZOR_ASSIGN_OR_RETURN(replaced, ReplaceBucketLocked(pk, snap, blocks));
    if (!replaced) {
      return MakeError(ErrorCode::kInternal, "health compaction: bucket changed under the lock");
    }
  }
  DOZOR_RETURN_IF_ERROR(txn.Commit());
  ++stats->buckets;
  stats->samples += static_cast<int64_t>(snap.raw.size());
  for (const auto& [bytes, encoding] : snap.raw) {
    stats->raw_bytes += static_cast<int64_t>(bytes.size());
  }
  for (const auto& block : blocks) {
    stats->block_bytes += static_cast<int64_t>(block.data.size());
  }
  stats->blocks_written += static_cast<int64_t>(blocks.size());
  return true;
}

}  // namespace dozor::server
