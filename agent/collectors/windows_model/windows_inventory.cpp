#include "collectors/windows_model/windows_inventory.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "collectors/parsers/hardware_parsers.hpp"
#include "collectors/parsers/package_parsers.hpp"
#include "collectors/parsers/text.hpp"
#include "collectors/windows_model/cim_values.hpp"
#include "dozor/common/civil_time.hpp"
#include "dozor/common/utc_time.hpp"

namespace dozor::agent::windows {
namespace {

constexpr std::string_view kCimV2 = "root/cimv2";
constexpr std::string_view kStorage = "root/Microsoft/Windows/Storage";
constexpr std::string_view kWmi = "root/wmi";
constexpr std::string_view kStandardCimV2 = "root/StandardCimv2";
constexpr std::string_view kSecurityCenter = "root/SecurityCenter2";
constexpr std::string_view kDefender = "root/Microsoft/Windows/Defender";
constexpr std::string_view kBitLocker = "root/cimv2/Security/MicrosoftVolumeEncryption";
// The Windows operating system's licensing application id (SoftwareLicensingProduct).
constexpr std::string_view kWindowsLicensingApp = "55c92734-d682-4d71-983e-d6ec3f16059f";
constexpr std::string_view kBuiltinAdministratorsSid = "S-1-5-32-544";
constexpr size_t kMaxInfobaseListBytes = 4 * 1024 * 1024;
constexpr size_t kMaxIniBytes = 256 * 1024;
constexpr int64_t kSecondsPerDay = 86400;
constexpr int64_t kDefenderStaleDays = 7;
// SMBv1 is off by default from Windows 10 1709 / Server 1709 (build 16299) on.
constexpr uint64_t kFirstBuildWithoutSmb1 = 16299;

// Instances of a class; an absent class or a failure is noted in `unavailable` as `what`.
std::vector<CimInstance> Query(Machine& machine, std::string_view wmi_namespace,
                               std::string_view class_name,
                               const std::vector<std::string>& properties, std::string_view what,
                               google::protobuf::RepeatedPtrField<std::string>* unavailable,
                               bool* exists = nullptr,
                               const std::vector<CimCondition>& conditions = {}) {
  auto instances = machine.cim->Instances(wmi_namespace, class_name, properties, conditions);
  if (exists) *exists = instances.ok();
  if (!instances.ok()) {
    if (unavailable) {
      unavailable->Add(std::string(what) + ": " + std::string(class_name) + " " +
                       (instances.error().code == ErrorCode::kNotFound
                            ? "is not available on this system"
                            : "could not be read (" + instances.error().message + ")"));
    }
    return {};
  }
  return std::move(*instances);
}

std::string DmiValue(const CimInstance& instance, std::string_view name) {
  std::string value = CimText(instance, name);
  return IsPlaceholderDmiValue(value) ? std::string() : value;
}

// "\\.\PHYSICALDRIVE0" and "IDE\DiskX\4&2a&0&0.0.0" compare ignoring case and a "_0" suffix.
std::string InstanceKey(std::string_view name) {
  std::string key = Lower(Trim(name));
  if (key.ends_with("_0")) key.resize(key.size() - 2);
  return key;
}

std::string StorageBus(uint64_t bus_type) {
  switch (bus_type) {
    case 1:
      return "scsi";
    case 3:
      return "ata";
    case 6:
      return "fibre";
    case 7:
      return "usb";
    case 8:
      return "raid";
    case 9:
      return "iscsi";
    case 10:
      return "sas";
    case 11:
      return "sata";
    case 12:
      return "sd";
    case 15:
      return "virtual";
    case 17:
      return "nvme";
    default:
      return {};
  }
}

void CollectDisks(Machine& machine, dozor::v1::Hardware* out) {
  auto* unavailable = out->mutable_unavailable();
  const auto drives = Query(machine, kCimV2, "Win32_DiskDrive",
                            {"DeviceID", "Index", "Model", "SerialNumber", "Size", "InterfaceType",
                             "MediaType", "PNPDeviceID"},
                            "disks", unavailable);
  // Windows storage (8 and later): media type, bus, health, wear, temperature per disk number.
  std::map<uint64_t, CimInstance> physical;
  std::map<std::string, CimInstance> reliability;
  bool have_storage = false;
  for (auto& disk : Query(machine, kStorage, "MSFT_PhysicalDisk",
                          {"DeviceId", "MediaType", "BusType", "HealthStatus", "Size"},
                          "disk health", unavailable, &have_storage)) {
    if (auto id = CimUnsigned(disk, "DeviceId")) physical[*id] = std::move(disk);
  }
  if (have_storage) {
    for (auto& counter : Query(machine, kStorage, "MSFT_StorageReliabilityCounter",
                               {"DeviceId", "Temperature", "Wear", "PowerOnHours"},
                               "disk wear and temperature", unavailable)) {
      std::string key = CimText(counter, "DeviceId");
      reliability[std::move(key)] = std::move(counter);
    }
  }
  // ATA SMART through the storage driver (not for NVMe or RAID volumes).
  bool have_smart = false;
  std::map<std::string, CimInstance> smart_status;
  std::map<std::string, CimInstance> smart_data;
  for (auto& status : Query(machine, kWmi, "MSStorageDriver_FailurePredictStatus",
                            {"InstanceName", "PredictFailure", "Reason"}, "disk SMART", unavailable,
                            &have_smart)) {
    // The key first: json's operator= takes its argument by value, and C++17 evaluates the
    // right side of an assignment (the move) before the left.
    std::string key = InstanceKey(CimText(status, "InstanceName"));
    smart_status[std::move(key)] = std::move(status);
  }
  if (have_smart) {
    for (auto& data :
         Query(machine, kWmi, "MSStorageDriver_FailurePredictData",
               {"InstanceName", "VendorSpecific"}, "disk SMART attributes", unavailable)) {
      std::string key = InstanceKey(CimText(data, "InstanceName"));
      smart_data[std::move(key)] = std::move(data);
    }
  }
  out->set_smartctl_available(have_smart);
  for (const auto& drive : drives) {
    auto* disk = out->add_disks();
    const auto index = CimUnsigned(drive, "Index");
    disk->set_name(index ? "PhysicalDrive" + std::to_string(*index) : CimText(drive, "DeviceID"));
    disk->set_model(CimText(drive, "Model"));
    disk->set_serial(DmiValue(drive, "SerialNumber"));
    disk->set_size_bytes(CimUnsigned(drive, "Size").value_or(0));
    disk->set_transport(Lower(CimText(drive, "InterfaceType")));
    const std::string media = Lower(CimText(drive, "MediaType"));
    disk->set_removable(media.find("removable") != std::string::npos ||
                        media.find("external") != std::string::npos);
    disk->set_power_on_hours(-1);
    disk->set_temperature_c(-1000);
    disk->set_wear_percent(-1);
    if (index && physical.contains(*index)) {
      const CimInstance& info = physical[*index];
      const uint64_t media_type = CimUnsigned(info, "MediaType").value_or(0);
      disk->set_media_type(media_type == 3 ? "hdd" : media_type == 4 ? "ssd" : "");
      disk->set_rotational(media_type == 3);
      if (std::string bus = StorageBus(CimUnsigned(info, "BusType").value_or(0)); !bus.empty()) {
        disk->set_transport(bus);
      }
      if (auto health = CimUnsigned(info, "HealthStatus")) {
        disk->set_health(*health == 0   ? "healthy"
                         : *health == 1 ? "warning"
                         : *health == 2 ? "unhealthy"
                                        : "");
      }
      if (auto it = reliability.find(std::to_string(*index)); it != reliability.end()) {
        if (auto t = CimSigned(it->second, "Temperature"); t && *t > 0 && *t < 200) {
          disk->set_temperature_c(static_cast<int32_t>(*t));
        }
        if (auto wear = CimSigned(it->second, "Wear"); wear && *wear >= 0 && *wear <= 100) {
          disk->set_wear_percent(static_cast<int32_t>(*wear));
        }
        if (auto hours = CimSigned(it->second, "PowerOnHours"); hours && *hours >= 0) {
          disk->set_power_on_hours(*hours);
        }
      }
    }
    const std::string pnp = InstanceKey(CimText(drive, "PNPDeviceID"));
    const auto status = pnp.empty() ? smart_status.end() : smart_status.find(pnp);
    if (!have_smart) {
      disk->set_smart_status("unavailable");
    } else if (status == smart_status.end()) {
      disk->set_smart_status("not_supported");
    } else {
      const bool failing = CimBool(status->second, "PredictFailure").value_or(false);
      disk->set_smart_status(failing ? "failed" : "passed");
      if (failing) {
        disk->set_smart_message("the drive predicts its failure (reason " +
                                CimText(status->second, "Reason") + ")");
      }
      if (auto data = smart_data.find(pnp); data != smart_data.end()) {
        std::vector<uint8_t> page;
        for (int64_t byte : CimNumbers(data->second, "VendorSpecific")) {
          page.push_back(static_cast<uint8_t>(byte & 0xFF));
        }
        if (auto attributes = ParseAtaSmartPage(page); attributes.ok()) {
          for (auto& attribute : *attributes) {
            if (attribute.id() == 9 && disk->power_on_hours() < 0) {
              disk->set_power_on_hours(attribute.raw() & 0xFFFFFFFF);
            }
            if (attribute.id() == 194 && disk->temperature_c() == -1000) {
              disk->set_temperature_c(static_cast<int32_t>(attribute.raw()));
            }
            *disk->add_smart_attributes() = std::move(attribute);
          }
        }
      }
    }
  }
}

std::string VolumeKind(uint64_t drive_type) {
  switch (drive_type) {
    case 2:
      return "removable";
    case 3:
      return "local";
    case 4:
      return "network";
    case 5:
      return "optical";
    case 6:
      return "ram";
    default:
      return "unknown";
  }
}

void CollectVolumes(Machine& machine, dozor::v1::Hardware* out) {
  auto* unavailable = out->mutable_unavailable();
  std::map<std::string, std::string> encryption;  // "C:" -> on/off/in_progress/unknown
  bool have_bitlocker = false;
  for (const auto& volume : Query(machine, kBitLocker, "Win32_EncryptableVolume",
                                  {"DriveLetter", "ProtectionStatus", "ConversionStatus"},
                                  "disk encryption", unavailable, &have_bitlocker)) {
    const std::string letter = CimText(volume, "DriveLetter");
    if (letter.empty()) continue;
    const uint64_t protection = CimUnsigned(volume, "ProtectionStatus").value_or(2);
    const uint64_t conversion = CimUnsigned(volume, "ConversionStatus").value_or(0);
    encryption[Lower(letter)] = protection == 1   ? "on"
                                : protection == 2 ? "unknown"
                                : conversion == 0 ? "off"
                                                  : "in_progress";
  }
  for (const auto& disk : Query(machine, kCimV2, "Win32_LogicalDisk",
                                {"DeviceID", "DriveType", "FileSystem", "Size", "FreeSpace",
                                 "VolumeName", "ProviderName"},
                                "volumes", unavailable)) {
    auto* volume = out->add_volumes();
    volume->set_mount_point(CimText(disk, "DeviceID"));
    volume->set_label(CimText(disk, "VolumeName"));
    volume->set_file_system(CimText(disk, "FileSystem"));
    volume->set_size_bytes(CimUnsigned(disk, "Size").value_or(0));
    volume->set_free_bytes(CimUnsigned(disk, "FreeSpace").value_or(0));
    volume->set_kind(VolumeKind(CimUnsigned(disk, "DriveType").value_or(0)));
    volume->set_remote_path(CimText(disk, "ProviderName"));
    if (volume->kind() == "local" || volume->kind() == "removable") {
      const auto it = encryption.find(Lower(volume->mount_point()));
      volume->set_encryption(it != encryption.end() ? it->second
                             : have_bitlocker       ? "off"
                                                    : "unknown");
    }
  }
}

std::string BatteryStatus(uint64_t status) {
  switch (status) {
    case 1:
      return "discharging";
    case 2:
      return "on_ac";
    case 3:
      return "full";
    case 4:
    case 5:
      return "low";
    case 6:
    case 7:
    case 8:
    case 9:
      return "charging";
    default:
      return "unknown";
  }
}

// Network drive letters ("Z") for IsNetworkPath.
std::string NetworkDriveLetters(Machine& machine) {
  std::string letters;
  auto disks = machine.cim->Instances(kCimV2, "Win32_LogicalDisk", {"DeviceID", "DriveType"}, {});
  if (!disks.ok()) return letters;
  for (const auto& disk : *disks) {
    const std::string id = CimText(disk, "DeviceID");
    if (CimUnsigned(disk, "DriveType").value_or(0) == 4 && !id.empty()) {
      letters.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(id[0]))));
    }
  }
  return letters;
}

