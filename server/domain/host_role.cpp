#include "domain/host_role.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "domain/enum_spelling.hpp"
#include "dozor/common/text.hpp"

namespace dozor::server {
namespace {

// Display managers and desktop sessions: a host running one has a person in front of it.
constexpr std::array<std::string_view, 12> kDesktopNames = {"gdm3",
                                                            "gdm",
                                                            "lightdm",
                                                            "sddm",
                                                            "xdm",
                                                            "gnome-shell",
                                                            "plasma-desktop",
                                                            "plasma-workspace",
                                                            "xfce4-session",
                                                            "cinnamon",
                                                            "mate-session-manager",
                                                            "xserver-xorg-core"};

// SMBIOS chassis types of desktop and portable machines. "Tower" is deliberately absent.
constexpr std::array<std::string_view, 13> kWorkstationChassis = {
    "desktop",    "low profile desktop", "laptop", "notebook",    "portable",   "hand held",
    "all in one", "sub notebook",        "tablet", "convertible", "detachable", "mini pc",
    "stick pc"};

// Service names may carry a ".service" suffix.
std::string_view StripServiceSuffix(std::string_view name) {
  constexpr std::string_view kSuffix = ".service";
  if (name.size() > kSuffix.size() && name.substr(name.size() - kSuffix.size()) == kSuffix) {
    return name.substr(0, name.size() - kSuffix.size());
  }
  return name;
}

bool IsDesktopName(std::string_view name) {
  return std::find(kDesktopNames.begin(), kDesktopNames.end(), name) != kDesktopNames.end();
}

constexpr enum_spelling::Table<HostRole, 2> kHostRoleSpelling = {{
    {HostRole::kServer, "server"},
    {HostRole::kWorkstation, "workstation"},
}};

// In alphabetical order of the spellings: the order of List() and of the stored text.
constexpr enum_spelling::Table<HostDuty, 2> kHostDutySpelling = {{
    {HostDuty::kDatabase, "database"},
    {HostDuty::kOneC, "onec"},
}};

// (Unity builds put this file beside others: its helpers have names of their own.)
bool HasPart(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// "15", "9.6": a PostgreSQL major version as packages spell it.
bool IsVersionNumber(std::string_view text) {
  return !text.empty() && text.front() != '.' && text.back() != '.' &&
         std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

// A PostgreSQL server package of Debian, the RHEL family, 1C's builds or Postgres Pro (lowered):
//   postgresql, postgresql-15, postgresql-15-1c, postgresql-1c-15 (the server, Debian style);
//   postgresql-server, postgresql15-server, postgrespro-1c-15-server (RPM style);
//   postgrespro-std-15, postgrespro-1c-15 (Postgres Pro's server metapackages).
// Not: postgresql-client-15, postgresql-common, postgresql-15-postgis-3, postgrespro-std-15-libs.
bool IsPostgresServerPackage(std::string_view name) {
  if (name == "postgresql") {
    return true;
  }
  if (!name.starts_with("postgresql") && !name.starts_with("postgrespro")) {
    return false;
  }
  if (name.ends_with("-server")) {
    return !HasPart(name, "client");
  }
  if (name.starts_with("postgresql-")) {
    std::string_view rest = name.substr(11);
    if (rest.ends_with("-1c")) {
      rest.remove_suffix(3);
    } else if (rest.starts_with("1c-")) {
      rest.remove_prefix(3);
    }
    return IsVersionNumber(rest);
  }
  if (name.starts_with("postgrespro-")) {
    // postgrespro-<edition>-<version>: the last part is the version.
    const size_t dash = name.rfind('-');
    return dash > 11 && IsVersionNumber(name.substr(dash + 1));
  }
  return false;
}

// MySQL, MariaDB (and Percona's MySQL) server packages, MS SQL Server for Linux (lowered):
// mysql-server, mysql-server-8.0, mysql-community-server, mariadb-server, mariadb-server-10.11,
// mariadb-server-core-10.11, percona-server-server, mssql-server.
bool IsOtherDatabaseServerPackage(std::string_view name) {
  if (name == "mssql-server") {
    return true;
  }
  const bool family = name.starts_with("mysql") || name.starts_with("mariadb") ||
                      name.starts_with("percona-server");
  return family && HasPart(name, "server") && !HasPart(name, "client");
}

// Service names (lowered, without ".service"): postgresql, postgresql@15-main,
// postgresql-x64-15 (Windows), postgrespro-1c-15; mysql, mysqld, mysql80 (Windows), mariadb;
// mssql-server (Linux), mssqlserver and mssql$<instance> (Windows).
// Not their exporters, routers or clients (mysqld_exporter, mysqlrouter).
bool IsDatabaseService(std::string_view name) {
  if (HasPart(name, "exporter") || HasPart(name, "router") || HasPart(name, "client")) {
    return false;
  }
  return name.starts_with("postgresql") || name.starts_with("postgrespro") ||
         name.starts_with("mysql") || name.starts_with("mariadb") || name == "mssql-server" ||
         name == "mssqlserver" || name.starts_with("mssql$");
}

// A listener of a database server: its port and the process that owns it (lowered, ".exe" off).
bool IsDatabaseListener(uint32_t port, std::string_view process) {
  if (process.ends_with(".exe")) {
    process.remove_suffix(4);
  }
  switch (port) {
    case 5432:
      return process.starts_with("postgres");
    case 1433:
      return process == "sqlservr";
    case 3306:
      return process == "mysqld" || process == "mariadbd" || process == "mysql";
    default:
      return false;
  }
}

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// `word` in `lowered` with no letter or digit right before or after it.
bool HasWholeWord(std::string_view lowered, std::string_view word) {
  for (size_t at = lowered.find(word); at != std::string_view::npos;
       at = lowered.find(word, at + 1)) {
    const size_t end = at + word.size();
    if ((at == 0 || !IsLowerAlnum(lowered[at - 1])) &&
        (end == lowered.size() || !IsLowerAlnum(lowered[end]))) {
      return true;
    }
  }
  return false;
}

// The 1C:Enterprise server agent: srv1cv83, srv1cv8-8.3.22.1709@default (Linux units), ragent
// (the process, and "...\bin\ragent.exe" -srvc ... in a Windows service's command line), the
// Windows service "1C:Enterprise 8.3 Server Agent (x86-64)".
bool NamesOneCServer(std::string_view lowered) {
  return HasPart(lowered, "srv1cv8") || HasWholeWord(lowered, "ragent") ||
         (lowered.starts_with("1c:enterprise") && HasPart(lowered, "server agent"));
}

}  // namespace

std::string_view ToString(HostRole role) { return enum_spelling::Spell(kHostRoleSpelling, role); }

std::string_view ToString(const std::optional<HostRole>& role) {
  return role ? ToString(*role) : std::string_view();
}

std::optional<HostRole> ParseHostRole(std::string_view text) {
  return enum_spelling::Lookup(kHostRoleSpelling, text);
}

bool IsWorkstationChassis(std::string_view chassis_type) {
  std::string lower = Lower(chassis_type);
  return std::find(kWorkstationChassis.begin(), kWorkstationChassis.end(), lower) !=
         kWorkstationChassis.end();
}

std::string_view ToString(HostDuty duty) { return enum_spelling::Spell(kHostDutySpelling, duty); }

std::optional<HostDuty> ParseHostDuty(std::string_view text) {
  return enum_spelling::Lookup(kHostDutySpelling, text);
}

HostDuties::HostDuties(std::initializer_list<HostDuty> duties) {
  for (HostDuty duty : duties) {
    Add(duty);
  }
}

std::vector<HostDuty> HostDuties::List() const {
  std::vector<HostDuty> out;
  for (const auto& [duty, spelling] : kHostDutySpelling) {
    if (Has(duty)) {
      out.push_back(duty);
    }
  }
  return out;
}

std::string FormatHostDuties(HostDuties duties) {
  std::string out;
  for (HostDuty duty : duties.List()) {
    out += out.empty() ? "" : ",";
    out += ToString(duty);
  }
  return out;
}

HostDuties ParseHostDuties(std::string_view text) {
  HostDuties duties;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    if (auto duty = ParseHostDuty(text.substr(0, comma))) {
      duties.Add(*duty);
    }
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
  }
  return duties;
}

HostDuties ClassifyHostDuties(const dozor::v1::Inventory& inventory) {
  HostDuties duties;
  const auto& software = inventory.software();
  for (const auto& application : software.applications()) {
    // Installed is not running: a server install whose cluster the agent saw stopped is not a
    // 1C server ("" is an agent that does not tell).
    if (application.name().starts_with("1C:Enterprise") && application.kind() == "server" &&
        application.state() != "stopped") {
      duties.Add(HostDuty::kOneC);
    }
  }
  for (const auto& package : software.packages()) {
    const std::string name = Lower(package.name());
    if (IsPostgresServerPackage(name) || IsOtherDatabaseServerPackage(name)) {
      duties.Add(HostDuty::kDatabase);
    }
  }
  for (const auto& service : software.services()) {
    const std::string name = Lower(StripServiceSuffix(service.name()));
    // A 1C server service that runs, or is meant to (enabled, or failed after running); one that
    // is only installed and switched off is not a cluster.
    const bool meant_to_run =
        service.active_state() != "inactive" || service.enabled() == "enabled";
    if ((NamesOneCServer(name) || NamesOneCServer(Lower(service.command()))) && meant_to_run) {
      duties.Add(HostDuty::kOneC);
    }
    if (IsDatabaseService(name)) {
      duties.Add(HostDuty::kDatabase);
    }
  }
  for (const auto& listener : inventory.network().listening()) {
    const std::string process = Lower(listener.process());
    if (NamesOneCServer(process)) {
      duties.Add(HostDuty::kOneC);
    }
    if (IsDatabaseListener(listener.port(), process)) {
      duties.Add(HostDuty::kDatabase);
    }
  }
  return duties;
}

HostRole ClassifyHostRole(const dozor::v1::Inventory& inventory) {
  // Windows says when it is a server edition, whatever case it runs in.
  const std::string& product_type = inventory.os().product_type();
  if (product_type == "server" || product_type == "domain_controller") {
    return HostRole::kServer;
  }
  if (IsWorkstationChassis(inventory.hardware().dmi().chassis_type())) {
    return HostRole::kWorkstation;
  }
  for (const auto& package : inventory.software().packages()) {
    if (IsDesktopName(package.name())) {
      return HostRole::kWorkstation;
    }
  }
  for (const auto& service : inventory.software().services()) {
    if (IsDesktopName(StripServiceSuffix(service.name()))) {
      return HostRole::kWorkstation;
    }
  }
  return HostRole::kServer;
}

}  // namespace dozor::server
