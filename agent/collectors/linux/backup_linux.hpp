// Linux backup jobs and catalogues (backup_linux.cpp), a part of the software collector.
#pragma once

#include "collectors/collector.hpp"

namespace dozor::agent {

// Appends the host's backup jobs to out->backup_jobs. Best effort: what cannot be read is
// left out; never fails as a whole.
Status CollectBackupJobs(const CollectContext& ctx, dozor::v1::Software* out);

}  // namespace dozor::agent
