#include "report/report_coverage.hpp"

#include <algorithm>
#include <string>

#include "report/text_util.hpp"

namespace dozor::server::report {
namespace {

// "1 машина", "2 машины", "5 машин".
std::string MachinesRu(int64_t n) { return RussianCount(n, "машина", "машины", "машин"); }

std::string Machines(int64_t n, bool ru) {
  return ru ? MachinesRu(n) : std::to_string(n) + (n == 1 ? " machine" : " machines");
}

std::string FamilyLabel(const EstateHost& host, bool ru) {
  if (host.os_family == "windows") {
    return "Windows";
  }
  if (host.os_family == "linux" || !host.os_id.empty()) {
    return "Linux";
  }
  return ru ? "ОС неизвестна" : "unknown OS";
}

std::string KindLabel(const EstateHost& host, bool ru) {
  if (host.last_inventory_ms <= 0 || !host.role) {
    return ru ? "без инвентаризации" : "no inventory yet";
  }
  const bool server = *host.role == HostRole::kServer;
  std::string what =
      ru ? (server ? "серверы" : "рабочие станции") : (server ? "servers" : "workstations");
  return FamilyLabel(host, ru) + " · " + what;
}

std::string Cut(const std::string& text, size_t max_bytes) {
  return text.size() <= max_bytes ? text : SanitizeUtf8(text.substr(0, max_bytes)) + "…";
}

void AddDetail(CoverageGap& gap, std::string line) {
  if (gap.details.size() < kMaxCoverageDetails) {
    gap.details.push_back(SanitizeUtf8(line));
  }
}

}  // namespace

CoverageSection AssessCoverage(const AuditReport& report, const std::vector<EstateHost>& hosts,
                               std::optional<int64_t> declared, int64_t now_ms) {
  const bool ru = report.lang == "ru";
  CoverageSection out;
  out.seen = static_cast<int64_t>(hosts.size());
  out.declared = declared;
  for (const auto& host : hosts) {
    const std::string label = KindLabel(host, ru);
    auto it = std::find_if(out.seen_by_kind.begin(), out.seen_by_kind.end(),
                           [&](const CountEntry& entry) { return entry.key == label; });
    if (it == out.seen_by_kind.end()) {
      out.seen_by_kind.push_back(CountEntry{label, label, 1});
    } else {
      ++it->count;
    }
  }
  std::sort(out.seen_by_kind.begin(), out.seen_by_kind.end(),
            [](const CountEntry& a, const CountEntry& b) {
              return a.count != b.count ? a.count > b.count : a.label < b.label;
            });

  if (hosts.empty()) {
    out.gaps.push_back(
        CoverageGap{"no-hosts",
                    ru ? "Ни одна машина клиента ещё не подключена: аудит ничего не видел."
                       : "No machine of the client runs an agent yet: the audit saw nothing.",
                    {}});
  }
  if (declared && *declared > out.seen) {
    const int64_t missing = *declared - out.seen;
    CoverageGap gap;
    gap.kind = "declared-unseen";
    gap.text = ru ? "По словам клиента, машин " + std::to_string(*declared) + ", агент стоит на " +
                        std::to_string(out.seen) + ": " + MachinesRu(missing) +
                        " аудит не видел (их диски, резервные копии и обновления не проверены)."
                  : "The client has " + std::to_string(*declared) + " machines by its own count; " +
                        std::to_string(out.seen) + " run an agent: " + Machines(missing, false) +
                        " were not audited (their disks, backups and updates are unchecked).";
    out.gaps.push_back(std::move(gap));
  }

  CoverageGap no_inventory{"no-inventory", "", {}};
  CoverageGap silent{"not-reporting", "", {}};
  CoverageGap smart{"smart-unavailable", "", {}};
  CoverageGap collectors{"collector-failing", "", {}};
  CoverageGap parts{"part-unavailable", "", {}};
  int64_t no_inventory_n = 0, silent_n = 0, smart_n = 0, collectors_n = 0, parts_n = 0;
  for (const auto& host : hosts) {
    const std::string name = SanitizeUtf8(host.hostname.empty() ? host.agent_id : host.hostname);
    if (host.last_inventory_ms <= 0) {
      ++no_inventory_n;
      AddDetail(no_inventory, name);
      continue;  // nothing else about it is known
    }
    if (host.last_seen_ms > 0 && now_ms - host.last_seen_ms > kCoverageSilentMs) {
      ++silent_n;
      AddDetail(silent, name + " (" + (ru ? "последний отчёт " : "last report ") +
                            ReportTime(report, host.last_seen_ms) + ")");
    }
    if (!host.virtual_machine && host.disk_count > 0 && !host.smartctl_available) {
      ++smart_n;
      AddDetail(smart, name);
    }
    bool collector_failed = false, part_missing = false;
    for (const auto& [part, why] : host.gaps) {
      constexpr std::string_view kCollector = "collector:";
      if (part.rfind(kCollector, 0) == 0) {
        collector_failed = true;
        AddDetail(collectors, name + ": " + part.substr(kCollector.size()) + ": " + Cut(why, 160));
      } else {
        part_missing = true;
        AddDetail(parts, name + ": " + part + ": " + Cut(why, 160));
      }
    }
    collectors_n += collector_failed ? 1 : 0;
    parts_n += part_missing ? 1 : 0;
  }
  if (no_inventory_n > 0) {
    no_inventory.text =
        ru ? "Агент зарегистрирован, но инвентаризация ещё не пришла: " +
                 MachinesRu(no_inventory_n) + "."
           : "Enrolled but no inventory received yet: " + Machines(no_inventory_n, false) + ".";
    out.gaps.push_back(std::move(no_inventory));
  }
  if (silent_n > 0) {
    silent.text = ru ? "Не присылали данных больше 3 дней: " + MachinesRu(silent_n) +
                           "; их находки — на момент последнего отчёта."
                     : "Silent for more than 3 days: " + Machines(silent_n, false) +
                           "; their findings are as of their last report.";
    out.gaps.push_back(std::move(silent));
  }
  if (smart_n > 0) {
    smart.text =
        ru ? "Состояние дисков (SMART) неизвестно на физических машинах: " + MachinesRu(smart_n) +
                 " (нет smartctl или доступа к дискам)."
           : "Disk health (SMART) unknown on physical machines: " + Machines(smart_n, false) +
                 " (no smartctl or no access to the disks).";
    out.gaps.push_back(std::move(smart));
  }
  if (collectors_n > 0) {
    collectors.text = ru ? "Сборщики агента завершились с ошибкой: " + MachinesRu(collectors_n) +
                               "; то, что они проверяют, не оценено."
                         : "Agent collectors failing: " + Machines(collectors_n, false) +
                               "; what they check was not assessed.";
    out.gaps.push_back(std::move(collectors));
  }
  if (parts_n > 0) {
    parts.text =
        ru ? "Часть сведений агент прочитать не смог: " + MachinesRu(parts_n) + "."
           : "Parts of the inventory the agent could not read: " + Machines(parts_n, false) + ".";
    out.gaps.push_back(std::move(parts));
  }
  out.limited = !out.gaps.empty();
  return out;
}

}  // namespace dozor::server::report
