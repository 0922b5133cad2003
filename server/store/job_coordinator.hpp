// Work that must run on one server at a time when several dozor-server replicas share one
// database: the whole-estate rule evaluation, retention, the alert planner (with escalations and
// monthly reports). Each replica asks before a pass; one holds each job, and when its holder dies
// the job moves to the next replica that asks.
//
// A single server (the SQLite backend, one process per database file) always holds every job
// (LocalJobCoordinator). The PostgreSQL backend's holder keeps a session advisory lock per job on
// a connection of its own: the lock goes when the holder's process or connection does
// (store/postgres/pg_job_coordinator.hpp).
//
// Thread-safety: Holds may be called from any thread.
#pragma once

#include <string_view>

namespace dozor::server {

enum class SingletonJob {
  kEstateEvaluation,  // the periodic full rule pass (per-host evaluations run on every replica)
  kRetention,         // pruning health, change log, logs, sessions
  kAlertPlanning,     // alerts from the event feed, escalations, monthly reports
};

std::string_view ToString(SingletonJob job);

class JobCoordinator {
 public:
  virtual ~JobCoordinator() = default;
  // True when this process may run `job` now: it held it already, or took it just now because
  // nobody did. False while another live replica holds it (and when the database cannot be
  // asked: better skip a pass than run it twice).
  virtual bool Holds(SingletonJob job) = 0;
};

// One server per database: every job is this one's.
class LocalJobCoordinator final : public JobCoordinator {
 public:
  bool Holds(SingletonJob /*job*/) override { return true; }
};

}  // namespace dozor::server
