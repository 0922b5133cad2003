#include "collectors/parsers/onec_parsers.hpp"

#include <algorithm>
#include <cstdint>

#include "collectors/parsers/package_parsers.hpp"
#include "collectors/parsers/text.hpp"
#include "collectors/parsers/windows_parsers.hpp"
#include "collectors/parsers/xml_tags.hpp"

namespace dozor::agent {
namespace onec_detail {

constexpr size_t kMaxRacFields = 128;
constexpr size_t kMaxAgents = 16;
constexpr size_t kMaxServerProcesses = 512;

// "\"Local cluster\"" -> "Local cluster"; rac doubles a quote inside a quoted value.
std::string Unquote(std::string_view value) {
  if (value.size() < 2 || value.front() != '"' || value.back() != '"') return std::string(value);
  value = value.substr(1, value.size() - 2);
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    out.push_back(value[i]);
    if (value[i] == '"' && i + 1 < value.size() && value[i + 1] == '"') ++i;
  }
  return out;
}

int64_t NumberOr(std::string_view text, int64_t fallback) {
  int64_t value = 0;
  return ParseNumber(Trim(text), &value) ? value : fallback;
}

// The words of a command line, quotes removed ("-d \"/srv/1c reg\"" -> -d, /srv/1c reg).
std::vector<std::string> CommandWords(std::string_view command_line) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < command_line.size() && words.size() < 256) {
    while (i < command_line.size() && IsWhitespace(command_line[i])) ++i;
    if (i >= command_line.size()) break;
    std::string word;
    while (i < command_line.size() && !IsWhitespace(command_line[i])) {
      if (command_line[i] == '"') {
        const size_t close = command_line.find('"', i + 1);
        const size_t end = close == std::string_view::npos ? command_line.size() : close;
        word.append(command_line.substr(i + 1, end - i - 1));
        i = end == command_line.size() ? end : end + 1;
      } else {
        word.push_back(command_line[i++]);
      }
    }
    words.push_back(std::move(word));
  }
  return words;
}

bool ValidPort(int64_t port) { return port > 0 && port < 65536; }

std::string ProgramName(std::string_view name) {
  std::string lower = Lower(name);
  if (lower.size() > 4 && lower.compare(lower.size() - 4, 4, ".exe") == 0) {
    lower.resize(lower.size() - 4);
  }
  return lower;
}

}  // namespace onec_detail

std::string RacRecord::Get(std::string_view key) const {
  for (const auto& [name, value] : fields) {
    if (name == key) return value;
  }
  return {};
}

std::vector<RacRecord> ParseRacRecords(std::string_view text, size_t max_records) {
  std::vector<RacRecord> records;
  RacRecord current;
  auto finish = [&] {
    if (!current.fields.empty() && records.size() < max_records) {
      records.push_back(std::move(current));
    }
    current = RacRecord{};
  };
  LineReader lines(text);
  std::string_view line;
  while (lines.Next(&line)) {
    if (Trim(line).empty()) {
      finish();
      continue;
    }
    // "key : value": rac pads the key with spaces before the colon. A value may itself hold
    // " : " (a description), so the first colon splits.
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = Trim(line.substr(0, colon));
    if (key.empty() || key.find(' ') != std::string_view::npos) continue;
    if (current.fields.size() < onec_detail::kMaxRacFields) {
      current.fields.emplace_back(Lower(key), onec_detail::Unquote(Trim(line.substr(colon + 1))));
    }
  }
  finish();
  return records;
}

dozor::v1::OneCCluster ClusterFromRac(const RacRecord& record) {
  dozor::v1::OneCCluster cluster;
  cluster.set_id(record.Get("cluster"));
  cluster.set_name(record.Get("name"));
  cluster.set_host(record.Get("host"));
  const int64_t port = onec_detail::NumberOr(record.Get("port"), 0);
  cluster.set_port(onec_detail::ValidPort(port) ? static_cast<uint32_t>(port) : 0);
  cluster.set_lifetime_limit(
      std::max<int64_t>(onec_detail::NumberOr(record.Get("lifetime-limit"), 0), 0));
  cluster.set_max_memory_size(
      std::max<int64_t>(onec_detail::NumberOr(record.Get("max-memory-size"), 0), 0));
  const int64_t level = onec_detail::NumberOr(record.Get("security-level"), -1);
  cluster.set_security_level(level >= 0 && level <= 2 ? static_cast<int32_t>(level) : -1);
  cluster.set_admin_configured(-1);
  cluster.set_infobase_count(-1);
  return cluster;
}

bool RacDemandsAuthentication(std::string_view output) {
  const std::string folded = FoldCase(output);
  return folded.find("not authenticated") != std::string::npos ||
         folded.find("не аутентифицирован") != std::string::npos ||
         folded.find("недостаточно прав") != std::string::npos ||
         folded.find("insufficient rights") != std::string::npos;
}

