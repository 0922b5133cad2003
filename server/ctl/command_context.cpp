#include "ctl/command_context.hpp"

#include <algorithm>

#include "ctl/cli.hpp"
#include "ctl/format.hpp"
#include "ctl/format_internal.hpp"
#include "dozor/common/text.hpp"

namespace dozor::ctl {

std::string TerminalText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t begin = 0;
  while (begin <= text.size()) {
    const size_t end = std::min(text.find('\n', begin), text.size());
    out += EscapeControlText(text.substr(begin, end - begin));
    if (end == text.size()) {
      break;
    }
    out += '\n';
    begin = end + 1;
  }
  return out;
}

int ReportError(const Context& context, const Error& error) {
  context.err << "dozorctl: " << TerminalText(error.message) << "\n";
  return error.code == ErrorCode::kUnavailable ? kExitUnreachable : kExitApiError;
}

void PrintJson(const Context& context, const nlohmann::json& value) {
  context.out << value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

int Emit(const Context& context, const Result<nlohmann::json>& reply,
         const std::function<std::string(const nlohmann::json&)>& render) {
  if (!reply.ok()) {
    return ReportError(context, reply.error());
  }
  if (context.json) {
    PrintJson(context, *reply);
  } else {
    context.out << TerminalText(render(*reply));
  }
  return kExitOk;
}

int Emit(const Context& context, const Result<nlohmann::json>& reply, Renderer render) {
  return Emit(context, reply, [&context, render](const nlohmann::json& value) {
    return render(value, context.lang);
  });
}

std::string Message(std::string text) { return text + "\n"; }

std::string QueryString(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::string out;
  for (const auto& [key, value] : pairs) {
    if (value.empty()) {
      continue;
    }
    out += (out.empty() ? "?" : "&") + key + "=" + PercentEncode(value);
  }
  return out;
}

Result<nlohmann::json> GetAllPages(ApiClient& client, std::string_view path, std::string_view key,
                                   int64_t max_rows) {
  constexpr int64_t kMaxPage = 1000;  // the server's largest page
  const std::string base =
      std::string(path) + (path.find('?') == std::string_view::npos ? "?" : "&") + "limit=";
  nlohmann::json rows = nlohmann::json::array();
  std::string cursor;
  while (true) {
    const int64_t wanted =
        std::min<int64_t>(kMaxPage, max_rows - static_cast<int64_t>(rows.size()));
    std::string url = base + std::to_string(wanted);
    if (!cursor.empty()) {
      url += "&cursor=" + PercentEncode(cursor);
    }
    DOZOR_ASSIGN_OR_RETURN(nlohmann::json page, client.Get(url));
    const auto items = page.find(key);
    if (items == page.end() || !items->is_array()) {
      return page;  // not a paged answer: shown as it came
    }
    for (auto& item : *items) {
      rows.push_back(std::move(item));
    }
    const auto next = page.find("next_cursor");
    const bool more = next != page.end() && next->is_string() && !next->get<std::string>().empty();
    if (!more || static_cast<int64_t>(rows.size()) >= max_rows) {
      page[std::string(key)] = std::move(rows);
      return page;
    }
    cursor = next->get<std::string>();
  }
}

std::string OrgPath(const std::string& org, std::string_view suffix) {
  return "/api/v1/orgs/" + PercentEncode(org) + std::string(suffix);
}

std::string HostPath(const std::string& agent_id, std::string_view suffix) {
  return "/api/v1/hosts/" + PercentEncode(agent_id) + std::string(suffix);
}

std::string FindingPath(int64_t id, std::string_view suffix) {
  return "/api/v1/findings/" + std::to_string(id) + std::string(suffix);
}

OrgNames FetchOrgNames(ApiClient& client) {
  OrgNames names;
  auto orgs = GetAllPages(client, "/api/v1/orgs", "organizations");
  if (!orgs.ok() || !orgs->contains("organizations") || !(*orgs)["organizations"].is_array()) {
    return names;
  }
  for (const auto& org : (*orgs)["organizations"]) {
    names[JsonI64(At(org, "id"))] = JsonStr(org, "name");
  }
  return names;
}

int EmitWithOrgNames(Context& context, const Result<nlohmann::json>& reply,
                     RendererWithOrgs render) {
  OrgNames orgs;
  if (reply.ok() && !context.json) {
    orgs = FetchOrgNames(context.client);
  }
  return Emit(context, reply,
              [&](const nlohmann::json& value) { return render(value, orgs, context.lang); });
}

Result<std::string> ResolveHost(ApiClient& client, const std::string& key) {
  auto host = client.Get(HostPath(key));
  if (host.ok()) {
    return key;
  }
  if (host.error().code != ErrorCode::kNotFound) {
    return host.error();
  }
  // The server narrows by a hostname part (up to 200 bytes); the exact match is decided here.
  const std::string list =
      key.size() <= 200 ? "/api/v1/hosts?q=" + PercentEncode(key) : std::string("/api/v1/hosts");
  DOZOR_ASSIGN_OR_RETURN(nlohmann::json hosts, GetAllPages(client, list, "hosts"));
  std::vector<std::string> matches;
  if (hosts.contains("hosts") && hosts["hosts"].is_array()) {
    for (const auto& item : hosts["hosts"]) {
      if (JsonStr(item, "hostname") == key) {
        matches.push_back(JsonStr(item, "agent_id"));
      }
    }
  }
  if (matches.size() == 1) {
    return matches.front();
  }
  if (matches.size() > 1) {
    return MakeError(ErrorCode::kInvalidArgument, "hostname '" + key + "' matches " +
                                                      std::to_string(matches.size()) +
                                                      " hosts; use the agent id");
  }
  return MakeError(ErrorCode::kNotFound, "host '" + key + "' not found (by agent id or hostname)");
}

int WithHost(Context& context, const std::string& key,
             const std::function<int(const std::string&)>& call) {
  auto agent_id = ResolveHost(context.client, key);
  if (!agent_id.ok()) {
    return ReportError(context, agent_id.error());
  }
  return call(*agent_id);
}

}  // namespace dozor::ctl
