// Dashboard page latency with people and scope: p50/p95/p99 of the calls an estate overview, an
// organisation page, a host page and a filtered findings page make, for an admin, an engineer
// assigned to a few organisations and a client user, with many clients at once. Goal: p95 <= 50 ms
// per page with 300 organisations, 3,000 hosts, ~30,000 findings and 50 clients; scope checks
// add <= 10 % over admin.
//
//   people_bench seed    --db PATH [--orgs 300] [--hosts 3000] [--flaws-per-host 10]
//                        [--packages 400] [--samples 30]
//   people_bench refresh --db PATH [same shape flags]
//   people_bench load    --port PORT --tokens-dir DIR [--clients 50] [--seconds 30]
//                        [--warmup-seconds 5] [--think-ms 0] [--findings-limit 100]
//                        [--alone-pages 20]
//
// seed: the estate of bench_estate.hpp (organisations "client-N" of hosts/orgs hosts each, every
// host with --flaws-per-host weak spots), committed through Store::CommitReports, then the
// default rule pack evaluated and applied through ApplyEvaluation, as the server does. The
// database is reused when PATH.seed names the same seed version and shape (generation takes a
// few minutes; rerunning the load should not).
// refresh: one fresh health report per host, committed now, so a reused estate has its hosts
// online (on a copy of the seeded database: the seq numbers follow the seed's).
// load: against a running dozor-server. DIR holds admin.token, engineer.token and client.token
// (API tokens of users with those roles; run_people_bench.sh makes them). Every client thread has
// one keep-alive connection and one role (thread i: admin, engineer, client in turn) and loops
// over the page types; a page's calls are made one after the other and the page's time is their
// sum. First every page alone (--alone-pages of each per role, one client: the cost without
// queueing), then --clients at once for --seconds after --warmup-seconds, each pausing
// --think-ms between pages (0.5-1.5 times it, at random, so the clients do not move in step; 0 =
// no pause: every client always has a request outstanding). Admin and engineer visit
// the same organisations (the engineer's), so their organisation, host and findings pages read the
// same data and differ only by the scope checks.
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
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "app/rule_evaluator.hpp"
#include "bench_estate.hpp"
#include "rules/rule.hpp"
#include "rules/rule_engine.hpp"
#include "store/sqlite/sqlite_fact_source.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

// Bump when the generator or the shape's meaning changes: a cached estate of another version is
// generated again.
constexpr const char* kSeedVersion = "people-bench-1";

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(p * static_cast<double>(values.size() - 1))];
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

struct Args {
  std::string command;
  std::string db;
  dozor::bench::EstateShape shape;
  int orgs = 300;
  int port = 0;
  std::string tokens_dir;
  int clients = 50;
  int seconds = 30;
  int warmup_seconds = 5;
  int think_ms = 0;
  int findings_limit = 100;
  int alone_pages = 20;
};

std::string SeedKey(const Args& args) {
  std::ostringstream key;
  key << kSeedVersion << " orgs=" << args.orgs << " hosts=" << args.shape.hosts
      << " flaws=" << args.shape.flaws_per_host << " packages=" << args.shape.packages
      << " samples=" << args.shape.samples;
  return key.str();
}

dozor::Result<std::unique_ptr<dozor::server::SqliteStore>> OpenStore(const std::string& path) {
  dozor::server::SqliteStoreOptions options;
  options.path = path;
  options.health_compact_interval_s = 0;
  return dozor::server::OpenSqliteStore(options);
}

