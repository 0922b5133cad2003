#include "app/server_app.hpp"

#include <grpcpp/grpcpp.h>
#include <grpcpp/resource_quota.h>
#include <spdlog/spdlog.h>
#include <algorithm>

#include <nlohmann/json.hpp>

#include "alerts/ack_link.hpp"
#include "alerts/alert_dispatcher.hpp"
#include "alerts/monthly_report.hpp"
#include "app/import_key_file.hpp"
#include "app/limits.hpp"
#include "app/metrics.hpp"
#include "app/presence_monitor.hpp"
#include "app/rule_evaluator.hpp"
#include "dozor/common/crypto.hpp"
#include "dozor/common/files.hpp"
#include "dozor/common/text.hpp"
#include "dozor/common/version.hpp"
#include "http/auth.hpp"
#include "http/http_server.hpp"
#include "ingest/ingest_service.hpp"
#include "ingest/replicated_agent_control.hpp"
#include "ingest/report_writer.hpp"
#include "rules/rule.hpp"
#include "rules/rule_engine.hpp"
#include "store/postgres/pg_fact_source.hpp"
#include "store/postgres/pg_job_coordinator.hpp"
#include "store/postgres/pg_replica_channel.hpp"
#include "store/postgres/postgres_store.hpp"
#include "store/sqlite/sqlite_fact_source.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace dozor::server {
namespace {

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string DefaultPublicAddress(const std::string& listen_host, int port) {
  std::string host = listen_host;
  if (host == "0.0.0.0" || host == "::" || host.empty()) {
    char name[256] = {};
    gethostname(name, sizeof(name) - 1);
    host = name;
  }
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return host + ":" + std::to_string(port);
}

}  // namespace

ServerApp::ServerApp(ServerConfig config, std::span<const http::EmbeddedAsset> dashboard)
    : config_(std::move(config)), dashboard_(dashboard) {}

ServerApp::~ServerApp() { Stop(); }