// "Майкрософт Windows 11 Pro" / "Microsoft Windows Server 2019 Standard" -> "11" / "2019".
std::string WindowsVersionId(std::string_view caption, std::string_view build_number) {
  static const std::string_view kServer[] = {"2025", "2022",    "2019", "2016", "2012 R2",
                                             "2012", "2008 R2", "2008", "2003"};
  static const std::string_view kClient[] = {"11", "10", "8.1", "8", "7", "Vista", "XP"};
  const std::string lowered = Lower(caption);
  const size_t server = lowered.find("windows server ");
  if (server != std::string::npos) {
    const std::string_view rest = std::string_view(caption).substr(server + 15);
    for (std::string_view version : kServer) {
      if (rest.starts_with(version)) return std::string(version);
    }
  }
  const size_t windows = lowered.find("windows ");
  if (windows != std::string::npos && server == std::string::npos) {
    const std::string_view rest = std::string_view(caption).substr(windows + 8);
    for (std::string_view version : kClient) {
      if (rest.starts_with(version) &&
          (rest.size() == version.size() || rest[version.size()] == ' ')) {
        return std::string(version);
      }
    }
  }
  // Captions that do not say (Wine, stripped images): Windows 11 is build 22000 and later.
  uint64_t build = 0;
  if (ParseNumber(build_number, &build) && build >= 10240) return build >= 22000 ? "11" : "10";
  return {};
}

