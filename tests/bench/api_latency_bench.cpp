// Management API latency under report load: how long a small authenticated GET (/api/v1/orgs)
// takes while several 500-host PDF audit reports render at the same time. Goal: p95 <= 50 ms
// with four reports rendering.
//
//   api_latency_bench --db PATH [--org NAME] [--pdf-clients 4] [--seconds 20]
//                     [--probe-interval-ms 20] [--format pdf]
//
// The estate is the one rules_bench generates and evaluates (findings included), reused:
//   rules_bench --hosts 1 --org-size 1 --report-org-hosts 500 --db /tmp/api-bench.db
//   api_latency_bench --db /tmp/api-bench.db
// The bench starts a real HttpServer (default options, as dozor-server uses them) on
// 127.0.0.1:0 over that database, then measures over loopback with blocking Beast clients:
//   1. the small GET alone (idle server);
//   2. one report alone;
//   3. the small GET every --probe-interval-ms while --pdf-clients threads fetch the report in a
//      loop (each on its own keep-alive connection).
// It prints p50/p95/p99/max of each. Only HttpServer::Options fields that every version of the
// server has are set, so the same file measures an older server for a before/after comparison.
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dozor/common/clock.hpp"
#include "dozor/common/crypto.hpp"
#include "http/http_server.hpp"
#include "rules/rule.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(p * static_cast<double>(values.size() - 1))];
}

void PrintLatencies(const char* what, const std::vector<double>& ms) {
  std::printf("%-34s n=%-5zu p50 %7.1f ms  p95 %7.1f ms  p99 %7.1f ms  max %7.1f ms\n", what,
              ms.size(), Percentile(ms, 0.50), Percentile(ms, 0.95), Percentile(ms, 0.99),
              ms.empty() ? 0.0 : *std::max_element(ms.begin(), ms.end()));
}

// One keep-alive connection; Get returns the status (0 on a transport error) and the body size.
class Client {
 public:
  explicit Client(uint16_t port) : socket_(io_) {
    socket_.connect({net::ip::make_address("127.0.0.1"), port});
  }

  std::pair<unsigned, size_t> Get(const std::string& target, const std::string& token) {
    bhttp::request<bhttp::empty_body> request(bhttp::verb::get, target, 11);
    request.set(bhttp::field::host, "127.0.0.1");
    request.set(bhttp::field::authorization, "Bearer " + token);
    request.keep_alive(true);
    beast::error_code ec;
    bhttp::write(socket_, request, ec);
    if (ec) {
      return {0, 0};
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(512ull << 20);
    bhttp::read(socket_, buffer_, parser, ec);
    if (ec) {
      return {0, 0};
    }
    return {parser.get().result_int(), parser.get().body().size()};
  }

 private:
  net::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

double MsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string db_path;
  std::string org_name = "ООО «Большой клиент»";  // rules_bench's report organisation
  std::string format = "pdf";
  int pdf_clients = 4;
  int seconds = 20;
  int probe_interval_ms = 20;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--db")
      db_path = next();
    else if (arg == "--org")
      org_name = next();
    else if (arg == "--format")
      format = next();
    else if (arg == "--pdf-clients")
      pdf_clients = std::atoi(next().c_str());
    else if (arg == "--seconds")
      seconds = std::atoi(next().c_str());
    else if (arg == "--probe-interval-ms")
      probe_interval_ms = std::atoi(next().c_str());
    else {
      std::fprintf(stderr, "unknown argument %s (see the comment at the top of %s)\n", arg.c_str(),
                   __FILE__);
      return 2;
    }
  }
  if (db_path.empty() || !std::filesystem::exists(db_path)) {
    std::fprintf(stderr,
                 "--db PATH of an estate is required; make one with\n"
                 "  rules_bench --hosts 1 --org-size 1 --report-org-hosts 500 --db PATH\n");
    return 2;
  }
  if (pdf_clients < 0 || seconds < 1 || probe_interval_ms < 1) {
    std::fprintf(stderr, "bad arguments\n");
    return 2;
  }

  // The estate's "now" (rules_bench writes it next to the database), so the report sees the
  // hosts as the evaluation did.
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  if (std::ifstream now_file(db_path + ".now"); now_file) {
    long long saved = 0;
    if (now_file >> saved) {
      now_ms = saved;
    }
  }
  dozor::FakeClock clock(now_ms);

