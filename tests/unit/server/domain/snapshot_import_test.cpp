// The outcome of importing a snapshot, without a database.
#include "domain/snapshot_import.hpp"

#include <doctest/doctest.h>

namespace dozor::server {
namespace {

TEST_CASE("a snapshot of an unknown machine creates its host") {
  CHECK(DecideImportOutcome(std::nullopt, 1000) == ImportOutcome::kCreated);
}

TEST_CASE("a newer snapshot updates the host, an older or equal one is only recorded") {
  CHECK(DecideImportOutcome(1000, 1001) == ImportOutcome::kUpdated);
  CHECK(DecideImportOutcome(1000, 1000) == ImportOutcome::kStale);
  CHECK(DecideImportOutcome(1000, 10) == ImportOutcome::kStale);
  CHECK(DecideImportOutcome(0, 1) == ImportOutcome::kUpdated);  // host without inventory yet
}

TEST_CASE("import outcomes spell the stored words") {
  CHECK(ToString(ImportOutcome::kStale) == "stale");
  CHECK(ParseImportOutcome("updated") == ImportOutcome::kUpdated);
  CHECK_FALSE(ParseImportOutcome("merged").has_value());
}

}  // namespace
}  // namespace dozor::server
