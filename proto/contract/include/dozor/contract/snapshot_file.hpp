// The one-shot audit file: written by `dozor-agent collect`, verified and imported by the server
// (POST /api/v1/orgs/{org}/imports, `dozorctl import`). Both sides use this module, so the format,
// its checks and its size limit exist once.
//
// Format "dozor.snapshot/v2" (docs/agent-config.md, "One-shot audit"): one UTF-8 JSON object
//
//   {
//     "format":         "dozor.snapshot/v2",
//     "created_at_ms":  <int, Unix ms>,
//     "agent_version":  "<dozor-agent version>",
//     "hostname":       "<host name>",
//     "machine_id":     "<machine id, may be empty>",
//     "token_hint":     "<first 12 characters of the enrollment token>",
//     "payload":        "<base64 of a serialized dozor.v1.Report: seq 1, inventory, collectors>",
//     "health_payload": "<base64 of a serialized dozor.v1.Report: seq 2, health>"  (optional),
//     "sha256":         "<hex SHA-256 of the signed bytes>",
//     "hmac_sha256":    "<hex HMAC-SHA256 of the signed bytes, key = SnapshotImportKey(token)>"
//   }
//
// Every field but the two digests is signed: the signed bytes are the fields in the order above,
// each as an 8-byte big-endian length and its bytes (created_at_ms as decimal ASCII, the payloads
// decoded from base64, a missing health_payload as empty), so nothing the server takes from the
// file (names, times, reports) can be changed without the key, and unknown fields are refused.
//
// The HMAC key is HKDF-SHA256 of the plaintext token (info "dozor import v2"): only someone holding
// the token can sign. The server sees the plaintext once, when it issues the token, and keeps
// this key wrapped with a key of its own outside the database (docs/architecture.md, "Import
// keys"), so a copy of the database is not enough to sign a file. The token never appears in the
// file. Version 1 keyed the HMAC with the token's stored SHA-256 and left the names unsigned: it
// is refused with a message saying to collect again.
//
// Reading is split in three steps because the server learns the key only from the file itself
// (token_hint -> candidate tokens): ParseSnapshotEnvelope (shape, sizes, base64, sha256), then
// SnapshotSignedBy per candidate key, then DecodeSnapshotReports once a key matched, so untrusted
// protobuf is parsed only after the signature proved who made the file. ParseSnapshotJson does all
// three with one known key.
//
// Hostile input: every function here takes arbitrary bytes and answers with an error, never a
// crash; nothing larger than kMaxSnapshotFileBytes is parsed. Pure functions, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dozor/common/base64.hpp"
#include "dozor/common/result.hpp"
#include "dozor/v1/agent.pb.h"

namespace dozor {

inline constexpr std::string_view kSnapshotFormat = "dozor.snapshot/v2";
// The previous format, recognised only to refuse it with a clear message.
inline constexpr std::string_view kSnapshotFormatV1 = "dozor.snapshot/v1";
// HKDF "info" of the file's HMAC key: binds the key to this use and format generation.
inline constexpr std::string_view kSnapshotKeyLabel = "dozor import v2";
inline constexpr size_t kSnapshotImportKeyBytes = 32;
// Same length as the server's enrollment token hint (server/http/auth.hpp kTokenHintLength).
inline constexpr size_t kSnapshotTokenHintLength = 12;
// The largest snapshot file written, read or uploaded (a big host's inventory is a few MB); the
// server's import route refuses a larger body from its Content-Length, before reading it.
inline constexpr size_t kMaxSnapshotFileBytes = 32 * 1024 * 1024;

struct SnapshotContents {
  int64_t created_at_ms = 0;
  std::string agent_version;
  std::string hostname;
  std::string machine_id;
  dozor::v1::Report inventory_report;              // seq 1, inventory + collector statuses
  std::optional<dozor::v1::Report> health_report;  // seq 2, health; absent with --no-health
};

// The file after the checks that need no key: known fields only, types, text sizes, the format
// name, base64, and the sha256 over the decoded payloads. The reports are still bytes.
struct SnapshotEnvelope {
  std::string format;  // kSnapshotFormat
  int64_t created_at_ms = 0;
  std::string agent_version;
  std::string hostname;
  std::string machine_id;
  std::string token_hint;
  std::string sha256;          // 64 lower-case hex characters
  std::string hmac_sha256;     // 64 lower-case hex characters
  std::string payload;         // decoded inventory report bytes, not empty
  std::string health_payload;  // decoded health report bytes; empty when the file has none

  // What sha256 and hmac_sha256 cover: every field above but the digests (see the format).
  [[nodiscard]] std::string SignedBytes() const;
};

// The HMAC key of files made with `token`: HKDF-SHA256(token, salt "", info kSnapshotKeyLabel),
// kSnapshotImportKeyBytes raw bytes. The agent derives it when it writes a file, the server once
// when it issues the token. kInvalidArgument for an empty token.
[[nodiscard]] Result<std::string> SnapshotImportKey(std::string_view token);

// Builds the snapshot JSON (pure: no clock, no I/O). The names are made valid UTF-8 first
// (EscapeInvalidUtf8), so what is signed is exactly what a reader gets back from the JSON.
// kInvalidArgument when the token is empty or the inventory report has no inventory; kInternal if a
// report cannot be serialized; kResourceExhausted if the file would exceed kMaxSnapshotFileBytes.
[[nodiscard]] Result<std::string> BuildSnapshotJson(const SnapshotContents& contents,
                                                    std::string_view token);

// Step 1. kResourceExhausted over kMaxSnapshotFileBytes; kInvalidArgument for a malformed file
// (the message names the field) and for a version 1 file (the message says to collect again);
// kDataLoss when the content does not match its sha256.
[[nodiscard]] Result<SnapshotEnvelope> ParseSnapshotEnvelope(std::string_view json);

// Step 2. True when hmac_sha256 verifies with `import_key` (SnapshotImportKey of the enrollment
// token). Constant time in the compared digests.
[[nodiscard]] bool SnapshotSignedBy(const SnapshotEnvelope& envelope, std::string_view import_key);

// Step 3. Parses the reports: the payload must be a dozor.v1.Report carrying an inventory, the
// health payload (when present) one carrying a health sample; kInvalidArgument otherwise. The
// names are copied from the envelope as they are (the caller decides how the signed inventory's
// names and the copies beside them must agree).
[[nodiscard]] Result<SnapshotContents> DecodeSnapshotReports(const SnapshotEnvelope& envelope);

// All three steps with one known key (the agent's own tests and tools): kPermissionDenied when
// the HMAC does not match, otherwise the errors of the steps.
[[nodiscard]] Result<SnapshotContents> ParseSnapshotJson(std::string_view json,
                                                         std::string_view import_key);

}  // namespace dozor
