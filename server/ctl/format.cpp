#include "ctl/format.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <sstream>

namespace dozor::ctl {

namespace {

const nlohmann::json& Null() {
  static const nlohmann::json kNull = nullptr;
  return kNull;
}

// Member `key` of an object, or null: missing fields never throw.
const nlohmann::json& At(const nlohmann::json& object, std::string_view key) {
  if (!object.is_object()) {
    return Null();
  }
  const auto it = object.find(key);
  return it == object.end() ? Null() : *it;
}

const nlohmann::json& Array(const nlohmann::json& object, std::string_view key) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  const auto& value = At(object, key);
  return value.is_array() ? value : kEmpty;
}

bool JsonBool(const nlohmann::json& value) { return value.is_boolean() && value.get<bool>(); }

std::string OrDash(std::string text) {
  const auto begin = text.find_first_not_of(' ');
  if (begin == std::string::npos) {
    return "-";
  }
  return text.substr(begin, text.find_last_not_of(' ') - begin + 1);
}

// Proto3 JSON omits zero values, so an absent count is 0; negative means "unknown".
std::string CountOrUnknown(const nlohmann::json& value) {
  const int64_t count = JsonI64(value);
  return count < 0 ? std::string("unknown") : std::to_string(count);
}

std::string Section(std::string_view title) {
  return "\n" + std::string(title) + "\n" + std::string(DisplayWidth(title), '-') + "\n";
}

// "Label:  value" lines with labels padded to one width.
class KeyValues {
 public:
  void Add(std::string key, std::string value) {
    entries_.emplace_back(std::move(key), std::move(value));
  }
  [[nodiscard]] std::string Render() const {
    size_t width = 0;
    for (const auto& [key, value] : entries_) {
      width = std::max(width, DisplayWidth(key));
    }
    std::string out;
    for (const auto& [key, value] : entries_) {
      out += key + ":" + std::string(width - DisplayWidth(key) + 2, ' ') + value + "\n";
    }
    return out;
  }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
};

std::string TimeField(const nlohmann::json& object, std::string_view key_ms) {
  return FormatLocalTime(JsonI64(At(object, key_ms)));
}

std::string HostState(const nlohmann::json& host) {
  if (JsonBool(At(host, "revoked"))) {
    return "revoked";
  }
  if (JsonStr(host, "source") == "import") {
    return "snapshot";
  }
  return JsonBool(At(host, "online")) ? "online" : "offline";
}

// "agent" or "import"; hosts listed by an older server carry no source and are agents.
std::string HostSource(const nlohmann::json& host) {
  const std::string source = JsonStr(host, "source");
  return source.empty() ? "agent" : source;
}

std::string JoinStrings(const nlohmann::json& array, std::string_view separator) {
  std::string out;
  if (!array.is_array()) {
    return out;
  }
  for (const auto& item : array) {
    if (!item.is_string()) {
      continue;
    }
    if (!out.empty()) {
      out += separator;
    }
    out += item.get<std::string>();
  }
  return out;
}

std::string CpuLine(const nlohmann::json& cpu) {
  if (!cpu.is_object()) {
    return "-";
  }
  std::string out = OrDash(JsonStr(cpu, "model"));
  out += " (" + std::to_string(JsonU64(At(cpu, "cores"))) + " cores, " +
         std::to_string(JsonU64(At(cpu, "threads"))) + " threads)";
  return out;
}

std::string AddressList(const nlohmann::json& interface) {
  std::string out;
  for (const auto& address : Array(interface, "addresses")) {
    if (!out.empty()) {
      out += ", ";
    }
    out += JsonStr(address, "address") + "/" + std::to_string(JsonU64(At(address, "prefix")));
  }
  return OrDash(out);
}

std::string SmartLine(const nlohmann::json& disk) {
  std::string status = OrDash(JsonStr(disk, "smart_status"));
  const std::string message = JsonStr(disk, "smart_message");
  if (!message.empty() && status != "passed") {
    status += " (" + message + ")";
  }
  return status;
}

Table DiskTable(const nlohmann::json& hardware) {
  Table table({"DISK", "MODEL", "SIZE", "TYPE", "SMART", "POWER-ON H", "TEMP"});
  table.AlignRight(2);
  table.AlignRight(5);
  for (const auto& disk : Array(hardware, "disks")) {
    const bool rotational = JsonBool(At(disk, "rotational"));
    const std::string transport = JsonStr(disk, "transport");
    const int64_t hours =
        At(disk, "power_on_hours").is_null() ? 0 : JsonI64(At(disk, "power_on_hours"));
    const int64_t temp =
        At(disk, "temperature_c").is_null() ? 0 : JsonI64(At(disk, "temperature_c"));
    table.AddRow({JsonStr(disk, "name"), OrDash(JsonStr(disk, "model")),
                  HumanBytes(JsonU64(At(disk, "size_bytes"))),
                  OrDash(transport) + (rotational ? " hdd" : ""), SmartLine(disk),
                  hours > 0 ? std::to_string(hours) : "-",
                  temp > -1000 && temp != 0 ? std::to_string(temp) + " C" : "-"});
  }
  return table;
}

Table InterfaceTable(const nlohmann::json& network) {
  Table table({"INTERFACE", "STATE", "MAC", "SPEED", "ADDRESSES"});
  for (const auto& interface : Array(network, "interfaces")) {
    if (JsonBool(At(interface, "loopback"))) {
      continue;
    }
    const int64_t speed = JsonI64(At(interface, "speed_mbps"));
    table.AddRow({JsonStr(interface, "name"), OrDash(JsonStr(interface, "state")),
                  OrDash(JsonStr(interface, "mac")),
                  speed > 0 ? std::to_string(speed) + " Mb/s" : "-", AddressList(interface)});
  }
  return table;
}

Table ListeningTable(const nlohmann::json& network) {
  Table table({"PROTO", "ADDRESS", "PORT", "PROCESS"});
  table.AlignRight(2);
  for (const auto& socket : Array(network, "listening")) {
    const std::string process = JsonStr(socket, "process");
    const uint64_t pid = JsonU64(At(socket, "pid"));
    table.AddRow(
        {JsonStr(socket, "protocol"), OrDash(JsonStr(socket, "address")),
         std::to_string(JsonU64(At(socket, "port"))),
         process.empty() ? "-" : process + (pid > 0 ? " (" + std::to_string(pid) + ")" : "")});
  }
  return table;
}

Table CollectorTable(const nlohmann::json& collectors) {
  Table table({"COLLECTOR", "STATUS", "MS", "ERROR"});
  table.AlignRight(2);
  if (!collectors.is_array()) {
    return table;
  }
  for (const auto& collector : collectors) {
    table.AddRow({JsonStr(collector, "name"), JsonBool(At(collector, "ok")) ? "ok" : "FAILED",
                  std::to_string(JsonU64(At(collector, "duration_ms"))),
                  OrDash(JsonStr(collector, "error"))});
  }
  return table;
}

// "1C:Enterprise 8.3.22.1709 (server)" for every application whose name mentions 1C.
std::vector<std::string> OneCVersions(const nlohmann::json& software) {
  std::vector<std::string> out;
  for (const auto& app : Array(software, "applications")) {
    const std::string name = JsonStr(app, "name");
    if (name.find("1C") == std::string::npos && name.find("1С") == std::string::npos) {
      continue;
    }
    std::string line = name + " " + JsonStr(app, "version");
    if (const std::string kind = JsonStr(app, "kind"); !kind.empty()) {
      line += " (" + kind + ")";
    }
    out.push_back(line);
  }
  return out;
}

std::string HostSummaryBlock(const nlohmann::json& host) {
  KeyValues kv;
  kv.Add("Host", OrDash(JsonStr(host, "hostname")));
  kv.Add("Agent ID", JsonStr(host, "agent_id"));
  kv.Add("Organisation", OrDash(JsonStr(host, "org")));
  kv.Add("State", HostState(host));
  kv.Add("Source", HostSource(host) == "import" ? "import (one-shot snapshot)" : "agent");
  kv.Add("OS", OrDash(JsonStr(host, "os_pretty_name")));
  kv.Add("Addresses", OrDash(JoinStrings(At(host, "addresses"), ", ")));
  kv.Add("Agent version", OrDash(JsonStr(host, "agent_version")));
  kv.Add("Enrolled", TimeField(host, "enrolled_at_ms"));
  kv.Add("Last seen", TimeField(host, "last_seen_ms"));
  kv.Add("Last inventory", TimeField(host, "last_inventory_ms"));
  if (const uint64_t dropped = JsonU64(At(host, "dropped_health_samples")); dropped > 0) {
    kv.Add("Dropped samples", std::to_string(dropped));
  }
  return kv.Render();
}

}  // namespace

