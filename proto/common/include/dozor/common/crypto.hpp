// Secrets: generation, hashing at rest, constant-time comparison (OpenSSL underneath).
//
// Agent secrets, enrollment tokens and API tokens are 256-bit random values, so a single SHA-256
// is enough to store them safely: there is no low-entropy password to brute-force, and a fast hash
// keeps per-stream authentication cheap when thousands of agents reconnect at once.
#pragma once

#include <string>
#include <string_view>

#include "dozor/common/result.hpp"

namespace dozor {

// `bytes` random bytes from the OS CSPRNG, hex encoded (2*bytes characters).
[[nodiscard]] Result<std::string> RandomHex(size_t bytes);

// Lower-case hex SHA-256 of the input.
[[nodiscard]] std::string Sha256Hex(std::string_view data);

// HMAC-SHA256(key, data) in lower-case hex.
[[nodiscard]] std::string HmacSha256Hex(std::string_view key, std::string_view data);

// Checks that `cert_pem` holds at least one X.509 certificate, `key_pem` a private key, and that
// the key belongs to the first certificate. kInvalidArgument saying which part is wrong.
[[nodiscard]] Status ValidateCertificateAndKey(std::string_view cert_pem, std::string_view key_pem);

// Compares without leaking the position of the first difference through timing.
[[nodiscard]] bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace dozor
