// What every dozorctl command shares: the API client, the output streams, --json and the output
// language, the stored login session, how replies and errors are printed, and the URL and
// host-name helpers of the management API.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <istream>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ctl/api_client.hpp"
#include "ctl/format.hpp"
#include "ctl/labels.hpp"
#include "ctl/session_file.hpp"
#include "dozor/common/result.hpp"

namespace dozor::ctl {

// The login session of this invocation.
struct SessionState {
  std::filesystem::path path;           // where `login` stores it; empty when there is no home
  std::optional<StoredSession> stored;  // the file's content, when there is a usable one
  bool in_use = false;                  // the client authenticates with stored->token
};

// One invocation's state, built after the command line parsed cleanly.
struct Context {
  ApiClient& client;
  std::ostream& out;
  std::ostream& err;
  std::istream& in;   // standard input: --password-stdin, `notes set -`
  bool json = false;  // --json: print the API's JSON instead of rendering it
  Lang lang = Lang::kEn;
  bool lang_given = false;  // --lang or DOZOR_LANG, not the session's or the default
  SessionState& session;
};

// What the chosen leaf command runs. Commands record it in their parse callback; RunCli runs it
// once the whole line (global options after the command included) has parsed.
using Action = std::function<int(Context&)>;

// Text from the server (hostnames, package names, evidence) made safe for a terminal, line by
// line: control characters and invalid UTF-8 shown as "\xNN", never sent raw (an ESC sequence
// in a hostname must not reach the operator's terminal).
std::string TerminalText(std::string_view text);

// Prints "dozorctl: <message>"; the exit code for the error (unreachable or API error).
int ReportError(const Context& context, const Error& error);

// Prints JSON the way --json does: pretty, invalid UTF-8 replaced.
void PrintJson(const Context& context, const nlohmann::json& value);

// Prints the reply (verbatim JSON with --json, else rendered) or the error; returns the exit code.
int Emit(const Context& context, const Result<nlohmann::json>& reply,
         const std::function<std::string(const nlohmann::json&)>& render);
// The same with a renderer of format.hpp, which is given the output language.
using Renderer = std::string (*)(const nlohmann::json&, Lang);
int Emit(const Context& context, const Result<nlohmann::json>& reply, Renderer render);

// `text` as one output line.
std::string Message(std::string text);

// body[key] = *value when the option was given.
template <typename T>
void PutIfSet(nlohmann::json& body, const char* key, const std::optional<T>& value) {
  if (value.has_value()) {
    body[key] = *value;
  }
}

// "?a=1&b=2" from the non-empty pairs (values percent-encoded); "" when none.
std::string QueryString(const std::vector<std::pair<std::string, std::string>>& pairs);

// A paged list of the API (organisations, hosts, findings) read to its end or to max_rows,
// following next_cursor: the last page's answer with the rows of every page under `key`.
inline constexpr int64_t kEveryRow = 1'000'000;
Result<nlohmann::json> GetAllPages(ApiClient& client, std::string_view path, std::string_view key,
                                   int64_t max_rows = kEveryRow);

std::string OrgPath(const std::string& org, std::string_view suffix = "");
std::string HostPath(const std::string& agent_id, std::string_view suffix = "");
std::string FindingPath(int64_t id, std::string_view suffix = "");

// Organisation names by id, for renderers of replies that carry only ids. Best effort: empty when
// the list cannot be had (the ids are shown then).
OrgNames FetchOrgNames(ApiClient& client);

// Emit for a renderer that names the organisations of the ids in the reply: the names are fetched
// only when the reply is rendered (not for --json, not after an error).
using RendererWithOrgs = std::string (*)(const nlohmann::json&, const OrgNames&, Lang);
int EmitWithOrgNames(Context& context, const Result<nlohmann::json>& reply,
                     RendererWithOrgs render);

// Accepts an agent id or a hostname; a hostname must match exactly one host.
Result<std::string> ResolveHost(ApiClient& client, const std::string& key);

// Runs `call` with the agent id `key` resolves to, or reports why it does not resolve.
int WithHost(Context& context, const std::string& key,
             const std::function<int(const std::string&)>& call);

}  // namespace dozor::ctl
