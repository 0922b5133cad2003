// The Windows inventory built from fixture machines (tests/fixtures/windows/<machine>/: WMI
// answers, registry exports and files in the layout deploy/windows/capture-fixture.ps1 writes),
// on every platform: a Windows 11 laptop in Russian, a Windows Server 2019 running 1C and MS SQL,
// and an end-of-life Windows 7 desktop with a failing disk. What a machine lacks (a namespace that
// came with Windows 8, Security Center on servers) is reported as unavailable, never a failure.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "collectors/windows_model/fixture_machine.hpp"
#include "collectors/windows_model/windows_inventory.hpp"
#include "dozor/common/files.hpp"
#include "test_util.hpp"

namespace dozor::agent::windows {
namespace {

// 2026-12-02 12:00 UTC: the fixtures' "now".
constexpr int64_t kNow = 1796212800;
constexpr int64_t kDay = 86400;

struct FixtureInventory {
  explicit FixtureInventory(const std::string& name) {
    auto opened = FixtureMachine::Open(dozor::testing::FixturePath("windows/" + name), kNow);
    REQUIRE_MESSAGE(opened.ok(), opened.error().message);
    fixture = std::move(*opened);
    Machine machine = fixture->machine();
    auto hardware = BuildHardware(machine, inventory.mutable_hardware());
    REQUIRE_MESSAGE(hardware.ok(), hardware.error().message);
    auto os = BuildOperatingSystem(machine, inventory.mutable_os());
    REQUIRE_MESSAGE(os.ok(), os.error().message);
    auto network = BuildNetwork(machine, inventory.mutable_network());
    REQUIRE_MESSAGE(network.ok(), network.error().message);
    auto software = BuildSoftware(machine, inventory.mutable_software());
    REQUIRE_MESSAGE(software.ok(), software.error().message);
    auto security = BuildSecurity(machine, inventory.mutable_security());
    REQUIRE_MESSAGE(security.ok(), security.error().message);
  }
  std::unique_ptr<FixtureMachine> fixture;
  dozor::v1::Inventory inventory;
};

template <typename Items, typename Predicate>
auto Find(const Items& items, Predicate predicate) -> decltype(&*items.begin()) {
  auto it = std::find_if(items.begin(), items.end(), predicate);
  return it == items.end() ? nullptr : &*it;
}

bool Mentions(const google::protobuf::RepeatedPtrField<std::string>& notes,
              std::string_view needle) {
  return std::any_of(notes.begin(), notes.end(), [&](const std::string& note) {
    return note.find(needle) != std::string::npos;
  });
}

const dozor::v1::UserAccount* User(const dozor::v1::OperatingSystem& os, std::string_view name) {
  return Find(os.users(), [&](const auto& user) { return user.name() == name; });
}

TEST_CASE("windows: a Russian Windows 11 laptop") {
  FixtureInventory f("win11-laptop-ru");
  const auto& os = f.inventory.os();
  CHECK(os.family() == "windows");
  CHECK(os.id() == "windows");
  CHECK(os.version_id() == "11");
  CHECK(os.name().find("Windows 11") != std::string::npos);
  CHECK(os.build().starts_with("22631"));
  CHECK(os.architecture() == "x86_64");
  CHECK(os.product_type() == "workstation");
  CHECK(os.domain() != "");
  CHECK(os.boot_time() > 0);
  CHECK(os.install_time() > 0);
  CHECK(os.activation() == "licensed");
  CHECK_FALSE(os.machine_id().empty());
  // The localised Administrators group still counts, and an everyday user in it is visible.
  const auto* ivanov = Find(
      os.users(), [](const auto& user) { return user.name() == "ivanov" && user.administrator(); });
  REQUIRE(ivanov);
  CHECK(ivanov->kind() == "user");
  const auto* domain_admins = User(os, "Domain Admins");
  REQUIRE(domain_admins);
  CHECK(domain_admins->kind() == "group");
  CHECK(domain_admins->administrator());

  const auto& hardware = f.inventory.hardware();
  CHECK(hardware.cpu().threads() >= hardware.cpu().cores());
  CHECK(hardware.cpu().cores() > 0);
  CHECK(hardware.memory_total_bytes() > 0);
  CHECK_FALSE(hardware.virtual_machine());
  REQUIRE(hardware.batteries_size() == 1);
  CHECK(hardware.batteries(0).full_charge_capacity_mwh() <
        hardware.batteries(0).design_capacity_mwh());
  REQUIRE(hardware.disks_size() >= 1);
  const auto& nvme = hardware.disks(0);
  CHECK(nvme.transport() == "nvme");
  CHECK(nvme.media_type() == "ssd");
  CHECK(nvme.health() == "healthy");
  CHECK(nvme.temperature_c() > 0);
  // NVMe has no ATA SMART through the storage driver: not supported, not failed.
  CHECK(nvme.smart_status() == "not_supported");
  const auto* c_drive =
      Find(hardware.volumes(), [](const auto& volume) { return volume.mount_point() == "C:"; });
  REQUIRE(c_drive);
  CHECK(c_drive->encryption() == "on");
  CHECK(c_drive->size_bytes() > c_drive->free_bytes());

  const auto& security = f.inventory.security();
  const auto* defender = Find(
      security.antivirus(), [](const auto& antivirus) { return antivirus.source() == "defender"; });
  REQUIRE(defender);
  CHECK(defender->enabled() == 1);
  CHECK(defender->up_to_date() == 1);
  CHECK(defender->signatures_updated() > kNow - 4 * kDay);
  CHECK(security.remote_desktop() == 0);
  CHECK(security.smb1() == 0);
  CHECK(security.firewall_size() == 3);

  const auto& software = f.inventory.software();
  CHECK(software.packages_size() >= 10);
  CHECK(Find(software.packages(),
             [](const auto& package) { return package.architecture() == "user"; }) != nullptr);
  // Two 1C clients: a current x64 and an old x86 one.
  const auto one_c = std::count_if(software.applications().begin(), software.applications().end(),
                                   [](const auto& app) { return app.name() == "1C:Enterprise"; });
  CHECK(one_c == 2);
  const auto* share = Find(software.infobases(), [](const auto& infobase) {
    return infobase.kind() == "file" && infobase.network_share();
  });
  REQUIRE(share);
  CHECK(share->user() == "ivanov");
  CHECK(Find(software.infobases(),
             [](const auto& infobase) { return infobase.kind() == "server"; }) != nullptr);
  // Russian service names come through as UTF-8.
  CHECK(software.services_size() > 5);

  const auto& network = f.inventory.network();
  CHECK(network.interfaces_size() >= 2);
  CHECK(network.dns_servers_size() >= 1);
  CHECK(Find(network.listening(), [](const auto& socket) {
          return socket.port() == 445 && socket.protocol() == "tcp";
        }) != nullptr);
}

TEST_CASE("windows: a Windows Server 2019 with 1C, MS SQL and a RAID volume") {
  FixtureInventory f("win2019-1c-server");
  const auto& os = f.inventory.os();
  CHECK(os.version_id() == "2019");
  CHECK(os.product_type() == "server");
  CHECK(os.reboot_required());
  CHECK(os.pending_updates() == 3);
  CHECK(os.pending_security_updates() == 2);
  CHECK(os.last_update_install_time() > 0);
  CHECK(os.last_update_install_time() < kNow - 90 * kDay);
  CHECK(os.time_source().starts_with("NT5DS"));

  const auto& hardware = f.inventory.hardware();
  CHECK(hardware.cpu().sockets() == 2);
  CHECK(hardware.memory_modules_size() == 8);
  CHECK(hardware.batteries_size() == 0);
  const auto* raid = Find(hardware.disks(), [](const auto& disk) {
    return disk.model().find("LOGICAL VOLUME") != std::string::npos;
  });
  REQUIRE(raid);
  CHECK(raid->smart_status() == "not_supported");
  const auto* ssd =
      Find(hardware.disks(), [](const auto& disk) { return disk.smart_attributes_size() > 0; });
  REQUIRE(ssd);
  CHECK(ssd->smart_status() == "passed");
  const auto* reallocated =
      Find(ssd->smart_attributes(), [](const auto& attribute) { return attribute.id() == 5; });
  REQUIRE(reallocated);
  CHECK(reallocated->raw() == 3);

  const auto& security = f.inventory.security();
  // No Security Center on a server: said, not failed; Defender answers instead.
  CHECK(Mentions(security.unavailable(), "AntiVirusProduct"));
  const auto* defender = Find(
      security.antivirus(), [](const auto& antivirus) { return antivirus.source() == "defender"; });
  REQUIRE(defender);
  CHECK(defender->up_to_date() == 0);
  CHECK(security.remote_desktop() == 1);
  CHECK(security.remote_desktop_nla() == 1);
  CHECK(security.smb1() == 1);

  const auto& software = f.inventory.software();
  const auto* agent = Find(software.services(), [](const auto& service) {
    return service.command().find("ragent.exe") != std::string::npos;
  });
  REQUIRE(agent);
  CHECK(agent->active_state() == "active");
  CHECK(agent->enabled() == "enabled");
  const auto* server = Find(software.applications(), [](const auto& app) {
    return app.name() == "1C:Enterprise" && app.kind() == "server";
  });
  REQUIRE(server);
  CHECK(server->version() == "8.3.22.1709");
  REQUIRE(server->ports_size() == 2 + 32);
  CHECK(server->ports(0) == 1540);
  CHECK(server->ports(1) == 1541);
  REQUIRE(software.license_clients_size() >= 1);
  CHECK(software.license_clients(0).kind() == "hasp");
  CHECK(software.license_clients(0).servers_size() >= 1);
  CHECK(Find(software.applications(), [](const auto& app) { return app.kind() == "backup"; }) !=
        nullptr);
  CHECK(Find(f.inventory.network().listening(), [](const auto& socket) {
          return socket.port() == 1433 && socket.process().find("sqlservr") != std::string::npos;
        }) != nullptr);
  CHECK(Find(f.inventory.network().listening(), [](const auto& socket) {
          return socket.port() == 1541 && socket.process().find("rmngr") != std::string::npos;
        }) != nullptr);
}

TEST_CASE("windows: an end-of-life Windows 7 desktop with a failing disk") {
  FixtureInventory f("win7-old");
  const auto& os = f.inventory.os();
  CHECK(os.version_id() == "7");
  CHECK(os.workgroup() == "WORKGROUP");
  CHECK(os.domain().empty());
  CHECK(os.activation() == "notification");
  CHECK_FALSE(os.update_error().empty());

  const auto& hardware = f.inventory.hardware();
  REQUIRE(hardware.disks_size() == 1);
  const auto& disk = hardware.disks(0);
  CHECK(disk.smart_status() == "failed");
  const auto* pending =
      Find(disk.smart_attributes(), [](const auto& attribute) { return attribute.id() == 197; });
  REQUIRE(pending);
  CHECK(pending->raw() == 50);
  // Windows storage management came with Windows 8; BitLocker is not in Professional.
  CHECK(Mentions(hardware.unavailable(), "MSFT_PhysicalDisk"));
  CHECK(Mentions(hardware.unavailable(), "Win32_EncryptableVolume"));

  const auto& security = f.inventory.security();
  const auto* kaspersky = Find(security.antivirus(), [](const auto& antivirus) {
    return antivirus.source() == "security_center";
  });
  REQUIRE(kaspersky);
  CHECK(kaspersky->enabled() == 1);
  CHECK(kaspersky->up_to_date() == 0);
  CHECK(security.remote_desktop() == 1);
  CHECK(security.remote_desktop_nla() == 0);
  // No SMB1 switch anywhere: Windows 7 has it on by default.
  CHECK(security.smb1() == 1);

  // Listening ports need root/StandardCimv2 (Windows 8): unavailable, said so.
  CHECK(f.inventory.network().listening_size() == 0);
  CHECK(Mentions(f.inventory.network().unavailable(), "MSFT_NetTCPConnection"));

  // The file infobase on a mapped network drive is on a share too.
  const auto* mapped = Find(f.inventory.software().infobases(), [](const auto& infobase) {
    return infobase.location().starts_with("Z:") || infobase.location().starts_with("z:");
  });
  REQUIRE(mapped);
  CHECK(mapped->network_share());
}

TEST_CASE("windows: a machine that answers nothing fails the essential parts and says why") {
  CHECK(FixtureMachine::Open(dozor::testing::FixturePath("windows/no-such-machine"), kNow)
            .error()
            .code == ErrorCode::kNotFound);
  dozor::testing::TempDir temp;
  auto empty = FixtureMachine::Open(temp.path(), kNow);
  REQUIRE(empty.ok());
  Machine machine = (*empty)->machine();
  dozor::v1::OperatingSystem os;
  auto os_status = BuildOperatingSystem(machine, &os);
  REQUIRE_FALSE(os_status.ok());
  CHECK(os_status.error().code == ErrorCode::kNotFound);
  dozor::v1::Hardware hardware;
  CHECK_FALSE(BuildHardware(machine, &hardware).ok());
  dozor::v1::Security security;
  REQUIRE(BuildSecurity(machine, &security).ok());
  CHECK(security.remote_desktop() == -1);
  CHECK(security.smb1() == -1);
  CHECK(security.password_policy().min_length() == -1);
  CHECK_FALSE(security.unavailable().empty());
  dozor::v1::Software software;
  REQUIRE(BuildSoftware(machine, &software).ok());
  CHECK(software.packages_size() == 0);
}

TEST_CASE("windows: a corrupt registry export is named, not half-read") {
  dozor::testing::TempDir temp;
  std::filesystem::create_directories(temp.path() / "registry");
  REQUIRE(WriteFileAtomic(temp.path() / "registry" / "broken.reg", "not an export").ok());
  auto opened = FixtureMachine::Open(temp.path(), kNow);
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code == ErrorCode::kDataLoss);
  CHECK(opened.error().message.find("broken.reg") != std::string::npos);
}

TEST_CASE("windows: query conditions keep a domain member's classes to the machine") {
  // What a domain member's WMI would list without them: domain accounts and groups, and every
  // group's members.
  CimInstance local = {{"Name", "ivanov"}, {"LocalAccount", true}};
  CimInstance domain = {{"Name", "petrov"}, {"LocalAccount", false}};
  CimInstance unknown = {{"Name", "nobody"}};
  const std::vector<CimCondition> local_only = {{"LocalAccount", true}};
  CHECK(MeetsConditions(local, local_only));
  CHECK_FALSE(MeetsConditions(domain, local_only));
  CHECK_FALSE(MeetsConditions(unknown, local_only));
  CHECK(MeetsConditions(unknown, {}));

  // The object path the agent asks with matches the one WMI returns, server prefix and case
  // aside; quotes in a name are escaped and read back.
  const std::string asked =
      WmiObjectPathText("Win32_Group", {{"Domain", "NB-IVANOV"}, {"Name", "Администраторы"}});
  CHECK(asked == "Win32_Group.Domain=\"NB-IVANOV\",Name=\"Администраторы\"");
  CimInstance link = {{"GroupComponent",
                       "\\\\nb-ivanov\\root\\cimv2:Win32_Group.Name=\"Администраторы\","
                       "Domain=\"nb-ivanov\""}};
  CHECK(MeetsConditions(link, {{"GroupComponent", asked}}));
  CHECK_FALSE(MeetsConditions(
      link, {{"GroupComponent", WmiObjectPathText("Win32_Group", {{"Domain", "NB-IVANOV"},
                                                                  {"Name", "Пользователи"}})}}));
  auto quoted = ParseWmiObjectPath(WmiObjectPathText("Win32_Group", {{"Name", "a\"b\\c"}}));
  REQUIRE(quoted.ok());
  CHECK(quoted->keys["Name"] == "a\"b\\c");
}

}  // namespace
}  // namespace dozor::agent::windows