std::string ActivationName(uint64_t status) {
  switch (status) {
    case 0:
      return "unlicensed";
    case 1:
      return "licensed";
    case 2:
    case 3:
    case 4:
    case 6:
      return "grace";
    case 5:
      return "notification";
    default:
      return "unknown";
  }
}

bool KeyExists(Machine& machine, std::string_view key) {
  return machine.registry->Values(key, RegistryView::kNative).ok();
}

// The relative id of a SID (its last number): what a local account's uid means on Windows.
uint32_t RelativeId(std::string_view sid) {
  const size_t dash = sid.rfind('-');
  uint32_t rid = 0;
  if (dash == std::string_view::npos || !ParseNumber(sid.substr(dash + 1), &rid)) return 0;
  return rid;
}

void CollectUsers(Machine& machine, dozor::v1::OperatingSystem* out) {
  auto* unavailable = out->mutable_unavailable();
  std::map<std::string, dozor::v1::UserAccount*> by_key;  // lower "domain\name"
  // LocalAccount = TRUE: on a domain member Win32_UserAccount would otherwise list the whole domain
  // (slow, and not this machine's facts).
  const std::vector<CimCondition> local_only = {{"LocalAccount", true}};
  for (const auto& account : Query(machine, kCimV2, "Win32_UserAccount",
                                   {"Name", "Domain", "SID", "Disabled", "LocalAccount"},
                                   "local accounts", unavailable, nullptr, local_only)) {
    auto* user = out->add_users();
    user->set_name(CimText(account, "Name"));
    user->set_domain(CimText(account, "Domain"));
    user->set_uid(RelativeId(CimText(account, "SID")));
    user->set_disabled(CimBool(account, "Disabled").value_or(false));
    user->set_kind("user");
    by_key[Lower(user->domain() + "\\" + user->name())] = user;
  }
  // The built-in Administrators group has a fixed SID but a localised name ("Администраторы").
  std::string group_name;
  std::string group_domain;
  // By its SID, not LocalAccount: on a domain controller the built-in group is not "local".
  for (const auto& group :
       Query(machine, kCimV2, "Win32_Group", {"Name", "Domain", "SID"}, "local groups", unavailable,
             nullptr, {{"SID", std::string(kBuiltinAdministratorsSid)}})) {
    if (CimText(group, "SID") == kBuiltinAdministratorsSid) {
      group_name = CimText(group, "Name");
      group_domain = CimText(group, "Domain");
    }
  }
  if (group_name.empty()) return;
  // Only the Administrators group's links (every group's, domain groups included, otherwise).
  const std::vector<CimCondition> administrators_only = {
      {"GroupComponent",
       WmiObjectPathText("Win32_Group", {{"Domain", group_domain}, {"Name", group_name}})}};
  for (const auto& link :
       Query(machine, kCimV2, "Win32_GroupUser", {"GroupComponent", "PartComponent"},
             "administrators", unavailable, nullptr, administrators_only)) {
    auto group = ParseWmiObjectPath(CimText(link, "GroupComponent"));
    auto member = ParseWmiObjectPath(CimText(link, "PartComponent"));
    if (!group.ok() || !member.ok() || Lower(group->keys["Name"]) != Lower(group_name) ||
        Lower(group->keys["Domain"]) != Lower(group_domain)) {
      continue;
    }
    const std::string& domain = member->keys["Domain"];
    const std::string& name = member->keys["Name"];
    const std::string key = Lower(domain + "\\" + name);
    auto it = by_key.find(key);
    if (it == by_key.end()) {
      auto* user = out->add_users();
      user->set_name(name);
      user->set_domain(domain);
      user->set_kind(member->class_name == "Win32_Group" ? "group" : "user");
      it = by_key.emplace(key, user).first;
    }
    it->second->set_administrator(true);
  }
}

// The programs under one Uninstall key. A key that does not exist holds none; another failure
// to list it is returned.
Status AddPackages(Machine& machine, std::string_view uninstall_key, RegistryView view,
                   std::string_view architecture, dozor::v1::Software* out,
                   std::set<std::string>* seen) {
  auto subkeys = machine.registry->Subkeys(uninstall_key, view);
  if (!subkeys.ok()) {
    return subkeys.error().code == ErrorCode::kNotFound ? OkStatus() : Status(subkeys.error());
  }
  for (const auto& subkey : *subkeys) {
    auto values = machine.registry->Values(std::string(uninstall_key) + "\\" + subkey, view);
    if (!values.ok()) continue;
    const std::string name = values->Text("DisplayName");
    // Updates of a product (ParentKeyName) and parts Windows hides (SystemComponent) are not
    // programs anybody installed.
    if (name.empty() || values->Number("SystemComponent").value_or(0) == 1 ||
        !values->Text("ParentKeyName").empty()) {
      continue;
    }
    const std::string version = values->Text("DisplayVersion");
    if (!seen->insert(Lower(name) + "\n" + version + "\n" + std::string(architecture)).second) {
      continue;
    }
    auto* package = out->add_packages();
    package->set_name(name);
    package->set_version(version);
    package->set_architecture(std::string(architecture));
    package->set_vendor(values->Text("Publisher"));
    package->set_source(values->Number("WindowsInstaller").value_or(0) == 1 ? "msi" : "windows");
    // InstallDate is "YYYYMMDD".
    const std::string date = values->Text("InstallDate");
    if (date.size() == 8 && IsAllDigits(date)) {
      auto seconds = ParseIso8601Utc(date.substr(0, 4) + "-" + date.substr(4, 2) + "-" +
                                     date.substr(6, 2) + "T00:00:00Z");
      if (seconds.ok()) package->set_install_time(*seconds);
    }
  }
  return OkStatus();
}

