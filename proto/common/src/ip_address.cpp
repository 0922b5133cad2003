#include "dozor/common/ip_address.hpp"

// The only OS difference is where inet_pton and inet_ntop are declared (ws2_32 on Windows, which
// needs no WSAStartup for them).
#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#endif

#include <cstring>

namespace dozor {

std::optional<std::array<uint8_t, 4>> ParseIpv4(const std::string& text) {
  in_addr parsed{};
  if (::inet_pton(AF_INET, text.c_str(), &parsed) != 1) return std::nullopt;
  std::array<uint8_t, 4> bytes{};
  std::memcpy(bytes.data(), &parsed, bytes.size());
  return bytes;
}

std::optional<std::array<uint8_t, 16>> ParseIpv6(const std::string& text) {
  in6_addr parsed{};
  if (::inet_pton(AF_INET6, text.c_str(), &parsed) != 1) return std::nullopt;
  std::array<uint8_t, 16> bytes{};
  std::memcpy(bytes.data(), &parsed, bytes.size());
  return bytes;
}

std::string FormatIpAddress(const uint8_t* bytes, size_t length) {
  if (length != 4 && length != 16) return {};
  char buffer[INET6_ADDRSTRLEN] = {};
  // inet_ntop takes a non-const source on some Windows SDKs.
  uint8_t copy[16] = {};
  std::memcpy(copy, bytes, length);
  if (::inet_ntop(length == 4 ? AF_INET : AF_INET6, copy, buffer, sizeof(buffer)) == nullptr) {
    return {};
  }
  return buffer;
}

}  // namespace dozor
