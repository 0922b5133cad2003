// The Linux process list at inventory time (process_linux.cpp), a part of the software
// collector: what runs (a 1C cluster, PostgreSQL, a backup in progress), as whom and how big.
#pragma once

#include "collectors/collector.hpp"

namespace dozor::agent {

// Appends every process of /proc (kernel threads left out, at most 4096) to out->processes.
// Fails only when /proc cannot be listed.
Status CollectProcesses(const CollectContext& ctx, dozor::v1::Software* out);

}  // namespace dozor::agent
