// Durable, bounded spool of reports waiting for the server's ack (a local SQLite file).
//
// Guarantees: a report returned by Append() survives agent restarts and crashes; it is removed only
// by Remove()/RemoveUpTo() (i.e. when acked). When the spool exceeds its byte bound it drops the
// oldest *health* reports first and counts them; inventory reports are never dropped.
// A health report dropped after it was sent may still have reached the server: such a drop is
// counted only once the server says it does not have it (see Acknowledged and
// ReconcileWithServer), so dropped_health_total counts exactly the samples the server never got.
// Thread-safety: all methods are safe to call from several threads (one internal mutex).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "dozor/common/result.hpp"
#include "dozor/v1/agent.pb.h"

namespace dozor::agent {

struct SpoolOptions {
  std::filesystem::path path;                // e.g. <state_dir>/spool.db
  uint64_t max_bytes = 64ull * 1024 * 1024;  // payload bytes
};

struct SpooledReport {
  uint64_t seq = 0;
  bool is_inventory = false;
  int64_t collected_at_ms = 0;
  std::string payload;  // serialized dozor.v1.Report, seq already set
};

struct SpoolStats {
  uint64_t count = 0;
  uint64_t bytes = 0;
  uint64_t inventory_count = 0;
  uint64_t dropped_health_total = 0;  // ever dropped by the size bound, never received
  // Dropped by the bound after being sent: counted once the server says whether it has them.
  uint64_t dropped_awaiting_server = 0;
  uint64_t next_seq = 0;
  int64_t oldest_collected_at_ms = 0;  // 0 when empty
};

class Spool {
 public:
  // Opens or creates the spool. A corrupt file is moved aside to <path>.corrupt-<time> and a fresh
  // spool is created (logged by the caller from the returned warning), so the agent keeps working.
  static Result<std::unique_ptr<Spool>> Open(const SpoolOptions& options,
                                             std::string* warning = nullptr);
  virtual ~Spool() = default;

  // Assigns the next sequence number to `report` (report->set_seq), stores it durably, then
  // enforces the size bound. Returns the seq. kResourceExhausted on a full disk: nothing stored.
  virtual Result<uint64_t> Append(dozor::v1::Report* report) = 0;

  // Up to `limit` reports with seq > after_seq, in increasing seq order.
  virtual Result<std::vector<SpooledReport>> ReadAfter(uint64_t after_seq, size_t limit) = 0;

  // Removes one report without telling anything about the server (e.g. it cannot be read back).
  virtual Status Remove(uint64_t seq) = 0;
  // The server acknowledged `seq` on the current stream: removes it. The server handles a
  // stream's reports in order, so every report sent before it on this stream has reached it: drops
  // of such reports after they were sent are settled as received (not counted).
  virtual Status Acknowledged(uint64_t seq) = 0;
  // Removes every report with seq <= `seq` (the server said it committed them).
  virtual Status RemoveUpTo(uint64_t seq) = 0;
  // Makes sure the next assigned seq is > `seq` (persisted), e.g. after the state was restored from
  // an old backup and the server has already committed higher numbers.
  virtual Status EnsureNextSeqAbove(uint64_t seq) = 0;

  // Called with StreamAccepted.last_committed_seq on every connect. Normally removes the reports
  // the server already committed (their acks were lost) and keeps numbering above them. A spool
  // that has never been reconciled (new, or recreated after corruption or deletion) holds reports
  // the server has never seen whatever their numbers: those are renumbered above
  // last_committed_seq instead, so nothing new is mistaken for a duplicate. The seq inside a
  // payload may then be stale: senders use SpooledReport::seq. Drops awaiting the server are
  // settled here: at or below last_committed_seq the server has them, above it they are counted.
  virtual Status ReconcileWithServer(uint64_t last_committed_seq) = 0;

  virtual Result<SpoolStats> Stats() = 0;
};

}  // namespace dozor::agent
