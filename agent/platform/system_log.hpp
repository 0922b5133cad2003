// The operating system's own log, for what an agent running as a service has to say to the
// machine's administrator: where they look first when something is wrong.
#pragma once

#include <spdlog/sinks/sink.h>

#include <memory>

namespace dozor::agent::platform {

// A sink for warnings and errors (its level is warn): on Windows the Application event log under
// the source "dozor-agent" (warnings as warning events, errors as error events, the text as the
// event's only string, UTF-16 so Cyrillic reads right); nullptr on Linux, where systemd's journal
// already keeps the service's standard error. Never throws; a log that cannot be opened writes
// nothing.
[[nodiscard]] std::shared_ptr<spdlog::sinks::sink> MakeSystemLogSink();

}  // namespace dozor::agent::platform
