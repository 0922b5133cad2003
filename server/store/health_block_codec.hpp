// Codec for health_blocks.data. Pure functions (no I/O, no database), safe from any thread.
//
// A compacted block holds the samples of one agent for one hour, compressed together. Before
// zlib, each sample is split by a walk over its descriptor into a "shape" (repeated counts,
// presence of sub-messages, strings: identical from one sample to the next, so deflate turns
// it into a back-reference) and a row of numbers. When the shape equals the previous sample's,
// the numbers are stored as differences from the previous sample's (zigzag varints): metrics
// that move a little cost a byte or two instead of an 8-byte double.
//
// Doubles are stored losslessly: a value that is exactly n / 10^k or n * 10^-k (what a
// collector that rounds to 0.1 or 0.01 produces) is stored as the integer n with a one-byte
// mode; any other value keeps its 64 raw bits (mode 0). Every sample is decoded again right
// after encoding and compared with the original; one that does not round-trip (unknown fields,
// oneofs, a future schema) is stored as its plain serialization instead, so the codec can never
// lose data silently.
//
// Layout of health_blocks.data: byte 0 = format (1), bytes 1..4 = little-endian length of
// the inflated payload, then a zlib stream. Payload: varint count, then per sample
// zigzag(seq delta), zigzag(collected_at delta), varint kind and the kind's body:
//   kind 0 (plain):      varint length, protobuf bytes
//   kind 1 (new shape):  varint shape length, shape bytes, numbers
//   kind 2 (same shape): numbers (as differences from the previous sample)
//   numbers: varint slot count, varint double count, one mode byte per double, one zigzag
//   varint per slot.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dozor/common/result.hpp"
#include "dozor/v1/agent.pb.h"

namespace dozor::server {

struct BlockSample {
  uint64_t seq = 0;
  int64_t collected_at_ms = 0;
  dozor::v1::HealthSample sample;
};

// Orders by collected_at, then seq (newest first / oldest first).
bool NewerFirst(const BlockSample& a, const BlockSample& b);
bool OlderFirst(const BlockSample& a, const BlockSample& b);

// Encodes samples (sorted oldest first) into one block. kResourceExhausted when the inflated
// payload would exceed kMaxDecodedMessageBytes, kInternal if zlib fails.
[[nodiscard]] Result<std::string> EncodeHealthBlock(const std::vector<BlockSample>& samples);

// Appends the samples of `data` to *out, in the order they were encoded. kDataLoss (naming the
// damaged part) on any truncated, corrupt or oversized block; never reads out of bounds. On
// error *out may already hold some of the block's samples.
[[nodiscard]] Status DecodeHealthBlock(std::string_view data, std::vector<BlockSample>* out);

// Hands each sample of `data` to `visit` as soon as it is decoded, in the order they were
// encoded, instead of collecting them: one message is reused for every sample, so reading a long
// range allocates per block, not per sample. The BlockSample is valid during the call only. Same
// checks and errors as DecodeHealthBlock; on error the samples before the damage were visited.
using BlockSampleVisitor = std::function<void(const BlockSample&)>;
[[nodiscard]] Status VisitHealthBlock(std::string_view data, const BlockSampleVisitor& visit);

// One health_blocks row: the encoded block and the columns that describe it.
struct EncodedHealthBlock {
  int64_t start_at = 0;  // collected_at of the first (oldest) sample
  int64_t end_at = 0;    // collected_at of the last (newest) sample
  int64_t count = 0;
  uint64_t first_seq = 0;  // lowest seq in the block
  uint64_t last_seq = 0;   // highest seq in the block
  std::string data;
};

// EncodeHealthBlock plus the row columns. `samples` must be non-empty and sorted oldest first
// (kInvalidArgument when empty).
[[nodiscard]] Result<EncodedHealthBlock> EncodeHealthBlockRow(
    const std::vector<BlockSample>& samples);

// ---- Hour buckets of blocks (both backends compact an agent's samples by hour). ----

inline constexpr int64_t kHealthBucketMs = 3600 * 1000;
// A bucket with more samples than this (an agent sampling faster than every 30 s) is split
// into several blocks, so reading the newest few samples never inflates a huge block.
inline constexpr size_t kMaxHealthBlockSamples = 120;

// Start of the hour bucket holding `at_ms` (floor, also for negative times).
inline int64_t HealthBucketStart(int64_t at_ms) {
  return at_ms - (((at_ms % kHealthBucketMs) + kHealthBucketMs) % kHealthBucketMs);
}

// What one compaction pass did (both backends compact by agent-hour).
struct CompactionStats {
  int64_t buckets = 0;         // agent-hours compacted (one short write transaction each)
  int64_t samples = 0;         // raw rows moved into blocks
  int64_t blocks_written = 0;  // block rows inserted (or rewritten when late samples arrived)
  int64_t raw_bytes = 0;       // sample bytes of the raw rows moved
  int64_t block_bytes = 0;     // bytes of the blocks written
  // Agent-hours that could not be compacted this pass (a damaged block, a sample over the block
  // limit, a failed write): skipped and reported, the pass goes on with the next hour and agent.
  int64_t failed_buckets = 0;
  std::string first_failure;  // the first failed agent-hour and why
};

// One bucket's samples for a new set of blocks: `samples` (the raw rows, decoded) plus the
// samples of the bucket's existing `blocks` (samples that arrived late for an hour compacted
// earlier), sorted oldest first, one per (collected_at, seq). kDataLoss when a block is damaged.
[[nodiscard]] Result<std::vector<BlockSample>> MergeHealthBucket(
    std::vector<BlockSample> samples, const std::vector<std::string>& blocks);

// Splits `samples` (sorted oldest first) into blocks of about kMaxHealthBlockSamples, fewer when
// that many would be over the block's byte limit (split between timestamps, recursively). Only
// samples sharing one timestamp that are over the limit together fail (kResourceExhausted): the
// caller skips and reports that bucket.
[[nodiscard]] Result<std::vector<EncodedHealthBlock>> EncodeHealthBlocks(
    std::vector<BlockSample>& samples);

// A block without its samples collected before `cutoff_ms` (retention cutting through a block):
// the rewritten block, or nullopt when none is left. *dropped counts the samples removed.
[[nodiscard]] Result<std::optional<EncodedHealthBlock>> HealthBlockFrom(std::string_view data,
                                                                        int64_t cutoff_ms,
                                                                        int64_t* dropped);

}  // namespace dozor::server
