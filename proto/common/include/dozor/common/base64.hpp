// Standard base64 (RFC 4648 section 4, padded, no line breaks): the snapshot file of
// `dozor-agent collect` carries its signed payloads this way, and the server's importer reads them.
#pragma once

#include <string>
#include <string_view>

#include "dozor/common/result.hpp"

namespace dozor {

[[nodiscard]] std::string Base64Encode(std::string_view bytes);

// Strict inverse of Base64Encode: kInvalidArgument for any other character, whitespace, a length
// that is not a multiple of 4, data after padding, or non-canonical padding bits (so one payload
// has exactly one spelling).
[[nodiscard]] Result<std::string> Base64Decode(std::string_view text);

}  // namespace dozor
