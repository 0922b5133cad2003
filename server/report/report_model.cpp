#include "report/report_model.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "domain/local_time.hpp"
#include "dozor/common/text.hpp"
#include "dozor/common/utc_time.hpp"
#include "report/text_util.hpp"
#include "rules/rule.hpp"

namespace dozor::server::report {
namespace {

bool IsRu(std::string_view lang) { return NormalizeLanguage(lang) == "ru"; }

struct Pair {
  std::string_view key, en, ru;
};

std::string Lookup(const std::vector<Pair>& table, std::string_view key, std::string_view lang) {
  for (const auto& pair : table) {
    if (pair.key == key) {
      return std::string(IsRu(lang) ? pair.ru : pair.en);
    }
  }
  return std::string(key);
}

const std::vector<Pair>& Severities() {
  static const std::vector<Pair> table = {{"critical", "critical", "критично"},
                                          {"high", "high", "высокая"},
                                          {"medium", "medium", "средняя"},
                                          {"low", "low", "низкая"},
                                          {"info", "info", "информация"}};
  return table;
}

std::string JsonScalarText(const nlohmann::json& value) {
  if (value.is_string()) {
    return value.get<std::string>();
  }
  if (value.is_number_integer() || value.is_number_unsigned()) {
    return value.dump();
  }
  if (value.is_number_float()) {
    double number = value.get<double>();
    if (std::isfinite(number) && number == std::floor(number) && std::fabs(number) < 1e15) {
      return std::to_string(static_cast<int64_t>(number));
    }
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), "%.6g", number);
    return buffer;
  }
  if (value.is_null()) {
    return "";
  }
  if (value.is_boolean()) {
    return value.get<bool>() ? "true" : "false";
  }
  return value.dump();
}

constexpr size_t kMaxEvidenceLineBytes = 600;

std::string Truncate(std::string text) {
  if (text.size() > kMaxEvidenceLineBytes) {
    text.resize(kMaxEvidenceLineBytes);
    text = SanitizeUtf8(text);  // may have cut a multi-byte character
    text += "…";
  }
  return text;
}

std::string ApplyTemplate(std::string_view templ, const nlohmann::json& row) {
  std::string out;
  size_t i = 0;
  while (i < templ.size()) {
    char c = templ[i];
    if (c == '{') {
      size_t close = templ.find('}', i + 1);
      if (close != std::string_view::npos) {
        std::string key(templ.substr(i + 1, close - i - 1));
        auto it = row.find(key);
        if (it != row.end()) {
          out += JsonScalarText(*it);
          i = close + 1;
          continue;
        }
      }
    }
    out += c;
    ++i;
  }
  return out;
}

std::string KeyValueLine(const nlohmann::json& row) {
  std::string out;
  for (const auto& [key, value] : row.items()) {
    if (key == "host_id" || key == "org_id") {
      continue;
    }
    if (!out.empty()) {
      out += ", ";
    }
    out += key + "=" + JsonScalarText(value);
  }
  return out;
}

// BIOS dates come as "MM/DD/YYYY" (dmidecode) or "YYYY-MM-DD": any 4-digit 19xx/20xx run.
std::optional<int> BiosYear(std::string_view date) {
  for (size_t i = 0; i + 4 <= date.size(); ++i) {
    bool digits = true;
    for (size_t j = 0; j < 4; ++j) {
      digits = digits && date[i + j] >= '0' && date[i + j] <= '9';
    }
    if (digits && (i + 4 == date.size() || date[i + 4] < '0' || date[i + 4] > '9') &&
        (i == 0 || date[i - 1] < '0' || date[i - 1] > '9')) {
      int year = std::stoi(std::string(date.substr(i, 4)));
      if (year >= 1980 && year <= 2100) {
        return year;
      }
    }
  }
  return std::nullopt;
}

int YearOf(int64_t ms) { return static_cast<int>(UtcFromMs(ms).year); }

void AddCount(std::vector<CountEntry>& counts, const std::string& key, const std::string& label) {
  for (auto& entry : counts) {
    if (entry.key == key) {
      ++entry.count;
      return;
    }
  }
  counts.push_back(CountEntry{key, label, 1});
}

}  // namespace

