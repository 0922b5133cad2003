// JobCoordinator over PostgreSQL session advisory locks (store/job_coordinator.hpp): one lock per
// job (pg_locks.hpp), held on a connection of this coordinator's own for as long as the process
// lives. The server releases a dead process's locks with its connection, so the next replica to
// ask takes the job over. A lost connection (database restart, network) means lost locks: the
// coordinator reconnects and competes again, and reports false until it holds the job again.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "store/job_coordinator.hpp"
#include "store/postgres/pg_client.hpp"

namespace dozor::server {

class PgJobCoordinator final : public JobCoordinator {
 public:
  explicit PgJobCoordinator(std::string conninfo) : conninfo_(std::move(conninfo)) {}

  bool Holds(SingletonJob job) override;

 private:
  bool HoldsLocked(SingletonJob job);

  std::string conninfo_;
  std::mutex mu_;
  std::optional<pg::Connection> connection_;
  std::map<SingletonJob, bool> held_;
};

}  // namespace dozor::server
