// Classifies a host as a server or a workstation from its inventory, for rules whose thresholds
// depend on the role (RAM too small for the role, 10/100 Mb links on servers, ...), and reads its
// duties (1C:Enterprise server, database server), on which the contract scope depends
// (rules/contract_scope.hpp).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dozor/v1/agent.pb.h"

namespace dozor::server {

enum class HostRole { kServer, kWorkstation };

// The stored and API spelling: "server", "workstation".
std::string_view ToString(HostRole role);
// "" for a host without a role yet (no inventory): the API's and the report's spelling of none.
std::string_view ToString(const std::optional<HostRole>& role);
// nullopt for any other text (a host without an inventory has an empty role).
std::optional<HostRole> ParseHostRole(std::string_view text);

// A workstation when a desktop / display manager is installed (package or service) or the DMI
// chassis type is a desktop or portable kind; otherwise a server. Tower chassis count as server:
// tower servers are common.
HostRole ClassifyHostRole(const dozor::v1::Inventory& inventory);

// Whether a DMI chassis type (as dmidecode / sysfs names it) is a desktop or portable kind.
bool IsWorkstationChassis(std::string_view chassis_type);

// What a host does for the business, beyond being a server or a workstation: it runs the
// 1C:Enterprise server (onec) or a database server (database). Any number of them, none included.
enum class HostDuty { kDatabase, kOneC };

// The stored, API and fact-view spelling: "database", "onec".
std::string_view ToString(HostDuty duty);
std::optional<HostDuty> ParseHostDuty(std::string_view text);

// A set of duties.
class HostDuties {
 public:
  HostDuties() = default;
  HostDuties(std::initializer_list<HostDuty> duties);
  [[nodiscard]] bool Has(HostDuty duty) const { return (bits_ & Bit(duty)) != 0; }
  void Add(HostDuty duty) { bits_ |= Bit(duty); }
  [[nodiscard]] bool empty() const { return bits_ == 0; }
  // In the order of their spellings ("database" before "onec").
  [[nodiscard]] std::vector<HostDuty> List() const;
  bool operator==(const HostDuties&) const = default;

 private:
  static uint8_t Bit(HostDuty duty) { return static_cast<uint8_t>(1U << static_cast<int>(duty)); }
  uint8_t bits_ = 0;
};

// The stored and fact-view spelling: the names joined by ',' in List() order: "", "onec",
// "database,onec".
std::string FormatHostDuties(HostDuties duties);
// The other way; names this binary does not know (a newer one's) are left out.
HostDuties ParseHostDuties(std::string_view text);

// From the inventory:
//  - onec: a 1C:Enterprise application of kind "server" (the agents report the platform with its
//    ragent/rphost binaries so), or a service whose name or command line names the server agent
//    (srv1cv8* units on Linux, ragent.exe on Windows), or a listener owned by ragent;
//  - database: a database server package (PostgreSQL incl. the 1C builds and Postgres Pro,
//    MySQL/MariaDB, MS SQL Server for Linux), a database server service (postgresql*,
//    postgrespro*, mysql, mysqld, mariadb, MSSQLSERVER and named instances MSSQL$<name>), or a
//    listener on 5432, 1433 or 3306 owned by a database process (postgres, sqlservr, mysqld,
//    mariadbd). Client packages (postgresql-client-15, libpq5, mariadb-client) do not count.
HostDuties ClassifyHostDuties(const dozor::v1::Inventory& inventory);

}  // namespace dozor::server
