// `dozor-agent collect` over a fixture host: the file it writes verifies with the shared reader
// (dozor/contract/snapshot_file.hpp), and failures leave nothing behind.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

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
  auto parsed = ParseSnapshotJson(*text, *SnapshotImportKey(kToken));
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

TEST_CASE("FIFOs planted where collectors read fail those reads instead of hanging the agent") {
  // A FIFO at proc/cpuinfo, etc/resolv.conf or proc/loadavg blocked the whole inventory (and
  // every health sample) forever, with no output.
  TempDir dir;
  const auto root = dir / "root";
  std::filesystem::copy(
      FixturePath("hosts/debian-server"), root,
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks);
  for (const char* path : {"proc/cpuinfo", "etc/resolv.conf", "proc/loadavg"}) {
    std::filesystem::remove(root / path);
    REQUIRE(::mkfifo((root / path).c_str(), 0644) == 0);
  }
  OneShotOptions options;
  options.root = root;
  options.output = dir / "audit.json";
  options.token = kToken;
  options.health_interval_ms = 100;
  // On its own thread: if it hangs, the test fails after the timeout instead of hanging too.
  auto result = std::make_shared<std::promise<Result<OneShotSummary>>>();
  auto done = result->get_future();
  std::thread([result, options] { result->set_value(CollectSnapshotFile(options)); }).detach();
  REQUIRE(done.wait_for(std::chrono::seconds(60)) == std::future_status::ready);
  auto summary = done.get();
  REQUIRE_MESSAGE(summary.ok(), (summary.ok() ? "" : summary.error().ToString()));
  CHECK(summary->packages > 0);            // the other collectors still reported
  CHECK(summary->failed_collectors >= 1);  // and the ones that met a FIFO say so
  auto text = ReadFile(options.output);
  REQUIRE(text.ok());
  auto parsed = ParseSnapshotJson(*text, *SnapshotImportKey(kToken));
  REQUIRE(parsed.ok());
  bool named = false;
  for (const auto& status : parsed->inventory_report.collectors()) {
    named = named || status.error().find("not a regular file") != std::string::npos;
  }
  CHECK(named);
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
