#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "core/config.hpp"
#include "test_util.hpp"

namespace dozor::agent {
namespace {

using dozor::testing::TempDir;

Result<AgentConfig> Load(const std::string& text) {
  TempDir dir;
  const auto path = dir / "agent.toml";
  std::ofstream(path) << text;
  return LoadAgentConfigFile(path);
}

TEST_CASE("limits default to 100 MiB and 10 percent CPU") {
  AgentConfig config;
  CHECK(config.max_rss_mb == 100);
  CHECK(config.max_cpu_percent == doctest::Approx(10.0));
  CHECK(ValidateAgentConfig(config).ok());
}

TEST_CASE("limits keys are read from the file as integers or fractions") {
  auto config = Load("[limits]\nmax_rss_mb = 64\nmax_cpu_percent = 2.5\n");
  REQUIRE(config.ok());
  CHECK(config->max_rss_mb == 64);
  CHECK(config->max_cpu_percent == doctest::Approx(2.5));
  auto integer = Load("limits.max_cpu_percent = 25\n");
  REQUIRE(integer.ok());
  CHECK(integer->max_cpu_percent == doctest::Approx(25.0));
}

TEST_CASE("limits out of range or of the wrong type name the key and line") {
  auto small = Load("[limits]\nmax_rss_mb = 4\n");
  REQUIRE_FALSE(small.ok());
  CHECK(small.error().message.find(":2: limits.max_rss_mb = 4 is out of range") !=
        std::string::npos);
  auto cpu = Load("[limits]\nmax_cpu_percent = 0\n");
  REQUIRE_FALSE(cpu.ok());
  CHECK(cpu.error().message.find("limits.max_cpu_percent = 0 is out of range") !=
        std::string::npos);
  auto text = Load("[limits]\nmax_cpu_percent = \"ten\"\n");
  REQUIRE_FALSE(text.ok());
  CHECK(text.error().message.find("must be a number") != std::string::npos);
  auto typo = Load("[limits]\nmax_rss_mib = 10\n");
  REQUIRE_FALSE(typo.ok());
  CHECK(typo.error().message.find("did you mean 'limits.max_rss_mb'") != std::string::npos);
}

TEST_CASE("limits set by flags are validated with the rest of the configuration") {
  AgentConfig config;
  config.max_rss_mb = 8;
  auto memory = ValidateAgentConfig(config);
  REQUIRE_FALSE(memory.ok());
  CHECK(memory.error().message.find("--max-rss-mb") != std::string::npos);
  config.max_rss_mb = 100;
  config.max_cpu_percent = 500;
  auto cpu = ValidateAgentConfig(config);
  REQUIRE_FALSE(cpu.ok());
  CHECK(cpu.error().message.find("--max-cpu-percent") != std::string::npos);
}

}  // namespace
}  // namespace dozor::agent
