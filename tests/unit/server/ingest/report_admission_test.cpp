#include "ingest/report_admission.hpp"

#include <doctest/doctest.h>

namespace dozor::server {
namespace {

constexpr int64_t kNow = 1'780'000'000'000;

TEST_CASE("health samples closer than the minimum interval are refused, resends are not") {
  ReportAdmission admission;
  CHECK_FALSE(admission.Admit("a", 1, PayloadKind::kHealth, kNow, kNow));
  auto refused = admission.Admit("a", 2, PayloadKind::kHealth, kNow + 100, kNow);
  REQUIRE(refused);
  CHECK(refused->find("100 ms") != std::string::npos);
  // A resend of an already offered seq is for the store to answer (DUPLICATE).
  CHECK_FALSE(admission.Admit("a", 2, PayloadKind::kHealth, kNow + 100, kNow));
  CHECK_FALSE(admission.Admit("a", 3, PayloadKind::kHealth, kNow + 1000, kNow));
  // An older sample (a spool drain after a clock step) is fine when spaced.
  CHECK_FALSE(admission.Admit("a", 4, PayloadKind::kHealth, kNow - 60'000, kNow));
  // Agents are independent.
  CHECK_FALSE(admission.Admit("b", 1, PayloadKind::kHealth, kNow + 100, kNow));
}

TEST_CASE("inventories: a burst, then one per refill period on the server's clock") {
  AdmissionOptions options;
  options.inventory_burst = 2;
  options.inventory_refill_ms = 60'000;
  ReportAdmission admission(options);
  CHECK_FALSE(admission.Admit("a", 1, PayloadKind::kInventory, kNow, kNow));
  CHECK_FALSE(admission.Admit("a", 2, PayloadKind::kInventory, kNow, kNow));
  auto refused = admission.Admit("a", 3, PayloadKind::kInventory, kNow, kNow + 1000);
  REQUIRE(refused);
  CHECK(refused->find("too many inventories") != std::string::npos);
  // Health is not limited by the inventory bucket.
  CHECK_FALSE(admission.Admit("a", 4, PayloadKind::kHealth, kNow, kNow + 1000));
  CHECK_FALSE(admission.Admit("a", 5, PayloadKind::kInventory, kNow, kNow + 61'000));
  CHECK(admission.Admit("a", 6, PayloadKind::kInventory, kNow, kNow + 62'000));
  // A forgotten (revoked) agent starts over.
  admission.Forget("a");
  CHECK_FALSE(admission.Admit("a", 7, PayloadKind::kInventory, kNow, kNow + 62'000));
}

}  // namespace
}  // namespace dozor::server
