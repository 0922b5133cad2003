// Pure parsers for the 1C:Enterprise server cluster: the output of the administration utility
// `rac` ("key : value" blocks), the technological log configuration (logcfg.xml), and the
// cluster's processes (ragent, rmngr, rphost) picked out of the process list. No I/O here.
//
// rac output, logcfg.xml and command lines are text a local administrator shapes: every function
// answers a value for arbitrary bytes (unknown forms give empty or default results), with counts
// bounded so a hostile file cannot make the inventory huge.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dozor/v1/agent.pb.h"

namespace dozor::agent {

// One block of `rac` output: the "key : value" lines between blank lines, in order. Keys are
// lower-cased and trimmed; values trimmed and unquoted ("\"Local cluster\"" -> "Local cluster",
// a doubled quote inside is one quote).
struct RacRecord {
  std::vector<std::pair<std::string, std::string>> fields;
  // The first value of `key`, "" when absent.
  [[nodiscard]] std::string Get(std::string_view key) const;
};

// The blocks of a `rac ... list` output, at most max_records. Lines without " : " (banners,
// errors) are ignored; a block with no field is not a record.
[[nodiscard]] std::vector<RacRecord> ParseRacRecords(std::string_view text,
                                                     size_t max_records = 256);

// A `rac cluster list` record as a cluster (admin_configured and infobase_count -1: other
// commands say).
[[nodiscard]] dozor::v1::OneCCluster ClusterFromRac(const RacRecord& record);

// What a failed `rac cluster admin list` means: true when rac refused for want of the cluster
// administrator's credentials ("Cluster administrator is not authenticated",
// "Администратор кластера не аутентифицирован"): an administrator is configured.
[[nodiscard]] bool RacDemandsAuthentication(std::string_view output);

// One <log> element of logcfg.xml.
struct TechLogElement {
  std::string location;
  int32_t history_hours = 24;  // 1C's default when the attribute is absent or not a number
  uint32_t events = 0;         // <event> children
};

// The <log> elements of a logcfg.xml, in order (at most max_elements). XML comments are skipped,
// attribute values decoded (&amp; &lt; &gt; &quot; &apos;), a namespace prefix on the element
// name tolerated (<tl:log>). Malformed XML gives what could be read before it.
[[nodiscard]] std::vector<TechLogElement> ParseLogcfg(std::string_view text,
                                                      size_t max_elements = 64);

// The -d directory of a ragent command line (the cluster registry), quotes removed; "" when the
// command line does not say.
[[nodiscard]] std::string RagentRegistryDirectory(std::string_view command_line);

// The port the administration server (ras) listens on, from its command line ("--port=1545",
// "--port 1545", "-p 1545"), 1545 by default; and the server agent it administers ("localhost:1540"
// as its last argument), 1540 by default.
struct RasEndpoints {
  uint32_t listen_port = 1545;
  uint32_t agent_port = 1540;
};
[[nodiscard]] RasEndpoints ParseRasCommandLine(std::string_view command_line);

// True for the HASP licence manager's processes: hasplm, hasplmd, aksusbd (Linux), and their
// .exe names.
[[nodiscard]] bool IsHaspManagerProcess(std::string_view name);

// Working processes started more than this after their server agent count as restarted.
inline constexpr int64_t kWorkerRestartGraceSeconds = 600;

// The running 1C server agents of a process list (ragent), each with its rmngr and rphost
// processes (matched by platform version; with one agent, every one), ports from its command line
// (defaults where it says none), its registry directory ("" when the command line has no -d: the
// caller knows the service account's home) and the count of working processes started more than
// kWorkerRestartGraceSeconds after it. rac_status and clusters are left for the caller. At most 16
// agents and 512 processes.
[[nodiscard]] std::vector<dozor::v1::OneCServerAgent> FindOneCServerAgents(
    const google::protobuf::RepeatedPtrField<dozor::v1::Process>& processes);

}  // namespace dozor::agent
