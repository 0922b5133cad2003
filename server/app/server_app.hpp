// Composition root of dozor-server: owns the store, the report writer, the gRPC ingest server, the
// management HTTP server and the retention job, and wires them together. Knows nothing of how
// each works inside.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "app/import_key_file.hpp"
#include "app/server_config.hpp"
#include "dozor/common/clock.hpp"
#include "http/dashboard_assets.hpp"
#include "store/job_coordinator.hpp"

namespace grpc {
class Server;
}

namespace dozor::server::alerts {
class AlertDispatcher;
class MonthlyReporter;
class DeliveryWorker;
}  // namespace dozor::server::alerts

namespace dozor::server {

class Store;
class ReportWriter;
class SecurityAudit;
class IngestService;
class PgReplicaChannel;
class ReplicatedAgentControl;
class RuleEvaluator;
class ImportKeyWrapper;
namespace http {
class HttpServer;
}

class ServerApp {
 public:
  // `dashboard`: the web dashboard's files to serve at / (static data; empty: none).
  explicit ServerApp(ServerConfig config, std::span<const http::EmbeddedAsset> dashboard = {});
  ~ServerApp();

  // Opens the store, starts listening; after it returns OK the ports are bound.
  [[nodiscard]] Status Start();
  // Blocks until Stop().
  void Wait();
  void Stop();

  [[nodiscard]] int grpc_port() const { return grpc_port_; }
  [[nodiscard]] int http_port() const { return http_port_; }

 private:
  void RetentionLoop();
  // Host presence for the event feed (app/presence_monitor.hpp), every few seconds.
  void PresenceLoop();
  // Alerts (docs/alerts.md): planning from the feed and escalation every 2 s; one sender thread
  // per configured channel, so a receiver that hangs holds up only its own channel.
  Status StartAlerts();
  void AlertPlanLoop();
  void DeliveryLoop(alerts::DeliveryWorker& worker);

  ServerConfig config_;
  std::span<const http::EmbeddedAsset> dashboard_;
  const Clock& clock_ = SystemClock::Instance();
  std::unique_ptr<ImportKeyWrapper> import_keys_;
  KeyFileLock import_key_lock_;
  std::unique_ptr<Store> store_;
  // Which of the once-per-database jobs this server runs (all of them on SQLite).
  std::unique_ptr<JobCoordinator> jobs_;
  std::unique_ptr<RuleEvaluator> evaluator_;
  std::unique_ptr<ReportWriter> writer_;
  std::unique_ptr<SecurityAudit> security_audit_;
  std::unique_ptr<IngestService> ingest_;
  // What the API asks of agents: this server's streams, or (PostgreSQL) the replica holding the
  // agent's stream. The control is declared first so the channel stops before it goes.
  std::unique_ptr<ReplicatedAgentControl> agent_control_;
  std::unique_ptr<PgReplicaChannel> replica_channel_;  // PostgreSQL only
  std::unique_ptr<grpc::Server> grpc_server_;
  std::unique_ptr<http::HttpServer> http_server_;
  std::thread retention_thread_;
  std::thread presence_thread_;
  std::unique_ptr<alerts::AlertDispatcher> alert_dispatcher_;
  std::unique_ptr<alerts::MonthlyReporter> monthly_reporter_;
  std::vector<std::unique_ptr<alerts::DeliveryWorker>> delivery_workers_;
  std::vector<std::thread> alert_threads_;
  std::string alert_ack_key_;  // signs the acknowledgement links in alert messages
  std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  int grpc_port_ = 0;
  int http_port_ = 0;
};

}  // namespace dozor::server
