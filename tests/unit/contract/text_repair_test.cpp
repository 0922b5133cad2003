// Text from a machine made valid before a report is spooled: a report with one non-UTF-8 value
// serializes, but protobuf refuses to parse it back, so the spool could never send it.
#include "dozor/contract/text_repair.hpp"

#include <doctest/doctest.h>

#include <string>

#include "dozor/v1/agent.pb.h"

namespace dozor {
namespace {

dozor::v1::Report ReportWithBadText() {
  dozor::v1::Report report;
  report.set_seq(7);
  auto* package = report.mutable_inventory()->mutable_software()->add_packages();
  package->set_name("libfoo");
  package->set_vendor(
      "Jos\xe9 Garc\xed"
      "a");  // Latin-1 in a dpkg Maintainer field
  report.mutable_inventory()->mutable_software()->add_packages()->set_name("ok-package");
  report.mutable_inventory()->mutable_network()->add_dns_servers(std::string("10.0.0.1\0x", 10));
  return report;
}

TEST_CASE("a report with non-UTF-8 text does not survive serialization until it is repaired") {
  dozor::v1::Report report = ReportWithBadText();
  std::string bytes;
  (void)report.SerializeToString(&bytes);  // logs protobuf's UTF-8 complaint, writes anyway
  dozor::v1::Report parsed;
  CHECK_FALSE(parsed.ParseFromString(bytes));  // what used to happen to such a spooled report

  CHECK(RepairInvalidText(&report) == 2);  // the vendor and the DNS server with a NUL
  bytes.clear();
  REQUIRE(report.SerializeToString(&bytes));
  REQUIRE(parsed.ParseFromString(bytes));
  const auto& packages = parsed.inventory().software().packages();
  CHECK(packages[0].vendor() == "Jos\\xe9 Garc\\xeda");
  CHECK(packages[0].name() == "libfoo");
  CHECK(packages[1].name() == "ok-package");
  CHECK(parsed.inventory().network().dns_servers(0) == "10.0.0.1\\x00x");
  CHECK(RepairInvalidText(&report) == 0);  // valid text is left alone
}

TEST_CASE("repair reaches repeated messages in health samples too") {
  dozor::v1::Report report;
  report.set_seq(8);
  auto* process = report.mutable_health()->add_top_cpu();
  process->set_name("\xff\xfe-miner");
  report.mutable_health()->add_top_memory()->set_name("postgres");
  CHECK(RepairInvalidText(&report) == 1);
  CHECK(report.health().top_cpu(0).name() == "\\xff\\xfe-miner");
  CHECK(report.health().top_memory(0).name() == "postgres");
}

}  // namespace
}  // namespace dozor