  dozor::server::SqliteStoreOptions store_options;
  store_options.path = db_path;
  store_options.health_compact_interval_s = 0;
  auto store = dozor::server::OpenSqliteStore(store_options);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.error().ToString().c_str());
    return 1;
  }
  auto org = (*store)->FindOrganization(org_name);
  if (!org.ok()) {
    std::fprintf(stderr, "organisation '%s': %s\n", org_name.c_str(),
                 org.error().ToString().c_str());
    return 1;
  }
  const std::string token = "dza_bench_" + std::to_string(getpid()) + "_" + std::to_string(now_ms);
  auto created = (*store)->CreateApiToken("api-latency-bench-" + std::to_string(getpid()),
                                          dozor::server::ApiRole::kViewer, dozor::Sha256Hex(token),
                                          token.substr(0, 12), std::nullopt);
  if (!created.ok()) {
    std::fprintf(stderr, "creating an API token: %s\n", created.error().ToString().c_str());
    return 1;
  }

  auto pack = dozor::server::rules::LoadRulePack({}, true);
  dozor::server::http::HttpServer::Options options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.rules = &pack;
  dozor::server::http::HttpServer server(options, **store, nullptr, clock);
  if (auto started = server.Start(); !started.ok()) {
    std::fprintf(stderr, "%s\n", started.error().ToString().c_str());
    return 1;
  }
  const uint16_t port = server.port();
  const std::string small_target = "/api/v1/orgs";
  const std::string report_target =
      "/api/v1/orgs/" + std::to_string(org->id) + "/report?format=" + format + "&lang=ru";
  std::printf("server on 127.0.0.1:%u, %u hardware threads; report of '%s' (id %lld) as %s\n", port,
              std::thread::hardware_concurrency(), org->name.c_str(),
              static_cast<long long>(org->id), format.c_str());

  // 1. The small GET alone.
  {
    Client client(port);
    std::vector<double> idle;
    for (int i = 0; i < 200; ++i) {
      const auto start = SteadyClock::now();
      const auto [status, bytes] = client.Get(small_target, token);
      if (status != 200) {
        std::fprintf(stderr, "GET %s -> %u\n", small_target.c_str(), status);
        return 1;
      }
      idle.push_back(MsSince(start));
    }
    PrintLatencies("GET /api/v1/orgs, idle server:", idle);
  }
  // 2. One report alone (twice: the first warms caches and fonts).
  {
    Client client(port);
    std::vector<double> alone;
    size_t size = 0;
    for (int i = 0; i < 3; ++i) {
      const auto start = SteadyClock::now();
      const auto [status, bytes] = client.Get(report_target, token);
      if (status != 200) {
        std::fprintf(stderr, "GET %s -> %u\n", report_target.c_str(), status);
        return 1;
      }
      size = bytes;
      if (i > 0) {
        alone.push_back(MsSince(start));
      }
    }
    std::printf("one report alone: %zu KiB\n", size / 1024);
    PrintLatencies("report, alone:", alone);
  }

  // 3. Probes under report load.
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::vector<double> report_ms;
  int report_errors = 0;
  std::vector<std::thread> loaders;
  for (int c = 0; c < pdf_clients; ++c) {
    loaders.emplace_back([&] {
      Client client(port);
      while (!stop.load()) {
        const auto start = SteadyClock::now();
        const auto [status, bytes] = client.Get(report_target, token);
        const double took = MsSince(start);
        std::lock_guard lock(mutex);
        if (status == 200) {
          report_ms.push_back(took);
        } else {
          ++report_errors;
          if (status == 0) {
            return;
          }
        }
      }
    });
  }
  // Let every report start before probing.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::vector<double> probes;
  int probe_errors = 0;
  {
    Client client(port);
    const auto end = SteadyClock::now() + std::chrono::seconds(seconds);
    while (SteadyClock::now() < end) {
      const auto start = SteadyClock::now();
      const auto [status, bytes] = client.Get(small_target, token);
      if (status == 200) {
        probes.push_back(MsSince(start));
      } else {
        ++probe_errors;
      }
      std::this_thread::sleep_until(start + std::chrono::milliseconds(probe_interval_ms));
    }
  }
  stop = true;
  for (auto& loader : loaders) {
    loader.join();
  }
  char label[96];
  std::snprintf(label, sizeof(label), "GET /api/v1/orgs, %d reports busy:", pdf_clients);
  PrintLatencies(label, probes);
  PrintLatencies("report, under that load:", report_ms);
  std::printf("reports completed in %d s: %zu (%.2f/s); report errors %d, probe errors %d\n",
              seconds, report_ms.size(), static_cast<double>(report_ms.size()) / seconds,
              report_errors, probe_errors);
  const double p95 = Percentile(probes, 0.95);
  std::printf("goal p95 <= 50 ms: %s (%.1f ms)\n", p95 <= 50.0 ? "met" : "NOT met", p95);
  server.Stop();
  return 0;
}
