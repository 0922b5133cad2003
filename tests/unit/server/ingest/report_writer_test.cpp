#include "ingest/report_writer.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/test_store.hpp"

namespace dozor::server {
namespace {

using testing::OpenTestStore;

// The writer's thread releases asynchronously; waits up to two seconds for the count.
uint64_t ReleasesAfterWaitingFor(const ReportWriter& writer, uint64_t wanted) {
  (void)testing::WaitUntil([&] { return writer.Stats().memory_releases >= wanted; },
                           std::chrono::seconds(2));
  return writer.Stats().memory_releases;
}

TEST_CASE("an idle writer releases the memory of refused messages once their bytes add up") {
  testing::TempDir dir;
  auto store = OpenTestStore(dir);
  ReportWriterOptions options;
  options.release_memory_after_bytes = 4096;
  options.release_memory_every_ms = 20;
  ReportWriter writer(*store, options);
  writer.Start();

  writer.NoteRefusedMessage(1000);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(writer.Stats().memory_releases == 0);  // below the threshold

  writer.NoteRefusedMessage(3500);  // no report is queued: the writer wakes on its own
  CHECK(ReleasesAfterWaitingFor(writer, 1) == 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(writer.Stats().memory_releases == 1);  // the counter started again from zero

  writer.NoteRefusedMessage(5000);
  CHECK(ReleasesAfterWaitingFor(writer, 2) == 2);
  writer.Stop();
}

TEST_CASE("the writer releases memory after a batch of large reports, not after small ones") {
  testing::TempDir dir;
  auto store = OpenTestStore(dir);
  ReportWriterOptions options;
  options.release_memory_after_bytes = 4096;
  options.release_memory_every_ms = 60'000;  // no release for refused messages in this test
  ReportWriter writer(*store, options);
  writer.Start();
  auto submit = [&](size_t wire_bytes) {
    IncomingReport report;
    report.agent_id = "no-such-agent";  // refused by the store: a batch all the same
    report.report.set_seq(1);
    report.wire_bytes = wire_bytes;
    std::promise<void> done;
    REQUIRE(
        writer.Submit(std::move(report), [&](const Result<CommitResult>&) { done.set_value(); }));
    done.get_future().wait();
  };
  submit(100);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(writer.Stats().memory_releases == 0);
  submit(5000);
  CHECK(ReleasesAfterWaitingFor(writer, 1) == 1);
  writer.Stop();
}

// Records the order in which the writer completed reports, by name.
class CompletionLog {
 public:
  ReportWriter::Completion Expect(std::string name) {
    return [this, name](const Result<CommitResult>& result) {
      std::lock_guard lock(mu_);
      names_.push_back(
          name + (result.ok() && result->outcome == CommitOutcome::kStored ? "" : " (not stored)"));
      changed_.notify_all();
    };
  }
  // Waits up to 10 s for `name` to complete; false if it did not.
  bool WaitFor(const std::string& name) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [&] {
      return std::find(names_.begin(), names_.end(), name) != names_.end();
    });
  }
  std::vector<std::string> Names() {
    std::lock_guard lock(mu_);
    return names_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::string> names_;
};

IncomingReport HealthReport(const std::string& agent_id, uint64_t seq) {
  IncomingReport report;
  report.agent_id = agent_id;
  report.received_at_ms = 1796212800000 + static_cast<int64_t>(seq) * 1000;
  report.report.set_seq(seq);
  report.report.set_collected_at_ms(report.received_at_ms);
  report.report.mutable_health()->set_cpu_percent(5);
  report.wire_bytes = 100;
  return report;
}

TEST_CASE("an inventory being prepared holds back only its own agent's reports") {
  testing::TempDir dir;
  auto store = OpenTestStore(dir);
  const std::string big = testing::EnrollTestHost(*store, "org-big", "big", "big");
  const std::string other = testing::EnrollTestHost(*store, "org-other", "other", "other");
  // The preparer is held at its first inventory until the test lets it go.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> preparing{0};
  ReportWriterOptions options;
  options.before_preparing = [&](const IncomingReport&) {
    ++preparing;
    released.wait();
  };
  ReportWriter writer(*store, options);
  writer.Start();
  CompletionLog log;
  dozor::v1::Inventory inventory;
  for (int i = 0; i < 100; ++i) {
    inventory.mutable_software()->add_packages()->set_name("package-" + std::to_string(i));
  }
  IncomingReport inventory_report = testing::InventoryReport(big, 1, inventory);
  inventory_report.wire_bytes = inventory.ByteSizeLong();
  REQUIRE(writer.Submit(std::move(inventory_report), log.Expect("big inventory")));
  REQUIRE(testing::WaitUntil([&] { return preparing.load() == 1; }, std::chrono::seconds(10)));
  REQUIRE(writer.Submit(HealthReport(big, 2), log.Expect("big health")));
  REQUIRE(writer.Submit(HealthReport(other, 1), log.Expect("other health")));

  // The other agent's sample is committed while the inventory is still held by the preparer;
  // the big agent's own sample waits behind its inventory.
  CHECK(log.WaitFor("other health"));
  CHECK(preparing.load() == 1);
  CHECK(log.Names() == std::vector<std::string>{"other health"});

  release.set_value();
  CHECK(log.WaitFor("big health"));
  CHECK(log.Names() == std::vector<std::string>{"other health", "big inventory", "big health"});
  auto stored = store->GetInventory(big);
  REQUIRE(stored.ok());
  CHECK(stored->inventory.software().packages_size() == 100);
  writer.Stop();
}

TEST_CASE("stopping the writer commits an inventory the preparer still holds") {
  testing::TempDir dir;
  auto store = OpenTestStore(dir);
  const std::string agent = testing::EnrollTestHost(*store, "org", "agent", "agent");
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> entered;
  ReportWriterOptions options;
  options.before_preparing = [&](const IncomingReport&) {
    entered.set_value();
    released.wait();
  };
  ReportWriter writer(*store, options);
  writer.Start();
  CompletionLog log;
  dozor::v1::Inventory inventory;
  inventory.mutable_os()->set_kernel("6.1.0-99-amd64");
  REQUIRE(writer.Submit(testing::InventoryReport(agent, 1, inventory), log.Expect("inventory")));
  entered.get_future().wait();
  std::thread stopper([&] { writer.Stop(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(log.Names().empty());  // Stop waits for it
  release.set_value();
  stopper.join();
  CHECK(log.Names() == std::vector<std::string>{"inventory"});
}

}  // namespace
}  // namespace dozor::server
