#include "core/collector_supervisor.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"

namespace dozor::agent {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;
using testing::Gate;
using testing::TempDir;
using testing::WaitUntil;

const dozor::v1::CollectorStatus* StatusOf(const InventoryRun& run, const std::string& name) {
  for (const auto& status : run.statuses) {
    if (status.name() == name) {
      return &status;
    }
  }
  return nullptr;
}

CollectorDeadlines Deadlines(std::chrono::milliseconds inventory,
                             std::chrono::milliseconds health = 5s) {
  CollectorDeadlines deadlines;
  deadlines.inventory_collector = inventory;
  deadlines.health_sample = health;
  return deadlines;
}

InventoryCollector FillsHostname(const std::string& name, const std::string& hostname) {
  return {name, [hostname](const CollectContext&, dozor::v1::Inventory* inventory) {
            inventory->mutable_os()->set_hostname(hostname);
            return OkStatus();
          }};
}

InventoryCollector FillsPackage(const std::string& name) {
  return {name, [](const CollectContext&, dozor::v1::Inventory* inventory) {
            inventory->mutable_software()->add_packages()->set_name("bash");
            return OkStatus();
          }};
}

}  // namespace

TEST_CASE(
    "collector supervisor: a collector blocked on a FIFO fails at its deadline, the others "
    "report, and no second copy starts while it hangs") {
  TempDir dir;
  const std::string fifo = (dir.path() / "cpuinfo").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto opens = std::make_shared<std::atomic<int>>(0);
  auto finished = std::make_shared<std::atomic<bool>>(false);
  InventoryCollector blocked{
      "hardware", [fifo, opens, finished](const CollectContext&, dozor::v1::Inventory* inventory) {
        ++*opens;
        // A blocking open of a FIFO waits for a writer: forever, unless the test opens one.
        const int fd = ::open(fifo.c_str(), O_RDONLY);
        if (fd >= 0) {
          ::close(fd);
        }
        inventory->mutable_hardware()->mutable_cpu()->set_model("late");
        finished->store(true);
        return OkStatus();
      }};
  CollectorSupervisor supervisor(CollectContext{}, Deadlines(300ms),
                                 {blocked, FillsHostname("os", "web-1"), FillsPackage("software")});

  const auto started = SteadyClock::now();
  InventoryRun first = supervisor.CollectInventory();
  CHECK(SteadyClock::now() - started < 3s);
  REQUIRE(first.statuses.size() == 3);
  const auto* hardware = StatusOf(first, "hardware");
  REQUIRE(hardware != nullptr);
  CHECK_FALSE(hardware->ok());
  CHECK(hardware->error() ==
        "unavailable: collector hardware did not finish within 300 ms; it is left running and "
        "not started again until it finishes");
  CHECK_FALSE(first.inventory.has_hardware());
  CHECK(StatusOf(first, "os")->ok());
  CHECK(first.inventory.os().hostname() == "web-1");
  CHECK(StatusOf(first, "software")->ok());
  CHECK(first.inventory.software().packages_size() == 1);

  // Still hung at the next inventory: reported at once, not opened a second time.
  InventoryRun second = supervisor.CollectInventory();
  const auto* still = StatusOf(second, "hardware");
  REQUIRE(still != nullptr);
  CHECK_FALSE(still->ok());
  CHECK(still->duration_ms() < 300);  // not waited for again
  CHECK(still->error().find("collector hardware is still running") != std::string::npos);
  CHECK(second.inventory.os().hostname() == "web-1");
  CHECK(opens->load() == 1);

  // A writer ends the hang; the late result goes nowhere, and the next inventory runs it again.
  const int writer = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
  REQUIRE(writer >= 0);
  REQUIRE(WaitUntil([&] { return finished->load(); }, 5s));
  ::close(writer);
  REQUIRE(WaitUntil(
      [&] {
        InventoryRun third = supervisor.CollectInventory();
        return StatusOf(third, "hardware")->error().find("still running") == std::string::npos;
      },
      5s));
  CHECK(opens->load() >= 2);
}

