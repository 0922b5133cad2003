#include "collectors/parsers/network_parsers.hpp"

#include <array>

#include "collectors/parsers/text.hpp"

namespace dozor::agent {
namespace {

constexpr uint32_t kTcpListen = 0x0A;
constexpr uint32_t kTcpClose = 0x07;  // what an unconnected UDP socket reports
constexpr uint32_t kRouteUp = 0x0001;
constexpr uint32_t kRouteGateway = 0x0002;
constexpr uint32_t kRouteReject = 0x0200;

// /proc/net tables: blank-separated columns, at most `max` of them (the rest is dropped).
std::vector<std::string_view> Tokens(std::string_view line, size_t max) {
  return SplitWords(line, IsTableSpace, max);
}

template <typename T>
bool ParseHex(std::string_view text, T* out) {
  return ParseNumber(text, out, 16);
}

// Calls fn(tokens) for the rows of a /proc/net table: lines with at least one token after the
// first line whose first token is `header`. An error naming `table` when non-empty text has no
// such header line.
template <typename Fn>
Status ForEachTableRow(std::string_view text, std::string_view header, std::string_view table,
                       Fn&& fn) {
  bool header_seen = false;
  ForEachLine(text, [&](std::string_view line) {
    auto tokens = Tokens(line, 12);
    if (tokens.empty()) return;
    if (!header_seen) {
      header_seen = tokens[0] == header;
      return;
    }
    fn(tokens);
  });
  if (!header_seen && !text.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, std::string(table) + " has no header line");
  }
  return OkStatus();
}

// A 32-bit word printed with %08X from memory: byte order is the host's.
void WordToBytes(uint32_t word, bool little_endian, uint8_t* bytes) {
  for (int i = 0; i < 4; ++i) {
    int shift = little_endian ? 8 * i : 8 * (3 - i);
    bytes[i] = static_cast<uint8_t>((word >> shift) & 0xFF);
  }
}

// /proc/net/tcp{,6} address: 8 or 32 hex chars of host-order words.
bool ParseWordAddress(std::string_view hex, bool little_endian, std::string* out,
                      uint32_t* family) {
  if (hex.size() != 8 && hex.size() != 32) return false;
  std::array<uint8_t, 16> bytes{};
  size_t words = hex.size() / 8;
  for (size_t w = 0; w < words; ++w) {
    uint32_t word = 0;
    if (!ParseHex(hex.substr(w * 8, 8), &word)) return false;
    WordToBytes(word, little_endian, bytes.data() + w * 4);
  }
  *family = words == 1 ? 4 : 6;
  *out = FormatIpAddress(bytes.data(), words * 4);
  return true;
}

// ipv6_route / if_inet6 address: 32 hex chars in network byte order.
bool ParseNetworkOrderV6(std::string_view hex, std::array<uint8_t, 16>* bytes) {
  if (hex.size() != 32) return false;
  for (size_t i = 0; i < 16; ++i) {
    uint8_t b = 0;
    if (!ParseHex(hex.substr(i * 2, 2), &b)) return false;
    (*bytes)[i] = b;
  }
  return true;
}

bool AllZero(const std::array<uint8_t, 16>& bytes) {
  for (uint8_t b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

bool SplitHostPort(std::string_view field, std::string_view* host, uint32_t* port) {
  size_t colon = field.find(':');
  if (colon == std::string_view::npos) return false;
  *host = field.substr(0, colon);
  return ParseHex(field.substr(colon + 1), port) && *port <= 0xFFFF;
}

}  // namespace

Result<std::vector<ProcNetSocket>> ParseProcNetSockets(std::string_view text,
                                                       std::string_view protocol,
                                                       bool host_little_endian) {
  if (protocol != "tcp" && protocol != "udp") {
    return MakeError(ErrorCode::kInvalidArgument, "unknown protocol " + std::string(protocol));
  }
  std::vector<ProcNetSocket> sockets;
  Status status = ForEachTableRow(text, "sl", "socket table", [&](const auto& tokens) {
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
    if (tokens.size() < 10) return;
    ProcNetSocket socket;
    socket.protocol = std::string(protocol);
    std::string_view local_host, remote_host;
    uint32_t remote_family = 0;
    if (!SplitHostPort(tokens[1], &local_host, &socket.local_port) ||
        !SplitHostPort(tokens[2], &remote_host, &socket.remote_port) ||
        !ParseWordAddress(local_host, host_little_endian, &socket.local_address, &socket.family) ||
        !ParseWordAddress(remote_host, host_little_endian, &socket.remote_address,
                          &remote_family) ||
        !ParseHex(tokens[3], &socket.state) || !ParseNumber(tokens[7], &socket.uid) ||
        !ParseNumber(tokens[9], &socket.inode)) {
      return;
    }
    bool remote_unset = socket.remote_port == 0 &&
                        (socket.remote_address == "0.0.0.0" || socket.remote_address == "::");
    socket.listening =
        protocol == "tcp" ? socket.state == kTcpListen : socket.state == kTcpClose && remote_unset;
    sockets.push_back(std::move(socket));
  });
  DOZOR_RETURN_IF_ERROR(status);
  return sockets;
}

Result<std::vector<RouteGateway>> ParseProcNetRoute(std::string_view text,
                                                    bool host_little_endian) {
  std::vector<RouteGateway> gateways;
  Status status = ForEachTableRow(text, "Iface", "route table", [&](const auto& tokens) {
    // Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT
    if (tokens.size() < 8) return;
    uint32_t destination = 0, gateway = 0, flags = 0, metric = 0, mask = 0;
    if (!ParseHex(tokens[1], &destination) || !ParseHex(tokens[2], &gateway) ||
        !ParseHex(tokens[3], &flags) || !ParseNumber(tokens[6], &metric) ||
        !ParseHex(tokens[7], &mask)) {
      return;
    }
    if (destination != 0 || mask != 0 || (flags & kRouteUp) == 0 || (flags & kRouteGateway) == 0) {
      return;
    }
    uint8_t bytes[4];
    WordToBytes(gateway, host_little_endian, bytes);
    gateways.push_back(RouteGateway{FormatIpAddress(bytes, 4), std::string(tokens[0]), 4, metric});
  });
  DOZOR_RETURN_IF_ERROR(status);
  return gateways;
}

Result<std::vector<RouteGateway>> ParseIpv6Route(std::string_view text) {
  std::vector<RouteGateway> gateways;
  ForEachLine(text, [&](std::string_view line) {
    // dest dest_len src src_len next_hop metric refcnt use flags iface
    auto tokens = Tokens(line, 12);
    if (tokens.size() < 10) return;
    std::array<uint8_t, 16> destination{}, next_hop{};
    uint32_t prefix = 0, metric = 0, flags = 0;
    if (!ParseNetworkOrderV6(tokens[0], &destination) || !ParseHex(tokens[1], &prefix) ||
        !ParseNetworkOrderV6(tokens[4], &next_hop) || !ParseHex(tokens[5], &metric) ||
        !ParseHex(tokens[8], &flags)) {
      return;
    }
    if (prefix != 0 || !AllZero(destination) || AllZero(next_hop) || (flags & kRouteUp) == 0 ||
        (flags & kRouteReject) != 0) {
      return;
    }
    gateways.push_back(
        RouteGateway{FormatIpAddress(next_hop.data(), 16), std::string(tokens[9]), 6, metric});
  });
  return gateways;
}

Result<std::vector<InterfaceAddress>> ParseIfInet6(std::string_view text) {
  std::vector<InterfaceAddress> addresses;
  ForEachLine(text, [&](std::string_view line) {
    auto tokens = Tokens(line, 8);
    if (tokens.size() < 6) return;
    std::array<uint8_t, 16> bytes{};
    uint32_t prefix = 0, scope = 0;
    if (!ParseNetworkOrderV6(tokens[0], &bytes) || !ParseHex(tokens[2], &prefix) ||
        !ParseHex(tokens[3], &scope) || prefix > 128) {
      return;
    }
    addresses.push_back(InterfaceAddress{std::string(tokens[5]), FormatIpAddress(bytes.data(), 16),
                                         prefix, 6, scope});
  });
  return addresses;
}

Result<std::vector<InterfaceAddress>> ParseIpv4AddressList(std::string_view text) {
  std::vector<InterfaceAddress> addresses;
  size_t line_number = 0;
  Error error;
  bool failed = false;
  ForEachLine(text, [&](std::string_view line) {
    ++line_number;
    size_t hash = line.find('#');
    if (hash != std::string_view::npos) line = line.substr(0, hash);
    auto tokens = Tokens(line, 3);
    if (tokens.empty() || failed) return;
    size_t slash = tokens.size() == 2 ? tokens[1].find('/') : std::string_view::npos;
    uint32_t prefix = 0;
    std::string address =
        slash == std::string_view::npos ? std::string() : std::string(tokens[1].substr(0, slash));
    if (slash == std::string_view::npos || !ParseNumber(tokens[1].substr(slash + 1), &prefix) ||
        prefix > 32 || !ParseIpv4(address)) {
      failed = true;
      error = MakeError(ErrorCode::kInvalidArgument,
                        "line " + std::to_string(line_number) + ": want 'iface address/prefix'");
      return;
    }
    addresses.push_back(InterfaceAddress{std::string(tokens[0]), address, prefix, 4, 0});
  });
  if (failed) return error;
  return addresses;
}

ResolvConf ParseResolvConf(std::string_view text) {
  ResolvConf conf;
  ForEachLine(text, [&](std::string_view line) {
    size_t comment = line.find_first_of("#;");
    if (comment != std::string_view::npos) line = line.substr(0, comment);
    auto tokens = Tokens(line, 64);
    if (tokens.size() < 2) return;
    if (tokens[0] == "nameserver") {
      conf.nameservers.emplace_back(tokens[1]);
    } else if (tokens[0] == "search" || tokens[0] == "domain") {
      conf.search_domains.clear();
      size_t last = tokens[0] == "domain" ? 2 : tokens.size();
      for (size_t i = 1; i < last; ++i) {
        conf.search_domains.emplace_back(tokens[i]);
      }
    }
  });
  return conf;
}

bool UsesResolvedStub(const ResolvConf& conf) {
  for (const auto& server : conf.nameservers) {
    if (server == "127.0.0.53" || server == "127.0.0.54") return true;
  }
  return false;
}

}  // namespace dozor::agent