std::string NormalizeLanguage(std::string_view lang) { return lang == "en" ? "en" : "ru"; }

std::string OsVersionLabel(std::string_view family, std::string_view os_id,
                           std::string_view version_id, std::string_view pretty_name) {
  if (family == "windows" || os_id == "windows") {
    if (version_id.empty()) {
      return std::string(pretty_name);
    }
    // The Windows agent's version_id: a server release is a year ("2019", "2012 R2").
    const bool server = version_id.size() >= 4 && version_id.substr(0, 2) == "20";
    return std::string(server ? "Windows Server " : "Windows ") + std::string(version_id);
  }
  static const std::pair<std::string_view, std::string_view> kNames[] = {
      {"debian", "Debian"},   {"ubuntu", "Ubuntu"},      {"centos", "CentOS"},
      {"rhel", "RHEL"},       {"rocky", "Rocky Linux"},  {"almalinux", "AlmaLinux"},
      {"ol", "Oracle Linux"}, {"sles", "SLES"},          {"opensuse-leap", "openSUSE Leap"},
      {"fedora", "Fedora"},   {"astra", "Astra Linux"},  {"altlinux", "ALT Linux"},
      {"redos", "RED OS"},    {"proxmox", "Proxmox VE"}, {"alpine", "Alpine Linux"}};
  if (os_id.empty()) {
    return std::string(pretty_name);
  }
  std::string name(os_id);
  for (const auto& [id, display] : kNames) {
    if (id == os_id) {
      name = std::string(display);
    }
  }
  // Ubuntu's and Alpine's point releases are releases of their own; elsewhere "12.5" is Debian 12.
  std::string_view version = version_id;
  const bool whole = os_id == "ubuntu" || os_id == "alpine" || os_id == "astra";
  if (!whole && version.find('.') != std::string_view::npos) {
    version = version.substr(0, version.find('.'));
  }
  return version.empty() ? name : name + " " + std::string(version);
}

