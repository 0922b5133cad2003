// IP addresses as text and bytes, the same on every OS (inet_pton/inet_ntop live in different
// headers and libraries on POSIX and Windows: src/ip_address.cpp is the one place that knows).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace dozor {

// The plain dotted quad only ("127.0.0.1"; not "127.1", octal parts or a trailing dot).
[[nodiscard]] std::optional<std::array<uint8_t, 4>> ParseIpv4(const std::string& text);

// Any textual IPv6 form ("::1", "fe80::1", "::ffff:127.0.0.1"); no zone ("%eth0"), no brackets.
[[nodiscard]] std::optional<std::array<uint8_t, 16>> ParseIpv6(const std::string& text);

// 4 bytes as a dotted quad, 16 in the canonical IPv6 form; "" for any other length.
[[nodiscard]] std::string FormatIpAddress(const uint8_t* bytes, size_t length);

}  // namespace dozor
