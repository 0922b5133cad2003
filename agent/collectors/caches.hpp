// What the collectors keep in memory between runs, and how the self-limits drop it
// (core/agent.cpp, when the agent is over its limits).
#pragma once

namespace dozor::agent {

// Drops what the collectors keep in memory between runs (cached package-update counts). The next
// inventory recomputes what it needs.
void DropCollectorCaches();

// The part of DropCollectorCaches that lives next to its cache (linux/os_linux.cpp).
void DropPendingUpdatesCache();

}  // namespace dozor::agent
