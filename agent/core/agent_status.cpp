#include "core/agent_status.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "dozor/common/civil_time.hpp"
#include "dozor/common/files.hpp"
#include "dozor/common/path_text.hpp"
#include "dozor/common/text.hpp"
#include "dozor/common/utc_time.hpp"

namespace dozor::agent {
namespace {

using Json = nlohmann::ordered_json;

std::string FormatTime(int64_t ms) {
  if (ms <= 0) {
    return "never";
  }
  return FormatUtc(ms, UtcStyle::kSeconds);
}

std::string FormatAgo(int64_t then_ms, int64_t now_ms) {
  if (then_ms <= 0) {
    return "";
  }
  const int64_t seconds = (now_ms - then_ms) / 1000;
  if (seconds < 0) {
    return " (in the future: clock changed?)";
  }
  if (seconds < 120) {
    return " (" + std::to_string(seconds) + " s ago)";
  }
  if (seconds < 7200) {
    return " (" + std::to_string(seconds / 60) + " min ago)";
  }
  if (seconds < 172800) {
    return " (" + std::to_string(seconds / 3600) + " h ago)";
  }
  return " (" + std::to_string(seconds / 86400) + " days ago)";
}

std::string FormatPercent(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f%%", value);
  return text;
}

Json RuntimeToJson(const RuntimeStatus& status) {
  Json collectors = Json::array();
  for (const auto& collector : status.collectors) {
    collectors.push_back({{"name", collector.name},
                          {"ok", collector.ok},
                          {"error", collector.error},
                          {"duration_ms", collector.duration_ms},
                          {"at_ms", collector.at_ms}});
  }
  return Json{{"format", kStatusFormat},
              {"pid", status.pid},
              {"started_at_ms", status.started_at_ms},
              {"updated_at_ms", status.updated_at_ms},
              {"agent_version", status.agent_version},
              {"server_address", status.server_address},
              {"health_interval_seconds", status.health_interval_seconds},
              {"connected", status.connected},
              {"last_send_ok_ms", status.last_send_ok_ms},
              {"last_connect_ms", status.last_connect_ms},
              {"last_error", status.last_error},
              {"spool",
               {{"reports", status.spool_reports},
                {"bytes", status.spool_bytes},
                {"dropped_health_total", status.spool_dropped_health},
                {"dropped_awaiting_server", status.spool_dropped_awaiting_server}}},
              {"collectors", std::move(collectors)},
              {"self",
               {{"shedding", status.shedding},
                {"reason", status.shed_reason},
                {"rss_bytes", status.rss_bytes},
                {"cpu_percent", status.cpu_percent},
                {"max_rss_mb", status.max_rss_mb},
                {"max_cpu_percent", status.max_cpu_percent}}}};
}

template <typename T>
T Get(const nlohmann::json& object, const char* key, T fallback) {
  if (!object.is_object()) {
    return fallback;
  }
  auto found = object.find(key);
  if (found == object.end() || found->is_null()) {
    return fallback;
  }
  try {
    return found->get<T>();
  } catch (const nlohmann::json::exception&) {
    return fallback;  // a wrong type in a field: keep the rest of the status
  }
}

}  // namespace

std::string SerializeRuntimeStatus(const RuntimeStatus& status) {
  return RuntimeToJson(status).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Result<RuntimeStatus> ParseRuntimeStatus(std::string_view text) {
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "status file is not a JSON object");
  }
  if (Get<std::string>(json, "format", "") != kStatusFormat) {
    return MakeError(ErrorCode::kInvalidArgument, "status file has an unknown format (expected " +
                                                      std::string(kStatusFormat) + ")");
  }
  RuntimeStatus status;
  status.pid = Get<int64_t>(json, "pid", 0);
  status.started_at_ms = Get<int64_t>(json, "started_at_ms", 0);
  status.updated_at_ms = Get<int64_t>(json, "updated_at_ms", 0);
  status.agent_version = Get<std::string>(json, "agent_version", "");
  status.server_address = Get<std::string>(json, "server_address", "");
  status.health_interval_seconds = Get<int>(json, "health_interval_seconds", 0);
  status.connected = Get<bool>(json, "connected", false);
  status.last_send_ok_ms = Get<int64_t>(json, "last_send_ok_ms", 0);
  status.last_connect_ms = Get<int64_t>(json, "last_connect_ms", 0);
  status.last_error = Get<std::string>(json, "last_error", "");
  const auto spool = json.value("spool", nlohmann::json::object());
  status.spool_reports = Get<uint64_t>(spool, "reports", 0);
  status.spool_bytes = Get<uint64_t>(spool, "bytes", 0);
  status.spool_dropped_health = Get<uint64_t>(spool, "dropped_health_total", 0);
  status.spool_dropped_awaiting_server = Get<uint64_t>(spool, "dropped_awaiting_server", 0);
  auto collectors = json.find("collectors");
  if (collectors != json.end() && collectors->is_array()) {
    for (const auto& item : *collectors) {
      CollectorResult result;
      result.name = Get<std::string>(item, "name", "");
      result.ok = Get<bool>(item, "ok", false);
      result.error = Get<std::string>(item, "error", "");
      result.duration_ms = Get<uint32_t>(item, "duration_ms", 0);
      result.at_ms = Get<int64_t>(item, "at_ms", 0);
      if (!result.name.empty()) {
        status.collectors.push_back(std::move(result));
      }
    }
  }
  const auto self = json.value("self", nlohmann::json::object());
  status.shedding = Get<bool>(self, "shedding", false);
  status.shed_reason = Get<std::string>(self, "reason", "");
  status.rss_bytes = Get<uint64_t>(self, "rss_bytes", 0);
  status.cpu_percent = Get<double>(self, "cpu_percent", -1);
  status.max_rss_mb = Get<int>(self, "max_rss_mb", 0);
  status.max_cpu_percent = Get<double>(self, "max_cpu_percent", 0);
  return status;
}