ReportText ReportTextFor(std::string_view lang) {
  ReportText t;
  if (!IsRu(lang)) {
    t.title = "Pre-contract audit report";
    t.organization = "Organisation";
    t.contract_type = "Contract type";
    t.phase = "Phase";
    t.engineer = "Engineer";
    t.generated_at = "Generated";
    t.readiness_score = "Readiness score";
    t.verdict = "Verdict";
    t.must_fix = "Must fix before the contract";
    t.must_fix_short = "Must fix";
    t.must_fix_empty = "Nothing must be fixed before the contract.";
    t.must_fix_effort = "Estimated work to fix";
    t.no_estimate = "without an estimate";
    t.estimate_included = "counted above";
    t.findings_by_severity = "Findings by severity";
    t.findings_by_category = "Findings by category";
    t.findings_by_host = "Findings by host";
    t.waived_findings = "Waived findings (risk accepted)";
    t.counts = "Counts";
    t.severity = "Severity";
    t.category = "Category";
    t.state = "State";
    t.host = "Host";
    t.rule = "Rule";
    t.first_seen = "First seen";
    t.last_seen = "Last seen";
    t.evidence = "Evidence";
    t.why = "Why it matters";
    t.remediation = "Remediation";
    t.effort = "Effort";
    t.estate_wide = "estate-wide";
    t.out_of_scope = "outside the contract's scope";
    t.waived_by = "Waived by";
    t.waive_reason = "Reason";
    t.waived_until = "Until";
    t.no_expiry = "no expiry";
    t.no_findings = "No findings.";
    t.estate_summary = "Estate summary";
    t.hosts = "Hosts";
    t.hosts_by_os = "Hosts by operating system";
    t.machines_by_os_version = "Machines seen per OS version";
    t.hosts_by_role = "Hosts by role";
    t.hardware_age = "Hardware age (BIOS date)";
    t.virtual_machines = "Virtual machines";
    t.physical_machines = "Physical machines";
    t.total_memory = "Total memory";
    t.total_cores = "Total CPU cores";
    t.applications = "Business applications (1C:Enterprise and others)";
    t.notable_software = "Notable software";
    t.host_table = "Host list";
    t.os = "OS";
    t.role = "Role";
    t.cpu_ram = "CPU / RAM";
    t.last_seen_host = "Last seen";
    t.version = "Version";
    t.kind = "Kind";
    t.host_count = "Hosts";
    t.score = "Score";
    t.progress = "Progress";
    t.progress_since_first_audit = "Progress since the first audit";
    t.progress_since_signing = "Progress since signing";
    t.fixed_since = "Fixed since";
    t.new_since = "New since";
    t.still_open = "Still open";
    t.baseline_recorded = "baseline recorded";
    t.none = "none";
    t.page_of = "page {n} of {m}";
    t.total = "Total";
    t.time_zone = "Times are in";
    t.coverage = "Coverage";
    t.coverage_seen = "Machines seen";
    t.coverage_gaps = "What the audit could not see";
    t.coverage_complete = "The agents read everything they look at on every machine seen.";
    t.verdict_limited = "The verdict covers only what the audit could see (see Coverage).";
    t.charts = "Trends";
    t.no_chart_data = "not enough data yet";
    return t;
  }
  t.title = "Отчёт о предконтрактном аудите";
  t.organization = "Организация";
  t.contract_type = "Тип договора";
  t.phase = "Этап";
  t.engineer = "Инженер";
  t.generated_at = "Сформирован";
  t.readiness_score = "Оценка готовности";
  t.verdict = "Вывод";
  t.must_fix = "Устранить до заключения договора";
  t.must_fix_short = "Устранить до договора";
  t.must_fix_empty = "Нет проблем, которые нужно устранить до договора.";
  t.must_fix_effort = "Оценка трудоёмкости устранения";
  t.no_estimate = "без оценки";
  t.estimate_included = "учтено выше";
  t.findings_by_severity = "Проблемы по важности";
  t.findings_by_category = "Проблемы по категориям";
  t.findings_by_host = "Проблемы по узлам";
  t.waived_findings = "Принятые риски (исключённые проблемы)";
  t.counts = "Количество";
  t.severity = "Важность";
  t.category = "Категория";
  t.state = "Состояние";
  t.host = "Узел";
  t.rule = "Правило";
  t.first_seen = "Впервые";
  t.last_seen = "Последний раз";
  t.evidence = "Признаки";
  t.why = "Почему это важно";
  t.remediation = "Что сделать";
  t.effort = "Трудоёмкость";
  t.estate_wide = "вся инфраструктура";
  t.out_of_scope = "вне объёма договора";
  t.waived_by = "Кто принял риск";
  t.waive_reason = "Причина";
  t.waived_until = "До";
  t.no_expiry = "бессрочно";
  t.no_findings = "Проблем нет.";
  t.estate_summary = "Сводка по инфраструктуре";
  t.hosts = "Узлы";
  t.hosts_by_os = "Узлы по операционным системам";
  t.machines_by_os_version = "Обнаружено машин по версиям ОС";
  t.hosts_by_role = "Узлы по ролям";
  t.hardware_age = "Возраст оборудования (дата BIOS)";
  t.virtual_machines = "Виртуальные машины";
  t.physical_machines = "Физические машины";
  t.total_memory = "Всего памяти";
  t.total_cores = "Всего ядер CPU";
  t.applications = "Бизнес-приложения (1С:Предприятие и другие)";
  t.notable_software = "Важное ПО";
  t.host_table = "Список узлов";
  t.os = "ОС";
  t.role = "Роль";
  t.cpu_ram = "CPU / ОЗУ";
  t.last_seen_host = "На связи";
  t.version = "Версия";
  t.kind = "Вид";
  t.host_count = "Узлов";
  t.score = "Оценка";
  t.progress = "Динамика";
  t.progress_since_first_audit = "Изменения с первого аудита";
  t.progress_since_signing = "Изменения с подписания договора";
  t.fixed_since = "Устранено";
  t.new_since = "Новые";
  t.still_open = "Остаются";
  t.baseline_recorded = "точка отсчёта записана";
  t.none = "нет";
  t.page_of = "страница {n} из {m}";
  t.total = "Всего";
  t.time_zone = "Время указано в поясе";
  t.coverage = "Охват аудита";
  t.coverage_seen = "Обследовано машин";
  t.coverage_gaps = "Что аудит не увидел";
  t.coverage_complete = "Агенты прочитали всё, что проверяют, на каждой обследованной машине.";
  t.verdict_limited = "Вывод верен только для того, что увидел аудит (см. «Охват аудита»).";
  t.charts = "Динамика";
  t.no_chart_data = "пока мало данных";
  return t;
}

