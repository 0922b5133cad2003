// Linux network inventory: interfaces from /sys/class/net, addresses, default
// gateways, DNS and listening sockets with their owning process, all read under
// ctx.root.
//
// IPv4 addresses are not in any /proc or /sys file, so on the real root they
// come from getifaddrs(). A fixture root cannot fake a syscall, so there they
// come from the optional file <root>/dozor-fixture/ipv4-addresses, one "iface
// address/prefix" per line ('#' comments).
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <system_error>
#include <tuple>

#include "collectors/collector.hpp"
#include "collectors/linux/fs_util.hpp"
#include "collectors/parsers/network_parsers.hpp"
#include "dozor/common/files.hpp"

namespace dozor::agent {
namespace {

constexpr size_t kProcNetBytes = 16 * 1024 * 1024;
constexpr uint32_t kArphrdLoopback = 772;
// Bounds for the inode -> process scan: a host with more processes or
// descriptors than this gets "pid 0" for the sockets not found in time rather
// than a collector that runs for seconds.
constexpr size_t kMaxPidsScanned = 16384;
constexpr size_t kMaxFdsScanned = 1'000'000;
constexpr size_t kMaxInterfaces = 4096;

void AddAddress(dozor::v1::NetworkInterface* nic, const std::string& address, uint32_t prefix,
                uint32_t family) {
  auto* ip = nic->add_addresses();
  ip->set_address(address);
  ip->set_prefix(prefix);
  ip->set_family(family);
}

uint32_t PrefixFromMask(const uint8_t* bytes, size_t length) {
  uint32_t prefix = 0;
  for (size_t i = 0; i < length; ++i) {
    for (int bit = 7; bit >= 0; --bit) {
      if ((bytes[i] >> bit) & 1) ++prefix;
    }
  }
  return prefix;
}

Result<std::vector<InterfaceAddress>> RealIpv4Addresses() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) {
    return MakeError(ErrorCode::kUnavailable, "getifaddrs failed");
  }
  std::vector<InterfaceAddress> out;
  for (ifaddrs* it = list; it != nullptr; it = it->ifa_next) {
    if (it->ifa_addr == nullptr || it->ifa_addr->sa_family != AF_INET || it->ifa_name == nullptr) {
      continue;
    }
    sockaddr_in address{};
    std::memcpy(&address, it->ifa_addr, sizeof(address));
    uint32_t prefix = 0;
    if (it->ifa_netmask != nullptr) {
      sockaddr_in mask{};
      std::memcpy(&mask, it->ifa_netmask, sizeof(mask));
      prefix = PrefixFromMask(reinterpret_cast<const uint8_t*>(&mask.sin_addr), 4);
    }
    out.push_back(InterfaceAddress{
        it->ifa_name, FormatIpAddress(reinterpret_cast<const uint8_t*>(&address.sin_addr), 4),
        prefix, 4, 0});
  }
  freeifaddrs(list);
  return out;
}

Status CollectInterfaces(const CollectContext& ctx, dozor::v1::Network* out,
                         std::vector<std::string>* errors) {
  std::filesystem::path class_net = ctx.Path("/sys/class/net");
  DOZOR_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirectory(class_net, kMaxInterfaces));
  std::map<std::string, dozor::v1::NetworkInterface*> by_name;
  for (const auto& name : names) {
    std::filesystem::path dir = class_net / name;
    auto* nic = out->add_interfaces();
    nic->set_name(name);
    nic->set_mac(ReadSysfsValue(dir / "address"));
    uint32_t mtu = 0;
    if (ReadSysfsNumber(dir / "mtu", &mtu)) nic->set_mtu(mtu);
    std::string state = ReadSysfsValue(dir / "operstate");
    nic->set_state(state.empty() ? "unknown" : state);
    // speed is unreadable (EINVAL) on down links and -1 on virtual ones: both
    // mean unknown.
    int64_t speed = -1;
    if (!ReadSysfsNumber(dir / "speed", &speed) || speed < 0) speed = -1;
    nic->set_speed_mbps(speed);
    nic->set_duplex(ReadSysfsValue(dir / "duplex"));
    uint32_t type = 0;
    nic->set_loopback(ReadSysfsNumber(dir / "type", &type) && type == kArphrdLoopback);
    std::error_code link_ec;
    auto target = std::filesystem::read_symlink(dir, link_ec);
    bool virtual_nic = PathExists(ctx.Path("/sys/devices/virtual/net") / name) ||
                       (!target.empty() && target.string().find("/virtual/") != std::string::npos);
    nic->set_virtual_(virtual_nic);
    by_name[name] = nic;
  }

  Result<std::vector<InterfaceAddress>> ipv4 = std::vector<InterfaceAddress>{};
  if (ctx.IsRealRoot()) {
    ipv4 = RealIpv4Addresses();
  } else {
    auto text = ReadFile(ctx.Path("/dozor-fixture/ipv4-addresses"), kMaxSmallFileBytes);
    if (text.ok()) ipv4 = ParseIpv4AddressList(*text);
  }
  if (!ipv4.ok()) {
    errors->push_back("ipv4 addresses: " + ipv4.error().message);
  } else {
    for (const auto& address : *ipv4) {
      auto it = by_name.find(address.interface);
      if (it != by_name.end()) AddAddress(it->second, address.address, address.prefix, 4);
    }
  }

  auto inet6_text = ReadFile(ctx.Path("/proc/net/if_inet6"), kProcNetBytes);
  if (inet6_text.ok()) {  // missing when IPv6 is disabled: not an error
    auto ipv6 = ParseIfInet6(*inet6_text);
    if (ipv6.ok()) {
      for (const auto& address : *ipv6) {
        auto it = by_name.find(address.interface);
        if (it != by_name.end()) AddAddress(it->second, address.address, address.prefix, 6);
      }
    }
  }
  return OkStatus();
}