size_t DisplayWidth(std::string_view text) {
  size_t width = 0;
  for (const char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++width;
    }
  }
  return width;
}

Table::Table(std::vector<std::string> headers)
    : headers_(std::move(headers)), right_(headers_.size(), false) {}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

void Table::AlignRight(size_t column) {
  if (column < right_.size()) {
    right_[column] = true;
  }
}

std::string Table::Render() const {
  std::vector<size_t> widths(headers_.size(), 0);
  for (size_t i = 0; i < headers_.size(); ++i) {
    widths[i] = DisplayWidth(headers_[i]);
  }
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  }
  auto render_row = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t i = 0; i < cells.size(); ++i) {
      const size_t pad = widths[i] - DisplayWidth(cells[i]);
      const bool last = i + 1 == cells.size();
      if (right_[i]) {
        line += std::string(pad, ' ') + cells[i];
      } else {
        line += cells[i];
        if (!last) {
          line += std::string(pad, ' ');
        }
      }
      if (!last) {
        line += "  ";
      }
    }
    // Trailing blanks from empty last cells are noise in terminals and diffs.
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    return line + "\n";
  };
  std::string out = render_row(headers_);
  for (const auto& row : rows_) {
    out += render_row(row);
  }
  return out;
}

std::string FormatLocalTime(int64_t ms) {
  if (ms <= 0) {
    return "-";
  }
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  if (localtime_r(&seconds, &tm) == nullptr) {
    return "-";
  }
  char buffer[32];
  const size_t n = std::strftime(buffer, sizeof(buffer), "%Y-%m-%d %H:%M", &tm);
  return std::string(buffer, n);
}