std::string SeverityLabel(std::string_view severity, std::string_view lang) {
  return Lookup(Severities(), severity, lang);
}

std::string CategoryLabel(std::string_view category, std::string_view lang) {
  static const std::vector<Pair> table = {
      {"hardware", "hardware", "оборудование"},
      {"network", "network", "сеть"},
      {"os", "operating system", "операционная система"},
      {"security", "security", "безопасность"},
      {"software", "software", "программное обеспечение"},
      {"backup", "backup", "резервное копирование"},
      {"business-application", "business applications", "бизнес-приложения"}};
  return Lookup(table, category, lang);
}

std::string StateLabel(std::string_view state, std::string_view lang) {
  static const std::vector<Pair> table = {{"open", "open", "открыта"},
                                          {"acknowledged", "acknowledged", "принята в работу"},
                                          {"resolved", "resolved", "устранена"},
                                          {"regressed", "regressed", "вернулась"},
                                          {"waived", "waived", "риск принят"}};
  return Lookup(table, state, lang);
}

std::string PhaseLabel(std::string_view phase, std::string_view lang) {
  static const std::vector<Pair> table = {{"prospect", "prospect", "потенциальный клиент"},
                                          {"remediation", "remediation", "устранение проблем"},
                                          {"active", "active contract", "договор действует"},
                                          {"ended", "ended", "договор завершён"}};
  return Lookup(table, phase, lang);
}

std::string PhaseMeaning(std::string_view phase, std::string_view lang) {
  static const std::vector<Pair> table = {
      {"prospect", "The estate is being audited before a support contract is offered.",
       "Инфраструктура проходит аудит перед предложением договора на обслуживание."},
      {"remediation", "The client is fixing the weak spots found by the first audit.",
       "Клиент устраняет слабые места, найденные первым аудитом."},
      {"active", "The contract is signed; weak spots are tracked against the signing baseline.",
       "Договор подписан; слабые места отслеживаются относительно состояния на момент "
       "подписания."},
      {"ended", "The contract has ended; the data is kept for a possible re-audit.",
       "Договор завершён; данные сохранены для возможного повторного аудита."}};
  return Lookup(table, phase, lang);
}

std::string ContractTypeLabel(std::string_view contract_type, std::string_view lang) {
  static const std::vector<Pair> table = {
      {"technical", "technical (infrastructure)", "техническое обслуживание"},
      {"application", "application (1C and business software)", "сопровождение приложений"},
      {"complex", "complex (infrastructure and applications)", "комплексное обслуживание"}};
  return Lookup(table, contract_type, lang);
}

std::string RoleLabel(std::string_view role, std::string_view lang) {
  static const std::vector<Pair> table = {{"server", "server", "сервер"},
                                          {"workstation", "workstation", "рабочая станция"}};
  return Lookup(table, role, lang);
}

std::string DutyLabel(std::string_view duty, std::string_view lang) {
  static const std::vector<Pair> table = {{"onec", "1C", "1С"}, {"database", "DBMS", "СУБД"}};
  return Lookup(table, duty, lang);
}

int SeverityRank(std::string_view severity) {
  const auto& table = Severities();
  for (size_t i = 0; i < table.size(); ++i) {
    if (table[i].key == severity) {
      return static_cast<int>(i);
    }
  }
  return static_cast<int>(table.size());
}

int HostPenalty(std::string_view severity) {
  if (severity == "critical") {
    return 40;
  }
  if (severity == "high") {
    return 15;
  }
  if (severity == "medium") {
    return 5;
  }
  if (severity == "low") {
    return 1;
  }
  return 0;
}

int EstatePenalty(std::string_view severity) {
  if (severity == "critical") {
    return 20;
  }
  if (severity == "high") {
    return 10;
  }
  if (severity == "medium") {
    return 3;
  }
  if (severity == "low") {
    return 1;
  }
  return 0;
}

int HostScore(const std::vector<std::string_view>& severities) {
  int penalty = 0;
  for (auto severity : severities) {
    penalty += HostPenalty(severity);
  }
  return std::max(0, 100 - penalty);
}

