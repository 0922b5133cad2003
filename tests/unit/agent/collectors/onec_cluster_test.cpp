// The 1C server cluster in depth: the pure parsers (rac output, logcfg.xml, ragent and ras
// command lines, the cluster's processes) and the Linux collector over the onec-cluster fixture
// root (tests/fixtures/hosts/onec-cluster).
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "collector_test_util.hpp"
#include "collectors/linux/onec_linux.hpp"
#include "collectors/linux/process_linux.hpp"
#include "collectors/parsers/onec_parsers.hpp"
#include "dozor/common/files.hpp"
#include "test_util.hpp"

namespace dozor::agent {
namespace onec_cluster_test {

using namespace collector_test;

constexpr const char* kClusterId = "e6c8f5a2-3b1d-4c9e-9f0a-1d2c3b4a5f60";

dozor::v1::Process MakeProcess(uint32_t pid, std::string name, std::string command,
                               int64_t start_time, uint64_t rss_bytes = 1 << 20) {
  dozor::v1::Process process;
  process.set_pid(pid);
  process.set_name(std::move(name));
  process.set_user("usr1cv8");
  process.set_command(std::move(command));
  process.set_start_time(start_time);
  process.set_rss_bytes(rss_bytes);
  return process;
}

TEST_CASE("ParseRacRecords reads key-colon-value blocks, unquotes values and skips noise") {
  const std::string text =
      "cluster                       : 1f0a-cluster\n"
      "host                          : srv-1c\n"
      "port                          : 1541\n"
      "name                          : \"Local \"\"main\"\" cluster\"\n"
      "lifetime-limit                : 86400\n"
      "max-memory-size               : 34359738368\n"
      "security-level                : 1\r\n"
      "\n"
      "\n"
      "warning without a colon\n"
      "cluster                       : 2b-cluster\n"
      "name                          : second\n"
      "descr                         : text : with a colon\n";
  const std::vector<RacRecord> records = ParseRacRecords(text);
  REQUIRE(records.size() == 2);
  CHECK(records[0].Get("name") == "Local \"main\" cluster");
  CHECK(records[1].Get("descr") == "text : with a colon");
  CHECK(records[1].Get("port").empty());
  const dozor::v1::OneCCluster cluster = ClusterFromRac(records[0]);
  CHECK(cluster.id() == "1f0a-cluster");
  CHECK(cluster.port() == 1541);
  CHECK(cluster.lifetime_limit() == 86400);
  CHECK(cluster.max_memory_size() == 34359738368);
  CHECK(cluster.security_level() == 1);
  CHECK(cluster.admin_configured() == -1);
  CHECK(cluster.infobase_count() == -1);
  // Out-of-range and non-numeric values do not pass for numbers.
  const dozor::v1::OneCCluster odd =
      ClusterFromRac(ParseRacRecords("cluster : x\nport : 99999\nsecurity-level : 7\n"
                                     "lifetime-limit : -5\n")[0]);
  CHECK(odd.port() == 0);
  CHECK(odd.security_level() == -1);
  CHECK(odd.lifetime_limit() == 0);
  CHECK(ParseRacRecords("").empty());
  CHECK(ParseRacRecords("\n\n  \n").empty());
}

TEST_CASE("RacDemandsAuthentication recognises rac's refusals in English and Russian") {
  CHECK(RacDemandsAuthentication("Cluster administrator is not authenticated"));
  CHECK(RacDemandsAuthentication("Ошибка: Администратор кластера НЕ АУТЕНТИФИЦИРОВАН"));
  CHECK_FALSE(RacDemandsAuthentication("Connection refused"));
}

TEST_CASE("ParseLogcfg finds log elements, their history, events and skips comments") {
  const std::string text =
      "<?xml version=\"1.0\"?>\n"
      "<config xmlns=\"http://v8.1c.ru/v8/tech-log\">\n"
      "<!-- <log location=\"/old\" history=\"9999\"/> -->\n"
      "<log location=\"/var/log/1c/a&amp;b\" history=\"720\">\n"
      "  <event><eq property=\"name\" value=\"EXCP\"/></event>\n"
      "  <event><eq property=\"name\" value=\"TLOCK\"/></event>\n"
      "  <property name=\"all\"/>\n"
      "</log>\n"
      "<tl:log location='/srv/tl2' history=\"not a number\"/>\n"
      "<dump create=\"false\"/>\n"
      "<event/>\n"
      "</config>\n";
  const std::vector<TechLogElement> logs = ParseLogcfg(text);
  REQUIRE(logs.size() == 2);
  CHECK(logs[0].location == "/var/log/1c/a&b");
  CHECK(logs[0].history_hours == 720);
  CHECK(logs[0].events == 2);
  CHECK(logs[1].location == "/srv/tl2");
  CHECK(logs[1].history_hours == 24);  // 1C's default
  CHECK(logs[1].events == 0);          // self-closing: the <event/> after it is outside
  CHECK(ParseLogcfg("<config><dump create=\"1\"/></config>").empty());
  CHECK(ParseLogcfg("<logcfg><logger/></logcfg>").empty());
  // Truncated or hostile text gives what was read before it.
  CHECK(ParseLogcfg("<log location=\"/x\"").empty());
  CHECK(ParseLogcfg("<log location=\"/x>").size() == 1);
  CHECK(ParseLogcfg("<!-- never closed <log location=\"/x\"/>").empty());
}

TEST_CASE("Ragent and ras command lines give the registry directory and ras's ports") {
  CHECK(RagentRegistryDirectory("/opt/1cv8/x86_64/8.3.24.1467/ragent -daemon -d "
                                "\"/srv/1c reg\" -port 1540") == "/srv/1c reg");
  CHECK(RagentRegistryDirectory("/opt/1cv8/x86_64/8.3.24.1467/ragent -daemon").empty());
  CHECK(RagentRegistryDirectory("ragent -d").empty());
  const RasEndpoints ras = ParseRasCommandLine(
      "/opt/1cv8/x86_64/8.3.24.1467/ras cluster --daemon --port=2545 "
      "localhost:2540");
  CHECK(ras.listen_port == 2545);
  CHECK(ras.agent_port == 2540);
  const RasEndpoints spaced = ParseRasCommandLine("ras cluster -p 1600");
  CHECK(spaced.listen_port == 1600);
  CHECK(spaced.agent_port == 1540);
  const RasEndpoints defaults = ParseRasCommandLine("ras cluster --port=99999 host:0");
  CHECK(defaults.listen_port == 1545);
  CHECK(defaults.agent_port == 1540);
  CHECK(IsHaspManagerProcess("aksusbd"));
  CHECK(IsHaspManagerProcess("hasplmd"));
  CHECK(IsHaspManagerProcess("HASPLM.EXE"));
  CHECK_FALSE(IsHaspManagerProcess("hasp"));
}

TEST_CASE("FindOneCServerAgents groups the cluster's processes by version and counts restarts") {
  google::protobuf::RepeatedPtrField<dozor::v1::Process> processes;
  const std::string v24 = "/opt/1cv8/x86_64/8.3.24.1467/";
  const std::string v22 = "/opt/1cv8/x86_64/8.3.22.1709/";
  *processes.Add() = MakeProcess(10, "ragent",
                                 v24 +
                                     "ragent -daemon -port 2540 -regport 2541 "
                                     "-range 2560:2591",
                                 1000);
  *processes.Add() = MakeProcess(11, "rmngr", v24 + "rmngr -port 2541", 1005);
  *processes.Add() = MakeProcess(12, "rphost", v24 + "rphost -regport 2541", 1010, 5ULL << 30);
  *processes.Add() = MakeProcess(13, "rphost", v24 + "rphost -regport 2541", 1000 + 601);
  *processes.Add() = MakeProcess(14, "rphost", v24 + "rphost -regport 2541", 1000 + 600);
  *processes.Add() = MakeProcess(20, "ragent", v22 + "ragent -daemon", 0);
  *processes.Add() = MakeProcess(21, "rphost", v22 + "rphost", 5000);
  *processes.Add() = MakeProcess(30, "rphost", "/opt/1cv8/x86_64/8.3.20.1000/rphost", 7000);
  *processes.Add() = MakeProcess(40, "postgres", "postgres: checkpointer", 10);
  const auto agents = FindOneCServerAgents(processes);
  REQUIRE(agents.size() == 2);
  CHECK(agents[0].version() == "8.3.24.1467");
  CHECK(agents[0].agent_port() == 2540);
  CHECK(agents[0].manager_port() == 2541);
  CHECK(agents[0].range_first() == 2560);
  CHECK(agents[0].range_last() == 2591);
  REQUIRE(agents[0].processes_size() == 4);
  CHECK(agents[0].processes(0).role() == "rmngr");
  CHECK(agents[0].processes(1).rss_bytes() == 5ULL << 30);
  // Started 601 s after the agent: restarted; 600 s: still the cluster's start.
  CHECK(agents[0].restarted_workers() == 1);
  // The old platform's agent: its own rphost; its start time unknown, so nothing is "restarted".
  REQUIRE(agents[1].processes_size() == 1);
  CHECK(agents[1].processes(0).pid() == 21);
  CHECK(agents[1].restarted_workers() == 0);
  CHECK(agents[1].agent_port() == 1540);

  // One agent: an rphost whose version cannot be told is its own.
  google::protobuf::RepeatedPtrField<dozor::v1::Process> single;
  *single.Add() = MakeProcess(
      10, "ragent.exe", "\"C:\\Program Files\\1cv8\\8.3.24.1467\\bin\\ragent.exe\" -srvc", 100);
  *single.Add() = MakeProcess(11, "rphost.exe", "rphost.exe", 100);
  const auto windows = FindOneCServerAgents(single);
  REQUIRE(windows.size() == 1);
  CHECK(windows[0].version() == "8.3.24.1467");
  CHECK(windows[0].processes_size() == 1);

  google::protobuf::RepeatedPtrField<dozor::v1::Process> none;
  *none.Add() = MakeProcess(30, "rphost", "/opt/1cv8/x86_64/8.3.20.1000/rphost", 7000);
  CHECK(FindOneCServerAgents(none).empty());
}

TEST_CASE(
    "The onec-cluster fixture root gives the cluster, rac's answers, tech log and licensing") {
  const CollectContext ctx = FixtureContext("onec-cluster");
  dozor::v1::Software software;
  REQUIRE(CollectProcesses(ctx, &software).ok());
  auto* app = software.add_applications();
  app->set_name("1C:Enterprise");
  app->set_version("8.3.24.1467");
  app->set_path("/opt/1cv8/x86_64/8.3.24.1467");
  app->set_kind("server");
  REQUIRE(CollectOneCServerAgents(ctx, &software).ok());
  REQUIRE(CollectOneCTechLogs(ctx, &software).ok());
  REQUIRE(CollectOneCLicensing(ctx, &software).ok());

  REQUIRE(software.onec_server_agents_size() == 1);
  const auto& agent = software.onec_server_agents(0);
  CHECK(agent.version() == "8.3.24.1467");
  CHECK(agent.user() == "usr1cv8");
  CHECK(agent.registry_path() == "/home/usr1cv8/.1cv8/1C/1cv8");
  CHECK(agent.start_time() == 1793318400 + 10);
  CHECK(agent.processes_size() == 5);  // rmngr and four rphost
  CHECK(agent.restarted_workers() == 3);
  uint64_t largest = 0;
  for (const auto& process : agent.processes()) largest = std::max(largest, process.rss_bytes());
  CHECK(largest == 40ULL << 30);
  CHECK(agent.rac_status() == "ok");
  REQUIRE(agent.clusters_size() == 1);
  const auto& cluster = agent.clusters(0);
  CHECK(cluster.id() == kClusterId);
  CHECK(cluster.name() == "Главный кластер");
  CHECK(cluster.port() == 1541);
  CHECK(cluster.admin_configured() == 0);
  CHECK(cluster.infobase_count() == 2);

  REQUIRE(software.onec_tech_logs_size() == 1);
  const auto& log = software.onec_tech_logs(0);
  CHECK(log.config_path() == "/opt/1cv8/conf/logcfg.xml");
  CHECK(log.enabled());
  CHECK(log.location() == "/var/log/1c/techlog");
  CHECK(log.history_hours() == 720);
  CHECK(log.size_complete());
  CHECK(log.size_bytes() > 0);

  REQUIRE(software.onec_licensing().licence_files_size() == 1);
  CHECK(software.onec_licensing().licence_files(0) == "/var/1C/licenses/20260301120000.lic");
  CHECK(software.onec_licensing().hasp_manager_processes_size() == 0);
  REQUIRE(software.license_clients_size() == 1);
  CHECK(software.license_clients(0).config_path() == "/opt/1cv8/conf/nethasp.ini");
  REQUIRE(software.license_clients(0).servers_size() == 1);
  CHECK(software.license_clients(0).servers(0) == "127.0.0.1");
  CHECK(software.license_clients(0).broadcast() == 0);
}

TEST_CASE(
    "A cluster whose rac asks for credentials has an administrator, and without ras rac is not "
    "asked") {
  dozor::testing::TempDir dir;
  const std::filesystem::path root = dir.path() / "machine";
  std::filesystem::copy(
      HostRoot("onec-cluster"), root,
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks);
  const std::string base =
      std::string("dozor-fixture/commands/rac-cluster-admin-list-") + kClusterId;
  REQUIRE(WriteFileAtomic(root / (base + ".exit"), "255\n").ok());
  const CollectContext ctx = RootContext(root);
  dozor::v1::Software software;
  REQUIRE(CollectProcesses(ctx, &software).ok());
  REQUIRE(CollectOneCServerAgents(ctx, &software).ok());
  REQUIRE(software.onec_server_agents_size() == 1);
  REQUIRE(software.onec_server_agents(0).clusters_size() == 1);
  CHECK(software.onec_server_agents(0).clusters(0).admin_configured() == 1);

  std::filesystem::remove_all(root / "proc/3010");  // ras stopped
  dozor::v1::Software without_ras;
  REQUIRE(CollectProcesses(ctx, &without_ras).ok());
  REQUIRE(CollectOneCServerAgents(ctx, &without_ras).ok());
  REQUIRE(without_ras.onec_server_agents_size() == 1);
  CHECK(without_ras.onec_server_agents(0).rac_status() == "no ras");
  CHECK(without_ras.onec_server_agents(0).clusters_size() == 0);
}

}  // namespace onec_cluster_test
}  // namespace dozor::agent
