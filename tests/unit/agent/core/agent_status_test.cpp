#include "core/agent_status.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <string>

#include "dozor/common/files.hpp"
#include "test_util.hpp"

namespace dozor::agent {
namespace {

using dozor::testing::TempDir;

constexpr int64_t kNow = 1'760'000'600'000;

AgentIdentity SampleIdentity() {
  AgentIdentity identity;
  identity.agent_id = "agt_42";
  identity.agent_secret = "very-secret-value";
  identity.server_address = "dozor.example.com:7443";
  identity.organization = "acme";
  identity.enrolled_at_ms = 1'700'000'000'000;
  return identity;
}

RuntimeStatus SampleRuntime() {
  RuntimeStatus status;
  status.pid = 4242;
  status.started_at_ms = kNow - 3'600'000;
  status.updated_at_ms = kNow - 10'000;
  status.agent_version = "0.1.0";
  status.server_address = "dozor.example.com:7443";
  status.health_interval_seconds = 60;
  status.connected = true;
  status.last_send_ok_ms = kNow - 30'000;
  status.spool_reports = 3;
  status.spool_bytes = 4096;
  status.spool_dropped_health = 7;
  status.collectors.push_back({"hardware", true, "", 12, kNow - 600'000});
  status.collectors.push_back(
      {"os", false, "NOT_FOUND: /etc/os-release missing", 3, kNow - 600'000});
  status.rss_bytes = 23 << 20;
  status.cpu_percent = 0.4;
  status.max_rss_mb = 100;
  status.max_cpu_percent = 10;
  return status;
}

// A state directory as the running agent leaves it.
void WriteFixtureStateDir(const std::filesystem::path& dir, const RuntimeStatus& runtime) {
  REQUIRE(SaveIdentity(dir, SampleIdentity()).ok());
  REQUIRE(SaveRuntimeStatus(dir, runtime).ok());
}

TEST_CASE("runtime status round-trips through status.json with mode 0600") {
  TempDir dir;
  REQUIRE(SaveRuntimeStatus(dir.path(), SampleRuntime()).ok());
  struct stat info {};
  REQUIRE(::stat((dir.path() / "status.json").c_str(), &info) == 0);
  CHECK((info.st_mode & 07777) == 0600);
  auto text = ReadFile(dir.path() / "status.json");
  REQUIRE(text.ok());
  auto parsed = ParseRuntimeStatus(*text);
  REQUIRE(parsed.ok());
  CHECK(parsed->pid == 4242);
  CHECK(parsed->last_send_ok_ms == kNow - 30'000);
  CHECK(parsed->spool_reports == 3);
  CHECK(parsed->spool_bytes == 4096);
  CHECK(parsed->spool_dropped_health == 7);
  REQUIRE(parsed->collectors.size() == 2);
  CHECK(parsed->collectors[1].name == "os");
  CHECK_FALSE(parsed->collectors[1].ok);
  CHECK(parsed->collectors[1].error == "NOT_FOUND: /etc/os-release missing");
  CHECK(parsed->cpu_percent == doctest::Approx(0.4));
  CHECK(SerializeRuntimeStatus(*parsed) == *text);
  CHECK_FALSE(ParseRuntimeStatus("{\"format\":\"other\"}").ok());
  CHECK_FALSE(ParseRuntimeStatus("[1,2]").ok());
}

TEST_CASE("status of a running agent that sent recently is healthy and shows everything") {
  TempDir dir;
  WriteFixtureStateDir(dir.path(), SampleRuntime());
  auto lock = AgentLock::Acquire(dir.path());
  REQUIRE(lock.ok());
  StatusView view = LoadStatusView(dir.path(), kNow);
  CHECK(view.enrolled);
  CHECK(view.running);
  CHECK(view.exit_code == kStatusExitHealthy);
  const std::string text = RenderStatusText(view);
  CHECK(text.find("agt_42") != std::string::npos);
  CHECK(text.find("acme") != std::string::npos);
  CHECK(text.find("dozor.example.com:7443 (connected)") != std::string::npos);
  CHECK(text.find("running (pid 4242") != std::string::npos);
  CHECK(text.find("(30 s ago)") != std::string::npos);
  CHECK(text.find("3 reports pending, 4.0 KiB") != std::string::npos);
  CHECK(text.find("Health       OK") != std::string::npos);
  CHECK(text.find("hardware     ok") != std::string::npos);
  CHECK(text.find("os           error") != std::string::npos);
  CHECK(text.find("/etc/os-release missing") != std::string::npos);
  CHECK(text.find("very-secret-value") == std::string::npos);

  auto json = nlohmann::json::parse(RenderStatusJson(view));
  CHECK(json["healthy"] == true);
  CHECK(json["running"] == true);
  CHECK(json["agent_id"] == "agt_42");
  CHECK(json["status"]["spool"]["reports"] == 3);
  CHECK(json["status"]["collectors"][1]["ok"] == false);
  CHECK(json.dump().find("very-secret-value") == std::string::npos);
}

TEST_CASE("status is unhealthy (3) when no agent holds the lock") {
  TempDir dir;
  WriteFixtureStateDir(dir.path(), SampleRuntime());
  { auto lock = AgentLock::Acquire(dir.path()); }  // an agent ran and exited
  StatusView view = LoadStatusView(dir.path(), kNow);
  CHECK_FALSE(view.running);
  CHECK(view.exit_code == kStatusExitUnhealthy);
  CHECK(RenderStatusText(view).find("not running") != std::string::npos);
}

TEST_CASE("status is unhealthy (3) when the last send is older than three health intervals") {
  TempDir dir;
  RuntimeStatus runtime = SampleRuntime();
  runtime.last_send_ok_ms = kNow - 181'000;
  WriteFixtureStateDir(dir.path(), runtime);
  auto lock = AgentLock::Acquire(dir.path());
  REQUIRE(lock.ok());
  StatusView view = LoadStatusView(dir.path(), kNow);
  CHECK(view.exit_code == kStatusExitUnhealthy);
  REQUIRE(view.problems.size() == 1);
  CHECK(view.problems[0].find("older than 3 health intervals") != std::string::npos);
  // Shedding doubles the interval the agent reports, and with it the allowance.
  runtime.health_interval_seconds = 120;
  CHECK(EvaluateStatus(SampleIdentity(), true, runtime, kNow).exit_code == kStatusExitHealthy);
}

TEST_CASE("status allows a freshly started agent three intervals for its first send") {
  RuntimeStatus runtime = SampleRuntime();
  runtime.last_send_ok_ms = 0;
  runtime.started_at_ms = kNow - 100'000;
  CHECK(EvaluateStatus(SampleIdentity(), true, runtime, kNow).exit_code == kStatusExitHealthy);
  runtime.started_at_ms = kNow - 200'000;
  CHECK(EvaluateStatus(SampleIdentity(), true, runtime, kNow).exit_code == kStatusExitUnhealthy);
  // Running, but no status file yet.
  CHECK(EvaluateStatus(SampleIdentity(), true, MakeError(ErrorCode::kNotFound, "none"), kNow)
            .exit_code == kStatusExitUnhealthy);
}

TEST_CASE("status without identity.json says not enrolled and exits 1") {
  TempDir dir;
  StatusView view = LoadStatusView(dir.path(), kNow);
  CHECK_FALSE(view.enrolled);
  CHECK(view.exit_code == kStatusExitNotEnrolled);
  CHECK(RenderStatusText(view).find("not enrolled") != std::string::npos);
  CHECK(nlohmann::json::parse(RenderStatusJson(view))["enrolled"] == false);
}

TEST_CASE("a second agent cannot take the lock of a running one") {
  TempDir dir;
  auto first = AgentLock::Acquire(dir.path());
  REQUIRE(first.ok());
  auto second = AgentLock::Acquire(dir.path());
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().code == ErrorCode::kAlreadyExists);
  CHECK(*IsAgentLocked(dir.path()));
  { AgentLock released = std::move(first).value(); }
  CHECK_FALSE(*IsAgentLocked(dir.path()));
  CHECK(AgentLock::Acquire(dir.path()).ok());
}

}  // namespace
}  // namespace dozor::agent