void CollectGateways(const CollectContext& ctx, dozor::v1::Network* out,
                     std::vector<std::string>* errors) {
  auto add = [&](const std::vector<RouteGateway>& routes) {
    for (const auto& route : routes) {
      auto* gateway = out->add_gateways();
      gateway->set_address(route.address);
      gateway->set_interface(route.interface);
      gateway->set_family(route.family);
    }
  };
  auto route_text = ReadFile(ctx.Path("/proc/net/route"), kProcNetBytes);
  if (route_text.ok()) {
    auto routes = ParseProcNetRoute(*route_text);
    if (routes.ok()) {
      add(*routes);
    } else {
      errors->push_back("/proc/net/route: " + routes.error().message);
    }
  } else {
    errors->push_back("/proc/net/route: " + route_text.error().message);
  }
  auto route6_text = ReadFile(ctx.Path("/proc/net/ipv6_route"), kProcNetBytes);
  if (route6_text.ok()) {
    auto routes = ParseIpv6Route(*route6_text);
    if (routes.ok()) add(*routes);
  }
}

void CollectDns(const CollectContext& ctx, dozor::v1::Network* out) {
  auto text = ReadFile(ctx.Path("/etc/resolv.conf"), kMaxSmallFileBytes);
  if (!text.ok()) return;  // no resolver configured is a finding, not a collector failure
  ResolvConf conf = ParseResolvConf(*text);
  if (UsesResolvedStub(conf)) {
    // The stub forwards to the upstreams systemd-resolved learnt; those are
    // what matter.
    auto upstream_text = ReadFile(ctx.Path("/run/systemd/resolve/resolv.conf"), kMaxSmallFileBytes);
    if (upstream_text.ok()) {
      ResolvConf upstream = ParseResolvConf(*upstream_text);
      if (!upstream.nameservers.empty()) conf.nameservers = upstream.nameservers;
      for (auto& domain : upstream.search_domains) {
        if (std::find(conf.search_domains.begin(), conf.search_domains.end(), domain) ==
            conf.search_domains.end()) {
          conf.search_domains.push_back(domain);
        }
      }
    }
  }
  for (const auto& server : conf.nameservers) out->add_dns_servers(server);
  for (const auto& domain : conf.search_domains) out->add_search_domains(domain);
}

struct Owner {
  uint32_t pid = 0;
  std::string process;
};

