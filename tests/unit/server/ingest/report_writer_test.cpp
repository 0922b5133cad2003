#include "ingest/report_writer.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <thread>

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

}  // namespace
}  // namespace dozor::server
