// Health sampling. Rates (CPU %, disk and network throughput, per-process CPU) need two readings,
// so the sampler keeps the previous counters between calls.
#pragma once

#include <memory>

#include "collectors/collector.hpp"

namespace dozor::agent {

class HealthSampler {
 public:
  virtual ~HealthSampler() = default;
  // Takes one sample. The first call primes the counters and reports rates as 0; later calls report
  // rates over the time since the previous call. Partial failures (e.g. no /sys/class/thermal)
  // leave those fields empty and are listed in `errors`.
  virtual Result<dozor::v1::HealthSample> Sample(std::vector<std::string>* errors) = 0;
  // Gives back reusable read buffers that grew on a big sample (self-limits shedding). The
  // counters needed for the next rates are kept.
  virtual void ReleaseMemory() {}
};

// Per-OS implementation (linux/health_linux.cpp).
std::unique_ptr<HealthSampler> MakeHealthSampler(const CollectContext& ctx);

}  // namespace dozor::agent