int ReadinessScore(const std::vector<std::string>& host_keys,
                   const std::vector<ScoredFinding>& findings) {
  std::map<std::string, std::vector<std::string_view>, std::less<>> per_host;
  for (const auto& key : host_keys) {
    per_host[key];
  }
  int estate_penalty = 0;
  std::set<std::pair<std::string_view, std::string_view>> counted;  // (host, rule)
  for (const auto& finding : findings) {
    if (!finding.rule_id.empty() && !counted.emplace(finding.host_key, finding.rule_id).second) {
      continue;
    }
    if (finding.host_key.empty()) {
      estate_penalty += EstatePenalty(finding.severity);
    } else {
      per_host[finding.host_key].push_back(finding.severity);
    }
  }
  double mean = 100.0;
  if (!per_host.empty()) {
    double sum = 0;
    for (const auto& [key, severities] : per_host) {
      sum += HostScore(severities);
    }
    mean = sum / static_cast<double>(per_host.size());
  }
  double score = std::clamp(mean - estate_penalty, 0.0, 100.0);
  return static_cast<int>(std::lround(score));
}

bool IsActiveState(std::string_view state) {
  return state == "open" || state == "acknowledged" || state == "regressed";
}

std::vector<std::string> RenderEvidence(std::string_view evidence_json,
                                        std::string_view evidence_template) {
  std::vector<std::string> lines;
  nlohmann::json rows = nlohmann::json::parse(evidence_json, nullptr, /*allow_exceptions=*/false);
  if (rows.is_discarded()) {
    if (!evidence_json.empty()) {
      lines.push_back(Truncate(SanitizeUtf8(evidence_json)));
    }
    return lines;
  }
  if (!rows.is_array()) {
    rows = nlohmann::json::array({rows});
  }
  for (const auto& row : rows) {
    if (lines.size() >= kMaxEvidenceRows) {
      break;
    }
    std::string line;
    if (row.is_object()) {
      line = evidence_template.empty() ? KeyValueLine(row) : ApplyTemplate(evidence_template, row);
    } else {
      line = JsonScalarText(row);
    }
    lines.push_back(Truncate(SanitizeUtf8(line)));
  }
  return lines;
}

std::string ReportTitle(std::string_view phase, std::string_view lang) {
  // After signing the client is served, not prospected: "pre-contract" would be wrong on the
  // report the engineer sends every month.
  const bool signed_once = phase == "active" || phase == "ended";
  if (IsRu(lang)) {
    return signed_once ? "Отчёт об аудите инфраструктуры" : "Отчёт о предконтрактном аудите";
  }
  return signed_once ? "Infrastructure audit report" : "Pre-contract audit report";
}

