#include "store/collector_status_batch.hpp"

#include <doctest/doctest.h>

namespace dozor::server {
namespace {

dozor::v1::CollectorStatus CollectorStatusOf(const char* name, bool ok) {
  dozor::v1::CollectorStatus s;
  s.set_name(name);
  s.set_ok(ok);
  return s;
}

TEST_CASE("collector status batch keeps the last status per host and collector") {
  auto health_ok = CollectorStatusOf("health", true);
  auto health_failed = CollectorStatusOf("health", false);
  auto packages = CollectorStatusOf("packages", true);
  CollectorStatusBatch batch;
  batch.Add(2, 100, health_ok);
  batch.Add(1, 100, health_ok);
  batch.Add(1, 100, packages);
  batch.Add(2, 200, health_failed);  // replaces host 2's earlier health status
  batch.Add(1, 50, health_failed);   // last added wins even when collected earlier, as before
  const auto& latest = batch.Latest();
  REQUIRE(latest.size() == 3);
  CHECK(latest[0].agent == 1);
  CHECK(latest[0].status->name() == "health");
  CHECK(latest[0].status->ok() == false);
  CHECK(latest[0].at == 50);
  CHECK(latest[1].status->name() == "packages");
  CHECK(latest[2].agent == 2);
  CHECK(latest[2].at == 200);
  CHECK(latest[2].status->ok() == false);
}

TEST_CASE("collector status batch clear forgets every status") {
  auto health = CollectorStatusOf("health", true);
  CollectorStatusBatch batch;
  batch.Add(1, 1, health);
  batch.Clear();
  CHECK(batch.Latest().empty());
}

}  // namespace
}  // namespace dozor::server
