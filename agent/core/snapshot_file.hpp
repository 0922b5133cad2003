// The one-shot audit file written by `dozor-agent collect` and read by `dozorctl import`.
//
// Format "dozor.snapshot/v1" (docs/agent-config.md, "One-shot audit"): one UTF-8 JSON object
//
//   {
//     "format":         "dozor.snapshot/v1",
//     "created_at_ms":  <int, Unix ms>,
//     "agent_version":  "<dozor-agent version>",
//     "hostname":       "<host name>",
//     "machine_id":     "<machine id, may be empty>",
//     "token_hint":     "<first 12 characters of the enrollment token>",
//     "payload":        "<base64 of a serialized dozor.v1.Report: seq 1, inventory, collectors>",
//     "health_payload": "<base64 of a serialized dozor.v1.Report: seq 2, health>"  (optional),
//     "sha256":         "<hex SHA-256 of payload_bytes || health_payload_bytes>",
//     "hmac_sha256":    "<hex HMAC-SHA256, key = Sha256Hex(token), same bytes>"
//   }
//
// base64 is the standard alphabet with padding; the hashed bytes are the decoded payloads,
// inventory first, then health (nothing when absent). The HMAC key is the lowercase hex string
// Sha256Hex(token) as ASCII, i.e. exactly what the server stores for an enrollment token, so the
// server verifies the file without ever knowing the token. The token never appears in the file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dozor/common/base64.hpp"
#include "dozor/common/result.hpp"
#include "dozor/v1/agent.pb.h"

namespace dozor::agent {

inline constexpr std::string_view kSnapshotFormat = "dozor.snapshot/v1";
// Same length as the server's enrollment token hint (server/http/auth.hpp kTokenHintLength).
inline constexpr size_t kSnapshotTokenHintLength = 12;
// An import file beyond this is not one of ours (a big host's inventory is a few MB).
inline constexpr size_t kMaxSnapshotFileBytes = 64 * 1024 * 1024;

struct SnapshotContents {
  int64_t created_at_ms = 0;
  std::string agent_version;
  std::string hostname;
  std::string machine_id;
  dozor::v1::Report inventory_report;              // seq 1, inventory + collector statuses
  std::optional<dozor::v1::Report> health_report;  // seq 2, health; absent with --no-health
};

// Base64Encode / Base64Decode: dozor/common/base64.hpp.

// Builds the snapshot JSON (pure: no clock, no I/O). kInvalidArgument when the token is empty or
// the inventory report has no inventory; kInternal if a report cannot be serialized.
[[nodiscard]] Result<std::string> BuildSnapshotJson(const SnapshotContents& contents,
                                                    std::string_view token);

// Reference reader (the agent's own tests and tools): checks the format, both digests (the HMAC
// with key = token_hash, i.e. Sha256Hex(token)) and parses the reports. kInvalidArgument for a
// malformed file, kPermissionDenied when the HMAC does not match, kDataLoss when sha256 does not.
[[nodiscard]] Result<SnapshotContents> ParseSnapshotJson(std::string_view json,
                                                         std::string_view token_hash);

}  // namespace dozor::agent
