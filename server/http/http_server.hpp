// The management API's HTTP(S) listener (Boost.Beast). Owns its io_context, its I/O threads and
// two worker pools:
//   - I/O threads only accept, read, write and close (TLS included);
//   - the worker pool authenticates requests and runs the handlers;
//   - a small slow pool runs the routes marked RouteCost::kSlow (reports, evaluation, imports),
//     so a few 500-host PDFs cannot take every worker; when its queue is full the request gets
//     503 with Retry-After.
// A request's line and headers are read first: routing, authentication and the role check happen
// on them, then the route's body limit is set and only then the body is read, so a 401/403/413
// never waits for (or reads) a body. Connections over the cap get a short 503 and are closed.
// Large uploads (imports) are limited to a few at once (503 before the body beyond that). Every
// header must be complete within the read timeout; every body must arrive at a minimum average
// rate and within its route's limit, so a slow client cannot hold a connection or an upload slot.
// A client whose bearer tokens keep failing gets 429 for a while (ApiService). Accept failures
// (EMFILE) back off from 50 ms to 1 s and are logged once, then summed every 10 s.
//
// Thread-safety: Start/Stop from one thread; port() any time after Start succeeded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "domain/failure_throttle.hpp"
#include "dozor/common/clock.hpp"
#include "dozor/common/result.hpp"
#include "http/auth.hpp"
#include "http/dashboard_assets.hpp"
#include "http/install_handler.hpp"
#include "ingest/agent_control.hpp"
#include "ingest/security_audit.hpp"
#include "store/store.hpp"

namespace dozor::server::rules {
struct RulePack;
}  // namespace dozor::server::rules

namespace dozor::server::http {

class HttpServer {
 public:
  struct Options {
    std::string address = "127.0.0.1";
    uint16_t port = 0;  // 0: pick a free port (read it back with port())
    // Both set: HTTPS; both empty: plaintext. One without the other is a Start error.
    std::string tls_cert_file;
    std::string tls_key_file;
    int threads = 1;  // I/O threads (network only)
    // Handler threads; 0: max(2, hardware threads).
    int workers = 0;
    // Threads for slow routes (reports, evaluation, imports); 0: max(1, hardware threads / 2).
    int slow_workers = 0;
    // Slow requests that may wait for a slow thread; beyond that: 503 + Retry-After.
    int slow_queue = 16;
    // Threads for event-feed long-polls (they mostly sleep); one per waiting client, more get 503.
    int long_poll_workers = 64;
    // Open connections (idle keep-alive ones included); beyond that a new connection gets 503
    // and is closed.
    int max_connections = 512;
    // Large uploads (RouteLimits::upload: imports of up to 32 MiB) received or handled at once;
    // beyond that 503 + Retry-After before the body is read. Bounds the memory bodies can take.
    int max_concurrent_uploads = 2;
    // Body limit of routes without their own (RouteLimits::max_body_bytes).
    size_t max_body_bytes = 1024 * 1024;
    // A request's line and headers must arrive within this (an idle keep-alive connection is
    // closed after it too); also the deadline of each write.
    int read_timeout_seconds = 30;
    // A body must arrive within read_timeout_seconds + its length at this rate, and never later
    // than its route allows (RouteLimits::body_read_timeout_seconds); 0: the route's limit only.
    size_t min_body_bytes_per_second = 64 * 1024;
    // Failed API authentications per client address before it gets 429 (ApiService).
    FailureThrottleOptions auth_throttle;
    // Where failed authentications and refused imports are recorded; null: nowhere (tests).
    SecurityAudit* security_audit = nullptr;
    // Agents' gRPC address as reachable by hosts, shown in generated enroll commands.
    std::string grpc_public_address;
    // A host counts as online while connected or seen within this many seconds.
    int64_t offline_after_seconds = 180;
    // The loaded rule pack (titles, rule routes, reports); null: those routes answer 503. Must
    // outlive the server.
    const rules::RulePack* rules = nullptr;
    // Runs (or queues) an evaluation of one organisation; empty: POST .../evaluate answers 503.
    std::function<Status(int64_t org_id)> evaluate_now;
    // Installer downloads (/install.sh, /ca.crt, /packages/) and the printed install command.
    InstallSettings install;
    // The server's import key wrapper (ApiContext::import_keys); must outlive the server.
    const ImportKeyWrapper* import_keys = nullptr;
    // Login session lifetimes (ApiContext::sessions).
    SessionSettings sessions;
    // The web dashboard served at / (ApiContext::dashboard); static data.
    std::span<const EmbeddedAsset> dashboard;
    // GET /metrics (ApiContext::metrics).
    std::function<Result<std::string>()> metrics;
    // The key of alert acknowledgement links (ApiContext::alert_ack_key).
    std::string alert_ack_key;
  };

  // `store`, `agents` (nullable) and `clock` must outlive the server.
  HttpServer(Options options, Store& store, AgentControl* agents, const Clock& clock);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the I/O threads. Errors name the address or the TLS file.
  Status Start();
  [[nodiscard]] uint16_t port() const;
  // Stops accepting and serving and joins the threads; connections still open are closed when the
  // server is destroyed. Idempotent.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dozor::server::http