int Seed(const Args& args) {
  const std::string key_file = args.db + ".seed";
  if (std::filesystem::exists(args.db)) {
    std::ifstream in(key_file);
    std::string saved;
    std::getline(in, saved);
    if (saved == SeedKey(args)) {
      std::printf("reusing the estate in %s (%s)\n", args.db.c_str(), saved.c_str());
      return 0;
    }
    std::printf("%s holds another estate ('%s'): generating again\n", args.db.c_str(),
                saved.c_str());
    for (const char* suffix : {"", "-wal", "-shm", ".seed"}) {
      std::filesystem::remove(args.db + suffix);
    }
  }
  auto store = OpenStore(args.db);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.error().ToString().c_str());
    return 1;
  }
  const int64_t now_ms = NowMs();
  std::printf("generating %d organisations, %d hosts, %d weak spots per host...\n", args.orgs,
              args.shape.hosts, args.shape.flaws_per_host);
  auto started = SteadyClock::now();
  if (auto generated = dozor::bench::GenerateEstate(**store, args.shape, now_ms); !generated.ok()) {
    std::fprintf(stderr, "generating the estate: %s\n", generated.error().ToString().c_str());
    return 1;
  }
  const double generate_s = std::chrono::duration<double>(SteadyClock::now() - started).count();

  // The findings, as the server's first full evaluation makes them.
  auto pack = dozor::server::rules::LoadRulePack({}, true);
  auto facts = dozor::server::MakeSqliteFactSource(args.db);
  auto engine = dozor::server::rules::RuleEngine::Open(*facts, std::move(pack));
  if (!engine.ok()) {
    std::fprintf(stderr, "%s\n", engine.error().ToString().c_str());
    return 1;
  }
  started = SteadyClock::now();
  auto results = (*engine)->EvaluateAll(now_ms, nullptr);
  if (!results.ok()) {
    std::fprintf(stderr, "EvaluateAll: %s\n", results.error().ToString().c_str());
    return 1;
  }
  if (auto applied =
          dozor::bench::ApplyResults((*store)->Findings(), (*engine)->pack(), *results, now_ms);
      !applied.ok()) {
    std::fprintf(stderr, "ApplyEvaluation: %s\n", applied.error().ToString().c_str());
    return 1;
  }
  const double evaluate_s = std::chrono::duration<double>(SteadyClock::now() - started).count();
  auto counts = (*store)->Findings().CountActiveFindings(std::nullopt);
  int64_t findings = 0;
  if (counts.ok()) {
    for (const auto& row : *counts) {
      findings += row.count;
    }
  }
  std::printf("generated in %.1f s; evaluated and applied in %.1f s: %lld active findings\n",
              generate_s, evaluate_s, static_cast<long long>(findings));
  store->reset();
  std::ofstream(key_file) << SeedKey(args) << "\n";
  return 0;
}

int Refresh(const Args& args) {
  auto store = OpenStore(args.db);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.error().ToString().c_str());
    return 1;
  }
  const int64_t now_ms = NowMs();
  // The seed gave every host 24 hourly reports, one inventory and `samples` health reports.
  const uint64_t seq = 24 + 1 + static_cast<uint64_t>(args.shape.samples) + 1;
  std::vector<dozor::server::IncomingReport> batch;
  for (int h = 0; h < args.shape.hosts; ++h) {
    dozor::server::IncomingReport item;
    item.agent_id = "bench-" + std::to_string(h);
    item.received_at_ms = now_ms;
    item.report.set_seq(seq);
    item.report.set_collected_at_ms(now_ms - 50);
    item.report.set_agent_version("0.1.0");
    *item.report.mutable_health() =
        dozor::bench::MakeSample(dozor::bench::FlawsOf(h, args.shape), 0);
    batch.push_back(std::move(item));
    if (batch.size() == 200 || h + 1 == args.shape.hosts) {
      if (auto committed = (*store)->CommitReports(batch); !committed.ok()) {
        std::fprintf(stderr, "commit: %s\n", committed.error().ToString().c_str());
        return 1;
      }
      batch.clear();
    }
  }
  std::printf("refreshed %d hosts with a health report at now\n", args.shape.hosts);
  return 0;
}

// One keep-alive connection; Get returns the status (0 on a transport error) and the body.
class Client {
 public:
  explicit Client(uint16_t port) : socket_(io_) {
    socket_.connect({net::ip::make_address("127.0.0.1"), port});
  }

