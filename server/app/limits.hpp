// The [limits] section of the server configuration (ServerConfig::Limits) mapped onto the
// options of the parts it bounds: ingest (per agent and per source), the management API (per
// client) and the rule evaluator (per host). Kept apart from ServerConfig so the configuration
// does not pull in gRPC, Beast and the rule engine.
#pragma once

#include "app/rule_evaluator.hpp"
#include "app/server_config.hpp"
#include "http/http_server.hpp"
#include "ingest/ingest_service.hpp"

namespace dozor::server {

[[nodiscard]] IngestOptions IngestOptionsFromLimits(const ServerConfig::Limits& limits);
void ApplyHttpLimits(const ServerConfig::Limits& limits, http::HttpServer::Options& options);
void ApplyRuleLimits(const ServerConfig::Limits& limits, RuleEvaluatorOptions& options);

}  // namespace dozor::server