std::string HumanBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) {
    return std::to_string(bytes) + " B";
  }
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.1f %s", value, kUnits[unit]);
  return buffer;
}

uint64_t JsonU64(const nlohmann::json& value) {
  if (value.is_number_unsigned()) {
    return value.get<uint64_t>();
  }
  if (value.is_number_integer()) {
    const auto v = value.get<int64_t>();
    return v < 0 ? 0 : static_cast<uint64_t>(v);
  }
  if (value.is_number_float()) {
    const double v = value.get<double>();
    return v < 0 ? 0 : static_cast<uint64_t>(v);
  }
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    uint64_t out = 0;
    for (const char c : text) {
      if (c < '0' || c > '9') {
        return 0;
      }
      out = out * 10 + static_cast<uint64_t>(c - '0');
    }
    return out;
  }
  return 0;
}

int64_t JsonI64(const nlohmann::json& value) {
  if (value.is_number_integer()) {
    return value.get<int64_t>();
  }
  if (value.is_number_float()) {
    return static_cast<int64_t>(value.get<double>());
  }
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (!text.empty() && text[0] == '-') {
      return -static_cast<int64_t>(JsonU64(nlohmann::json(text.substr(1))));
    }
    return static_cast<int64_t>(JsonU64(value));
  }
  return 0;
}

double JsonDouble(const nlohmann::json& value) {
  if (value.is_number()) {
    return value.get<double>();
  }
  if (value.is_string()) {
    // protobuf writes NaN / Infinity as strings; anything unparsable reads as 0.
    char* end = nullptr;
    const auto& text = value.get_ref<const std::string&>();
    const double parsed = std::strtod(text.c_str(), &end);
    return end != text.c_str() && std::isfinite(parsed) ? parsed : 0.0;
  }
  return 0.0;
}

std::string JsonStr(const nlohmann::json& object, std::string_view key) {
  const auto& value = At(object, key);
  return value.is_string() ? value.get<std::string>() : std::string();
}

std::string FormatPercent(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.1f", value);
  return buffer;
}

std::string RenderOrgList(const nlohmann::json& reply) {
  Table table({"ID", "NAME", "STATUS", "TYPE", "ENGINEER", "HOSTS", "CREATED"});
  table.AlignRight(0);
  table.AlignRight(5);
  for (const auto& org : Array(reply, "organizations")) {
    table.AddRow({std::to_string(JsonI64(At(org, "id"))), JsonStr(org, "name"),
                  JsonStr(org, "contract_status"), JsonStr(org, "contract_type"),
                  OrDash(JsonStr(org, "engineer")), std::to_string(JsonI64(At(org, "host_count"))),
                  TimeField(org, "created_at_ms")});
  }
  return table.Render();
}

std::string RenderOrg(const nlohmann::json& org) {
  KeyValues kv;
  kv.Add("ID", std::to_string(JsonI64(At(org, "id"))));
  kv.Add("Name", JsonStr(org, "name"));
  kv.Add("Contract status", JsonStr(org, "contract_status"));
  kv.Add("Contract type", JsonStr(org, "contract_type"));
  kv.Add("Engineer", OrDash(JsonStr(org, "engineer")));
  kv.Add("Hosts", std::to_string(JsonI64(At(org, "host_count"))));
  kv.Add("Created", TimeField(org, "created_at_ms"));
  return kv.Render();
}

