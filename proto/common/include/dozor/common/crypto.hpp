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

// Lower-case hex of arbitrary bytes, and back (kInvalidArgument for odd length or a non-hex
// character; either case accepted).
[[nodiscard]] std::string HexEncode(std::string_view bytes);
[[nodiscard]] Result<std::string> HexDecode(std::string_view hex);

// HKDF-SHA256 (RFC 5869, extract then expand): `length` (1..8160) bytes derived from
// `key_material`, bound to `info`, so one secret yields independent keys for different purposes.
[[nodiscard]] Result<std::string> HkdfSha256(std::string_view key_material, std::string_view salt,
                                             std::string_view info, size_t length);

// AES-256-GCM. Seal: a fresh random 96-bit nonce; returns nonce || ciphertext || 16-byte tag.
// `associated` is authenticated, not encrypted: what the sealed value belongs to, so it cannot be
// moved to another owner. `key` must be 32 bytes (kInvalidArgument otherwise). Open:
// kPermissionDenied when the tag does not verify (another key, another `associated`, or altered
// bytes), kInvalidArgument when `sealed` is too short to be one.
[[nodiscard]] Result<std::string> SealAes256Gcm(std::string_view key, std::string_view plaintext,
                                                std::string_view associated);
[[nodiscard]] Result<std::string> OpenAes256Gcm(std::string_view key, std::string_view sealed,
                                                std::string_view associated);

// Checks that `cert_pem` holds at least one X.509 certificate, `key_pem` a private key, and that
// the key belongs to the first certificate. kInvalidArgument saying which part is wrong.
[[nodiscard]] Status ValidateCertificateAndKey(std::string_view cert_pem, std::string_view key_pem);

// Compares without leaking the position of the first difference through timing.
[[nodiscard]] bool ConstantTimeEquals(std::string_view a, std::string_view b);

// Lower-case hex SHA-256 of the DER encoding of the first certificate in `pem`: the certificate's
// fingerprint as `openssl x509 -noout -fingerprint -sha256` prints it (without colons), which the
// install commands carry. kInvalidArgument when `pem` holds no certificate.
[[nodiscard]] Result<std::string> CertificateSha256Hex(std::string_view pem);

// "sha256//<base64 SHA-256 of SubjectPublicKeyInfo>" of the first certificate in `pem`: the
// format of curl --pinnedpubkey. kInvalidArgument when `pem` holds no certificate.
[[nodiscard]] Result<std::string> PublicKeyPin(std::string_view pem);

// OK when the first certificate of `cert_chain_pem` chains up to the first of `ca_pem` (the rest
// of the chain counts as intermediates); validity dates are not checked here. kInvalidArgument
// otherwise.
[[nodiscard]] Status VerifyIssuedBy(std::string_view cert_chain_pem, std::string_view ca_pem);

}  // namespace dozor
