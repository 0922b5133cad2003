// Inventory commit benchmark: how long one large inventory holds up the ingest writer, and what
// that does to another agent's health reports arriving at the same time.
//
//   inventory_commit_bench [--packages N] [--rounds R] [--dir PATH] [--no-preparer]
//
// Both agents go through the server's real ingest writer (ReportWriter: the fair batching, the
// preparer thread, group commit) into a SqliteStore file; only gRPC is left out. One "big" agent
// sends inventories of N packages (default 45,000, the abuse test's flood size and above the
// largest real host seen), in four shapes: the first one (a new baseline), the same one again,
// one package changed, and a variant where every package differs (the hostile flood). Meanwhile a
// "canary" agent sends one health report every 20 ms and records each one's time from submit to
// commit: its worst case is the stall a real agent's ack sees. --no-preparer prepares inventories
// on the writer thread, as before the preparer existed.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench_store.hpp"
#include "ingest/report_writer.hpp"
#include "simulated_host.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(p * static_cast<double>(values.size() - 1))];
}

dozor::v1::Inventory MakeInventory(int packages, int variant, int changed_package) {
  dozor::v1::Inventory inv;
  inv.mutable_os()->set_hostname("big");
  inv.mutable_os()->set_name("Debian GNU/Linux");
  inv.mutable_os()->set_version("12");
  for (int i = 0; i < packages; ++i) {
    auto* p = inv.mutable_software()->add_packages();
    char name[48];
    std::snprintf(name, sizeof name, "package-%d-%06d-", variant, i);
    p->set_name(std::string(name) + std::string(60, 'x'));
    p->set_version(i == changed_package ? "2.0-1" : "1.0-1");
    p->set_architecture("amd64");
    p->set_source("dpkg");
  }
  return inv;
}

}  // namespace

int main(int argc, char** argv) {
  int packages = 45'000;
  int rounds = 3;
  bool no_preparer = false;
  std::string dir = (std::filesystem::temp_directory_path() / "dozor-inventory-bench").string();
  CLI::App app{"inventory_commit_bench: one large inventory against another agent's acks"};
  app.add_option("--packages", packages, "packages in each inventory")->check(CLI::PositiveNumber);
  app.add_option("--rounds", rounds, "rounds of the four shapes after the first")
      ->check(CLI::PositiveNumber);
  app.add_option("--dir", dir, "directory of the store file (emptied first)");
  app.add_flag("--no-preparer", no_preparer, "prepare inventories on the writer thread");
  CLI11_PARSE(app, argc, argv);
  const bool preparer = !no_preparer;
  dozor::server::SqliteStoreOptions options;
  options.health_compact_interval_s = 0;
  auto opened = dozor::bench::OpenBenchStore(dir, options, {"big", "canary"});
  if (opened == nullptr) {
    return 1;
  }
  auto& store = *opened;
  dozor::server::ReportWriterOptions writer_options;
  writer_options.prepare_inventories = preparer;
  dozor::server::ReportWriter writer(store, writer_options);
  writer.Start();

  // The canary: one health report every 20 ms, timed from submit to its commit's completion.
  std::atomic<bool> stop{false};
  std::mutex canary_mu;
  std::vector<double> canary_ms;
  std::atomic<int> canary_failures{0};
  std::thread canary([&] {
    dozor::bench::SimulatedHost host(7);
    uint64_t seq = 0;
    int64_t at = 1'700'000'000'000;
    while (!stop.load()) {
      dozor::server::IncomingReport report;
      report.agent_id = "canary";
      report.received_at_ms = at;
      report.report.set_seq(++seq);
      report.report.set_collected_at_ms(at += 1000);
      *report.report.mutable_health() = host.Next();
      report.wire_bytes = report.report.ByteSizeLong();
      const auto t0 = Clock::now();
      std::promise<void> done;
      bool submitted = writer.Submit(std::move(report), [&](const auto& result) {
        if (!result.ok() || result->outcome != dozor::server::CommitOutcome::kStored) {
          ++canary_failures;
        }
        std::lock_guard lock(canary_mu);
        canary_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        done.set_value();
      });
      if (submitted) {
        done.get_future().wait();
      } else {
        ++canary_failures;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });

  uint64_t seq = 0;
  int64_t at = 1'700'000'000'000;
  auto commit = [&](const char* label, const dozor::v1::Inventory& inv) {
    dozor::server::IncomingReport report;
    report.agent_id = "big";
    report.received_at_ms = at;
    report.report.set_seq(++seq);
    report.report.set_collected_at_ms(at += 60'000);
    *report.report.mutable_inventory() = inv;
    report.wire_bytes = report.report.ByteSizeLong();
    {
      std::lock_guard lock(canary_mu);
      canary_ms.clear();
    }
    std::promise<bool> done;
    const auto t0 = Clock::now();
    if (!writer.Submit(std::move(report), [&](const auto& result) {
          done.set_value(result.ok() && result->outcome == dozor::server::CommitOutcome::kStored);
        })) {
      return false;
    }
    const bool stored = done.get_future().get();
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let the canary catch up
    std::vector<double> seen;
    {
      std::lock_guard lock(canary_mu);
      seen = canary_ms;
    }
    std::printf(
        "%-22s stored after %6.1f ms %s | canary meanwhile: %3zu acks, p50 %5.2f ms, "
        "max %6.1f ms\n",
        label, ms, stored ? "" : "REFUSED", seen.size(), Percentile(seen, 0.5),
        Percentile(seen, 1.0));
    return stored;
  };

  const auto first = MakeInventory(packages, 0, -1);
  const auto one_changed = MakeInventory(packages, 0, packages / 2);
  const auto other = MakeInventory(packages, 1, -1);
  std::printf("packages=%d serialized=%.1f MiB rounds=%d preparer=%s\n", packages,
              static_cast<double>(first.ByteSizeLong()) / (1 << 20), rounds,
              preparer ? "on" : "off");
  bool ok = commit("first (new baseline)", first);
  for (int r = 0; r < rounds && ok; ++r) {
    ok = commit("unchanged", first) && commit("one package changed", one_changed) &&
         commit("every package changed", other) && commit("every package back", first);
  }
  stop = true;
  canary.join();
  writer.Stop();
  if (canary_failures.load() > 0) {
    std::fprintf(stderr, "inventory_commit_bench: %d canary reports not stored\n",
                 canary_failures.load());
  }
  return ok && canary_failures.load() == 0 ? 0 : 1;
}
