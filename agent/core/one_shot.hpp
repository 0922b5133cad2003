// `dozor-agent collect`: every collector once, no server, one snapshot file (snapshot_file.hpp).
// (dozor/contract/snapshot_file.hpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "dozor/common/result.hpp"

namespace dozor::agent {

struct OneShotOptions {
  std::filesystem::path root = "/";
  std::filesystem::path output;
  std::string token;
  bool health = true;
  // Between the priming and the real health sample, so rates (CPU %, I/O) mean something.
  int health_interval_ms = 1000;
};

struct OneShotSummary {
  int packages = 0;
  int failed_collectors = 0;
  bool health = false;
  std::string hostname;
  std::string sha256;
  uint64_t file_bytes = 0;
};

// kInvalidArgument for a bad token (empty, longer than 512 bytes, spaces or control characters)
// or a root that is not a directory; the write error when the file cannot be written. The file is
// written atomically with mode 0600: on any failure nothing (not even a partial file) is left.
[[nodiscard]] Result<OneShotSummary> CollectSnapshotFile(const OneShotOptions& options);

}  // namespace dozor::agent
