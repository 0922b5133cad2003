// The inventory part only Windows has: antivirus, firewall profiles, Remote Desktop, SMBv1 and the
// password policy (dozor.v1.Security). Declared here rather than in collector.hpp, which lists the
// parts every platform fills; PlatformInventoryCollectors() on Windows runs it as "security".
#pragma once

#include "collectors/collector.hpp"

namespace dozor::agent {

// Fills `out` from the live machine when ctx.IsRealRoot(), else from the capture at ctx.root
// (collectors/windows_model/fixture_machine.hpp). Errors as windows::BuildSecurity gives them.
Status CollectSecurity(const CollectContext& ctx, dozor::v1::Security* out);

}  // namespace dozor::agent