Status SaveRuntimeStatus(const std::filesystem::path& state_dir, const RuntimeStatus& status) {
  return WriteFileAtomic(state_dir / kStatusFileName, SerializeRuntimeStatus(status), 0600);
}

Result<AgentLock> AgentLock::Acquire(const std::filesystem::path& state_dir) {
  auto lock = platform::ExclusiveFileLock::Acquire(state_dir / kLockFileName);
  if (!lock.ok()) {
    if (lock.error().code == ErrorCode::kAlreadyExists) {
      return MakeError(ErrorCode::kAlreadyExists,
                       "another dozor-agent is running with state directory " +
                           PathToUtf8(state_dir) + " (it holds " +
                           PathToUtf8(state_dir / kLockFileName) + ")");
    }
    return lock.error();
  }
  return AgentLock(std::move(lock).value());
}

Result<bool> IsAgentLocked(const std::filesystem::path& state_dir) {
  return platform::IsFileLocked(state_dir / kLockFileName);
}

StatusView EvaluateStatus(const Result<AgentIdentity>& identity, bool running,
                          const Result<RuntimeStatus>& runtime, int64_t now_ms) {
  StatusView view;
  view.now_ms = now_ms;
  view.running = running;
  if (identity.ok()) {
    view.enrolled = true;
    view.identity = *identity;
    view.identity.agent_secret.clear();
  } else {
    view.identity_error = identity.error().message;
  }
  if (runtime.ok()) {
    view.runtime = *runtime;
  } else if (runtime.error().code != ErrorCode::kNotFound) {
    view.runtime_error = runtime.error().message;
  }
  if (!view.enrolled) {
    view.problems.push_back(view.identity_error);
    view.exit_code = kStatusExitNotEnrolled;
    return view;
  }
  if (!running) {
    view.problems.push_back("the agent is not running");
  } else if (!view.runtime) {
    view.problems.push_back("the agent has written no status yet" +
                            (view.runtime_error.empty() ? "" : " (" + view.runtime_error + ")"));
  } else {
    const RuntimeStatus& status = *view.runtime;
    const int64_t interval_ms = std::max(1, status.health_interval_seconds) * 1000LL;
    const int64_t allowed_ms = kStaleSendIntervals * interval_ms;
    if (status.last_send_ok_ms > 0) {
      if (now_ms - status.last_send_ok_ms > allowed_ms) {
        view.problems.push_back("last successful send " + FormatTime(status.last_send_ok_ms) +
                                " is older than " + std::to_string(kStaleSendIntervals) +
                                " health intervals (" + std::to_string(allowed_ms / 1000) + " s)");
      }
    } else if (now_ms - status.started_at_ms > allowed_ms) {
      view.problems.push_back("nothing sent since the agent started at " +
                              FormatTime(status.started_at_ms));
    }
  }
  view.exit_code = view.problems.empty() ? kStatusExitHealthy : kStatusExitUnhealthy;
  return view;
}

StatusView LoadStatusView(const std::filesystem::path& state_dir, int64_t now_ms) {
  Result<AgentIdentity> identity = LoadIdentity(state_dir);
  Result<bool> locked = IsAgentLocked(state_dir);
  Result<RuntimeStatus> runtime = MakeError(ErrorCode::kNotFound, "no status file");
  auto text = ReadFile(state_dir / kStatusFileName, kMaxStatusFileBytes);
  if (text.ok()) {
    runtime = ParseRuntimeStatus(*text);
  } else if (text.error().code != ErrorCode::kNotFound) {
    runtime = text.error();
  }
  StatusView view = EvaluateStatus(identity, locked.ok() && *locked, runtime, now_ms);
  if (!locked.ok() && view.enrolled) {
    view.problems.push_back("cannot tell whether the agent runs: " + locked.error().message);
  }
  return view;
}

