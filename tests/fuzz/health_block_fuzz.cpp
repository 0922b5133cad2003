// Fuzz target: a compacted health block as read back from the database (a damaged file, or a
// row written by an older or newer server must give kDataLoss, never a crash).
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "store/health_block_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<dozor::server::BlockSample> samples;
  auto status = dozor::server::DecodeHealthBlock(
      std::string_view(reinterpret_cast<const char*>(data), size), &samples);
  if (status.ok()) {
    // A block that decodes must encode again (the compactor rewrites blocks it merges).
    (void)dozor::server::EncodeHealthBlock(samples);
  }
  return 0;
}
