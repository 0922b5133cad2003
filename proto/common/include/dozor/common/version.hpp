#pragma once

namespace dozor {
inline constexpr const char* kVersion = "0.1.0";
}  // namespace dozor