// Backup software by what its service or program is called.
bool IsBackupTool(std::string_view name) {
  static const std::string_view kNames[] = {"veeam",    "acronis",
                                            "cobian",   "handy backup",
                                            "iperius",  "effector saver",
                                            "bacula",   "urbackup",
                                            "arcserve", "backup exec",
                                            "restic",   "duplicati",
                                            "wbengine", "windows server backup",
                                            "macrium",  "aomei backupper"};
  const std::string lowered = Lower(name);
  return std::any_of(std::begin(kNames), std::end(kNames), [&](std::string_view known) {
    return lowered.find(known) != std::string::npos;
  });
}

void CollectOneC(Machine& machine, dozor::v1::Software* out) {
  // Platforms: <Program Files>\1cv8\<version>\bin\ (x64 and x86 installs).
  static const std::pair<std::string_view, std::string_view> kRoots[] = {
      {"C:\\Program Files\\1cv8", "x86_64"}, {"C:\\Program Files (x86)\\1cv8", "x86"}};
  for (const auto& [root, architecture] : kRoots) {
    auto versions = machine.files->List(root);
    if (!versions.ok()) continue;
    for (const auto& version : *versions) {
      if (!LooksLikeOneCVersion(version)) continue;
      const std::string bin = std::string(root) + "\\" + version + "\\bin";
      auto binaries = machine.files->List(bin);
      if (!binaries.ok()) continue;
      OneCBinaries found;
      for (const auto& file : *binaries) {
        const std::string name = Lower(file);
        found.ragent |= name == "ragent.exe";
        found.rphost |= name == "rphost.exe";
        found.client |= name == "1cv8.exe";
        found.thin_client |= name == "1cv8c.exe";
      }
      auto* app = out->add_applications();
      app->set_name("1C:Enterprise");
      app->set_version(version);
      app->set_architecture(std::string(architecture));
      app->set_path(std::string(root) + "\\" + version);
      app->set_kind(OneCKind(found));
    }
    // The licence client's settings, shared by the versions of this install.
    const std::string ini = std::string(root) + "\\conf\\nethasp.ini";
    if (auto text = machine.files->Read(ini, kMaxIniBytes); text.ok()) {
      const HaspClientSettings settings = ParseNethaspIni(*text);
      auto* client = out->add_license_clients();
      client->set_kind("hasp");
      client->set_config_path(ini);
      for (const auto& address : settings.server_addresses) client->add_servers(address);
      for (const auto& name : settings.server_names) client->add_servers(name);
      client->set_broadcast(settings.broadcast);
    }
  }
  // The server agent service: its configured ports, and whether the cluster runs.
  for (auto& service : *out->mutable_services()) {
    if (Lower(service.command()).find("ragent.exe") == std::string::npos) continue;
    const OneCServerPorts ports = ParseRagentCommandLine(service.command());
    const std::string version = OneCVersionFromPath(service.command());
    for (auto& app : *out->mutable_applications()) {
      if (app.name() != "1C:Enterprise" || app.version() != version) continue;
      if (service.active_state() == "active" || app.state().empty()) {
        app.set_state(service.active_state() == "active" ? "running" : "stopped");
      }
      if (app.ports_size() > 0) continue;
      app.set_kind("server");
      app.add_ports(ports.agent_port);
      app.add_ports(ports.manager_port);
      for (uint32_t port = ports.range_first; port <= ports.range_last; ++port) {
        app.add_ports(port);
      }
    }
  }
  // A server install whose agent is not a service here does not run a cluster.
  if (out->services_size() > 0) {
    for (auto& app : *out->mutable_applications()) {
      if (app.name() == "1C:Enterprise" && app.kind() == "server" && app.state().empty()) {
        app.set_state("stopped");
      }
    }
  }
  // Each user's infobase list.
  const std::string network_drives = NetworkDriveLetters(machine);
  auto profiles = machine.files->List("C:\\Users");
  if (!profiles.ok()) return;
  for (const auto& user : *profiles) {
    const std::string path = "C:\\Users\\" + user + "\\AppData\\Roaming\\1C\\1CEStart\\ibases.v8i";
    auto text = machine.files->Read(path, kMaxInfobaseListBytes);
    if (!text.ok()) {
      if (text.error().code != ErrorCode::kNotFound) {
        out->add_unavailable("1C infobases of " + user + ": " + text.error().message);
      }
      continue;
    }
    for (auto& entry : ParseInfobaseList(*text)) {
      auto* infobase = out->add_infobases();
      infobase->set_user(user);
      infobase->set_name(entry.name);
      infobase->set_kind(entry.kind);
      infobase->set_location(entry.location);
      infobase->set_version(entry.version);
      infobase->set_network_share(entry.kind == "file" &&
                                  IsNetworkPath(entry.location, network_drives));
    }
  }
}

// "255.255.255.0" -> 24; an IPv6 prefix comes as a number ("64").
uint32_t PrefixLength(std::string_view subnet) {
  uint32_t prefix = 0;
  if (ParseNumber(subnet, &prefix)) return std::min<uint32_t>(prefix, 128);
  prefix = 0;
  for (std::string_view octet : Split(subnet, '.')) {
    uint32_t value = 0;
    if (!ParseNumber(octet, &value) || value > 255) return 0;
    prefix += static_cast<uint32_t>(__builtin_popcount(value));
  }
  return prefix;
}

std::string AdapterState(uint64_t status) {
  switch (status) {
    case 2:
      return "up";
    case 0:
    case 7:
      return "down";
    case 1:
      return "connecting";
    case 3:
      return "disconnecting";
    case 4:
    case 5:
    case 6:
      return "down";  // hardware missing / disabled / malfunction
    default:
      return "unknown";
  }
}

void AddListeners(Machine& machine, dozor::v1::Network* out) {
  auto* unavailable = out->mutable_unavailable();
  std::map<uint32_t, std::string> process_names;
  for (const auto& process :
       Query(machine, kCimV2, "Win32_Process", {"ProcessId", "Name"}, "process names", nullptr)) {
    if (auto pid = CimUnsigned(process, "ProcessId")) {
      process_names[static_cast<uint32_t>(*pid)] = CimText(process, "Name");
    }
  }
  auto add = [&](const CimInstance& endpoint, const char* protocol) {
    const uint64_t port = CimUnsigned(endpoint, "LocalPort").value_or(0);
    if (port == 0 || port > 65535) return;
    auto* socket = out->add_listening();
    socket->set_protocol(protocol);
    socket->set_address(CimText(endpoint, "LocalAddress"));
    socket->set_family(socket->address().find(':') != std::string::npos ? 6 : 4);
    socket->set_port(static_cast<uint32_t>(port));
    const auto pid = static_cast<uint32_t>(CimUnsigned(endpoint, "OwningProcess").value_or(0));
    socket->set_pid(pid);
    if (auto it = process_names.find(pid); it != process_names.end()) {
      socket->set_process(it->second);
    } else if (pid == 4) {
      socket->set_process("System");
    }
  };
  constexpr uint64_t kListen = 2;
  for (const auto& connection : Query(machine, kStandardCimV2, "MSFT_NetTCPConnection",
                                      {"LocalAddress", "LocalPort", "State", "OwningProcess"},
                                      "listening TCP ports", unavailable)) {
    if (CimUnsigned(connection, "State").value_or(0) == kListen) add(connection, "tcp");
  }
  for (const auto& endpoint :
       Query(machine, kStandardCimV2, "MSFT_NetUDPEndpoint",
             {"LocalAddress", "LocalPort", "OwningProcess"}, "UDP ports", unavailable)) {
    add(endpoint, "udp");
  }
}

}  // namespace