TEST_CASE("collector supervisor: real collectors on a fixture root, one stuck in a subprocess") {
  TempDir dir;
  // A root of its own: the os collector caches package-update counts per root path.
  std::filesystem::create_directory_symlink(testing::FixturePath("hosts/debian-server"),
                                            dir.path() / "root");
  auto gate = std::make_shared<Gate>();
  auto apt_runs = std::make_shared<std::atomic<int>>(0);
  CollectContext context;
  context.root = dir.path() / "root";
  context.run_command = [gate,
                         apt_runs](const std::vector<std::string>& argv) -> Result<CommandOutput> {
    if (argv[0] == "apt-get") {
      ++*apt_runs;
      gate->Wait();  // a package manager that never answers
    }
    return MakeError(ErrorCode::kNotFound, argv[0] + ": not in this test");
  };
  CollectorSupervisor supervisor(context, Deadlines(2s));

  const auto started = SteadyClock::now();
  InventoryRun run = supervisor.CollectInventory();
  const auto took = SteadyClock::now() - started;
  CHECK(took < 8s);
  const auto* os = StatusOf(run, "os");
  REQUIRE(os != nullptr);
  CHECK_FALSE(os->ok());
  CHECK(os->error().find("collector os did not finish within 2 s") != std::string::npos);
  CHECK(StatusOf(run, "hardware")->ok());
  CHECK(StatusOf(run, "network")->ok());
  CHECK(StatusOf(run, "software")->ok());
  CHECK(run.inventory.hardware().has_cpu());
  CHECK(run.inventory.software().packages_size() > 0);
  CHECK(run.inventory.network().interfaces_size() > 0);
  CHECK_FALSE(run.inventory.has_os());

  InventoryRun again = supervisor.CollectInventory();
  CHECK(StatusOf(again, "os")->error().find("collector os is still running") != std::string::npos);
  CHECK(apt_runs->load() == 1);

  gate->Open();
  REQUIRE(WaitUntil(
      [&] {
        InventoryRun later = supervisor.CollectInventory();
        return StatusOf(later, "os")->ok() && later.inventory.has_os();
      },
      10s));
}

TEST_CASE("collector supervisor: an exception fails only its collector") {
  InventoryCollector throwing{"network",
                              [](const CollectContext&, dozor::v1::Inventory*) -> Status {
                                throw std::runtime_error("netlink went away");
                              }};
  CollectorSupervisor supervisor(CollectContext{}, Deadlines(5s),
                                 {FillsHostname("os", "db-1"), throwing, FillsPackage("software")});
  InventoryRun run = supervisor.CollectInventory();
  CHECK(StatusOf(run, "network")->error() ==
        "internal: collector network threw: netlink went away");
  CHECK(run.inventory.os().hostname() == "db-1");
  CHECK(run.inventory.software().packages_size() == 1);
}

namespace {

class BlockingSampler : public HealthSampler {
 public:
  explicit BlockingSampler(std::shared_ptr<Gate> gate) : gate_(std::move(gate)) {}
  Result<dozor::v1::HealthSample> Sample(std::vector<std::string>* errors) override {
    ++samples;
    if (samples == 2) {
      gate_->Wait();
    }
    errors->push_back("no thermal zones");
    dozor::v1::HealthSample sample;
    sample.set_interval_seconds(static_cast<uint32_t>(samples));
    return sample;
  }
  void ReleaseMemory() override { ++releases; }

  std::atomic<int> samples{0};
  std::atomic<int> releases{0};

 private:
  std::shared_ptr<Gate> gate_;
};

}  // namespace

TEST_CASE("collector supervisor: a hung health sample fails at its deadline and is not repeated") {
  auto gate = std::make_shared<Gate>();
  auto sampler = std::make_shared<BlockingSampler>(gate);
  CollectorSupervisor supervisor(CollectContext{}, Deadlines(5s, 200ms), {}, sampler);

  std::vector<std::string> errors;
  auto first = supervisor.SampleHealth(&errors);
  REQUIRE(first.ok());
  CHECK(first->interval_seconds() == 1);
  CHECK(errors == std::vector<std::string>{"no thermal zones"});

  const auto started = SteadyClock::now();
  auto hung = supervisor.SampleHealth(&errors);
  CHECK(SteadyClock::now() - started < 2s);
  REQUIRE_FALSE(hung.ok());
  CHECK(hung.error().message ==
        "collector health did not finish within 200 ms; it is left running and not started "
        "again until it finishes");
  auto still = supervisor.SampleHealth(&errors);
  REQUIRE_FALSE(still.ok());
  CHECK(still.error().message.find("collector health is still running") == 0);
  CHECK(sampler->samples.load() == 2);
  // The hung sample still uses the sampler's buffers: they are not released under it.
  supervisor.ReleaseHealthMemory();
  CHECK(sampler->releases.load() == 0);

  gate->Open();
  REQUIRE(WaitUntil([&] { return supervisor.SampleHealth(&errors).ok(); }, 5s));
  supervisor.ReleaseHealthMemory();
  CHECK(sampler->releases.load() == 1);
}

TEST_CASE("collector deadlines come from collectors.timeout_seconds, health capped at 30 s") {
  CollectorDeadlines defaults = CollectorDeadlines::FromTimeoutSeconds(300);
  CHECK(defaults.inventory_collector == 300s);
  CHECK(defaults.health_sample == 30s);
  CollectorDeadlines short_ones = CollectorDeadlines::FromTimeoutSeconds(10);
  CHECK(short_ones.inventory_collector == 10s);
  CHECK(short_ones.health_sample == 10s);
}

}  // namespace dozor::agent
