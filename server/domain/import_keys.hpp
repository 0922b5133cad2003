// Import keys at rest: the HMAC key of one-shot snapshot files (dozor/contract/snapshot_file.hpp,
// SnapshotImportKey) is derived from an enrollment token's plaintext, which the server holds only
// while it issues the token. It keeps that key wrapped (AES-256-GCM) with the server's own import
// wrapping key, which lives in a file beside the database, never in it (server/app/
// import_key_file.hpp). A copy of the database therefore holds the wrapped key and the token's
// SHA-256, neither of which signs a file (docs/architecture.md, "Import keys").
//
// Pure: no I/O; wrapping draws a random nonce. Thread-safety: a const ImportKeyWrapper may be used
// from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dozor/common/result.hpp"
#include "dozor/contract/snapshot_file.hpp"

namespace dozor::server {

// The server's import wrapping key: this many random bytes.
inline constexpr size_t kImportWrappingKeyBytes = 32;

// What a wrapped key belongs to. It is authenticated with the key, so a wrapped key moved to
// another token or organisation does not unwrap.
struct ImportKeyOwner {
  int64_t org_id = 0;
  int64_t token_id = 0;
};

class ImportKeyWrapper {
 public:
  // `server_key`: kImportWrappingKeyBytes bytes; kInvalidArgument otherwise.
  [[nodiscard]] static Result<ImportKeyWrapper> FromServerKey(std::string_view server_key);

  // "v1:<key id>:<hex of nonce || ciphertext || tag>", text for a database column.
  [[nodiscard]] Result<std::string> Wrap(const ImportKeyOwner& owner,
                                         std::string_view import_key) const;
  // The import key back. kFailedPrecondition when it was wrapped with another server key (the
  // key file was replaced or lost: the message says so), kPermissionDenied when it does not
  // belong to `owner` or was altered, kInvalidArgument when `wrapped` is not one.
  [[nodiscard]] Result<std::string> Unwrap(const ImportKeyOwner& owner,
                                           std::string_view wrapped) const;

  // 16 hex characters naming the server key (derived from it, reveals nothing of it): stored in
  // every wrapped key, so a replaced key file is told apart from a tampered row.
  [[nodiscard]] const std::string& key_id() const { return key_id_; }
  // The key id a wrapped key names; empty when `wrapped` is not one.
  [[nodiscard]] static std::string_view KeyIdOf(std::string_view wrapped);

 private:
  ImportKeyWrapper(std::string wrapping_key, std::string key_id)
      : wrapping_key_(std::move(wrapping_key)), key_id_(std::move(key_id)) {}

  std::string wrapping_key_;  // derived from the server key for this one use
  std::string key_id_;
};

// One of the organisation's enrollment tokens that could have signed a file (same hint).
struct ImportSignerCandidate {
  int64_t token_id = 0;
  int64_t org_id = 0;
  std::string hint;
  // Empty for a token issued before signed imports (format v2): no key was ever kept for it.
  std::optional<std::string> wrapped_import_key;
};

// Which candidate's key verifies the file's HMAC: its token id. Every candidate is checked (no
// early exit), so the time taken says nothing about which matched. kPermissionDenied when none
// does, with a message for the operator: the usual one (another organisation's token, a revoked
// token, an altered file), or, when a candidate could not be checked, that its token predates
// signed imports or the server's key file changed, and that a new token is the remedy.
// kUnavailable when `wrapper` is null (the server was started without its import key).
[[nodiscard]] Result<int64_t> FindImportSigner(const SnapshotEnvelope& envelope,
                                               const std::vector<ImportSignerCandidate>& candidates,
                                               const ImportKeyWrapper* wrapper);

}  // namespace dozor::server