Status BuildHardware(Machine& machine, dozor::v1::Hardware* out) {
  auto* unavailable = out->mutable_unavailable();
  const auto processors =
      Query(machine, kCimV2, "Win32_Processor",
            {"Name", "NumberOfCores", "NumberOfLogicalProcessors", "MaxClockSpeed"}, "processor",
            unavailable);
  auto* cpu = out->mutable_cpu();
  for (const auto& processor : processors) {
    if (cpu->model().empty()) cpu->set_model(CimText(processor, "Name"));
    cpu->set_sockets(cpu->sockets() + 1);
    cpu->set_cores(cpu->cores() +
                   static_cast<uint32_t>(CimUnsigned(processor, "NumberOfCores").value_or(0)));
    cpu->set_threads(
        cpu->threads() +
        static_cast<uint32_t>(CimUnsigned(processor, "NumberOfLogicalProcessors").value_or(0)));
    cpu->set_mhz(static_cast<double>(CimUnsigned(processor, "MaxClockSpeed").value_or(0)));
  }
  auto* dmi = out->mutable_dmi();
  const auto systems =
      Query(machine, kCimV2, "Win32_ComputerSystem",
            {"Manufacturer", "Model", "TotalPhysicalMemory", "HypervisorPresent", "PCSystemType"},
            "computer system", unavailable);
  if (systems.empty() && processors.empty()) {
    return MakeError(ErrorCode::kUnavailable,
                     "WMI answers neither Win32_ComputerSystem nor "
                     "Win32_Processor");
  }
  if (!systems.empty()) {
    const CimInstance& system = systems.front();
    out->set_memory_total_bytes(CimUnsigned(system, "TotalPhysicalMemory").value_or(0));
    dmi->set_system_vendor(DmiValue(system, "Manufacturer"));
    dmi->set_system_model(DmiValue(system, "Model"));
  }
  for (const auto& product : Query(machine, kCimV2, "Win32_ComputerSystemProduct",
                                   {"UUID", "IdentifyingNumber"}, "system serial", unavailable)) {
    dmi->set_system_uuid(DmiValue(product, "UUID"));
    dmi->set_system_serial(DmiValue(product, "IdentifyingNumber"));
  }
  for (const auto& board :
       Query(machine, kCimV2, "Win32_BaseBoard", {"Manufacturer", "Product", "SerialNumber"},
             "board", unavailable)) {
    dmi->set_board_vendor(DmiValue(board, "Manufacturer"));
    dmi->set_board_model(DmiValue(board, "Product"));
    dmi->set_board_serial(DmiValue(board, "SerialNumber"));
  }
  for (const auto& bios :
       Query(machine, kCimV2, "Win32_BIOS",
             {"Manufacturer", "SMBIOSBIOSVersion", "ReleaseDate", "SerialNumber"}, "BIOS",
             unavailable)) {
    dmi->set_bios_vendor(DmiValue(bios, "Manufacturer"));
    dmi->set_bios_version(DmiValue(bios, "SMBIOSBIOSVersion"));
    if (const int64_t released = CimTime(bios, "ReleaseDate"); released > 0) {
      dmi->set_bios_date(FormatUtc(released * 1000, UtcStyle::kDate));
    }
    if (dmi->system_serial().empty()) dmi->set_system_serial(DmiValue(bios, "SerialNumber"));
  }
  for (const auto& enclosure :
       Query(machine, kCimV2, "Win32_SystemEnclosure", {"ChassisTypes"}, "chassis", unavailable)) {
    const auto types = CimNumbers(enclosure, "ChassisTypes");
    if (!types.empty()) dmi->set_chassis_type(ChassisTypeName(std::to_string(types.front())));
  }
  const std::string hypervisor =
      HypervisorFromDmi(dmi->system_vendor(), dmi->system_model(), dmi->bios_vendor());
  out->set_virtual_machine(!hypervisor.empty());
  out->set_hypervisor(hypervisor);
  for (const auto& module :
       Query(machine, kCimV2, "Win32_PhysicalMemory",
             {"BankLabel", "DeviceLocator", "Capacity", "Speed", "ConfiguredClockSpeed",
              "Manufacturer", "PartNumber", "SerialNumber"},
             "memory modules", unavailable)) {
    auto* memory = out->add_memory_modules();
    memory->set_slot(CimText(module, "DeviceLocator"));
    memory->set_size_bytes(CimUnsigned(module, "Capacity").value_or(0));
    memory->set_speed_mhz(
        static_cast<uint32_t>(CimUnsigned(module, "ConfiguredClockSpeed")
                                  .value_or(CimUnsigned(module, "Speed").value_or(0))));
    memory->set_manufacturer(DmiValue(module, "Manufacturer"));
    memory->set_part_number(DmiValue(module, "PartNumber"));
    memory->set_serial(DmiValue(module, "SerialNumber"));
  }
  for (const auto& battery : Query(machine, kCimV2, "Win32_Battery",
                                   {"Name", "EstimatedChargeRemaining", "BatteryStatus",
                                    "DesignCapacity", "FullChargeCapacity"},
                                   "battery", unavailable)) {
    auto* out_battery = out->add_batteries();
    out_battery->set_name(CimText(battery, "Name"));
    out_battery->set_design_capacity_mwh(
        static_cast<uint32_t>(CimUnsigned(battery, "DesignCapacity").value_or(0)));
    out_battery->set_full_charge_capacity_mwh(
        static_cast<uint32_t>(CimUnsigned(battery, "FullChargeCapacity").value_or(0)));
    const auto charge = CimUnsigned(battery, "EstimatedChargeRemaining");
    out_battery->set_charge_percent(charge && *charge <= 100 ? static_cast<int32_t>(*charge) : -1);
    out_battery->set_status(BatteryStatus(CimUnsigned(battery, "BatteryStatus").value_or(0)));
  }
  CollectDisks(machine, out);
  CollectVolumes(machine, out);
  return OkStatus();
}

