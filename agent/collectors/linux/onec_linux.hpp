// Linux 1C:Enterprise server depth (onec_linux.cpp), a part of the software collector: the running
// cluster (ragent, rmngr, rphost from the process list; its clusters through `rac` where the
// administration server runs), the technological log configurations (logcfg.xml) and the
// licensing (software licence files, the HASP licence manager, nethasp.ini).
#pragma once

#include "collectors/collector.hpp"

namespace dozor::agent {

// Fills out->onec_server_agents from out->processes (collect the processes first), asking `rac`
// about each agent's clusters when ctx.run_command is set, rac is installed with the agent's
// platform and an administration server (ras) runs. On a fixture root without a command runner,
// rac's answers come from <root>/dozor-fixture/commands/rac-*.txt (see
// tests/fixtures/hosts/onec-cluster). Best effort: never fails as a whole.
Status CollectOneCServerAgents(const CollectContext& ctx, dozor::v1::Software* out);

// Fills out->onec_tech_logs: every logcfg.xml of the 1C installs and of the server agents'
// accounts, with the size of each log directory now (a bounded walk).
Status CollectOneCTechLogs(const CollectContext& ctx, dozor::v1::Software* out);

// Fills out->onec_licensing (licence files, running HASP manager processes; needs the process
// list) and appends the HASP client settings of the 1C installs (nethasp.ini) to
// out->license_clients.
Status CollectOneCLicensing(const CollectContext& ctx, dozor::v1::Software* out);

}  // namespace dozor::agent