std::string RenderTokenList(const nlohmann::json& reply) {
  Table table({"ID", "ORG", "LABEL", "HINT", "STATE", "USES", "CREATED", "EXPIRES"});
  table.AlignRight(0);
  table.AlignRight(5);
  for (const auto& token : Array(reply, "tokens")) {
    const auto& expires = At(token, "expires_at_ms");
    table.AddRow({std::to_string(JsonI64(At(token, "id"))), JsonStr(token, "org"),
                  OrDash(JsonStr(token, "label")), JsonStr(token, "hint") + "…",
                  JsonStr(token, "state"), std::to_string(JsonI64(At(token, "uses"))),
                  TimeField(token, "created_at_ms"),
                  expires.is_null() ? "never" : FormatLocalTime(JsonI64(expires))});
  }
  return table.Render();
}

std::string RenderTokenCreated(const nlohmann::json& token) {
  const auto& expires = At(token, "expires_at_ms");
  std::string out = "Enrollment token for " + JsonStr(token, "org") + " (id " +
                    std::to_string(JsonI64(At(token, "id"))) + ", expires " +
                    (expires.is_null() ? std::string("never") : FormatLocalTime(JsonI64(expires))) +
                    "):\n\n  " + JsonStr(token, "token") +
                    "\n\nIt is shown only once. On each host run:\n\n  " +
                    JsonStr(token, "enroll_command") + "\n";
  // Servers that serve the install script also send the one-line install for the client.
  if (const std::string install = JsonStr(token, "install_command"); !install.empty()) {
    out += "\nOr install, enroll and start the agent in one step (as root):\n\n  " + install + "\n";
  }
  return out;
}

std::string RenderImport(const nlohmann::json& reply) {
  const auto& record = At(reply, "import");
  const std::string host = OrDash(JsonStr(record, "hostname"));
  const std::string agent_id = JsonStr(record, "agent_id");
  const std::string collected = TimeField(record, "collected_at_ms");
  if (JsonBool(At(reply, "duplicate"))) {
    return "Already imported on " + TimeField(record, "imported_at_ms") + ": " + host +
           " (host " + agent_id + ", collected " + collected + "); nothing changed.\n";
  }
  const std::string outcome = JsonStr(record, "outcome");
  const std::string org = JsonStr(reply, "org");
  if (outcome == "created") {
    return "Imported " + host + " into " + org + " as a new host " + agent_id + " (collected " +
           collected + ").\n";
  }
  if (outcome == "updated") {
    return "Imported " + host + " into " + org + ": updated host " + agent_id + " (collected " +
           collected + ").\n";
  }
  return "Recorded " + host + " (collected " + collected + ") but host " + agent_id +
         " already has a newer inventory; it was kept.\n";
}

std::string RenderHostList(const nlohmann::json& reply) {
  Table table({"AGENT ID", "HOSTNAME", "ORG", "OS", "ADDRESS", "STATE", "SOURCE", "LAST SEEN",
               "VERSION"});
  for (const auto& host : Array(reply, "hosts")) {
    const auto& addresses = At(host, "addresses");
    const std::string first_address =
        addresses.is_array() && !addresses.empty() && addresses[0].is_string()
            ? addresses[0].get<std::string>()
            : "-";
    table.AddRow({JsonStr(host, "agent_id"), OrDash(JsonStr(host, "hostname")),
                  JsonStr(host, "org"), OrDash(JsonStr(host, "os_pretty_name")), first_address,
                  HostState(host), HostSource(host), TimeField(host, "last_seen_ms"),
                  OrDash(JsonStr(host, "agent_version"))});
  }
  return table.Render();
}

std::string RenderHostShow(const nlohmann::json& host, const nlohmann::json& inventory_reply) {
  std::string out = HostSummaryBlock(host);
  const auto& inventory = At(inventory_reply, "inventory");
  // The server sends an empty inventory object for a host that has not reported one yet.
  if (!inventory.is_object() || inventory.empty()) {
    return out + "\nNo inventory received yet.\n";
  }
  const auto& hardware = At(inventory, "hardware");
  const auto& os = At(inventory, "os");
  const auto& network = At(inventory, "network");
  const auto& software = At(inventory, "software");

  out += Section("Overview");
  KeyValues kv;
  kv.Add("OS", OrDash(JsonStr(os, "pretty_name")) + ", kernel " + OrDash(JsonStr(os, "kernel")));
  kv.Add("CPU", CpuLine(At(hardware, "cpu")));
  kv.Add("RAM", HumanBytes(JsonU64(At(hardware, "memory_total_bytes"))));
  if (JsonBool(At(hardware, "virtual_machine"))) {
    kv.Add("Virtual machine", OrDash(JsonStr(hardware, "hypervisor")));
  }
  kv.Add("Packages", std::to_string(Array(software, "packages").size()));
  kv.Add("Services", std::to_string(Array(software, "services").size()));
  const auto one_c = OneCVersions(software);
  if (one_c.empty()) {
    kv.Add("1C", "-");
  }
  for (size_t i = 0; i < one_c.size(); ++i) {
    kv.Add(one_c.size() == 1 ? "1C" : "1C #" + std::to_string(i + 1), one_c[i]);
  }
  out += kv.Render();

  out += Section("Disks");
  out += DiskTable(hardware).Render();
  out += Section("Interfaces");
  out += InterfaceTable(network).Render();
  out += Section("Listening ports");
  out += ListeningTable(network).Render();
  out += Section("Collectors");
  out += CollectorTable(At(inventory_reply, "collectors")).Render();
  return out;
}