void FinalizeReport(AuditReport& report) {
  const std::string& lang = report.lang;
  report.text.title = ReportTitle(report.phase, lang);
  std::stable_sort(report.findings.begin(), report.findings.end(),
                   [](const ReportFinding& a, const ReportFinding& b) {
                     int ra = SeverityRank(a.severity), rb = SeverityRank(b.severity);
                     if (ra != rb) {
                       return ra < rb;
                     }
                     return a.first_seen_ms < b.first_seen_ms;
                   });
  report.must_fix.clear();
  report.must_fix_effort_hours = 0;
  report.must_fix_unestimated = 0;
  report.by_severity.clear();
  report.by_category.clear();
  report.by_host.clear();
  report.by_severity_counts.clear();
  report.by_category_counts.clear();

  std::vector<std::string> host_keys;
  for (const auto& host : report.estate.hosts) {
    host_keys.push_back(host.agent_id);
  }
  std::vector<ScoredFinding> scored;
  std::map<std::string, std::vector<std::string_view>> host_severities;
  std::map<std::string, int64_t> host_active;

  for (const auto& severity : Severities()) {
    report.by_severity.push_back(
        FindingGroup{std::string(severity.key), SeverityLabel(severity.key, lang), {}});
    report.by_severity_counts.push_back(
        CountEntry{std::string(severity.key), SeverityLabel(severity.key, lang), 0});
  }
  auto group_of = [](std::vector<FindingGroup>& groups, const std::string& key,
                     const std::string& label) -> FindingGroup& {
    for (auto& group : groups) {
      if (group.key == key) {
        return group;
      }
    }
    groups.push_back(FindingGroup{key, label, {}});
    return groups.back();
  };

  // A rule's estimate and penalty are per host (rule.hpp): its findings about several objects of
  // one host (three full filesystems) are quoted and scored once.
  std::set<std::pair<std::string, std::string>> quoted, host_scored;  // (agent id, rule id)
  for (size_t i = 0; i < report.findings.size(); ++i) {
    auto& finding = report.findings[i];
    bool counts = finding.in_scope && IsActiveState(finding.state);
    finding.must_fix = counts && (finding.severity == "critical" || finding.severity == "high");
    if (finding.must_fix) {
      report.must_fix.push_back(i);
      if (!finding.effort_hours) {
        ++report.must_fix_unestimated;
      } else if (quoted.emplace(finding.agent_id, finding.rule_id).second) {
        report.must_fix_effort_hours += *finding.effort_hours;
      } else {
        finding.estimate_counted = false;
      }
    }
    if (counts) {
      scored.push_back(ScoredFinding{finding.severity, finding.agent_id, finding.rule_id});
      if (!finding.agent_id.empty() &&
          host_scored.emplace(finding.agent_id, finding.rule_id).second) {
        host_severities[finding.agent_id].push_back(finding.severity);
      }
    }
    if (!finding.agent_id.empty()) {
      ++host_active[finding.agent_id];
    }
    group_of(report.by_severity, finding.severity, finding.severity_label)
        .finding_indexes.push_back(i);
    group_of(report.by_category, finding.category, finding.category_label)
        .finding_indexes.push_back(i);
    const std::string host_label =
        finding.hostname.empty() ? report.text.estate_wide : finding.hostname;
    group_of(report.by_host, finding.agent_id.empty() ? "" : finding.agent_id, host_label)
        .finding_indexes.push_back(i);
  }
  for (auto& group : report.by_severity) {
    for (auto& entry : report.by_severity_counts) {
      if (entry.key == group.key) {
        entry.count = static_cast<int64_t>(group.finding_indexes.size());
      }
    }
  }
  for (const auto& group : report.by_category) {
    report.by_category_counts.push_back(
        CountEntry{group.key, group.label, static_cast<int64_t>(group.finding_indexes.size())});
  }
  std::erase_if(report.by_severity,
                [](const FindingGroup& g) { return g.finding_indexes.empty(); });
  std::sort(report.by_category.begin(), report.by_category.end(),
            [](const FindingGroup& a, const FindingGroup& b) { return a.label < b.label; });
  // Estate-wide first, then hosts by name.
  std::sort(report.by_host.begin(), report.by_host.end(),
            [](const FindingGroup& a, const FindingGroup& b) {
              if (a.key.empty() != b.key.empty()) {
                return a.key.empty();
              }
              return a.label < b.label;
            });

  for (auto& host : report.estate.hosts) {
    host.score = HostScore(host_severities[host.agent_id]);
    host.active_findings = host_active[host.agent_id];
  }
  report.must_fix_effort = rules::FormatEffort(report.must_fix_effort_hours, lang);
  report.readiness_score = ReadinessScore(host_keys, scored);
  report.ready_to_sign = report.must_fix.empty();
  if (IsRu(lang)) {
    report.verdict = report.ready_to_sign ? "готов к подписанию" : "сначала устранить";
  } else {
    report.verdict = report.ready_to_sign ? "ready to sign" : "fix first";
  }
  report.verdict_limitation = report.coverage.limited ? report.text.verdict_limited : "";

  // Estate aggregates.
  auto& estate = report.estate;
  estate.host_count = static_cast<int64_t>(estate.hosts.size());
  estate.virtual_count = estate.physical_count = 0;
  estate.total_memory_bytes = estate.total_cores = 0;
  estate.by_os.clear();
  estate.by_role.clear();
  estate.by_hardware_age.clear();
  const int now_year = YearOf(report.generated_at_ms);
  const bool ru = IsRu(lang);
  for (const auto& host : estate.hosts) {
    (host.virtual_machine ? estate.virtual_count : estate.physical_count)++;
    estate.total_memory_bytes += std::max<int64_t>(0, host.memory_bytes);
    estate.total_cores += std::max<int64_t>(0, host.cpu_cores);
    std::string os = host.os.empty() ? (ru ? "неизвестно" : "unknown") : host.os;
    AddCount(estate.by_os, os, os);
    const std::string& version = host.os_version.empty() ? os : host.os_version;
    AddCount(estate.by_os_version, version, version);
    AddCount(estate.by_role, host.role, host.role_label);
    std::string key, label;
    auto year = BiosYear(host.bios_date);
    if (host.virtual_machine) {
      key = "virtual";
      label = ru ? "виртуальная машина" : "virtual machine";
    } else if (!year) {
      key = "unknown";
      label = ru ? "неизвестно" : "unknown";
    } else {
      int age = now_year - *year;
      if (age < 3) {
        key = "0-2";
        label = ru ? "до 3 лет" : "under 3 years";
      } else if (age < 5) {
        key = "3-4";
        label = ru ? "3–4 года" : "3–4 years";
      } else if (age < 8) {
        key = "5-7";
        label = ru ? "5–7 лет" : "5–7 years";
      } else {
        key = "8+";
        label = ru ? "8 лет и старше" : "8 years or older";
      }
    }
    AddCount(estate.by_hardware_age, key, label);
  }
  auto by_count = [](const CountEntry& a, const CountEntry& b) {
    return a.count != b.count ? a.count > b.count : a.label < b.label;
  };
  std::sort(estate.by_os.begin(), estate.by_os.end(), by_count);
  std::sort(estate.by_os_version.begin(), estate.by_os_version.end(), by_count);
  estate.os_version_summary.clear();
  for (const auto& entry : estate.by_os_version) {
    estate.os_version_summary += (estate.os_version_summary.empty() ? "" : ", ") + entry.label +
                                 ": " + std::to_string(entry.count);
  }
  std::sort(estate.by_role.begin(), estate.by_role.end(), by_count);
  static const std::vector<std::string> kAgeOrder = {"0-2", "3-4",     "5-7",
                                                     "8+",  "virtual", "unknown"};
  std::sort(estate.by_hardware_age.begin(), estate.by_hardware_age.end(),
            [](const CountEntry& a, const CountEntry& b) {
              return std::find(kAgeOrder.begin(), kAgeOrder.end(), a.key) <
                     std::find(kAgeOrder.begin(), kAgeOrder.end(), b.key);
            });
  std::sort(estate.hosts.begin(), estate.hosts.end(),
            [](const HostRow& a, const HostRow& b) { return a.hostname < b.hostname; });
}

