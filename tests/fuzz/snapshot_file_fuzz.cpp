// Fuzz target: the one-shot audit file an import uploads (dozor.snapshot/v2; a v1 file must be
// refused cleanly too). The whole input is the JSON file for the key-less checks and the signed
// bytes of every field; the same bytes, split in two, also stand for decoded payloads so the
// protobuf step is reached without forging a sha256 and an HMAC.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dozor/contract/snapshot_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string kImportKey(dozor::kSnapshotImportKeyBytes, 'k');
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto envelope = dozor::ParseSnapshotEnvelope(bytes);
  if (envelope.ok()) {
    (void)dozor::SnapshotSignedBy(*envelope, kImportKey);
    (void)dozor::DecodeSnapshotReports(*envelope);
  }
  (void)dozor::ParseSnapshotJson(bytes, kImportKey);
  if (size > 0) {
    dozor::SnapshotEnvelope raw;
    const size_t split = data[0] % size;
    raw.payload = std::string(bytes.substr(1, split));
    raw.health_payload = std::string(bytes.substr(std::min(size, 1 + split)));
    (void)dozor::DecodeSnapshotReports(raw);
  }
  return 0;
}
