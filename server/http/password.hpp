// User passwords: argon2id through libsodium (crypto_pwhash_str). The stored string names its
// algorithm and cost, so the cost can be raised later and old hashes still verify.
//
// Hashing and verifying cost about 64 MiB and tens of milliseconds each, on purpose; at most two
// run at once (others wait), so a burst of logins cannot take the server's memory.
#pragma once

#include <string>
#include <string_view>

#include "dozor/common/result.hpp"

namespace dozor::server::http {

inline constexpr size_t kMinPasswordChars = 10;
inline constexpr size_t kMaxPasswordBytes = 256;

// kInvalidArgument with the reason when `password` is too short (under 10 characters), too long,
// not UTF-8, or equal to the login.
Status CheckNewPassword(std::string_view password, std::string_view login);

// "$argon2id$v=19$m=65536,t=2,p=1$..." for `password`.
Result<std::string> HashPassword(std::string_view password);

// Whether `password` matches `hash`. With an empty hash it still spends the time of one
// verification and returns false, so an unknown login answers as slowly as a wrong password.
bool VerifyPassword(std::string_view hash, std::string_view password);

}  // namespace dozor::server::http