Status BuildOperatingSystem(Machine& machine, dozor::v1::OperatingSystem* out) {
  auto* unavailable = out->mutable_unavailable();
  auto systems =
      machine.cim->Instances(kCimV2, "Win32_OperatingSystem",
                             {"Caption", "Version", "BuildNumber", "OSArchitecture", "InstallDate",
                              "LastBootUpTime", "CSName", "ProductType", "CurrentTimeZone"},
                             {});
  if (!systems.ok()) return systems.error();
  if (systems->empty()) {
    return MakeError(ErrorCode::kUnavailable, "WMI has no Win32_OperatingSystem instance");
  }
  const CimInstance& os = systems->front();
  out->set_family("windows");
  out->set_id("windows");
  out->set_name(CimText(os, "Caption"));
  out->set_kernel(CimText(os, "Version"));
  const std::string architecture = CimText(os, "OSArchitecture");
  out->set_architecture(architecture.find("64") != std::string::npos ? "x86_64"
                        : architecture.empty()                       ? ""
                                                                     : "x86");
  out->set_install_time(CimTime(os, "InstallDate"));
  out->set_boot_time(CimTime(os, "LastBootUpTime"));
  if (out->boot_time() > 0 && machine.now_s > out->boot_time()) {
    out->set_uptime_seconds(machine.now_s - out->boot_time());
  }
  out->set_hostname(CimText(os, "CSName"));
  const uint64_t product_type = CimUnsigned(os, "ProductType").value_or(0);
  out->set_product_type(product_type == 1   ? "workstation"
                        : product_type == 2 ? "domain_controller"
                        : product_type == 3 ? "server"
                                            : "");
  if (auto offset = CimSigned(os, "CurrentTimeZone")) {
    char zone[48];
    const int64_t minutes = *offset < 0 ? -*offset : *offset;
    std::snprintf(zone, sizeof(zone), "UTC%c%02lld:%02lld", *offset < 0 ? '-' : '+',
                  static_cast<long long>(minutes / 60), static_cast<long long>(minutes % 60));
    out->set_timezone(zone);
  }
  std::string build_number = CimText(os, "BuildNumber");
  auto current = machine.registry->Values("HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion",
                                          RegistryView::kNative);
  std::string display_version;
  if (current.ok()) {
    out->set_edition(current->Text("EditionID"));
    display_version = current->Text("DisplayVersion");
    if (display_version.empty()) display_version = current->Text("ReleaseId");
    if (build_number.empty()) build_number = current->Text("CurrentBuild");
    const std::string ubr = current->Text("UBR");
    out->set_build(ubr.empty() ? build_number : build_number + "." + ubr);
    if (out->install_time() == 0) {
      out->set_install_time(static_cast<int64_t>(current->Number("InstallDate").value_or(0)));
    }
  } else {
    out->set_build(build_number);
    unavailable->Add("edition and build: " + current.error().message);
  }
  out->set_version(display_version);
  out->set_version_id(WindowsVersionId(out->name(), build_number));
  out->set_pretty_name(display_version.empty() ? out->name() : out->name() + " " + display_version);
  for (const auto& system : Query(machine, kCimV2, "Win32_ComputerSystem",
                                  {"DNSHostName", "Domain", "PartOfDomain", "Workgroup"},
                                  "domain membership", unavailable)) {
    const std::string dns_name = CimText(system, "DNSHostName");
    if (!dns_name.empty()) out->set_hostname(dns_name);
    if (CimBool(system, "PartOfDomain").value_or(false)) {
      out->set_domain(CimText(system, "Domain"));
      out->set_fqdn(out->hostname() + "." + Lower(out->domain()));
    } else {
      out->set_workgroup(CimText(system, "Workgroup"));
      if (out->workgroup().empty()) out->set_workgroup(CimText(system, "Domain"));
      out->set_fqdn(out->hostname());
    }
  }
  if (auto crypto = machine.registry->Values("HKLM\\SOFTWARE\\Microsoft\\Cryptography",
                                             RegistryView::kNative);
      crypto.ok()) {
    const std::string guid = crypto->Text("MachineGuid");
    if (!guid.empty() && guid.size() <= 64) out->set_machine_id(guid);
  }
  // Activation: the Windows product that has a key installed.
  out->set_activation("unknown");
  for (const auto& product :
       Query(machine, kCimV2, "SoftwareLicensingProduct",
             {"ApplicationID", "PartialProductKey", "LicenseStatus"}, "activation", unavailable)) {
    if (Lower(CimText(product, "ApplicationID")) == kWindowsLicensingApp &&
        !CimText(product, "PartialProductKey").empty()) {
      out->set_activation(ActivationName(CimUnsigned(product, "LicenseStatus").value_or(99)));
    }
  }
  // A restart is pending when Windows servicing or Windows Update left their markers.
  auto session = machine.registry->Values(
      "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Session Manager", RegistryView::kNative);
  const RegValue* renames = session.ok() ? session->Find("PendingFileRenameOperations") : nullptr;
  out->set_reboot_required(
      KeyExists(machine,
                "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Component Based "
                "Servicing\\RebootPending") ||
      KeyExists(machine,
                "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\WindowsUpdate\\Auto "
                "Update\\RebootRequired") ||
      (renames && !renames->strings.empty()));
  out->set_pending_updates(-1);
  out->set_pending_security_updates(-1);
  if (auto updates = machine.system->ReadUpdateState(); updates.ok()) {
    out->set_last_update_install_time(updates->last_install_success);
    out->set_update_error(updates->error);
    if (updates->error.empty() || updates->last_search_success > 0) {
      out->set_pending_updates(static_cast<int32_t>(updates->pending.size()));
      out->set_pending_security_updates(static_cast<int32_t>(
          std::count_if(updates->pending.begin(), updates->pending.end(),
                        [](const PendingUpdate& update) { return update.security; })));
    }
  } else {
    unavailable->Add("Windows Update: " + updates.error().message);
  }
  // The time source: the domain hierarchy or the NTP servers W32Time is given.
  out->set_clock_synchronized(-1);
  out->set_clock_max_error_us(-1);
  if (auto time = machine.registry->Values(
          "HKLM\\SYSTEM\\CurrentControlSet\\Services\\W32Time\\Parameters", RegistryView::kNative);
      time.ok()) {
    const std::string type = time->Text("Type");
    if (type == "NT5DS") {
      out->set_time_source("NT5DS (domain hierarchy)");
    } else if (type == "NTP" || type == "AllSync") {
      out->set_time_source(type + ": " + time->Text("NtpServer"));
    } else if (type == "NoSync") {
      out->set_time_source("NoSync (not synchronised)");
    } else {
      out->set_time_source(type);
    }
  }
  CollectUsers(machine, out);
  return OkStatus();
}