std::string FormatTime(int64_t ms) {
  if (ms <= 0) {
    return "—";
  }
  return FormatUtc(ms, UtcStyle::kMinutes);
}

std::string ReportTime(const AuditReport& report, int64_t ms) {
  if (ms <= 0) {
    return "—";
  }
  auto local = FormatLocalTime(report.time_zone, ms);
  return local.ok() ? *local : FormatTime(ms);
}

std::string ReportDate(const AuditReport& report, int64_t ms) {
  std::string time = ReportTime(report, ms);
  return time.size() >= 10 && time[4] == '-' ? time.substr(0, 10) : time;
}

std::string FormatBytes(int64_t bytes) {
  return HumanBytes(static_cast<uint64_t>(std::max<int64_t>(0, bytes)),
                    ByteDecimals::kBelowHundred);
}

std::string MustFixEffortLine(const AuditReport& report) {
  std::string line = report.text.must_fix_effort + ": " + report.must_fix_effort;
  if (report.must_fix_unestimated > 0) {
    line +=
        " (" + std::to_string(report.must_fix_unestimated) + " " + report.text.no_estimate + ")";
  }
  return line;
}

std::string FindingHostLabel(const AuditReport& report, const ReportFinding& finding) {
  return HostObjectLabel(report, finding.hostname, finding.object);
}

std::string HostObjectLabel(const AuditReport& report, const std::string& hostname,
                            const std::string& object) {
  const std::string& host = hostname.empty() ? report.text.estate_wide : hostname;
  return object.empty() ? host : host + ": " + object;
}

}  // namespace dozor::server::report