std::string RenderStatusText(const StatusView& view) {
  std::string out;
  auto row = [&](const char* label, const std::string& value) {
    char padded[16];
    std::snprintf(padded, sizeof(padded), "%-13s", label);
    out += padded + value + "\n";
  };
  if (!view.enrolled) {
    row("Enrolled", "no: " + view.identity_error);
    row("Health", "NOT ENROLLED");
    return out;
  }
  const RuntimeStatus* status = view.runtime ? &*view.runtime : nullptr;
  row("Agent", view.identity.agent_id + " (organisation \"" + view.identity.organization + "\")");
  std::string server = status != nullptr && !status->server_address.empty()
                           ? status->server_address
                           : view.identity.server_address;
  if (status != nullptr && view.running) {
    server += status->connected ? " (connected)" : " (not connected)";
  }
  row("Server", server);
  if (view.running) {
    row("Service", status != nullptr ? "running (pid " + std::to_string(status->pid) +
                                           ", version " + status->agent_version + ", since " +
                                           FormatTime(status->started_at_ms) + ")"
                                     : "running");
  } else {
    row("Service", "not running");
  }
  if (status != nullptr) {
    row("Last send",
        FormatTime(status->last_send_ok_ms) + FormatAgo(status->last_send_ok_ms, view.now_ms));
    if (!status->last_error.empty()) {
      row("Last error", status->last_error);
    }
    row("Spool", std::to_string(status->spool_reports) + " reports pending, " +
                     HumanBytes(status->spool_bytes) + " (" +
                     std::to_string(status->spool_dropped_health) + " health samples dropped" +
                     (status->spool_dropped_awaiting_server > 0
                          ? ", " + std::to_string(status->spool_dropped_awaiting_server) +
                                " more sent before they were dropped, to be checked with the server"
                          : std::string()) +
                     ")");
    std::string self =
        "RSS " + HumanBytes(status->rss_bytes) + " (limit " + std::to_string(status->max_rss_mb) +
        " MiB), CPU " +
        (status->cpu_percent < 0 ? std::string("n/a") : FormatPercent(status->cpu_percent)) +
        " (limit " + FormatPercent(status->max_cpu_percent) + ")";
    if (status->shedding) {
      self += ", SHEDDING WORK: " + status->shed_reason;
    }
    row("Self", self);
    row("Interval", "health every " + std::to_string(status->health_interval_seconds) + " s");
    row("Updated",
        FormatTime(status->updated_at_ms) + FormatAgo(status->updated_at_ms, view.now_ms));
  } else if (!view.runtime_error.empty()) {
    row("Status file", view.runtime_error);
  }
  if (view.problems.empty()) {
    row("Health", "OK");
  } else {
    std::string joined;
    for (const auto& problem : view.problems) {
      joined += (joined.empty() ? "" : "; ") + problem;
    }
    row("Health", "UNHEALTHY: " + joined);
  }
  if (status != nullptr && !status->collectors.empty()) {
    out += "\n";
    char line[160];
    std::snprintf(line, sizeof(line), "%-12s %-6s %10s  %s\n", "COLLECTOR", "RESULT", "DURATION",
                  "WHEN");
    out += line;
    for (const auto& collector : status->collectors) {
      std::snprintf(line, sizeof(line), "%-12s %-6s %7u ms  ", collector.name.c_str(),
                    collector.ok ? "ok" : "error", collector.duration_ms);
      out += line + FormatTime(collector.at_ms) + FormatAgo(collector.at_ms, view.now_ms) + "\n";
      if (!collector.error.empty()) {
        out += "             " + collector.error + "\n";
      }
    }
  }
  return out;
}

std::string RenderStatusJson(const StatusView& view) {
  Json json;
  json["enrolled"] = view.enrolled;
  json["running"] = view.running;
  json["healthy"] = view.exit_code == kStatusExitHealthy;
  json["exit_code"] = view.exit_code;
  json["problems"] = view.problems;
  json["now_ms"] = view.now_ms;
  if (view.enrolled) {
    json["agent_id"] = view.identity.agent_id;
    json["organization"] = view.identity.organization;
    json["server_address"] = view.identity.server_address;
    json["enrolled_at_ms"] = view.identity.enrolled_at_ms;
  }
  json["status"] = view.runtime ? RuntimeToJson(*view.runtime) : Json(nullptr);
  return json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace dozor::agent
