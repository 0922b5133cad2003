// The PostgreSQL advisory lock keys Dozor uses: one bigint namespace per database, shared with
// anything else that runs there, so every key starts with "dz" (0x647a) and all are listed here.
// Transaction-level locks (pg_advisory_xact_lock) unless a comment says otherwise: they end with
// the transaction, so a replica that dies mid-work releases them with its connection.
#pragma once

#include <cstdint>

namespace dozor::server::pg_locks {

// Schema migrations: replicas starting together apply them once.
inline constexpr int64_t kMigrations = 0x647a'0000'0000'0001;
// Health partition DDL (create ahead, drop for retention).
inline constexpr int64_t kHealthPartitions = 0x647a'0000'0000'0002;
// Store maintenance (partitions ahead, rule window pruning): one replica per pass; the others
// skip. A session lock (pg_try_advisory_lock) held on one connection for the pass.
inline constexpr int64_t kMaintenance = 0x647a'0000'0000'0003;
// Jobs one replica runs at a time (pg_job_coordinator.hpp): session locks held for the life of
// the holder's coordination connection.
inline constexpr int64_t kEstateEvaluation = 0x647a'0000'0001'0001;
inline constexpr int64_t kRetention = 0x647a'0000'0001'0002;
inline constexpr int64_t kAlertPlanning = 0x647a'0000'0001'0003;
// The event feed's ids: held from an event's insert to its commit, so ids become visible in
// order (migration 004 takes it in the column default; the SQL names the same number).
inline constexpr int64_t kEventFeed = 0x647a'0000'0004'0001;

}  // namespace dozor::server::pg_locks