std::string RenderInventory(const nlohmann::json& inventory_reply) {
  const auto& host = At(inventory_reply, "host");
  const auto& inventory = At(inventory_reply, "inventory");
  const auto& hardware = At(inventory, "hardware");
  const auto& os = At(inventory, "os");
  const auto& network = At(inventory, "network");
  const auto& software = At(inventory, "software");
  std::string out = HostSummaryBlock(host);

  out += Section("Operating system");
  KeyValues os_kv;
  os_kv.Add("Name", OrDash(JsonStr(os, "pretty_name")));
  os_kv.Add("Kernel", OrDash(JsonStr(os, "kernel")));
  os_kv.Add("Architecture", OrDash(JsonStr(os, "architecture")));
  os_kv.Add("FQDN", OrDash(JsonStr(os, "fqdn")));
  os_kv.Add("Timezone", OrDash(JsonStr(os, "timezone")));
  os_kv.Add("Boot time", FormatLocalTime(JsonI64(At(os, "boot_time")) * 1000));
  const int64_t sync = JsonI64(At(os, "clock_synchronized"));
  os_kv.Add("Clock synchronised", sync == 1 ? "yes" : (sync == 0 ? "NO" : "unknown"));
  os_kv.Add("Reboot required", JsonBool(At(os, "reboot_required")) ? "yes" : "no");
  os_kv.Add("Pending updates", CountOrUnknown(At(os, "pending_updates")) + " (security: " +
                                   CountOrUnknown(At(os, "pending_security_updates")) + ")");
  out += os_kv.Render();

  out += Section("Hardware");
  KeyValues hw_kv;
  hw_kv.Add("CPU", CpuLine(At(hardware, "cpu")));
  hw_kv.Add("RAM", HumanBytes(JsonU64(At(hardware, "memory_total_bytes"))));
  const auto& dmi = At(hardware, "dmi");
  hw_kv.Add("System", OrDash(JsonStr(dmi, "system_vendor") + " " + JsonStr(dmi, "system_model")));
  hw_kv.Add("Serial", OrDash(JsonStr(dmi, "system_serial")));
  hw_kv.Add("BIOS", OrDash(JsonStr(dmi, "bios_vendor") + " " + JsonStr(dmi, "bios_version") + " " +
                           JsonStr(dmi, "bios_date")));
  hw_kv.Add("Virtual machine", JsonBool(At(hardware, "virtual_machine"))
                                   ? "yes (" + OrDash(JsonStr(hardware, "hypervisor")) + ")"
                                   : "no");
  out += hw_kv.Render();
  out += Section("Disks");
  out += DiskTable(hardware).Render();

  out += Section("Network interfaces");
  out += InterfaceTable(network).Render();
  Table gateways({"GATEWAY", "INTERFACE"});
  for (const auto& gateway : Array(network, "gateways")) {
    gateways.AddRow({JsonStr(gateway, "address"), JsonStr(gateway, "interface")});
  }
  if (gateways.rows() > 0) {
    out += "\n" + gateways.Render();
  }
  out += "\nDNS servers: " + OrDash(JoinStrings(At(network, "dns_servers"), ", ")) + "\n";
  out += Section("Listening ports");
  out += ListeningTable(network).Render();

  out += Section("Users");
  Table users({"USER", "UID", "ADMIN", "SHELL", "HOME"});
  users.AlignRight(1);
  for (const auto& user : Array(os, "users")) {
    users.AddRow({JsonStr(user, "name"), std::to_string(JsonU64(At(user, "uid"))),
                  JsonBool(At(user, "administrator")) ? "yes" : "", JsonStr(user, "shell"),
                  JsonStr(user, "home")});
  }
  out += users.Render();

  out += Section("Applications");
  Table apps({"APPLICATION", "VERSION", "KIND", "ARCH", "PATH"});
  for (const auto& app : Array(software, "applications")) {
    apps.AddRow({JsonStr(app, "name"), JsonStr(app, "version"), JsonStr(app, "kind"),
                 JsonStr(app, "architecture"), JsonStr(app, "path")});
  }
  out += apps.Render();

  out += Section("Services");
  Table services({"SERVICE", "ACTIVE", "SUB", "ENABLED", "DESCRIPTION"});
  for (const auto& service : Array(software, "services")) {
    services.AddRow({JsonStr(service, "name"), JsonStr(service, "active_state"),
                     JsonStr(service, "sub_state"), JsonStr(service, "enabled"),
                     JsonStr(service, "description")});
  }
  out += services.Render();

  const auto& packages = Array(software, "packages");
  out += Section("Packages (" + std::to_string(packages.size()) + ")");
  Table package_table({"PACKAGE", "VERSION", "ARCH", "SOURCE", "INSTALLED"});
  for (const auto& package : packages) {
    package_table.AddRow({JsonStr(package, "name"), JsonStr(package, "version"),
                          JsonStr(package, "architecture"), JsonStr(package, "source"),
                          FormatLocalTime(JsonI64(At(package, "install_time")) * 1000)});
  }
  out += package_table.Render();

  out += Section("Collectors");
  out += CollectorTable(At(inventory_reply, "collectors")).Render();
  return out;
}

