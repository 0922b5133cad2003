// Pure parsers for Linux network state files (/proc/net/*, resolv.conf). Text
// in, structs out: no I/O here, so every odd input can be tested without a
// machine.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dozor/common/ip_address.hpp"
#include "dozor/common/result.hpp"

namespace dozor::agent {

// One row of /proc/net/{tcp,tcp6,udp,udp6}.
struct ProcNetSocket {
  std::string protocol;  // "tcp" or "udp", as passed in
  uint32_t family = 4;   // 4 or 6, from the address width
  std::string local_address;
  uint32_t local_port = 0;
  std::string remote_address;
  uint32_t remote_port = 0;
  uint32_t state = 0;  // kernel TCP_* state number (0x0A = LISTEN, 0x07 = CLOSE)
  uint32_t uid = 0;
  uint64_t inode = 0;      // key for finding the owning process through /proc/<pid>/fd
  bool listening = false;  // tcp: LISTEN; udp: unconnected (state 07, remote 0:0)
};

// Parses /proc/net/tcp-style text. `protocol` is "tcp" or "udp" and decides
// what "listening" means. IPv6 addresses are 4 words printed in host byte order
// (little-endian on every Linux we target); `host_little_endian` exists so
// tests can cover the other case. Malformed rows are skipped; an error only
// when the header is missing.
[[nodiscard]] Result<std::vector<ProcNetSocket>> ParseProcNetSockets(
    std::string_view text, std::string_view protocol, bool host_little_endian = true);

struct RouteGateway {
  std::string address;
  std::string interface;
  uint32_t family = 4;
  uint32_t metric = 0;
};

// Default IPv4 routes (destination and mask 0, flags UP|GATEWAY) from
// /proc/net/route.
[[nodiscard]] Result<std::vector<RouteGateway>> ParseProcNetRoute(std::string_view text,
                                                                  bool host_little_endian = true);

// Default IPv6 routes (::/0 with a non-zero next hop, UP, not REJECT) from
// /proc/net/ipv6_route.
[[nodiscard]] Result<std::vector<RouteGateway>> ParseIpv6Route(std::string_view text);

struct InterfaceAddress {
  std::string interface;
  std::string address;
  uint32_t prefix = 0;
  uint32_t family = 6;
  uint32_t scope = 0;  // kernel scope byte from if_inet6 (0 global, 0x20 link, 0x10 host)
};

// /proc/net/if_inet6: "<32 hex> <ifindex> <prefix> <scope> <flags> <name>" per
// line.
[[nodiscard]] Result<std::vector<InterfaceAddress>> ParseIfInet6(std::string_view text);

// Lines "iface address/prefix" (the fixture file dozor-fixture/ipv4-addresses).
// '#' comments.
[[nodiscard]] Result<std::vector<InterfaceAddress>> ParseIpv4AddressList(std::string_view text);

struct ResolvConf {
  std::vector<std::string> nameservers;
  std::vector<std::string> search_domains;
};

// resolv.conf: "nameserver X", "search a b", "domain a" (search and domain: the
// last one wins, as in resolv.conf(5)); '#' and ';' start comments.
[[nodiscard]] ResolvConf ParseResolvConf(std::string_view text);

// True when resolv.conf points at systemd-resolved's local stub, whose real
// upstreams live in /run/systemd/resolve/resolv.conf.
[[nodiscard]] bool UsesResolvedStub(const ResolvConf& conf);

// FormatIpAddress (4 or 16 network-order bytes as text) is dozor/common/ip_address.hpp's.

}  // namespace dozor::agent