  unsigned Get(const std::string& target, const std::string& token, std::string* body) {
    bhttp::request<bhttp::empty_body> request(bhttp::verb::get, target, 11);
    request.set(bhttp::field::host, "127.0.0.1");
    request.set(bhttp::field::authorization, "Bearer " + token);
    request.keep_alive(true);
    beast::error_code ec;
    bhttp::write(socket_, request, ec);
    if (ec) {
      return 0;
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(256ull << 20);
    bhttp::read(socket_, buffer_, parser, ec);
    if (ec) {
      return 0;
    }
    if (body != nullptr) {
      *body = std::move(parser.get().body());
    }
    return parser.get().result_int();
  }

 private:
  net::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

enum class Role { kAdmin, kEngineer, kClient };
constexpr Role kRoles[] = {Role::kAdmin, Role::kEngineer, Role::kClient};
const char* RoleName(Role role) {
  switch (role) {
    case Role::kAdmin:
      return "admin";
    case Role::kEngineer:
      return "engineer";
    case Role::kClient:
      return "client";
  }
  return "?";
}

enum class Page { kOverview, kOrganization, kHost, kFindings, kFindingsAll };
constexpr Page kPages[] = {Page::kOverview, Page::kOrganization, Page::kHost, Page::kFindings,
                           Page::kFindingsAll};
const char* PageName(Page page) {
  switch (page) {
    case Page::kOverview:
      return "overview";
    case Page::kOrganization:
      return "organisation";
    case Page::kHost:
      return "host";
    case Page::kFindings:
      return "findings, one org";
    case Page::kFindingsAll:
      return "findings, all visible";
  }
  return "?";
}

struct Call {
  std::string name;  // what the latency table calls it
  std::string target;
};

struct OrgPages {
  int64_t id = 0;
  std::vector<std::string> agent_ids;
};

// What one role sees: its token and the organisations its pages visit.
struct RoleSetup {
  std::string token;
  std::vector<OrgPages> orgs;
  std::vector<std::string> refused_calls;  // answered 403 for this role: left out of its pages
};

struct Options {
  int findings_limit = 100;
};

std::vector<Call> PageCalls(Page page, const OrgPages& org, const std::string& agent_id,
                            const Options& options) {
  const std::string o = std::to_string(org.id);
  const std::string limit = "&limit=" + std::to_string(options.findings_limit);
  switch (page) {
    case Page::kOverview:
      return {{"overview", "/api/v1/overview"}};
    case Page::kOrganization:
      return {{"org summary", "/api/v1/orgs/" + o + "/summary"},
              {"org", "/api/v1/orgs/" + o},
              {"org hosts", "/api/v1/hosts?org=" + o},
              {"org open findings", "/api/v1/findings?org=" + o + "&state=open" + limit},
              {"org notes", "/api/v1/orgs/" + o + "/notes"},
              {"org engineers", "/api/v1/orgs/" + o + "/engineers"}};
    case Page::kHost:
      return {{"host", "/api/v1/hosts/" + agent_id},
              {"host inventory", "/api/v1/hosts/" + agent_id + "/inventory"},
              {"host health", "/api/v1/hosts/" + agent_id + "/health"},
              {"host changes", "/api/v1/hosts/" + agent_id + "/changes"},
              {"host findings", "/api/v1/findings?host=" + agent_id}};
    case Page::kFindings:
      return {
          {"findings, org filtered",
           "/api/v1/findings?org=" + o + "&state=open,regressed&severity=critical,high" + limit}};
    case Page::kFindingsAll:
      return {{"findings, all filtered",
               "/api/v1/findings?state=open,regressed&severity=critical,high" + limit}};
  }
  return {};
}

std::optional<std::string> ReadToken(const std::string& path) {
  std::ifstream in(path);
  std::string token;
  if (!(in >> token)) {
    return std::nullopt;
  }
  return token;
}

// The organisations (and their hosts) a role's pages visit: the engineer's own organisations,
// the client's one; the admin visits the engineer's so their pages read the same data.
bool Discover(uint16_t port, RoleSetup& setup, std::string* error) {
  Client client(port);
  std::string body;
  if (unsigned status = client.Get("/api/v1/orgs", setup.token, &body); status != 200) {
    *error = "GET /api/v1/orgs -> " + std::to_string(status);
    return false;
  }
  auto orgs = nlohmann::json::parse(body, nullptr, false);
  if (!orgs.is_object() || !orgs.contains("organizations")) {
    *error = "GET /api/v1/orgs: unexpected answer";
    return false;
  }
  for (const auto& org : orgs["organizations"]) {
    OrgPages pages;
    pages.id = org.at("id").get<int64_t>();
    if (client.Get("/api/v1/hosts?org=" + std::to_string(pages.id), setup.token, &body) != 200) {
      *error = "GET /api/v1/hosts?org=" + std::to_string(pages.id) + " failed";
      return false;
    }
    auto hosts = nlohmann::json::parse(body, nullptr, false);
    for (const auto& host : hosts.value("hosts", nlohmann::json::array())) {
      pages.agent_ids.push_back(host.at("agent_id").get<std::string>());
    }
    if (!pages.agent_ids.empty()) {
      setup.orgs.push_back(std::move(pages));
    }
  }
  if (setup.orgs.empty()) {
    *error = "no organisation with hosts visible";
    return false;
  }
  return true;
}

// Calls a role may not make (e.g. a client reading engineers' notes) are left out of its pages.
void FindRefusedCalls(uint16_t port, RoleSetup& setup, const Options& options) {
  Client client(port);
  const auto& org = setup.orgs.front();
  for (Page page : kPages) {
    for (const auto& call : PageCalls(page, org, org.agent_ids.front(), options)) {
      if (client.Get(call.target, setup.token, nullptr) == 403) {
        setup.refused_calls.push_back(call.name);
      }
    }
  }
}

struct Samples {
  std::map<std::pair<Role, Page>, std::vector<double>> pages;
  std::map<std::pair<Role, std::string>, std::vector<double>> calls;
  std::map<std::pair<Role, std::string>, int> errors;
  int64_t requests = 0;
};

void PrintRow(const std::string& what, const std::vector<double>& ms) {
  std::printf("%-40s %7zu %8.1f %8.1f %8.1f %8.1f\n", what.c_str(), ms.size(), Percentile(ms, 0.5),
              Percentile(ms, 0.95), Percentile(ms, 0.99),
              ms.empty() ? 0.0 : *std::max_element(ms.begin(), ms.end()));
}

// Makes a page's calls one after the other; with `samples`, records each call and the page.
void VisitPage(Client& client, const RoleSetup& setup, Role role, Page page, std::mt19937& rng,
               const Options& options, Samples* samples) {
  const auto& org = setup.orgs[rng() % setup.orgs.size()];
  const auto& agent = org.agent_ids[rng() % org.agent_ids.size()];
  std::string body;
  double page_ms = 0;
  bool page_ok = true;
  for (const auto& call : PageCalls(page, org, agent, options)) {
    if (std::find(setup.refused_calls.begin(), setup.refused_calls.end(), call.name) !=
        setup.refused_calls.end()) {
      continue;
    }
    const auto start = SteadyClock::now();
    const unsigned status = client.Get(call.target, setup.token, &body);
    const double ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
    page_ms += ms;
    if (samples == nullptr) {
      continue;
    }
    ++samples->requests;
    if (status != 200) {
      page_ok = false;
      ++samples->errors[{role, call.name}];
      continue;
    }
    samples->calls[{role, call.name}].push_back(ms);
  }
  if (samples != nullptr && page_ok) {
    samples->pages[{role, page}].push_back(page_ms);
  }
}

// The page and call tables; returns the number of failed calls.
int PrintTables(const Samples& samples, const std::vector<std::string>& call_names) {
  std::printf("%-40s %7s %8s %8s %8s %8s\n", "page (its calls in sequence), role", "n", "p50 ms",
              "p95 ms", "p99 ms", "max ms");
  for (Page page : kPages) {
    for (Role role : kRoles) {
      if (auto it = samples.pages.find({role, page}); it != samples.pages.end()) {
        PrintRow(std::string(PageName(page)) + ", " + RoleName(role), it->second);
      }
    }
  }
  std::printf("%-40s %7s %8s %8s %8s %8s\n", "call, role", "n", "p50 ms", "p95 ms", "p99 ms",
              "max ms");
  for (const auto& name : call_names) {
    for (Role role : kRoles) {
      if (auto it = samples.calls.find({role, name}); it != samples.calls.end()) {
        PrintRow(name + ", " + RoleName(role), it->second);
      }
    }
  }
  int errors = 0;
  for (const auto& [key, count] : samples.errors) {
    std::printf("errors: %s, %s: %d\n", key.second.c_str(), RoleName(key.first), count);
    errors += count;
  }
  return errors;
}

void PrintScopeOverhead(const Samples& samples, double percentile) {
  for (Page page : {Page::kOrganization, Page::kHost, Page::kFindings}) {
    auto of = [&](Role role) {
      auto it = samples.pages.find({role, page});
      return it == samples.pages.end() ? 0.0 : Percentile(it->second, percentile);
    };
    const double admin = of(Role::kAdmin);
    const double engineer = of(Role::kEngineer);
    std::printf("  %-22s admin %7.1f ms, engineer %7.1f ms: %+.0f %%\n", PageName(page), admin,
                engineer, admin > 0 ? (engineer / admin - 1) * 100 : 0.0);
  }
}

int Load(const Args& args) {
  const uint16_t port = static_cast<uint16_t>(args.port);
  const Options options{args.findings_limit};
  std::map<Role, RoleSetup> setups;
  for (Role role : kRoles) {
    const std::string path = args.tokens_dir + "/" + RoleName(role) + ".token";
    auto token = ReadToken(path);
    if (!token) {
      std::fprintf(stderr, "cannot read %s\n", path.c_str());
      return 2;
    }
    setups[role].token = *token;
  }
  for (Role role : {Role::kEngineer, Role::kClient}) {
    std::string error;
    if (!Discover(port, setups[role], &error)) {
      std::fprintf(stderr, "%s: %s\n", RoleName(role), error.c_str());
      return 1;
    }
  }
  setups[Role::kAdmin].orgs = setups[Role::kEngineer].orgs;
  size_t engineer_hosts = 0;
  for (const auto& org : setups[Role::kEngineer].orgs) {
    engineer_hosts += org.agent_ids.size();
  }
  for (Role role : kRoles) {
    FindRefusedCalls(port, setups[role], options);
  }
  {
    Client client(port);
    std::string body;
    if (client.Get("/api/v1/overview", setups[Role::kAdmin].token, &body) == 200) {
      auto overview = nlohmann::json::parse(body, nullptr, false);
      int64_t orgs = 0, hosts = 0, findings = 0;
      for (const auto& org : overview.value("organizations", nlohmann::json::array())) {
        ++orgs;
        hosts += org["hosts"]["total"].get<int64_t>();
        for (const auto& [severity, count] : org["open_findings"].items()) {
          findings += count.get<int64_t>();
        }
      }
      std::printf(
          "estate (admin's overview): %lld organisations, %lld hosts, %lld open findings; "
          "overview answer %zu KiB\n",
          static_cast<long long>(orgs), static_cast<long long>(hosts),
          static_cast<long long>(findings), body.size() / 1024);
    }
  }
  std::printf(
      "engineer: %zu organisations, %zu hosts (admin pages visit the same); client: "
      "organisation %lld, %zu hosts\n",
      setups[Role::kEngineer].orgs.size(), engineer_hosts,
      static_cast<long long>(setups[Role::kClient].orgs.front().id),
      setups[Role::kClient].orgs.front().agent_ids.size());
  for (Role role : kRoles) {
    for (const auto& name : setups[role].refused_calls) {
      std::printf("  %s: '%s' answers 403, left out of its pages\n", RoleName(role), name.c_str());
    }
  }
  std::printf(
      "%d clients (thread i: admin, engineer, client in turn), %d s measured after %d s "
      "warm-up, think time %d ms, findings pages limit=%d\n",
      args.clients, args.seconds, args.warmup_seconds, args.think_ms, args.findings_limit);
  std::printf("load average at start: %s\n", LoadAverage().c_str());
  std::vector<std::string> call_names;
  for (Page page : kPages) {
    for (const auto& call : PageCalls(page, setups[Role::kAdmin].orgs.front(), "x", options)) {
      call_names.push_back(call.name);
    }
  }

  // Each page alone, one client: what a page costs without queueing (the floor under the
  // concurrent figures, and the fairest comparison of scope checks).
  int errors = 0;
  if (args.alone_pages > 0) {
    Samples alone;
    Client client(port);
    std::mt19937 rng(1);
    // Roles interleaved page by page, so a burst of other work on the machine hits all alike.
    for (int i = -1; i < args.alone_pages; ++i) {
      for (Page page : kPages) {
        for (Role role : kRoles) {
          VisitPage(client, setups[role], role, page, rng, options, i < 0 ? nullptr : &alone);
        }
      }
    }
    std::printf("\n---- each page alone, one client, %d of each page per role\n", args.alone_pages);
    errors += PrintTables(alone, call_names);
    std::printf("scope overhead alone, engineer p50 / admin p50 over the same organisations:\n");
    PrintScopeOverhead(alone, 0.5);
  }
  std::fflush(stdout);

  std::mutex mutex;
  Samples all;
  std::atomic<bool> measuring{false};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int c = 0; c < args.clients; ++c) {
    threads.emplace_back([&, c] {
      const Role role = kRoles[c % 3];
      const RoleSetup& setup = setups.at(role);
      Samples mine;
      std::mt19937 rng(static_cast<unsigned>(c + 1));
      Client client(port);
      // People do not click in step: each pause is 0.5-1.5 times the think time, and the first
      // one comes before the first page, so the clients do not arrive as one burst.
      std::uniform_int_distribution<int> pause(args.think_ms / 2, args.think_ms * 3 / 2);
      if (args.think_ms > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(pause(rng)));
      }
      // Threads start at different page types so the mix is even at any moment.
      for (size_t turn = static_cast<size_t>(c); !stop.load(); ++turn) {
        VisitPage(client, setup, role, kPages[turn % std::size(kPages)], rng, options,
                  measuring.load() ? &mine : nullptr);
        if (args.think_ms > 0) {
          std::this_thread::sleep_for(std::chrono::milliseconds(pause(rng)));
        }
      }
      std::lock_guard lock(mutex);
      for (auto& [key, values] : mine.pages) {
        all.pages[key].insert(all.pages[key].end(), values.begin(), values.end());
      }
      for (auto& [key, values] : mine.calls) {
        all.calls[key].insert(all.calls[key].end(), values.begin(), values.end());
      }
      for (auto& [key, count] : mine.errors) {
        all.errors[key] += count;
      }
      all.requests += mine.requests;
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(args.warmup_seconds));
  measuring = true;
  const auto measure_start = SteadyClock::now();
  std::this_thread::sleep_for(std::chrono::seconds(args.seconds));
  measuring = false;
  const double measured_s =
      std::chrono::duration<double>(SteadyClock::now() - measure_start).count();
  const std::string load_end = LoadAverage();
  stop = true;
  for (auto& thread : threads) {
    thread.join();
  }

  std::printf("\n---- %d clients at once, %d s\n", args.clients, args.seconds);
  errors += PrintTables(all, call_names);
  std::printf("\nrequests: %lld in %.1f s = %.0f/s; errors %d\n",
              static_cast<long long>(all.requests), measured_s,
              static_cast<double>(all.requests) / measured_s, errors);
  std::printf("scope overhead, engineer p95 / admin p95 over the same organisations:\n");
  PrintScopeOverhead(all, 0.95);
  std::printf("goal p95 <= 50 ms per page:");
  bool met = true;
  for (const auto& [key, values] : all.pages) {
    if (Percentile(values, 0.95) > 50.0) {
      met = false;
      std::printf(" [%s, %s: %.1f ms]", PageName(key.second), RoleName(key.first),
                  Percentile(values, 0.95));
    }
  }
  std::printf("%s\n", met ? " met" : " NOT met for those");
  std::printf("load average at end: %s\n", load_end.c_str());
  return errors == 0 ? 0 : 1;
}

int Usage() {
  std::fprintf(stderr, "usage: see the comment at the top of %s\n", __FILE__);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    return Usage();
  }
  Args args;
  args.command = argv[1];
  args.shape.hosts = 3000;
  args.shape.report_org_hosts = 0;
  args.shape.flaws_per_host = 10;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    auto number = [&] { return std::atoi(next().c_str()); };
    if (arg == "--db")
      args.db = next();
    else if (arg == "--orgs")
      args.orgs = number();
    else if (arg == "--hosts")
      args.shape.hosts = number();
    else if (arg == "--flaws-per-host")
      args.shape.flaws_per_host = number();
    else if (arg == "--packages")
      args.shape.packages = number();
    else if (arg == "--samples")
      args.shape.samples = number();
    else if (arg == "--port")
      args.port = number();
    else if (arg == "--tokens-dir")
      args.tokens_dir = next();
    else if (arg == "--clients")
      args.clients = number();
    else if (arg == "--seconds")
      args.seconds = number();
    else if (arg == "--warmup-seconds")
      args.warmup_seconds = number();
    else if (arg == "--think-ms")
      args.think_ms = number();
    else if (arg == "--findings-limit")
      args.findings_limit = number();
    else if (arg == "--alone-pages")
      args.alone_pages = number();
    else {
      std::fprintf(stderr, "unknown argument %s\n", arg.c_str());
      return Usage();
    }
  }
  if (args.command == "seed" || args.command == "refresh") {
    if (args.db.empty() || args.orgs < 1 || args.shape.hosts < args.orgs ||
        args.shape.samples < 3 || args.shape.packages < 0) {
      return Usage();
    }
    args.shape.org_size = (args.shape.hosts + args.orgs - 1) / args.orgs;
    return args.command == "seed" ? Seed(args) : Refresh(args);
  }
  if (args.command == "load") {
    if (args.port <= 0 || args.port > 65535 || args.tokens_dir.empty() || args.clients < 1 ||
        args.seconds < 1 || args.warmup_seconds < 0 || args.think_ms < 0 ||
        args.findings_limit < 1 || args.alone_pages < 0) {
      return Usage();
    }
    return Load(args);
  }
  return Usage();
}
