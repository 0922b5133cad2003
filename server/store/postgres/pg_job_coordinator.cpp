#include "store/postgres/pg_job_coordinator.hpp"

#include <spdlog/spdlog.h>

#include "store/postgres/pg_locks.hpp"

namespace dozor::server {
namespace {

int64_t LockKey(SingletonJob job) {
  switch (job) {
    case SingletonJob::kEstateEvaluation:
      return pg_locks::kEstateEvaluation;
    case SingletonJob::kRetention:
      return pg_locks::kRetention;
    case SingletonJob::kAlertPlanning:
      return pg_locks::kAlertPlanning;
  }
  return pg_locks::kAlertPlanning;
}

}  // namespace

bool PgJobCoordinator::Holds(SingletonJob job) {
  std::lock_guard lock(mu_);
  return HoldsLocked(job);
}

bool PgJobCoordinator::HoldsLocked(SingletonJob job) {
  // The connection is the lease: if it is gone, so are the locks it held.
  if (connection_ && !connection_->Query("SELECT 1").ok()) {
    spdlog::warn("replicas: lost the coordination connection; competing for jobs again");
    connection_.reset();
    held_.clear();
  }
  if (!connection_) {
    auto opened = pg::Connection::Open(conninfo_);
    if (!opened.ok()) {
      spdlog::warn("replicas: cannot reach the database to coordinate jobs: {}",
                   opened.error().message);
      return false;
    }
    connection_.emplace(std::move(opened).value());
  }
  if (held_[job]) {
    return true;
  }
  auto taken = connection_->Query("SELECT pg_try_advisory_lock($1)", pg::Params(LockKey(job)));
  if (!taken.ok()) {
    spdlog::warn("replicas: asking for the {} job failed: {}", ToString(job),
                 taken.error().message);
    return false;
  }
  held_[job] = taken->Bool(0, 0);
  if (held_[job]) {
    spdlog::info("replicas: this server now runs the {} job", ToString(job));
  }
  return held_[job];
}

}  // namespace dozor::server