// Walks /proc/<pid>/fd/* looking for "socket:[inode]" links until every wanted
// inode is found.
std::map<uint64_t, Owner> FindSocketOwners(const CollectContext& ctx,
                                           const std::set<uint64_t>& wanted) {
  std::map<uint64_t, Owner> owners;
  if (wanted.empty()) return owners;
  std::error_code ec;
  std::vector<uint32_t> pids;
  for (std::filesystem::directory_iterator it(ctx.Path("/proc"), ec), end; !ec && it != end;
       it.increment(ec)) {
    uint32_t pid = 0;
    if (ParseNumber(it->path().filename().string(), &pid)) pids.push_back(pid);
    if (pids.size() >= kMaxPidsScanned) break;
  }
  std::sort(pids.begin(), pids.end());
  size_t fds_scanned = 0;
  for (uint32_t pid : pids) {
    if (owners.size() == wanted.size() || fds_scanned >= kMaxFdsScanned) break;
    std::filesystem::path proc_dir = ctx.Path("/proc") / std::to_string(pid);
    std::error_code fd_ec;
    std::string comm;
    bool comm_read = false;
    for (std::filesystem::directory_iterator it(proc_dir / "fd", fd_ec), end; !fd_ec && it != end;
         it.increment(fd_ec)) {
      if (++fds_scanned >= kMaxFdsScanned) break;
      std::error_code link_ec;
      std::string target = std::filesystem::read_symlink(it->path(), link_ec).string();
      constexpr std::string_view kPrefix = "socket:[";
      if (link_ec || target.size() <= kPrefix.size() + 1 || target.rfind(kPrefix, 0) != 0 ||
          target.back() != ']') {
        continue;
      }
      uint64_t inode = 0;
      std::string_view digits(target);
      digits = digits.substr(kPrefix.size(), digits.size() - kPrefix.size() - 1);
      if (!ParseNumber(digits, &inode) || wanted.count(inode) == 0 || owners.count(inode) != 0) {
        continue;
      }
      if (!comm_read) {
        comm = ReadSysfsValue(proc_dir / "comm");
        comm_read = true;
      }
      owners[inode] = Owner{pid, comm};
    }
  }
  return owners;
}

void CollectListening(const CollectContext& ctx, dozor::v1::Network* out,
                      std::vector<std::string>* errors) {
  std::vector<ProcNetSocket> listening;
  for (const auto& [file, protocol] :
       {std::pair{"/proc/net/tcp", "tcp"}, std::pair{"/proc/net/tcp6", "tcp"},
        std::pair{"/proc/net/udp", "udp"}, std::pair{"/proc/net/udp6", "udp"}}) {
    auto text = ReadFile(ctx.Path(file), kProcNetBytes);
    if (!text.ok()) {
      // tcp6/udp6 are absent when IPv6 is disabled; only a missing IPv4 table
      // is worth noting.
      if (std::string_view(file).back() != '6') {
        errors->push_back(std::string(file) + ": " + text.error().message);
      }
      continue;
    }
    auto sockets = ParseProcNetSockets(*text, protocol);
    if (!sockets.ok()) {
      errors->push_back(std::string(file) + ": " + sockets.error().message);
      continue;
    }
    for (auto& socket : *sockets) {
      if (socket.listening) listening.push_back(std::move(socket));
    }
  }
  std::set<uint64_t> inodes;
  for (const auto& socket : listening) {
    if (socket.inode != 0) inodes.insert(socket.inode);
  }
  auto owners = FindSocketOwners(ctx, inodes);
  std::set<std::tuple<std::string, uint32_t, std::string, uint32_t, uint32_t>> seen;
  for (const auto& socket : listening) {
    Owner owner;
    auto it = owners.find(socket.inode);
    if (it != owners.end()) owner = it->second;
    // SO_REUSEPORT groups show one row per socket; one entry per (endpoint,
    // process) is enough.
    if (!seen.emplace(socket.protocol, socket.family, socket.local_address, socket.local_port,
                      owner.pid)
             .second) {
      continue;
    }
    auto* entry = out->add_listening();
    entry->set_protocol(socket.protocol);
    entry->set_family(socket.family);
    entry->set_address(socket.local_address);
    entry->set_port(socket.local_port);
    entry->set_pid(owner.pid);
    entry->set_process(owner.process);
    entry->set_uid(socket.uid);
  }
}

}  // namespace

Status CollectNetwork(const CollectContext& ctx, dozor::v1::Network* out) {
  std::vector<std::string> errors;
  Status interfaces = CollectInterfaces(ctx, out, &errors);
  if (!interfaces.ok()) errors.push_back("interfaces: " + interfaces.error().message);
  CollectGateways(ctx, out, &errors);
  CollectDns(ctx, out);
  CollectListening(ctx, out, &errors);
  if (errors.empty()) return OkStatus();
  return MakeError(ErrorCode::kUnavailable, "network: " + JoinStrings(errors, "; "));
}

}  // namespace dozor::agent
