// Running an external program for a Linux collector, or on a fixture root (no command runner)
// reading its canned answer the way the fixtures keep command output:
// <root>/dozor-fixture/commands/<fixture_name>.txt, its exit code in <fixture_name>.exit
// (default 0). Output is cut at max_bytes.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "collectors/collector.hpp"

namespace dozor::agent {

// kNotFound when the program (or its fixture file) does not exist, kUnavailable on the real root
// without a command runner.
[[nodiscard]] Result<CommandOutput> RunCommandOrFixture(const CollectContext& ctx,
                                                        const std::vector<std::string>& argv,
                                                        const std::string& fixture_name,
                                                        size_t max_bytes);

// Whether systemd starts `unit` ("firewalld.service") at boot: a link in one of the usual
// .wants directories under /etc, dangling or not (a fixture tree need not hold /lib's units).
[[nodiscard]] bool ServiceEnabledAtBoot(const CollectContext& ctx, const std::string& unit);

}  // namespace dozor::agent
