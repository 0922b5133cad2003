// The Windows facts of the contract (migration 013) on a real SQLite file: what an inventory
// carries lands in the host_* tables, is replaced by the next inventory, and an agent without a
// security part gets no security row (unknown, not "all off").
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "dozor/common/sqlite.hpp"
#include "server/test_store.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace dozor::server {
namespace {

using dozor::testing::TempDir;

std::string EnrollWindowsHost(SqliteStore& store) {
  return dozor::testing::EnrollTestHost(store, "windows-org", "win-1", "NB-IVANOV");
}

dozor::v1::Inventory WindowsLaptop() {
  dozor::v1::Inventory inv;
  auto* os = inv.mutable_os();
  os->set_id("windows");
  os->set_family("windows");
  os->set_name("Майкрософт Windows 11 Pro");
  os->set_version_id("11");
  os->set_install_time(1710229512);
  os->set_edition("Professional");
  os->set_build("22631.6199");
  os->set_activation("licensed");
  os->set_domain("corp.local");
  os->set_time_source("NT5DS (domain hierarchy)");
  os->set_last_update_install_time(1796026195);
  os->set_update_error("0x80072EFD the update service cannot be reached");
  os->set_product_type("workstation");
  os->add_unavailable("time: w32tm not answering");
  auto* admin = os->add_users();
  admin->set_name("Администратор");
  admin->set_uid(500);
  admin->set_administrator(true);
  admin->set_disabled(true);
  admin->set_kind("user");
  admin->set_domain("NB-IVANOV");
  auto* group = os->add_users();
  group->set_name("Domain Admins");
  group->set_administrator(true);
  group->set_kind("group");
  group->set_domain("CORP");

  auto* hw = inv.mutable_hardware();
  auto* disk = hw->add_disks();
  disk->set_name("PhysicalDrive0");
  disk->set_health("warning");
  disk->set_wear_percent(97);
  disk->set_media_type("ssd");
  auto* module = hw->add_memory_modules();
  module->set_slot("ChannelA-DIMM0");
  module->set_size_bytes(8589934592);
  module->set_speed_mhz(3200);
  module->set_manufacturer("Samsung");
  module->set_part_number("K4AAG165WA-BCWE");
  module->set_serial("00000000");
  auto* battery = hw->add_batteries();
  battery->set_name("5B10W51826");
  battery->set_design_capacity_mwh(52500);
  battery->set_full_charge_capacity_mwh(39160);
  battery->set_charge_percent(86);
  battery->set_status("on_ac");
  auto* c = hw->add_volumes();
  c->set_mount_point("C:");
  c->set_label("Windows");
  c->set_file_system("NTFS");
  c->set_size_bytes(std::numeric_limits<uint64_t>::max());  // hostile: beyond SQLite's integers
  c->set_free_bytes(87310254080);
  c->set_kind("local");
  c->set_encryption("on");
  auto* z = hw->add_volumes();
  z->set_mount_point("Z:");
  z->set_kind("network");
  z->set_remote_path("\\\\server\\share");
  z->set_encryption("unknown");
  hw->add_unavailable("disk encryption: Win32_EncryptableVolume is not available");

  auto* sw = inv.mutable_software();
  auto* onec = sw->add_applications();
  onec->set_name("1C:Enterprise");
  onec->set_version("8.3.22.1709");
  onec->set_kind("server");
  onec->add_ports(1540);
  onec->add_ports(1541);
  auto* agent_service = sw->add_services();
  agent_service->set_name("1C:Enterprise 8.3 Server Agent (x86-64)");
  agent_service->set_account(".\\USR1CV8");
  agent_service->set_command("\"C:\\Program Files\\1cv8\\8.3.22.1709\\bin\\ragent.exe\" -srvc");
  auto* base = sw->add_infobases();
  base->set_user("ivanov");
  base->set_name("Бухгалтерия");
  base->set_kind("file");
  base->set_location("\\\\fs01\\1c\\buh");
  base->set_network_share(true);
  base->set_version("8.3");
  auto* hasp = sw->add_license_clients();
  hasp->set_kind("hasp");
  hasp->set_config_path("C:\\Program Files\\1cv8\\conf\\nethasp.ini");
  hasp->add_servers("10.10.0.5");
  hasp->add_servers("srv-hasp");
  hasp->set_broadcast(0);
  inv.mutable_network()->add_unavailable("UDP ports: MSFT_NetUDPEndpoint is not available");

  auto* sec = inv.mutable_security();
  auto* defender = sec->add_antivirus();
  defender->set_name("Microsoft Defender Antivirus");
  defender->set_enabled(1);
  defender->set_up_to_date(0);
  defender->set_signatures_updated(1795398312);
  defender->set_source("defender");
  defender->set_version("4.18.25070.5");
  auto* domain_profile = sec->add_firewall();
  domain_profile->set_name("Domain");
  domain_profile->set_enabled(false);
  auto* public_profile = sec->add_firewall();
  public_profile->set_name("Public");
  public_profile->set_enabled(true);
  sec->set_remote_desktop(1);
  sec->set_remote_desktop_nla(0);
  sec->set_remote_desktop_port(3390);
  sec->set_smb1(-1);
  sec->mutable_password_policy()->set_min_length(0);
  sec->mutable_password_policy()->set_max_age_days(42);
  sec->mutable_password_policy()->set_lockout_threshold(0);
  sec->mutable_password_policy()->set_complexity(-1);
  sec->add_unavailable("Security Center: AntiVirusProduct is not available");
  return inv;
}

using dozor::testing::CommitOne;
using dozor::testing::InventoryReport;
using dozor::testing::QueryRows;

TEST_CASE("windows facts of an inventory are stored in their tables") {
  TempDir dir;
  auto store = dozor::testing::OpenTestStore(dir);
  const std::string agent = EnrollWindowsHost(*store);
  CommitOne(*store, InventoryReport(agent, 1, WindowsLaptop()));
  auto db = sqlite::Database::Open(dir / "dozor.db");
  REQUIRE(db.ok());

  CHECK(QueryRows(
            *db,
            "SELECT install_time || '|' || edition || '|' || build || '|' || activation || '|' || "
            "domain || '|' || workgroup || '|' || time_source || '|' || "
            "last_update_install_time || '|' || update_error || '|' || product_type "
            "FROM host_os") ==
        std::vector<std::string>{"1710229512|Professional|22631.6199|licensed|corp.local||"
                                 "NT5DS (domain hierarchy)|1796026195|0x80072EFD the update "
                                 "service cannot be reached|workstation"});
  CHECK(QueryRows(*db,
                  "SELECT name || '|' || uid || '|' || administrator || '|' || disabled || '|' || "
                  "kind || '|' || domain FROM host_users ORDER BY rowid") ==
        std::vector<std::string>{"Администратор|500|1|1|user|NB-IVANOV",
                                 "Domain Admins|0|1|0|group|CORP"});
  CHECK(
      QueryRows(*db, "SELECT health || '|' || wear_percent || '|' || media_type FROM host_disks") ==
      std::vector<std::string>{"warning|97|ssd"});
  CHECK(
      QueryRows(*db,
                "SELECT slot || '|' || size_bytes || '|' || speed_mhz || '|' || manufacturer "
                "|| '|' || part_number || '|' || serial FROM host_memory_modules") ==
      std::vector<std::string>{"ChannelA-DIMM0|8589934592|3200|Samsung|K4AAG165WA-BCWE|00000000"});
  CHECK(QueryRows(*db,
                  "SELECT name || '|' || design_capacity_mwh || '|' || full_charge_capacity_mwh "
                  "|| '|' || charge_percent || '|' || status FROM host_batteries") ==
        std::vector<std::string>{"5B10W51826|52500|39160|86|on_ac"});
  // A size beyond SQLite's signed integers is kept as the largest one, never negative.
  CHECK(QueryRows(*db,
                  "SELECT mount_point || '|' || label || '|' || file_system || '|' || size_bytes "
                  "|| '|' || free_bytes || '|' || kind || '|' || remote_path || '|' || encryption "
                  "FROM host_volumes ORDER BY rowid") ==
        std::vector<std::string>{"C:|Windows|NTFS|9223372036854775807|87310254080|local||on",
                                 "Z:|||0|0|network|\\\\server\\share|unknown"});
  CHECK(QueryRows(*db, "SELECT ports FROM host_applications") ==
        std::vector<std::string>{"1540,1541"});
  CHECK(QueryRows(*db, "SELECT account || '|' || command FROM host_services") ==
        std::vector<std::string>{
            ".\\USR1CV8|\"C:\\Program Files\\1cv8\\8.3.22.1709\\bin\\ragent.exe\" -srvc"});
  CHECK(QueryRows(*db,
                  "SELECT user_name || '|' || name || '|' || kind || '|' || location || '|' || "
                  "network_share || '|' || version FROM host_infobases") ==
        std::vector<std::string>{"ivanov|Бухгалтерия|file|\\\\fs01\\1c\\buh|1|8.3"});
  CHECK(QueryRows(*db,
                  "SELECT position || '|' || kind || '|' || config_path || '|' || broadcast "
                  "FROM host_license_clients") ==
        std::vector<std::string>{"0|hasp|C:\\Program Files\\1cv8\\conf\\nethasp.ini|0"});
  CHECK(QueryRows(*db,
                  "SELECT client_position || '|' || server FROM host_license_servers "
                  "ORDER BY rowid") == std::vector<std::string>{"0|10.10.0.5", "0|srv-hasp"});
  CHECK(QueryRows(*db,
                  "SELECT remote_desktop || '|' || remote_desktop_nla || '|' || "
                  "remote_desktop_port || '|' || smb1 || '|' || password_min_length || '|' || "
                  "password_max_age_days || '|' || lockout_threshold || '|' || "
                  "password_complexity FROM host_security") ==
        std::vector<std::string>{"1|0|3390|-1|0|42|0|-1"});
  CHECK(QueryRows(*db,
                  "SELECT name || '|' || enabled || '|' || up_to_date || '|' || "
                  "signatures_updated || '|' || source || '|' || version FROM host_antivirus") ==
        std::vector<std::string>{
            "Microsoft Defender Antivirus|1|0|1795398312|defender|4.18.25070.5"});
  CHECK(
      QueryRows(*db, "SELECT name || '|' || enabled FROM host_firewall_profiles ORDER BY rowid") ==
      std::vector<std::string>{"Domain|0", "Public|1"});
  CHECK(
      QueryRows(*db, "SELECT part || '|' || note FROM host_unavailable ORDER BY part") ==
      std::vector<std::string>{"hardware|disk encryption: Win32_EncryptableVolume is not available",
                               "network|UDP ports: MSFT_NetUDPEndpoint is not available",
                               "os|time: w32tm not answering",
                               "security|Security Center: AntiVirusProduct is not available"});
}

TEST_CASE("the next inventory replaces the windows facts, and no security part means no row") {
  TempDir dir;
  auto store = dozor::testing::OpenTestStore(dir);
  const std::string agent = EnrollWindowsHost(*store);
  CommitOne(*store, InventoryReport(agent, 1, WindowsLaptop()));

  dozor::v1::Inventory next = WindowsLaptop();
  next.clear_security();
  next.mutable_hardware()->mutable_volumes()->RemoveLast();
  next.mutable_software()->clear_infobases();
  next.mutable_software()->clear_license_clients();
  next.mutable_hardware()->clear_unavailable();
  auto* user = next.mutable_os()->add_users();
  user->set_name("root");  // an agent before the Windows contract: no kind
  CommitOne(*store, InventoryReport(agent, 2, next));

  auto db = sqlite::Database::Open(dir / "dozor.db");
  REQUIRE(db.ok());
  for (const char* table : {"host_security", "host_antivirus", "host_firewall_profiles",
                            "host_infobases", "host_license_clients", "host_license_servers"}) {
    CAPTURE(table);
    CHECK(QueryRows(*db, std::string("SELECT count(*) FROM ") + table) ==
          std::vector<std::string>{"0"});
  }
  CHECK(QueryRows(*db, "SELECT mount_point FROM host_volumes") == std::vector<std::string>{"C:"});
  CHECK(QueryRows(*db, "SELECT part FROM host_unavailable ORDER BY part") ==
        std::vector<std::string>{"network", "os"});
  CHECK(QueryRows(*db, "SELECT kind FROM host_users WHERE name = 'root'") ==
        std::vector<std::string>{"user"});
  CHECK(QueryRows(*db, "SELECT count(*) FROM host_memory_modules") ==
        std::vector<std::string>{"1"});
}

}  // namespace
}  // namespace dozor::server
