// Fuzz target: the agent's parsers of text read from the machine (/proc, /sys, /etc, package
// databases, command output). Any local user can shape much of it (process names, mount points,
// package fields), so each parser must answer a value or an error for arbitrary bytes. The first
// input byte picks the parser, the rest is its text.
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/parsers/account_parsers.hpp"
#include "collectors/parsers/backup_parsers.hpp"
#include "collectors/parsers/database_parsers.hpp"
#include "collectors/parsers/firewall_parsers.hpp"
#include "collectors/parsers/firewalld_parsers.hpp"
#include "collectors/parsers/hardware_parsers.hpp"
#include "collectors/parsers/health_parsers.hpp"
#include "collectors/parsers/network_parsers.hpp"
#include "collectors/parsers/onec_parsers.hpp"
#include "collectors/parsers/os_parsers.hpp"
#include "collectors/parsers/package_parsers.hpp"
#include "collectors/parsers/pci_parsers.hpp"
#include "collectors/parsers/repository_parsers.hpp"
#include "collectors/parsers/storage_parsers.hpp"
#include "collectors/parsers/text.hpp"
#include "collectors/parsers/xml_tags.hpp"

namespace {

using namespace dozor::agent;  // NOLINT(google-build-using-namespace)

// The parsers a selector reaches; the first byte of an input picks one, modulo this count.
constexpr uint8_t kParserCount = 56;

void ParseAs(uint8_t which, std::string_view text) {
  const uint8_t selector = which % kParserCount;
  switch (selector) {
    case 0:
      (void)ParseCpuinfo(text);
      break;
    case 1:
      (void)ParseMeminfoTotal(text);
      break;
    case 2: {
      dozor::v1::BlockDevice disk;
      (void)ParseSmartctlJson(text, static_cast<int>(text.size() % 8), &disk);
      break;
    }
    case 3:
      (void)NormalizeBiosDate(text);
      break;
    case 4:
      (void)ParseOsRelease(text);
      break;
    case 5:
      (void)ParsePasswd(text);
      break;
    case 6:
      (void)ParseGroup(text);
      break;
    case 7:
      (void)ParseAptSimulation(text);
      break;
    case 8:
      (void)CountDnfCheckUpdate(text);
      (void)CountDnfSecurityUpdates(text);
      break;
    case 9:
      (void)ParseAdjtimexFixture(text);
      break;
    case 10:
      (void)ParseProcStat(text);
      break;
    case 11:
      (void)ParseLoadavg(text);
      break;
    case 12:
      (void)ParseMeminfo(text);
      break;
    case 13:
      (void)ParseDiskstats(text);
      break;
    case 14:
      (void)ParseNetDev(text);
      break;
    case 15:
      (void)ParseMounts(text);
      (void)DecodeMountEscapes(text);
      break;
    case 16:
      (void)ParseProcPidStat(text);
      break;
    case 17:
      (void)ParseProcNetSockets(text, "tcp");
      (void)ParseProcNetSockets(text, "udp6", /*host_little_endian=*/false);
      break;
    case 18:
      (void)ParseProcNetRoute(text);
      (void)ParseIpv6Route(text);
      break;
    case 19:
      (void)ParseIfInet6(text);
      (void)ParseIpv4AddressList(text);
      break;
    case 20:
      (void)UsesResolvedStub(ParseResolvConf(text));
      break;
    case 21:
      (void)ParseDpkgStatus(text);
      break;
    case 22:
      (void)ParseRpmHeader(text);
      break;
    case 23:
      (void)ParseSystemctlListUnits(text);
      (void)UnitFileHasInstallSection(text);
      break;
    case 24:
    case 25:
      // Crontabs (user and system format), and what each job line runs.
      for (const CronEntry& entry : ParseCrontab(text, selector == 25)) {
        (void)FindBackupCommands(entry.command);
        (void)ScriptOf(entry.command);
        (void)ScheduleIntervalSeconds(entry.schedule);
      }
      break;
    case 26:
      // A shell script's lines, as the collector reads a job's script.
      ForEachLine(text, [](std::string_view line) {
        for (const BackupCommand& command : FindBackupCommands(line)) {
          (void)LocalDestinationDirectory(command.destination);
        }
        (void)ShellWords(line);
      });
      break;
    case 27:
      (void)ParsePgProbackupControl(text);
      (void)ParseBarmanBackupInfo(text);
      (void)NewestPgBackrestBackup(text);
      (void)ParseTimestampWithOffset(text);
      break;
    case 28:
      (void)ParseTimerUnit(text);
      (void)ParseExecStart(text);
      (void)ScheduleIntervalSeconds(text);
      (void)ScheduleIntervalSeconds("OnCalendar=" + std::string(text.substr(0, 256)));
      break;
    case 29:
      (void)ParseSystemctlShow(text);
      (void)IniValue(text, "repo1-path");
      // pgbackrest.conf's [stanza] keys, and a conninfo (Barman's, pg_dump -d) of the whole text.
      (void)IniSectionValue(text, "main", "pg1-path");
      (void)ParsePostgresConninfo(text);
      (void)ParsePostgresConninfo(IniSectionValue(text, "pg", "conninfo"));
      break;
    case 30:
      (void)ParsePostgresConf(text);
      break;
    case 31:
      (void)ParsePgHba(text);
      (void)Ipv4MaskPrefix(text);
      break;
    case 32: {
      std::vector<dozor::v1::StorageArray> arrays = ParseMdstat(text);
      dozor::v1::StorageArray array;
      ApplyMdSysfs(text, text, text, arrays.empty() ? &array : &arrays.front());
      break;
    }
    case 33: {
      std::vector<dozor::v1::StorageArray> pools = ParseZpoolList(text);
      ApplyZpoolStatus(text, &pools);
      break;
    }
    case 34:
      (void)ParseStorcliVirtualDrives(text);
      break;
    case 35: {
      dozor::v1::Ups ups;
      ApplyUpsc(text, &ups);
      (void)ApplyApcaccess(text, &ups);
      (void)ParseUpsmonMonitors(text);
      (void)ParseNutUpsConfNames(text);
      (void)ParseNutMode(text);
      break;
    }
    case 36:
      for (const auto& record : ParseRacRecords(text)) (void)ClusterFromRac(record);
      (void)RacDemandsAuthentication(text);
      break;
    case 37:
      (void)ParseLogcfg(text);
      break;
    case 38:
      (void)RagentRegistryDirectory(text);
      (void)ParseRasCommandLine(text);
      (void)IsHaspManagerProcess(text);
      (void)OneCVersionFromCommandLine(text);
      break;
    case 39: {
      // A process list, one "name command line" per line (NULs as in /proc/<pid>/cmdline).
      google::protobuf::RepeatedPtrField<dozor::v1::Process> processes;
      uint32_t pid = 1;
      ForEachLine(text, [&](std::string_view line) {
        auto* process = processes.Add();
        process->set_pid(pid++);
        const size_t space = line.find(' ');
        process->set_name(std::string(line.substr(0, space)));
        process->set_command(std::string(line));
        process->set_start_time(static_cast<int64_t>(line.size()) * 7);
      });
      (void)FindOneCServerAgents(processes);
      break;
    }
    case 40:
      (void)ParseAptSourcesList(text, "sources.list");
      (void)IsOfficialRepositoryUri(text);
      break;
    case 41:
      (void)ParseAptDeb822Sources(text, "x.sources");
      break;
    case 42:
      (void)ParseYumRepo(text, "x.repo");
      break;
    case 43: {
      // The streaming dpkg parser fed in small chunks: lines split anywhere between them.
      google::protobuf::RepeatedPtrField<dozor::v1::Package> packages;
      DpkgStatusParser parser(&packages);
      const size_t chunk = 1 + text.size() % 7;
      for (size_t at = 0; at < text.size(); at += chunk) parser.Feed(text.substr(at, chunk));
      (void)parser.Finish();
      break;
    }
    case 44:
      (void)ParseMeminfoSwapTotal(text);
      (void)DetectContainer(text.size() % 2 == 0, text.size() % 3 == 0, text, text);
      break;
    case 45:
      // Binary login records: the tail of wtmp as utmp records, and every lastlog slot in it.
      (void)ParseWtmp(text, 1'800'000'000);
      for (size_t at = 0; at < text.size(); at += kLastlogRecordBytes) {
        (void)ParseLastlogRecord(text.substr(at, kLastlogRecordBytes), 1'800'000'000);
      }
      break;
    case 46:
      // /etc/group with the same text as passwd (primary members), bounded.
      (void)BuildLocalGroups(ParsePasswd(text), ParseGroup(text), 64);
      break;
    case 47: {
      // pci.ids streamed in small chunks; the ids asked for are the first 4-hex-digit words of the
      // text itself, so the fuzzer can reach matching vendor and device lines.
      std::map<std::string, std::set<std::string>> wanted;
      for (size_t at = 0; at + 4 <= text.size() && at < 64; at += 4) {
        std::string id = NormalizePciId(text.substr(at, 4), 4);
        if (!id.empty()) wanted[id].insert(id);
      }
      wanted["8086"].insert("2922");
      PciIdsLookup lookup(std::move(wanted));
      const size_t chunk = 1 + text.size() % 13;
      for (size_t at = 0; at < text.size(); at += chunk) lookup.Feed(text.substr(at, chunk));
      lookup.Finish();
      (void)lookup.VendorName("8086");
      (void)lookup.DeviceName("8086", "2922");
      (void)PciClassName(text.substr(0, 6));
      (void)NormalizePciId(text, 6);
      break;
    }
    case 48:
      for (const auto& database : ParsePsqlDatabases(text)) {
        (void)FileNameCarriesDatabase(text, database.name);
      }
      break;
    case 49: {
      const FirewallRuleset ruleset = ParseNftRuleset(text);
      (void)InputPolicy(ruleset, 6);
      for (uint32_t port : {22u, 5432u, static_cast<uint32_t>(text.size() % 65536)}) {
        (void)JudgeTcpPort(ruleset, 4, port);
        (void)JudgeTcpPort(ruleset, 6, port);
      }
      break;
    }
    case 50: {
      const FirewallRuleset ruleset = ParseIptablesSave(text);
      const FirewallRuleset ufw = ParseUfwRules(text, ParseUfwDefaultInputPolicy(text));
      (void)InputPolicy(ruleset, 4);
      (void)UfwEnabled(text);
      for (uint32_t port : {22u, 5432u, static_cast<uint32_t>(text.size() % 65536)}) {
        (void)JudgeTcpPort(ruleset, 4, port);
        (void)JudgeTcpPort(ufw, 4, port);
      }
      break;
    }
    case 51:
      // /etc/shadow: expiry and inactivity day counts, at a time near and far from them.
      (void)ShadowLockedOutAccounts(text, 1'800'000'000);
      (void)ShadowLockedOutAccounts(text, 0);
      break;
    case 52: {
      // The rows of a SQLite login store (lastlog2, wtmpdb) as tab-separated "user time tty host"
      // lines: any bytes in the texts, any 64-bit time, in both units.
      std::vector<LoginStoreRow> rows;
      ForEachLine(text, [&](std::string_view line) {
        std::vector<std::string_view> fields = Split(line, '\t');
        LoginStoreRow row;
        row.user = std::string(fields[0]);
        if (fields.size() > 1) (void)ParseNumber(fields[1], &row.time);
        if (fields.size() > 2) row.tty = std::string(fields[2]);
        if (fields.size() > 3) row.remote_host = std::string(fields[3]);
        rows.push_back(std::move(row));
      });
      (void)NewestStoreLogins(rows, LoginTimeUnit::kSeconds, 1'800'000'000);
      (void)NewestStoreLogins(rows, LoginTimeUnit::kMicroseconds, 1'800'000'000);
      break;
    }
    case 53: {
      // A zone file as the default zone, the same text as its services' definition.
      FirewalldConfig config;
      config.default_zone = "public";
      config.zones["public"] = ParseFirewalldZone(text);
      config.zones["extra"] = ParseFirewalldZone(text.substr(text.size() / 2));
      config.interface_zones = {"extra", "absent"};
      for (const auto& admit : config.zones["public"].admits) {
        if (!admit.service.empty()) config.services[admit.service] = ParseFirewalldService(text);
      }
      const FirewallRuleset ruleset = BuildFirewalldRuleset(config, 512);
      (void)InputPolicy(ruleset, 4);
      for (uint32_t port : {22u, 5432u, static_cast<uint32_t>(text.size() % 65536)}) {
        (void)JudgeTcpPort(ruleset, 4, port);
        (void)JudgeTcpPort(ruleset, 6, port);
      }
      break;
    }
    case 54:
      (void)ParseFirewalldService(text);
      (void)FirewalldPolicyReachesHost(text);
      (void)ParseFirewalldDefaultZone(text);
      (void)ParseConnectionZone(text);
      (void)IsFirewalldName(text);
      break;
    case 55:
      ForEachXmlTag(text, 4096, [](const XmlTag& tag) {
        std::string value;
        (void)XmlAttribute(tag.attributes, "name", &value);
        (void)XmlAttribute(tag.attributes, "port", &value);
        return true;
      });
      (void)DecodeXmlEntities(text);
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  ParseAs(data[0], std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  return 0;
}