std::string RenderChanges(const nlohmann::json& reply) {
  Table table({"TIME", "CATEGORY", "ACTION", "SUBJECT", "OLD", "NEW"});
  for (const auto& change : Array(reply, "changes")) {
    table.AddRow({TimeField(change, "at_ms"), JsonStr(change, "category"),
                  JsonStr(change, "action"), JsonStr(change, "subject"),
                  OrDash(JsonStr(change, "old_value")), OrDash(JsonStr(change, "new_value"))});
  }
  return table.Render();
}

std::string RenderHealth(const nlohmann::json& reply) {
  Table table({"TIME", "CPU%", "LOAD1", "MEM%", "SWAP%", "FULLEST FS"});
  for (size_t column = 1; column <= 4; ++column) {
    table.AlignRight(column);
  }
  for (const auto& record : Array(reply, "samples")) {
    const auto& sample = At(record, "sample");
    const auto& derived = At(record, "derived");
    const auto& fullest = At(derived, "fullest_filesystem");
    char load[32];
    std::snprintf(load, sizeof(load), "%.2f", JsonDouble(At(sample, "load1")));
    table.AddRow(
        {TimeField(record, "collected_at_ms"), FormatPercent(JsonDouble(At(sample, "cpu_percent"))),
         load, FormatPercent(JsonDouble(At(derived, "memory_used_percent"))),
         FormatPercent(JsonDouble(At(derived, "swap_used_percent"))),
         fullest.is_object() ? JsonStr(fullest, "mount_point") + " " +
                                   FormatPercent(JsonDouble(At(fullest, "used_percent"))) + "%"
                             : "-"});
  }
  return table.Render();
}

std::string RenderApiTokenList(const nlohmann::json& reply) {
  Table table({"ID", "NAME", "ROLE", "HINT", "STATE", "CREATED", "EXPIRES"});
  table.AlignRight(0);
  for (const auto& token : Array(reply, "api_tokens")) {
    const auto& expires = At(token, "expires_at_ms");
    table.AddRow({std::to_string(JsonI64(At(token, "id"))), JsonStr(token, "name"),
                  JsonStr(token, "role"), JsonStr(token, "hint") + "…",
                  JsonStr(token, "state"), TimeField(token, "created_at_ms"),
                  expires.is_null() ? "never" : FormatLocalTime(JsonI64(expires))});
  }
  return table.Render();
}

std::string RenderApiTokenCreated(const nlohmann::json& token) {
  return "API token '" + JsonStr(token, "name") + "' (id " +
         std::to_string(JsonI64(At(token, "id"))) + ", role " + JsonStr(token, "role") +
         "):\n\n  " + JsonStr(token, "token") + "\n\nIt is shown only once.\n";
}

