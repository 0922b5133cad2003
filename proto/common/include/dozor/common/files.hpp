// Small file helpers with size limits and atomic, permission-aware writes.
#pragma once

#include <sys/types.h>
#include <filesystem>
#include <string>

#include "dozor/common/result.hpp"

namespace dozor {

inline constexpr size_t kDefaultMaxFileBytes = 64 * 1024 * 1024;

// What ReadFile accepts. kRegularFile (the default, and what collectors need): a FIFO, device or
// socket is refused at once (kInvalidArgument), never waited on. kAnyStream: also a pipe, for
// paths an operator names on purpose (`dozorctl --token-file <(pass show dozor)`).
enum class ReadFrom { kRegularFile, kAnyStream };

// Reads a whole file; kNotFound if missing, kResourceExhausted if larger than max_bytes.
// Works for /proc and /sys files whose stat size is 0.
[[nodiscard]] Result<std::string> ReadFile(const std::filesystem::path& path,
                                           size_t max_bytes = kDefaultMaxFileBytes,
                                           ReadFrom from = ReadFrom::kRegularFile);

// Writes to a temporary file in the same directory, fsyncs and renames over `path`, so readers
// see either the old or the new content. The file is created with `mode` (e.g. 0600 for secrets).
[[nodiscard]] Status WriteFileAtomic(const std::filesystem::path& path, std::string_view content,
                                     mode_t mode = 0644);

// Creates the directory (and parents) with `mode` if missing.
[[nodiscard]] Status EnsureDirectory(const std::filesystem::path& path, mode_t mode = 0755);

}  // namespace dozor