Status ServerApp::Start() {
  DOZOR_RETURN_IF_ERROR(ValidateServerConfig(config_));
  DOZOR_ASSIGN_OR_RETURN(auto grpc_address, ParseHostPort(config_.grpc_listen));
  DOZOR_ASSIGN_OR_RETURN(auto http_address, ParseHostPort(config_.http_listen));
  if (http_address.host == "localhost") http_address.host = "127.0.0.1";  // the listener takes IPs
  // API tokens cross the network in every request: beyond loopback only over TLS, no exceptions.
  if (!IsLoopbackHost(http_address.host) && config_.http_tls_cert_file.empty()) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "the management API would listen on " + config_.http_listen +
            " (not loopback) without TLS: set http.tls_cert/http.tls_key or listen on 127.0.0.1");
  }
  // Read the TLS material before creating anything on disk, so a typo leaves no half-set-up state.
  std::string tls_cert, tls_key;
  if (!config_.insecure) {
    auto cert = ReadFile(config_.tls_cert_file, 1024 * 1024);
    if (!cert.ok()) return cert.error().Wrap("grpc.tls_cert (--tls-cert)");
    auto key = ReadFile(config_.tls_key_file, 1024 * 1024);
    if (!key.ok()) return key.error().Wrap("grpc.tls_key (--tls-key)");
    tls_cert = std::move(cert).value();
    tls_key = std::move(key).value();
    if (auto valid = ValidateCertificateAndKey(tls_cert, tls_key); !valid.ok()) {
      return valid.error().Wrap("grpc.tls_cert/grpc.tls_key (--tls-cert " + config_.tls_cert_file +
                                ", --tls-key " + config_.tls_key_file + ")");
    }
  }
  if (!config_.http_tls_cert_file.empty()) {
    auto cert = ReadFile(config_.http_tls_cert_file, 1024 * 1024);
    if (!cert.ok()) return cert.error().Wrap("http.tls_cert (--http-tls-cert)");
    auto key = ReadFile(config_.http_tls_key_file, 1024 * 1024);
    if (!key.ok()) return key.error().Wrap("http.tls_key (--http-tls-key)");
    if (auto valid = ValidateCertificateAndKey(*cert, *key); !valid.ok()) {
      return valid.error().Wrap("http.tls_cert/http.tls_key (--http-tls-cert " +
                                config_.http_tls_cert_file + ", --http-tls-key " +
                                config_.http_tls_key_file + ")");
    }
  }
  // Installer: the CA and API certificate fingerprints go into every printed install command, so a
  // CA that did not sign the gRPC certificate would make every install fail; refuse it here.
  http::InstallSources install_sources;
  install_sources.packages_dir = config_.install_packages_dir;
  install_sources.script_file = config_.install_script;
  install_sources.ca_file = config_.tls_ca_file;
  install_sources.public_url = config_.install_public_url;
  install_sources.http_tls_cert_file = config_.http_tls_cert_file;
  DOZOR_ASSIGN_OR_RETURN(auto install_settings, http::LoadInstallSettings(install_sources));
  if (!install_settings.ca_pem.empty() && !config_.insecure) {
    if (auto issued = http::VerifyIssuedBy(tls_cert, install_settings.ca_pem); !issued.ok()) {
      return issued.error().Wrap("grpc.tls_ca (--tls-ca " + config_.tls_ca_file +
                                 ") did not sign grpc.tls_cert (--tls-cert " +
                                 config_.tls_cert_file + ")");
    }
  }
  DOZOR_RETURN_IF_ERROR(EnsureDirectory(config_.state_dir, 0700));

  std::unique_ptr<FactSource> facts;
  if (config_.UsesPostgres()) {
    PostgresStoreOptions store_options;
    store_options.conninfo = config_.store;
    store_options.pool_size = config_.store_pool_size;
    store_options.rule_window_s = int64_t{config_.rules_window_minutes} * 60;
    store_options.clock = &clock_;
    auto opened = PostgresStore::Open(store_options);
    if (!opened.ok()) {
      // The connection string may hold a password: the error names the problem, not the string.
      return opened.error().Wrap("storage.store (--store): PostgreSQL");
    }
    store_ = std::move(opened).value();
    facts = MakePostgresFactSource(config_.store);
    // Several replicas may serve this database: jobs that must run once are coordinated there.
    jobs_ = std::make_unique<PgJobCoordinator>(config_.store);
    spdlog::info("store: PostgreSQL, {} pooled connections", config_.store_pool_size);
  } else {
    SqliteStoreOptions store_options;
    store_options.path = config_.DatabasePath().string();
    store_options.rule_window_s = int64_t{config_.rules_window_minutes} * 60;
    store_options.clock = &clock_;
    DOZOR_ASSIGN_OR_RETURN(store_, OpenSqliteStore(store_options));
    facts = MakeSqliteFactSource(store_options.path);
    jobs_ = std::make_unique<LocalJobCoordinator>();
  }
  // After the database opened: a start refused on a bad database leaves nothing new behind.
  auto import_key = LoadOrCreateImportKeyFile(config_.ImportKeyPath());
  if (!import_key.ok()) {
    return import_key.error().Wrap("import key");
  }
  if (import_key->created) {
    spdlog::info("created the import wrapping key {} (mode 0600); keep it out of database backups",
                 config_.ImportKeyPath().string());
  }
  // Held while the server runs: `store rotate-import-key` refuses to rewrap keys under it. The
  // key is read again under the lock: a rotation that ended between the first read (which may
  // have created the file) and the lock has replaced it.
  DOZOR_ASSIGN_OR_RETURN(import_key_lock_,
                         LockKeyFile(config_.ImportKeyPath(), /*exclusive=*/false));
  import_key = LoadOrCreateImportKeyFile(config_.ImportKeyPath());
  if (!import_key.ok()) {
    return import_key.error().Wrap("import key");
  }
  import_keys_ = std::make_unique<ImportKeyWrapper>(std::move(import_key->wrapper));
  if (std::error_code ec;
      std::filesystem::exists(PendingImportKeyPath(config_.ImportKeyPath()), ec)) {
    spdlog::error(
        "an import key rotation did not finish ({} exists): tokens whose keys it rewrapped "
        "cannot verify imports until it does; stop the server and run `dozor-server store "
        "rotate-import-key` again",
        PendingImportKeyPath(config_.ImportKeyPath()).string());
  }

  // Rules: a broken rule file is logged with file:line and skipped; the rest of the pack runs.
  std::vector<std::string> rule_dirs;
  for (const auto& dir : config_.rule_dirs) {
    rule_dirs.push_back(dir.string());
  }
  rules::EngineOptions engine_options;
  engine_options.health_stale_after_ms = int64_t{config_.rules_window_minutes} * 60 * 1000;
  DOZOR_ASSIGN_OR_RETURN(
      auto engine,
      rules::RuleEngine::Open(*facts, rules::LoadRulePack(rule_dirs, true), engine_options));
  for (const auto& line : rules::ListRuleLoadErrors(engine->pack())) {
    spdlog::error("rule skipped: {}", line);
  }
  spdlog::info("rules: {} loaded, {} broken", engine->pack().rules.size(),
               engine->pack().errors.size());
  RuleEvaluatorOptions evaluator_options;
  evaluator_options.full_interval_ms = int64_t{config_.rules_full_interval_seconds} * 1000;
  evaluator_options.jobs = jobs_.get();
  ApplyRuleLimits(config_.limits, evaluator_options);
  evaluator_ = std::make_unique<RuleEvaluator>(store_->Hosts(), store_->Findings(),
                                               std::move(engine), clock_, evaluator_options);
  store_->Hosts().SetCommitObserver(
      [evaluator = evaluator_.get()](const std::vector<CommittedHost>& hosts) {
        evaluator->MarkDirty(hosts);
      });
  evaluator_->Start();
  // Before agents or the API can add events: a first start of alerting takes the feed's newest
  // event as its starting point, and /metrics reads the delivery workers this creates.
  DOZOR_RETURN_IF_ERROR(StartAlerts());

  auto admin_token =
      http::BootstrapAdminToken(store_->ApiTokens(), config_.AdminTokenPath(), clock_);
  if (!admin_token.ok()) {
    return admin_token.error().Wrap("creating the first admin API token");
  }
  if (admin_token->has_value()) {
    spdlog::info("created the first admin API token in {} (mode 0600)",
                 config_.AdminTokenPath().string());
  } else if (config_.reset_admin_token) {
    auto issued =
        http::IssueAdminToken(store_->ApiTokens(), config_.AdminTokenPath(), "reset-admin");
    if (!issued.ok()) return issued.error().Wrap("--reset-admin-token");
    spdlog::warn(
        "issued a new admin API token into {} (--reset-admin-token); older tokens stay valid "
        "until revoked",
        config_.AdminTokenPath().string());
  }

  writer_ = std::make_unique<ReportWriter>(store_->Hosts());
  writer_->Start();
  security_audit_ = std::make_unique<SecurityAudit>(store_->SecurityEvents(), clock_);
  security_audit_->Start();
  ingest_ = std::make_unique<IngestService>(store_->Agents(), *writer_, clock_,
                                            IngestOptionsFromLimits(config_.limits),
                                            security_audit_.get());
  // Several replicas on one PostgreSQL database: host commands, "connected" and disconnects reach
  // the agent through whichever replica holds its stream.
  if (config_.UsesPostgres()) {
    ReplicaChannelOptions channel_options;
    channel_options.conninfo = config_.store;
    channel_options.clock = &clock_;
    auto channel = PgReplicaChannel::Open(std::move(channel_options));
    if (!channel.ok()) {
      return channel.error().Wrap("the replica channel");
    }
    replica_channel_ = std::move(channel).value();
  }
  agent_control_ = std::make_unique<ReplicatedAgentControl>(*ingest_, replica_channel_.get());
  if (replica_channel_) {
    DOZOR_RETURN_IF_ERROR(
        replica_channel_->Start([control = agent_control_.get()](const ForwardedRequest& request) {
          control->DeliverForwarded(request);
        }));
    ingest_->SetStreamObserver(replica_channel_.get());
  }

  grpc::ServerBuilder builder;
  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (config_.insecure) {
    credentials = grpc::InsecureServerCredentials();
    spdlog::warn("gRPC is PLAINTEXT (--insecure): use only on loopback or for a demo");
  } else {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({tls_key, tls_cert});
    credentials = grpc::SslServerCredentials(ssl);
  }
  builder.AddListeningPort(config_.grpc_listen, credentials, &grpc_port_);
  builder.RegisterService(ingest_.get());
  // The largest message is an inventory at its budget (ReportLimits::inventory, 16 MiB) plus the
  // envelope; a bigger one is refused by gRPC before it is buffered. Enroll is bounded much lower
  // by the service itself (kMaxEnrollRequestBytes) before it is parsed.
  builder.SetMaxReceiveMessageSize(16 * 1024 * 1024 + 64 * 1024);
  // Connections that carry no call for 5 minutes are closed: an agent always holds its stream, so
  // only idle (e.g. never-authenticated) connections are affected; they cannot pile up and use
  // descriptors the management API needs. A TLS handshake must finish within 10 s.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, 5 * 60 * 1000);
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, 10 * 1000);
  // An agent uses one call at a time per connection; a gRPC proxy in front of many agents
  // multiplexes them, so the bound is generous, but one connection cannot open unbounded calls.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 1000);
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, 8 * 1024);
  // gRPC's own memory (transport buffers) and threads are bounded by a resource quota.
  grpc::ResourceQuota quota("dozor-ingest");
  quota.Resize(512 * 1024 * 1024);
  quota.SetMaxThreads(64);
  builder.SetResourceQuota(quota);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 20000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  grpc_server_ = builder.BuildAndStart();
  if (!grpc_server_ || grpc_port_ == 0) {
    return MakeError(ErrorCode::kUnavailable, "cannot listen for agents on " + config_.grpc_listen);
  }

  http::HttpServer::Options http_options;
  http_options.address = http_address.host;
  http_options.port = http_address.port;
  http_options.tls_cert_file = config_.http_tls_cert_file;
  http_options.tls_key_file = config_.http_tls_key_file;
  http_options.offline_after_seconds = config_.offline_after_seconds;
  http_options.workers = config_.http_workers;
  http_options.slow_workers = config_.http_slow_workers;
  http_options.max_connections = config_.http_max_connections;
  ApplyHttpLimits(config_.limits, http_options);
  http_options.security_audit = security_audit_.get();
  http_options.grpc_public_address = config_.grpc_public_address.empty()
                                         ? DefaultPublicAddress(grpc_address.host, grpc_port_)
                                         : config_.grpc_public_address;
  http_options.rules = &evaluator_->pack();
  http_options.install = std::move(install_settings);
  http_options.import_keys = import_keys_.get();
  http_options.dashboard = dashboard_;
  http_options.sessions.idle_ms = int64_t{config_.session_idle_minutes} * 60'000;
  http_options.sessions.browser_absolute_ms = int64_t{config_.session_browser_hours} * 3'600'000;
  http_options.sessions.cli_absolute_ms = int64_t{config_.session_cli_days} * 86'400'000;
  http_options.evaluate_now = [evaluator = evaluator_.get()](int64_t org_id) {
    return evaluator->EvaluateOrganizationNow(org_id);
  };
  const int64_t started_at_ms = clock_.NowMs();
  http_options.alert_ack_key = alert_ack_key_;
  http_options.metrics = [this, started_at_ms]() -> Result<std::string> {
    MetricsSnapshot snapshot;
    snapshot.started_at_ms = started_at_ms;
    snapshot.now_ms = clock_.NowMs();
    if (writer_) snapshot.ingest = writer_->Stats();
    if (ingest_) snapshot.connected_agents = ingest_->ConnectedCount();
    if (evaluator_) snapshot.rules = evaluator_->Stats();
    DOZOR_ASSIGN_OR_RETURN(snapshot.outbox, store_->Alerts().AlertBacklog());
    for (const auto& worker : delivery_workers_) {
      snapshot.delivery_failures.push_back({worker->channel(), worker->failed_attempts()});
    }
    return RenderPrometheus(snapshot);
  };
  http_server_ =
      std::make_unique<http::HttpServer>(http_options, *store_, agent_control_.get(), clock_);
  DOZOR_RETURN_IF_ERROR(http_server_->Start());
  http_port_ = http_server_->port();

  retention_thread_ = std::thread([this] { RetentionLoop(); });
  presence_thread_ = std::thread([this] { PresenceLoop(); });

  spdlog::info(
      "dozor-server {} listening: agents (gRPC{}) on {}:{}, management API on http{}://{}:{}, "
      "store {}",
      kVersion, config_.insecure ? ", plaintext" : ", TLS", grpc_address.host, grpc_port_,
      config_.http_tls_cert_file.empty() ? "" : "s", http_address.host, http_port_,
      config_.UsesPostgres() ? std::string("PostgreSQL") : config_.DatabasePath().string());
  if (dashboard_.empty()) {
    spdlog::info("web dashboard: not part of this build (DOZOR_BUILD_DASHBOARD=OFF)");
  } else {
    spdlog::info("web dashboard: http{}://{}:{}/ ({} files)",
                 config_.http_tls_cert_file.empty() ? "" : "s", http_address.host, http_port_,
                 dashboard_.size());
  }
  if (!config_.install_public_url.empty()) {
    spdlog::info("one-line install offered: {}/install.sh, CA SHA-256 {}, agent packages from {}",
                 config_.install_public_url, http_options.install.ca_sha256_hex,
                 config_.install_packages_dir.empty()
                     ? std::string("(none: install.packages_dir unset)")
                     : config_.install_packages_dir.string());
  }
  if (!config_.ready_file.empty()) {
    nlohmann::json ready{{"grpc_port", grpc_port_}, {"http_port", http_port_}, {"pid", getpid()}};
    DOZOR_RETURN_IF_ERROR(WriteFileAtomic(config_.ready_file, ready.dump(), 0644));
  }
  return OkStatus();
}

