// Compact at-rest encoding of protobuf messages: deterministic serialization + zlib.
// Used for health samples (one row per sample) and stored inventory snapshots.
#pragma once

#include <google/protobuf/message_lite.h>

#include <string>
#include <string_view>

#include "dozor/common/result.hpp"

namespace dozor {

// Hard ceiling on a decompressed message: a corrupt or hostile blob cannot balloon in memory.
inline constexpr size_t kMaxDecodedMessageBytes = 64 * 1024 * 1024;

[[nodiscard]] std::string EncodeCompressed(const google::protobuf::MessageLite& message);
[[nodiscard]] Status DecodeCompressed(std::string_view blob,
                                      google::protobuf::MessageLite* message);

}  // namespace dozor