std::string EvidenceLine(const nlohmann::json& row) {
  if (!row.is_object()) {
    return row.is_string() ? row.get<std::string>()
                           : row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string out;
  for (const auto& [key, value] : row.items()) {
    if (!out.empty()) {
      out += " ";
    }
    out +=
        key + "=" +
        (value.is_string() ? value.get<std::string>()
                           : value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  return out;
}

namespace {

// "db1" for a host finding, "(estate)" for an organisation-wide one.
std::string FindingTarget(const nlohmann::json& finding) {
  const auto& host = At(finding, "host");
  if (host.is_object()) {
    return OrDash(JsonStr(host, "hostname").empty() ? JsonStr(host, "agent_id")
                                                    : JsonStr(host, "hostname"));
  }
  return "(estate)";
}

std::string SnapshotLine(const nlohmann::json& snapshot) {
  if (!snapshot.is_object()) {
    return "none";
  }
  std::string out = TimeField(snapshot, "at_ms") + " by " + OrDash(JsonStr(snapshot, "actor")) +
                    ", " + std::to_string(JsonI64(At(snapshot, "finding_count"))) + " findings";
  std::string counts;
  for (const char* severity : {"critical", "high", "medium", "low", "info"}) {
    const int64_t count = JsonI64(At(At(snapshot, "by_severity"), severity));
    if (count > 0) {
      counts += (counts.empty() ? "" : ", ") + std::to_string(count) + " " + severity;
    }
  }
  return counts.empty() ? out : out + " (" + counts + ")";
}

// Indents every line of a multi-line text.
std::string Indented(std::string_view text, std::string_view prefix = "  ") {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    out += std::string(prefix) + std::string(text.substr(start, end - start)) + "\n";
    start = end + 1;
  }
  return out;
}

}  // namespace

std::string RenderFindingList(const nlohmann::json& reply) {
  Table table({"ID", "SEVERITY", "STATE", "RULE", "HOST", "ORG", "LAST SEEN", "TITLE"});
  table.AlignRight(0);
  for (const auto& finding : Array(reply, "findings")) {
    table.AddRow({std::to_string(JsonI64(At(finding, "id"))), JsonStr(finding, "severity"),
                  JsonStr(finding, "state"), JsonStr(finding, "rule_id"), FindingTarget(finding),
                  OrDash(JsonStr(finding, "org")), TimeField(finding, "last_seen_ms"),
                  JsonStr(finding, "title")});
  }
  if (table.rows() == 0) {
    return "No findings.\n";
  }
  return table.Render();
}

std::string RenderFinding(const nlohmann::json& reply) {
  const nlohmann::json& finding = At(reply, "finding");
  KeyValues kv;
  kv.Add("ID", std::to_string(JsonI64(At(finding, "id"))));
  kv.Add("Title", JsonStr(finding, "title"));
  kv.Add("Rule", JsonStr(finding, "rule_id"));
  kv.Add("Severity", JsonStr(finding, "severity"));
  kv.Add("Category", JsonStr(finding, "category"));
  kv.Add("State", JsonStr(finding, "state"));
  kv.Add("Organisation", OrDash(JsonStr(finding, "org")));
  const auto& host = At(finding, "host");
  kv.Add("Host", host.is_object()
                     ? JsonStr(host, "hostname") + " (" + JsonStr(host, "agent_id") + ")"
                     : std::string("(estate-wide)"));
  kv.Add("First seen", TimeField(finding, "first_seen_ms"));
  kv.Add("Last seen", TimeField(finding, "last_seen_ms"));
  if (!At(finding, "resolved_at_ms").is_null()) {
    kv.Add("Resolved", TimeField(finding, "resolved_at_ms"));
  }
  if (JsonI64(At(finding, "regressions")) > 0) {
    kv.Add("Regressions", std::to_string(JsonI64(At(finding, "regressions"))));
  }
  if (!JsonStr(finding, "ack_by").empty()) {
    const std::string comment = JsonStr(finding, "ack_comment");
    kv.Add("Acknowledged by", JsonStr(finding, "ack_by") + (comment.empty() ? "" : ": " + comment));
  }
  if (!JsonStr(finding, "waived_by").empty()) {
    kv.Add("Waived by", JsonStr(finding, "waived_by") + ": " + JsonStr(finding, "waive_reason"));
    const auto& until = At(finding, "waived_until_ms");
    kv.Add("Waived until", until.is_null() ? "no expiry" : FormatLocalTime(JsonI64(until)));
  }
  const auto& rule = At(reply, "rule");
  if (rule.is_object() && !JsonStr(rule, "effort").empty()) {
    kv.Add("Effort", JsonStr(rule, "effort"));
  }
  std::string out = kv.Render();
  out += Section("Evidence");
  const auto& evidence = At(finding, "evidence");
  if (evidence.is_array() && !evidence.empty()) {
    for (const auto& row : evidence) {
      out += "  " + EvidenceLine(row) + "\n";
    }
  } else if (evidence.is_string()) {
    out += "  " + evidence.get<std::string>() + "\n";
  } else {
    out += "  -\n";
  }
  if (rule.is_object()) {
    out += Section("Why it matters") + Indented(JsonStr(rule, "why"));
    out += Section("Remediation") + Indented(JsonStr(rule, "remediation"));
  }
  out += Section("History");
  Table events({"TIME", "EVENT", "BY", "STATE", "COMMENT"});
  for (const auto& event : Array(reply, "events")) {
    const std::string from = JsonStr(event, "from_state");
    const std::string to = JsonStr(event, "to_state");
    events.AddRow({TimeField(event, "at_ms"), JsonStr(event, "kind"),
                   OrDash(JsonStr(event, "actor")),
                   from.empty() || from == to ? OrDash(to) : from + " -> " + to,
                   OrDash(JsonStr(event, "comment"))});
  }
  out += events.Render();
  return out;
}

std::string RenderContract(const nlohmann::json& contract) {
  KeyValues kv;
  kv.Add("Organisation", JsonStr(contract, "org"));
  kv.Add("Contract status", JsonStr(contract, "status"));
  kv.Add("Contract type", JsonStr(contract, "type"));
  kv.Add("First audit", SnapshotLine(At(contract, "first_audit")));
  kv.Add("Signing baseline", SnapshotLine(At(contract, "signing")));
  std::string out = kv.Render();
  out += Section("History");
  Table events({"TIME", "FROM", "TO", "BY"});
  for (const auto& event : Array(contract, "events")) {
    events.AddRow({TimeField(event, "at_ms"), OrDash(JsonStr(event, "from_status")),
                   JsonStr(event, "to_status"), OrDash(JsonStr(event, "actor"))});
  }
  if (events.rows() == 0) {
    return out + "  no contract moves yet\n";
  }
  return out + events.Render();
}

std::string RenderSnapshot(const nlohmann::json& snapshot) {
  return "Recorded " + JsonStr(snapshot, "kind") + " snapshot: " + SnapshotLine(snapshot) + "\n";
}

std::string RenderRuleList(const nlohmann::json& reply) {
  Table table({"ID", "SEVERITY", "CATEGORY", "SCOPE", "CONTRACTS", "EFFORT", "SOURCE", "TITLE"});
  for (const auto& rule : Array(reply, "rules")) {
    std::string source = JsonStr(rule, "source");
    if (source.rfind("builtin:", 0) == 0) {
      source = "builtin";
    }
    if (At(rule, "enabled").is_boolean() && !JsonBool(At(rule, "enabled"))) {
      source += " (disabled)";
    }
    table.AddRow({JsonStr(rule, "id"), JsonStr(rule, "severity"), JsonStr(rule, "category"),
                  JsonStr(rule, "scope"), OrDash(JoinStrings(At(rule, "contracts"), ",")),
                  OrDash(JsonStr(rule, "effort")), source, JsonStr(rule, "title")});
  }
  std::string out = table.Render();
  const auto& errors = Array(reply, "errors");
  if (!errors.empty()) {
    out += Section("Rule files that failed to load");
    for (const auto& error : errors) {
      out += "  " + JsonStr(error, "text") + "\n";
    }
  }
  return out;
}

std::string RenderRule(const nlohmann::json& rule) {
  KeyValues kv;
  kv.Add("ID", JsonStr(rule, "id"));
  kv.Add("Title", JsonStr(rule, "title"));
  kv.Add("Severity", JsonStr(rule, "severity"));
  kv.Add("Category", JsonStr(rule, "category"));
  kv.Add("Scope", JsonStr(rule, "scope"));
  kv.Add("Contracts", OrDash(JoinStrings(At(rule, "contracts"), ", ")));
  kv.Add("Effort", OrDash(JsonStr(rule, "effort")));
  kv.Add("Source", JsonStr(rule, "source"));
  kv.Add("Enabled",
         At(rule, "enabled").is_boolean() && !JsonBool(At(rule, "enabled")) ? "no" : "yes");
  std::string params;
  const auto& param_object = At(rule, "params");
  if (param_object.is_object()) {
    for (const auto& [key, value] : param_object.items()) {
      params += (params.empty() ? "" : ", ") + key + "=" +
                (value.is_string() ? value.get<std::string>() : value.dump());
    }
  }
  kv.Add("Params", OrDash(params));
  std::string out = kv.Render();
  out += Section("Why it matters") + Indented(JsonStr(rule, "why"));
  out += Section("Remediation") + Indented(JsonStr(rule, "remediation"));
  out += Section("Condition") + Indented(JsonStr(rule, "condition"));
  if (!JsonStr(rule, "sustain").empty()) {
    out += Section("Sustain (keeps an active finding open)") + Indented(JsonStr(rule, "sustain"));
  }
  return out;
}

}  // namespace dozor::ctl
