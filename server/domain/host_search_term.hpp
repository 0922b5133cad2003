// How a host search text is read: the same text is tried as a hostname, agent id, address,
// serial number and package; these decide the spellings that need it (pure, no I/O).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dozor::server {

// A MAC address in any usual spelling: "52:54:00:AB:CD:EF", "52-54-00-ab-cd-ef",
// "5254.00ab.cdef" (Cisco) or "525400abcdef" -> "52:54:00:ab:cd:ef". nullopt for anything else
// (wrong length, non-hex digits, mixed or misplaced separators).
std::optional<std::string> NormalizeMac(std::string_view text);

struct PackageTerm {
  std::string name;
  std::optional<std::string> version;
};

// "openssl" -> {openssl}; "openssl=3.0.17-1~deb12u2" -> {openssl, 3.0.17-1~deb12u2}. nullopt
// when the text cannot name a package (empty name or version, whitespace).
std::optional<PackageTerm> ParsePackageTerm(std::string_view text);

}  // namespace dozor::server
