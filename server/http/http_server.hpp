// The management API's HTTP(S) listener (Boost.Beast). Owns its io_context and I/O threads;
// requests are parsed with header/body limits and read timeouts, then handed to ApiService.
//
// Thread-safety: Start/Stop from one thread; port() any time after Start succeeded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "dozor/common/clock.hpp"
#include "dozor/common/result.hpp"
#include "http/install_handler.hpp"
#include "ingest/agent_control.hpp"
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
    int threads = 1;
    size_t max_body_bytes = 1024 * 1024;
    int read_timeout_seconds = 30;
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