Status BuildNetwork(Machine& machine, dozor::v1::Network* out) {
  auto* unavailable = out->mutable_unavailable();
  auto configurations = machine.cim->Instances(
      kCimV2, "Win32_NetworkAdapterConfiguration",
      {"Index", "MACAddress", "IPEnabled", "IPAddress", "IPSubnet", "DefaultIPGateway",
       "DNSServerSearchOrder", "DNSDomainSuffixSearchOrder", "DNSDomain"},
      {});
  if (!configurations.ok()) return configurations.error();
  std::map<uint64_t, CimInstance> adapters;
  for (auto& adapter : Query(machine, kCimV2, "Win32_NetworkAdapter",
                             {"Index", "Name", "NetConnectionID", "MACAddress", "Speed",
                              "NetConnectionStatus", "PhysicalAdapter"},
                             "network adapters", unavailable)) {
    if (auto index = CimUnsigned(adapter, "Index")) adapters[*index] = std::move(adapter);
  }
  std::set<std::string> dns_seen;
  std::set<std::string> domains_seen;
  for (const auto& configuration : *configurations) {
    const auto index = CimUnsigned(configuration, "Index");
    const CimInstance* adapter = index && adapters.contains(*index) ? &adapters[*index] : nullptr;
    const bool ip_enabled = CimBool(configuration, "IPEnabled").value_or(false);
    // Adapters with no connection name are miniports and filters, not interfaces anyone set up.
    if (!ip_enabled && (!adapter || CimText(*adapter, "NetConnectionID").empty())) continue;
    auto* interface = out->add_interfaces();
    std::string name = adapter ? CimText(*adapter, "NetConnectionID") : "";
    if (name.empty())
      name = adapter ? CimText(*adapter, "Name") : "adapter " + std::to_string(*index);
    interface->set_name(name);
    interface->set_mac(Lower(CimText(configuration, "MACAddress")));
    interface->set_speed_mbps(-1);
    interface->set_state(ip_enabled ? "up" : "unknown");
    if (adapter) {
      if (auto status = CimUnsigned(*adapter, "NetConnectionStatus")) {
        interface->set_state(AdapterState(*status));
      }
      // A disconnected adapter reports 2^63-1 bits per second.
      if (auto speed = CimUnsigned(*adapter, "Speed");
          speed && *speed > 0 && *speed < (uint64_t{1} << 62)) {
        interface->set_speed_mbps(static_cast<int64_t>(*speed / 1000000));
      }
      interface->set_virtual_(CimBool(*adapter, "PhysicalAdapter") == false);
    }
    const auto addresses = CimTexts(configuration, "IPAddress");
    const auto subnets = CimTexts(configuration, "IPSubnet");
    for (size_t i = 0; i < addresses.size(); ++i) {
      auto* address = interface->add_addresses();
      address->set_address(addresses[i]);
      address->set_family(addresses[i].find(':') != std::string::npos ? 6 : 4);
      if (i < subnets.size()) address->set_prefix(PrefixLength(subnets[i]));
      if (addresses[i] == "127.0.0.1" || addresses[i] == "::1") interface->set_loopback(true);
    }
    for (const auto& gateway_address : CimTexts(configuration, "DefaultIPGateway")) {
      auto* gateway = out->add_gateways();
      gateway->set_address(gateway_address);
      gateway->set_interface(name);
      gateway->set_family(gateway_address.find(':') != std::string::npos ? 6 : 4);
    }
    for (const auto& server : CimTexts(configuration, "DNSServerSearchOrder")) {
      if (dns_seen.insert(server).second) out->add_dns_servers(server);
    }
    auto domains = CimTexts(configuration, "DNSDomainSuffixSearchOrder");
    if (auto domain = CimText(configuration, "DNSDomain"); !domain.empty()) {
      domains.push_back(domain);
    }
    for (const auto& domain : domains) {
      if (domains_seen.insert(Lower(domain)).second) out->add_search_domains(domain);
    }
  }
  AddListeners(machine, out);
  return OkStatus();
}

Status BuildSoftware(Machine& machine, dozor::v1::Software* out) {
  constexpr std::string_view kUninstall =
      "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall";
  std::set<std::string> seen;
  // The machine-wide list is the essential source; the others are best effort.
  DOZOR_RETURN_IF_ERROR(AddPackages(machine, kUninstall, RegistryView::kNative, "x64", out, &seen));
  if (auto wow = AddPackages(machine, kUninstall, RegistryView::kWow32, "x86", out, &seen);
      !wow.ok()) {
    out->add_unavailable("32-bit programs: " + wow.error().message);
  }
  // Programs installed for one user only live in that user's hive (loaded while they are
  // logged on; the service sees the hives of users with a session).
  if (auto users = machine.registry->Subkeys("HKU", RegistryView::kNative); users.ok()) {
    for (const auto& sid : *users) {
      if (!sid.starts_with("S-1-5-21-") || sid.ends_with("_Classes")) continue;
      if (auto user = AddPackages(
              machine, "HKU\\" + sid + "\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall",
              RegistryView::kNative, "user", out, &seen);
          !user.ok()) {
        out->add_unavailable("programs of " + sid + ": " + user.error().message);
      }
    }
  }
  for (const auto& service :
       Query(machine, kCimV2, "Win32_Service",
             {"Name", "DisplayName", "State", "StartMode", "PathName", "StartName"}, "services",
             out->mutable_unavailable())) {
    auto* out_service = out->add_services();
    out_service->set_name(CimText(service, "Name"));
    out_service->set_description(CimText(service, "DisplayName"));
    out_service->set_load_state("loaded");
    const std::string state = Lower(CimText(service, "State"));
    // The Linux words rules already use: running is active, stopped inactive.
    out_service->set_active_state(state == "running"           ? "active"
                                  : state == "stopped"         ? "inactive"
                                  : state.ends_with("pending") ? "activating"
                                                               : state);
    out_service->set_sub_state(state);
    const std::string start = Lower(CimText(service, "StartMode"));
    out_service->set_enabled(start == "auto"       ? "enabled"
                             : start == "disabled" ? "disabled"
                             : start == "manual"   ? "manual"
                             : start.empty()       ? "unknown"
                                                   : start);
    out_service->set_account(CimText(service, "StartName"));
    out_service->set_command(CimText(service, "PathName"));
  }
  CollectOneC(machine, out);
  // Backup tools found by their services and programs, as Linux reports its backup timers.
  std::set<std::string> backup_names;
  for (const auto& service : out->services()) {
    if (IsBackupTool(service.name()) || IsBackupTool(service.description())) {
      backup_names.insert(service.description().empty() ? service.name() : service.description());
    }
  }
  for (const auto& package : out->packages()) {
    if (IsBackupTool(package.name())) backup_names.insert(package.name());
  }
  for (const auto& name : backup_names) {
    auto* app = out->add_applications();
    app->set_name(name);
    app->set_kind("backup");
  }
  return OkStatus();
}