void ServerApp::RetentionLoop() {
  while (true) {
    {
      std::unique_lock lock(mutex_);
      if (stop_cv_.wait_for(lock, std::chrono::minutes(10), [this] { return stopping_; })) return;
    }
    if (!jobs_->Holds(SingletonJob::kRetention)) {
      continue;  // another replica prunes
    }
    int64_t cutoff = clock_.NowMs() - int64_t{config_.health_retention_days} * 24 * 3600 * 1000;
    auto pruned = store_->Hosts().PruneHealth(cutoff);
    if (!pruned.ok()) {
      spdlog::warn("health retention failed: {}", pruned.error().message);
    } else if (*pruned > 0) {
      spdlog::info("health retention removed {} samples older than {} days", *pruned,
                   config_.health_retention_days);
    }
    // The change log: two years, and at most 100,000 changes per host (its newest), so a host
    // whose inventories keep differing cannot grow the database without bound.
    constexpr int64_t kChangeRetentionMs = 730LL * 24 * 3600 * 1000;
    auto changes =
        store_->Hosts().PruneInventoryChanges(clock_.NowMs() - kChangeRetentionMs, 100'000);
    if (!changes.ok()) {
      spdlog::warn("change-log retention failed: {}", changes.error().message);
    } else if (*changes > 0) {
      spdlog::info("change-log retention removed {} changes", *changes);
    }
    // Security events are kept 90 days: long enough to investigate an incident after the fact.
    constexpr int64_t kSecurityEventRetentionMs = 90LL * 24 * 3600 * 1000;
    auto events =
        store_->SecurityEvents().PruneSecurityEvents(clock_.NowMs() - kSecurityEventRetentionMs);
    if (!events.ok()) {
      spdlog::warn("security event retention failed: {}", events.error().message);
    }
    // The event feed is what the dashboard and alerts follow now, not an archive: 90 days.
    if (auto pruned_events =
            store_->Events().PruneEvents(clock_.NowMs() - kSecurityEventRetentionMs);
        !pruned_events.ok()) {
      spdlog::warn("event feed retention failed: {}", pruned_events.error().message);
    }
    // The audit log is the record of who did what: kept accounts.audit_retention_days (two years
    // by default), then it goes, so it cannot grow without bound.
    if (auto audit = store_->AuditLog().PruneAudit(
            clock_.NowMs() - int64_t{config_.audit_retention_days} * 24 * 3600 * 1000);
        !audit.ok()) {
      spdlog::warn("audit log retention failed: {}", audit.error().message);
    } else if (*audit > 0) {
      spdlog::info("audit log retention removed {} entries older than {} days", *audit,
                   config_.audit_retention_days);
    }
    // Alerts and their messages: 90 days, like the feed they come from; never one still pending.
    if (auto alerts = store_->Alerts().PruneAlerts(clock_.NowMs() - kSecurityEventRetentionMs);
        !alerts.ok()) {
      spdlog::warn("alert retention failed: {}", alerts.error().message);
    }
    // One-off maintenance windows that ended long ago; weekly ones stay until deleted.
    if (auto windows =
            store_->Alerts().PruneMaintenanceWindows(clock_.NowMs() - kSecurityEventRetentionMs);
        !windows.ok()) {
      spdlog::warn("maintenance window retention failed: {}", windows.error().message);
    }
    // Ended sessions (expired or idle) go.
    auto sessions = store_->Users().PruneSessions(clock_.NowMs(),
                                                  int64_t{config_.session_idle_minutes} * 60'000);
    if (!sessions.ok()) {
      spdlog::warn("session cleanup failed: {}", sessions.error().message);
    }
  }
}

void ServerApp::PresenceLoop() {
  // A host is offline after offline_after_seconds without a report; checking every 10 s (or
  // sooner for short thresholds) announces it within that much more.
  const int64_t offline_after_ms = int64_t{config_.offline_after_seconds} * 1000;
  const auto period = std::chrono::milliseconds(std::min<int64_t>(10'000, offline_after_ms / 3));
  PresenceMonitor monitor(*store_, offline_after_ms);
  while (true) {
    {
      std::unique_lock lock(mutex_);
      if (stop_cv_.wait_for(lock, period, [this] { return stopping_; })) return;
    }
    if (auto checked = monitor.Check(clock_.NowMs()); !checked.ok()) {
      spdlog::warn("host presence check failed: {}", checked.error().message);
    }
  }
}

Status ServerApp::StartAlerts() {
  const auto& settings = config_.alerts;
  if (!settings.Enabled()) {
    spdlog::info("alerts: off (no channel in [alerts]; docs/alerts.md)");
    return OkStatus();
  }
  // Secrets live in files readable by the server only, never in the configuration itself.
  auto secret = [](const std::filesystem::path& path, const char* key) -> Result<std::string> {
    auto text = ReadFile(path, 64 * 1024);
    if (!text.ok()) return text.error().Wrap(std::string("[alerts] ") + key);
    std::string value(Trim(*text));
    if (value.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       std::string("[alerts] ") + key + ": " + path.string() + " is empty");
    }
    return value;
  };
  alerts::DispatcherSettings plan;
  plan.policy.min_severity = ParseSeverity(settings.min_severity).value_or(Severity::kHigh);
  plan.policy.escalate_after_ms = int64_t{settings.escalate_after_minutes} * 60'000;
  plan.policy.site_min_hosts = settings.site_min_hosts;
  plan.policy.site_offline_percent = settings.site_offline_percent;
  plan.duty_logins = settings.duty;
  plan.dashboard_url =
      settings.dashboard_url.empty() ? config_.install_public_url : settings.dashboard_url;
  plan.offline_after_ms = int64_t{config_.offline_after_seconds} * 1000;
  plan.flap.window_ms = int64_t{settings.flap_window_minutes} * 60'000;
  plan.flap.threshold = settings.flap_threshold;
  // Waiting for a burst only makes sense when the workers group it.
  plan.group_wait_ms =
      settings.group_window_seconds > 0 ? int64_t{settings.group_wait_seconds} * 1000 : 0;
  // Beside the database, never inside it: a copy of the database cannot forge an acknowledgement.
  const auto ack_key_path = config_.state_dir / "alert-ack.key";
  auto ack_key = LoadOrCreateKeyFile(ack_key_path, alerts::kAckKeyBytes, "the alert link key");
  if (!ack_key.ok()) return ack_key.error().Wrap("[alerts]");
  if (ack_key->created) {
    spdlog::info("created the alert acknowledgement link key {} (mode 0600)",
                 ack_key_path.string());
  }
  alert_ack_key_ = ack_key->key;
  plan.ack_key = alert_ack_key_;
  const int64_t give_up_ms = int64_t{settings.give_up_after_hours} * 3'600'000;
  const int64_t retry_ms = int64_t{settings.retry_first_seconds} * 1000;
  if (!settings.smtp_url.empty()) {
    alerts::SmtpSettings smtp;
    smtp.url = settings.smtp_url;
    smtp.username = settings.smtp_username;
    if (!settings.smtp_password_file.empty()) {
      DOZOR_ASSIGN_OR_RETURN(smtp.password,
                             secret(settings.smtp_password_file, "smtp_password_file"));
    }
    smtp.from = settings.smtp_from;
    smtp.ca_file = settings.smtp_ca_file.string();
    smtp.allow_plaintext = settings.smtp_allow_plaintext;
    plan.email = true;
    plan.mail_from = settings.smtp_from;
    delivery_workers_.push_back(std::make_unique<alerts::DeliveryWorker>(
        store_->Alerts(), AlertChannel::kEmail, alerts::MakeSmtpSender(std::move(smtp)), clock_,
        give_up_ms, retry_ms));
  }
  if (!settings.telegram_token_file.empty()) {
    alerts::TelegramSettings telegram;
    telegram.api_url = settings.telegram_api_url;
    DOZOR_ASSIGN_OR_RETURN(telegram.bot_token,
                           secret(settings.telegram_token_file, "telegram_token_file"));
    telegram.ca_file = settings.telegram_ca_file.string();
    plan.telegram = true;
    delivery_workers_.push_back(std::make_unique<alerts::DeliveryWorker>(
        store_->Alerts(), AlertChannel::kTelegram, alerts::MakeTelegramSender(std::move(telegram)),
        clock_, give_up_ms, retry_ms));
  }
  if (!settings.webhook_url.empty()) {
    alerts::WebhookSettings webhook;
    webhook.url = settings.webhook_url;
    DOZOR_ASSIGN_OR_RETURN(webhook.secret,
                           secret(settings.webhook_secret_file, "webhook_secret_file"));
    webhook.ca_file = settings.webhook_ca_file.string();
    plan.webhook = true;
    plan.webhook_url = settings.webhook_url;
    delivery_workers_.push_back(std::make_unique<alerts::DeliveryWorker>(
        store_->Alerts(), AlertChannel::kWebhook,
        alerts::MakeWebhookSender(std::move(webhook), clock_), clock_, give_up_ms, retry_ms));
  }
  const bool monthly = settings.monthly_report && plan.email;
  alerts::MonthlyReportSettings monthly_settings;
  monthly_settings.mail_from = plan.mail_from;
  monthly_settings.dashboard_url = plan.dashboard_url;
  alert_dispatcher_ = std::make_unique<alerts::AlertDispatcher>(*store_, &evaluator_->pack(),
                                                                std::move(plan), clock_);
  if (monthly) {
    monthly_reporter_ = std::make_unique<alerts::MonthlyReporter>(
        *store_, &evaluator_->pack(), std::move(monthly_settings), clock_);
  }
  for (auto& worker : delivery_workers_) {
    worker->set_rate_limit_per_hour(settings.rate_limit_per_hour);
    worker->set_grouping(int64_t{settings.group_window_seconds} * 1000, settings.smtp_from);
    // A channel that gives up tells the admins on their other channels.
    worker->set_give_up_listener([this](const Delivery& delivery, const std::string& error) {
      if (auto told = alert_dispatcher_->ReportChannelFailure(delivery, error); !told.ok()) {
        spdlog::warn("alerts: telling admins of the failing {} channel failed: {}",
                     ToString(delivery.channel), told.error().message);
      }
    });
  }
  // The first pass now: it sets the starting point on a first start, and after a restart plans
  // what the feed gained while the server was down (on the replica that plans, with several).
  if (jobs_->Holds(SingletonJob::kAlertPlanning)) {
    if (auto planned = alert_dispatcher_->PlanPass(); !planned.ok()) {
      return planned.error().Wrap("alerts: reading the event feed");
    }
  }
  alert_threads_.emplace_back([this] { AlertPlanLoop(); });
  for (auto& worker : delivery_workers_) {
    alert_threads_.emplace_back([this, &worker = *worker] { DeliveryLoop(worker); });
  }
  spdlog::info("alerts: on, {} channel(s), findings from severity {}, escalation after {} min",
               delivery_workers_.size(), settings.min_severity, settings.escalate_after_minutes);
  return OkStatus();
}

void ServerApp::AlertPlanLoop() {
  while (true) {
    {
      std::unique_lock lock(mutex_);
      if (stop_cv_.wait_for(lock, std::chrono::seconds(2), [this] { return stopping_; })) return;
    }
    // One planner for all replicas: two would record the same events' alerts twice.
    if (!jobs_->Holds(SingletonJob::kAlertPlanning)) {
      continue;
    }
    if (auto planned = alert_dispatcher_->PlanPass(); !planned.ok()) {
      spdlog::warn("alerts: planning from the event feed failed: {}", planned.error().message);
    }
    if (auto escalated = alert_dispatcher_->EscalationPass(); !escalated.ok()) {
      spdlog::warn("alerts: escalation failed: {}", escalated.error().message);
    }
    if (monthly_reporter_) {
      if (auto sent = monthly_reporter_->Pass(); !sent.ok()) {
        spdlog::warn("alerts: monthly reports failed: {}", sent.error().message);
      }
    }
  }
}

void ServerApp::DeliveryLoop(alerts::DeliveryWorker& worker) {
  while (true) {
    {
      std::unique_lock lock(mutex_);
      if (stop_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; })) return;
    }
    // A pass sends each recipient's oldest due message; passes follow each other at once while
    // they deliver, so a burst reaches its recipients without a second's wait per message.
    for (int pass = 0; pass < 100; ++pass) {
      auto sent = worker.DeliverPass();
      if (!sent.ok()) {
        spdlog::warn("alerts: {} delivery failed: {}", ToString(worker.channel()),
                     sent.error().message);
        break;
      }
      if (*sent == 0) break;
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
  }
}

void ServerApp::Wait() {
  std::unique_lock lock(mutex_);
  stop_cv_.wait(lock, [this] { return stopping_; });
}

void ServerApp::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (http_server_) http_server_->Stop();
  if (grpc_server_) {
    grpc_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }
  // After the streams ended: this replica's stream rows go, so others stop forwarding here.
  if (ingest_) ingest_->SetStreamObserver(nullptr);
  if (replica_channel_) replica_channel_->Stop();
  if (writer_) writer_->Stop();
  if (security_audit_) security_audit_->Stop();  // writes the refusals still aggregated
  if (store_) store_->Hosts().SetCommitObserver(nullptr);
  if (evaluator_) evaluator_->Stop();  // commits what is queued; its acks go nowhere, agents resend
  if (retention_thread_.joinable()) retention_thread_.join();
  if (presence_thread_.joinable()) presence_thread_.join();
  for (auto& thread : alert_threads_) {
    if (thread.joinable()) thread.join();
  }
}

}  // namespace dozor::server
