#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "ingest/validate.hpp"

namespace dozor::server {
namespace {

constexpr int64_t kValidateNow = 1'800'000'000'000;

dozor::v1::Report HealthReport() {
  dozor::v1::Report report;
  report.set_seq(7);
  report.set_collected_at_ms(kValidateNow - 1000);
  report.mutable_health()->set_cpu_percent(12.5);
  auto* fs = report.mutable_health()->add_filesystems();
  fs->set_mount_point("/");
  fs->set_total_bytes(100);
  return report;
}

bool MentionsField(const Status& status, const std::string& field) {
  return !status.ok() && status.error().code == ErrorCode::kInvalidArgument &&
         status.error().message.find(field) != std::string::npos;
}

TEST_CASE("a well-formed health report passes validation") {
  CHECK(ValidateReport(HealthReport(), kValidateNow).ok());
}

TEST_CASE("validation rejects seq 0 and a report without payload") {
  auto report = HealthReport();
  report.set_seq(0);
  CHECK(MentionsField(ValidateReport(report, kValidateNow), "seq"));
  dozor::v1::Report empty;
  empty.set_seq(1);
  empty.set_collected_at_ms(kValidateNow);
  CHECK(MentionsField(ValidateReport(empty, kValidateNow), "payload"));
}

TEST_CASE("validation rejects timestamps before 2000 or more than a day ahead") {
  auto report = HealthReport();
  report.set_collected_at_ms(1000);
  CHECK(MentionsField(ValidateReport(report, kValidateNow), "collected_at_ms"));
  report.set_collected_at_ms(kValidateNow + 2LL * 24 * 3600 * 1000);
  CHECK(MentionsField(ValidateReport(report, kValidateNow), "collected_at_ms"));
}

TEST_CASE("validation names the nested field holding an oversized string") {
  auto report = HealthReport();
  report.mutable_health()->mutable_filesystems(0)->set_mount_point(std::string(5000, 'x'));
  CHECK(MentionsField(ValidateReport(report, kValidateNow), "health.filesystems[0].mount_point"));
}

TEST_CASE("validation rejects invalid UTF-8, including truncated sequences") {
  auto report = HealthReport();
  report.mutable_health()->mutable_filesystems(0)->set_mount_point("/mnt/\xff");
  CHECK(MentionsField(ValidateReport(report, kValidateNow), "UTF-8"));
  report.mutable_health()->mutable_filesystems(0)->set_mount_point("/mnt/\xd0");
  CHECK(MentionsField(ValidateReport(report, kValidateNow), "UTF-8"));
  report.mutable_health()->mutable_filesystems(0)->set_mount_point("/mnt/Документы");
  CHECK(ValidateReport(report, kValidateNow).ok());
}

TEST_CASE("validation refuses a sequence number the store could not keep (2^63 and beyond)") {
  auto report = HealthReport();
  report.set_seq(uint64_t{1} << 63);
  CHECK(MentionsField(ValidateReport(report, kValidateNow), "seq"));
  report.set_seq(std::numeric_limits<uint64_t>::max());
  CHECK(MentionsField(ValidateReport(report, kValidateNow), "2^63"));
  report.set_seq((uint64_t{1} << 63) - 1);
  CHECK(ValidateReport(report, kValidateNow).ok());
}

TEST_CASE("validation refuses a NUL inside text, naming the field") {
  // Stored, it would be whole in the inventory snapshot but cut short by every TEXT reader.
  auto report = HealthReport();
  report.mutable_health()->mutable_filesystems(0)->set_mount_point(std::string("/mnt\0x", 6));
  CHECK(MentionsField(ValidateReport(report, kValidateNow), "health.filesystems[0].mount_point"));
  CHECK(MentionsField(ValidateReport(report, kValidateNow), "NUL"));
  // Overlong forms and surrogates are not UTF-8 either (protobuf's parser agrees).
  report.mutable_health()->mutable_filesystems(0)->set_mount_point("/mnt/\xc0\xaf");
  CHECK(MentionsField(ValidateReport(report, kValidateNow), "UTF-8"));
  report.mutable_health()->mutable_filesystems(0)->set_mount_point("/mnt/\xed\xa0\x80");
  CHECK(MentionsField(ValidateReport(report, kValidateNow), "UTF-8"));
}

TEST_CASE("validation rejects NaN and infinity anywhere") {
  auto report = HealthReport();
  report.mutable_health()->set_load1(std::numeric_limits<double>::quiet_NaN());
  CHECK(MentionsField(ValidateReport(report, kValidateNow), "health.load1"));
  report = HealthReport();
  report.mutable_health()->add_temperatures()->set_celsius(std::numeric_limits<double>::infinity());
  CHECK(MentionsField(ValidateReport(report, kValidateNow), "health.temperatures[0].celsius"));
  report = HealthReport();
  report.mutable_health()->set_cpu_percent(250);
  CHECK(MentionsField(ValidateReport(report, kValidateNow), "cpu_percent"));
}

TEST_CASE("validation bounds every list") {
  auto report = HealthReport();
  ReportLimits limits;
  limits.max_repeated = 10;
  for (int i = 0; i < 11; ++i)
    report.mutable_health()->add_top_cpu()->set_pid(static_cast<uint32_t>(i));
  CHECK(MentionsField(ValidateReport(report, kValidateNow, limits), "health.top_cpu"));
  dozor::v1::Report inventory;
  inventory.set_seq(1);
  inventory.set_collected_at_ms(kValidateNow);
  for (int i = 0; i < 11; ++i)
    inventory.mutable_inventory()->mutable_software()->add_packages()->set_name("p");
  CHECK(MentionsField(ValidateReport(inventory, kValidateNow, limits),
                      "inventory.software.packages"));
}

TEST_CASE("enroll requests need a token and a hostname, bounded") {
  dozor::v1::EnrollRequest request;
  CHECK(MentionsField(ValidateEnrollRequest(request), "token"));
  request.set_token("dze_x");
  CHECK(MentionsField(ValidateEnrollRequest(request), "hostname"));
  request.set_hostname(std::string(1000, 'h'));
  CHECK(MentionsField(ValidateEnrollRequest(request), "hostname"));
  request.set_hostname("pc-01");
  CHECK(ValidateEnrollRequest(request).ok());
}

}  // namespace
}  // namespace dozor::server