std::vector<TechLogElement> ParseLogcfg(std::string_view text, size_t max_elements) {
  std::vector<TechLogElement> elements;
  bool in_log = false;
  ForEachXmlTag(text, SIZE_MAX, [&](const XmlTag& tag) {
    if (tag.name == "log") {
      if (tag.end) {
        in_log = false;
        return true;
      }
      if (elements.size() >= max_elements) return false;
      TechLogElement element;
      std::string value;
      if (XmlAttribute(tag.attributes, "location", &value)) element.location = std::move(value);
      int32_t history = 0;
      if (XmlAttribute(tag.attributes, "history", &value) && ParseNumber(Trim(value), &history) &&
          history >= 0) {
        element.history_hours = history;
      }
      elements.push_back(std::move(element));
      in_log = !tag.self_closing;
    } else if (tag.name == "event" && !tag.end && in_log && !elements.empty()) {
      ++elements.back().events;
    }
    return true;
  });
  return elements;
}

std::string RagentRegistryDirectory(std::string_view command_line) {
  const std::vector<std::string> words = onec_detail::CommandWords(command_line);
  for (size_t w = 0; w + 1 < words.size(); ++w) {
    if (Lower(words[w]) == "-d" && !words[w + 1].empty()) return words[w + 1];
  }
  return {};
}

RasEndpoints ParseRasCommandLine(std::string_view command_line) {
  RasEndpoints endpoints;
  const std::vector<std::string> words = onec_detail::CommandWords(command_line);
  for (size_t w = 1; w < words.size(); ++w) {
    const std::string_view word = words[w];
    int64_t port = 0;
    if (word.rfind("--port=", 0) == 0) {
      port = onec_detail::NumberOr(word.substr(7), 0);
    } else if ((word == "--port" || word == "-p") && w + 1 < words.size()) {
      port = onec_detail::NumberOr(words[w + 1], 0);
    } else if (word.front() != '-' && word.find(':') != std::string_view::npos) {
      // The agent it administers: "localhost:1540" (the last such argument wins).
      const int64_t agent = onec_detail::NumberOr(word.substr(word.rfind(':') + 1), 0);
      if (onec_detail::ValidPort(agent)) endpoints.agent_port = static_cast<uint32_t>(agent);
    }
    if (onec_detail::ValidPort(port)) endpoints.listen_port = static_cast<uint32_t>(port);
  }
  return endpoints;
}

bool IsHaspManagerProcess(std::string_view name) {
  const std::string program = onec_detail::ProgramName(name);
  return program == "hasplm" || program == "hasplmd" || program == "aksusbd";
}

std::vector<dozor::v1::OneCServerAgent> FindOneCServerAgents(
    const google::protobuf::RepeatedPtrField<dozor::v1::Process>& processes) {
  std::vector<dozor::v1::OneCServerAgent> agents;
  for (const auto& process : processes) {
    if (onec_detail::ProgramName(process.name()) != "ragent") continue;
    if (agents.size() >= onec_detail::kMaxAgents) break;
    dozor::v1::OneCServerAgent agent;
    agent.set_pid(process.pid());
    agent.set_version(OneCVersionFromCommandLine(process.command()));
    agent.set_user(process.user());
    agent.set_start_time(process.start_time());
    const OneCServerPorts ports = ParseRagentCommandLine(process.command());
    agent.set_agent_port(ports.agent_port);
    agent.set_manager_port(ports.manager_port);
    agent.set_range_first(ports.range_first);
    agent.set_range_last(ports.range_last);
    agent.set_registry_path(RagentRegistryDirectory(process.command()));
    agents.push_back(std::move(agent));
  }
  if (agents.empty()) return agents;
  size_t taken = 0;
  for (const auto& process : processes) {
    const std::string role = onec_detail::ProgramName(process.name());
    if (role != "rmngr" && role != "rphost") continue;
    if (taken >= onec_detail::kMaxServerProcesses) break;
    const std::string version = OneCVersionFromCommandLine(process.command());
    dozor::v1::OneCServerAgent* owner = nullptr;
    for (auto& agent : agents) {
      if (!version.empty() && agent.version() == version) {
        owner = &agent;
        break;
      }
    }
    if (owner == nullptr && agents.size() == 1) owner = &agents.front();
    if (owner == nullptr) continue;  // of no running agent's version: an orphan, not a cluster's
    ++taken;
    auto* entry = owner->add_processes();
    entry->set_role(role);
    entry->set_pid(process.pid());
    entry->set_version(version);
    entry->set_rss_bytes(process.rss_bytes());
    entry->set_start_time(process.start_time());
    if (role == "rphost" && owner->start_time() > 0 && process.start_time() > 0 &&
        process.start_time() > owner->start_time() + kWorkerRestartGraceSeconds) {
      owner->set_restarted_workers(owner->restarted_workers() + 1);
    }
  }
  return agents;
}

}  // namespace dozor::agent