Status BuildSecurity(Machine& machine, dozor::v1::Security* out) {
  auto* unavailable = out->mutable_unavailable();
  // Defender's own view is the most precise; Security Center lists every registered product
  // (third-party antivirus too) but is absent on servers.
  bool have_defender = false;
  for (const auto& status :
       Query(machine, kDefender, "MSFT_MpComputerStatus",
             {"AMServiceEnabled", "AntivirusEnabled", "RealTimeProtectionEnabled",
              "AntivirusSignatureLastUpdated", "AntivirusSignatureAge", "AMProductVersion"},
             "Microsoft Defender", unavailable)) {
    have_defender = true;
    auto* antivirus = out->add_antivirus();
    antivirus->set_name("Microsoft Defender Antivirus");
    antivirus->set_source("defender");
    const auto enabled = CimBool(status, "AntivirusEnabled");
    const auto realtime = CimBool(status, "RealTimeProtectionEnabled");
    antivirus->set_enabled(enabled && realtime ? (*enabled && *realtime ? 1 : 0) : -1);
    antivirus->set_signatures_updated(CimTime(status, "AntivirusSignatureLastUpdated"));
    if (auto age = CimSigned(status, "AntivirusSignatureAge"); age && *age >= 0 && *age < 65535) {
      antivirus->set_up_to_date(*age <= kDefenderStaleDays ? 1 : 0);
    } else {
      antivirus->set_up_to_date(-1);
    }
    antivirus->set_version(CimText(status, "AMProductVersion"));
  }
  for (const auto& product :
       Query(machine, kSecurityCenter, "AntiVirusProduct", {"displayName", "productState"},
             "Security Center", unavailable)) {
    const std::string name = CimText(product, "displayName");
    if (have_defender && Lower(name).find("defender") != std::string::npos) continue;
    auto* antivirus = out->add_antivirus();
    antivirus->set_name(name);
    antivirus->set_source("security_center");
    if (auto state = CimUnsigned(product, "productState")) {
      const SecurityCenterState decoded = DecodeSecurityCenterState(static_cast<uint32_t>(*state));
      antivirus->set_enabled(decoded.enabled ? 1 : 0);
      antivirus->set_up_to_date(decoded.up_to_date ? 1 : 0);
    } else {
      antivirus->set_enabled(-1);
      antivirus->set_up_to_date(-1);
    }
  }
  // Firewall profiles: the firewall's WMI provider (Windows 8 and later), else its registry.
  bool have_firewall_wmi = false;
  for (const auto& profile : Query(machine, kStandardCimV2, "MSFT_NetFirewallProfile",
                                   {"Name", "Enabled"}, "firewall", nullptr, &have_firewall_wmi)) {
    auto* out_profile = out->add_firewall();
    out_profile->set_name(CimText(profile, "Name"));
    out_profile->set_enabled(CimUnsigned(profile, "Enabled").value_or(0) == 1);
  }
  if (!have_firewall_wmi) {
    static const std::pair<std::string_view, std::string_view> kProfiles[] = {
        {"DomainProfile", "Domain"}, {"StandardProfile", "Private"}, {"PublicProfile", "Public"}};
    for (const auto& [key, name] : kProfiles) {
      auto values = machine.registry->Values(
          "HKLM\\SYSTEM\\CurrentControlSet\\Services\\SharedAccess\\Parameters\\FirewallPolicy\\" +
              std::string(key),
          RegistryView::kNative);
      if (!values.ok()) continue;
      if (auto enabled = values->Number("EnableFirewall")) {
        auto* profile = out->add_firewall();
        profile->set_name(std::string(name));
        profile->set_enabled(*enabled != 0);
      }
    }
    if (out->firewall_size() == 0) unavailable->Add("firewall: no profile could be read");
  }
  // Remote Desktop and whether it asks for Network Level Authentication first.
  out->set_remote_desktop(-1);
  out->set_remote_desktop_nla(-1);
  if (auto ts = machine.registry->Values(
          "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server", RegistryView::kNative);
      ts.ok()) {
    if (auto deny = ts->Number("fDenyTSConnections")) out->set_remote_desktop(*deny == 0 ? 1 : 0);
  }
  if (auto rdp = machine.registry->Values(
          "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\WinStations\\RDP-Tcp",
          RegistryView::kNative);
      rdp.ok()) {
    if (auto nla = rdp->Number("UserAuthentication")) out->set_remote_desktop_nla(*nla ? 1 : 0);
    out->set_remote_desktop_port(static_cast<uint32_t>(rdp->Number("PortNumber").value_or(3389)));
  }
  if (out->remote_desktop() == -1) unavailable->Add("Remote Desktop: settings not readable");
  // SMBv1: the optional feature where Windows has one, else the server's registry switch, else
  // the version's default.
  out->set_smb1(-1);
  for (const auto& feature : Query(machine, kCimV2, "Win32_OptionalFeature",
                                   {"Name", "InstallState"}, "optional features", nullptr)) {
    if (Lower(CimText(feature, "Name")) == "smb1protocol") {
      const uint64_t state = CimUnsigned(feature, "InstallState").value_or(0);
      if (state == 1 || state == 2) out->set_smb1(state == 1 ? 1 : 0);
    }
  }
  if (out->smb1() == -1) {
    auto parameters = machine.registry->Values(
        "HKLM\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters",
        RegistryView::kNative);
    if (parameters.ok() && parameters->Number("SMB1")) {
      out->set_smb1(*parameters->Number("SMB1") != 0 ? 1 : 0);
    } else if (auto os =
                   machine.cim->Instances(kCimV2, "Win32_OperatingSystem", {"BuildNumber"}, {});
               os.ok() && !os->empty()) {
      uint64_t build = 0;
      if (ParseNumber(CimText(os->front(), "BuildNumber"), &build) && build > 0) {
        out->set_smb1(build < kFirstBuildWithoutSmb1 ? 1 : 0);
      }
    }
  }
  if (auto policy = machine.system->ReadAccountPolicy(); policy.ok()) {
    auto* out_policy = out->mutable_password_policy();
    out_policy->set_min_length(policy->min_password_length);
    out_policy->set_max_age_days(policy->max_password_age_days);
    out_policy->set_lockout_threshold(policy->lockout_threshold);
    out_policy->set_complexity(policy->password_complexity);
  } else {
    auto* out_policy = out->mutable_password_policy();
    out_policy->set_min_length(-1);
    out_policy->set_max_age_days(-1);
    out_policy->set_lockout_threshold(-1);
    out_policy->set_complexity(-1);
    unavailable->Add("password policy: " + policy.error().message);
  }
  return OkStatus();
}

}  // namespace dozor::agent::windows
