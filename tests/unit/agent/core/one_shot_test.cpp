// `dozor-agent collect` over a fixture host: the file it writes verifies with the shared reader
// (dozor/contract/snapshot_file.hpp), and failures leave nothing behind.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "core/one_shot.hpp"
#include "dozor/common/crypto.hpp"
#include "dozor/common/files.hpp"
#include "dozor/contract/snapshot_file.hpp"
#include "test_util.hpp"

namespace dozor::agent {
namespace {

using dozor::testing::FixturePath;
using dozor::testing::TempDir;

constexpr const char* kToken = "dze_test_token_0123456789";

TEST_CASE("collect writes a verifiable 0600 snapshot of a fixture host and no temporary file") {
  TempDir dir;
  OneShotOptions options;
  options.root = FixturePath("hosts/debian-server");
  options.output = dir / "audit.json";
  options.token = kToken;
  options.health_interval_ms = 100;
  auto summary = CollectSnapshotFile(options);
  REQUIRE(summary.ok());
  CHECK(summary->health);
  CHECK(summary->packages > 0);
  struct stat info {};
  REQUIRE(::stat(options.output.c_str(), &info) == 0);
  CHECK((info.st_mode & 07777) == 0600);
  int entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    (void)entry;
    ++entries;
  }
  CHECK(entries == 1);

  auto text = ReadFile(options.output);
  REQUIRE(text.ok());
  auto parsed = ParseSnapshotJson(*text, Sha256Hex(kToken));
  REQUIRE(parsed.ok());
  CHECK(parsed->hostname == summary->hostname);
  CHECK_FALSE(parsed->hostname.empty());
  CHECK(parsed->inventory_report.seq() == 1);
  CHECK(parsed->inventory_report.agent_version() == parsed->agent_version);
  CHECK(parsed->inventory_report.inventory().software().packages_size() == summary->packages);
  CHECK(parsed->inventory_report.collectors_size() >= 4);
  REQUIRE(parsed->health_report.has_value());
  CHECK(parsed->health_report->has_health());
  CHECK(nlohmann::json::parse(*text)["sha256"] == summary->sha256);
}

TEST_CASE("collect rejects a bad token or root and leaves no file behind") {
  TempDir dir;
  OneShotOptions options;
  options.root = FixturePath("hosts/debian-server");
  options.output = dir / "audit.json";
  options.token = "dze bad";
  CHECK(CollectSnapshotFile(options).error().code == ErrorCode::kInvalidArgument);
  options.token = kToken;
  options.root = dir / "missing";
  CHECK(CollectSnapshotFile(options).error().code == ErrorCode::kInvalidArgument);
  CHECK_FALSE(std::filesystem::exists(options.output));
  // Unwritable destination: an error, no partial file.
  options.root = FixturePath("hosts/debian-server");
  options.health = false;
  options.output = dir / "no-such-dir" / "audit.json";
  auto failed = CollectSnapshotFile(options);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code != ErrorCode::kInvalidArgument);
  CHECK(std::filesystem::is_empty(dir.path()));
}

}  // namespace
}  // namespace dozor::agent
