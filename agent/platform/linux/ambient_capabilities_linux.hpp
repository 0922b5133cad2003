// The ambient capability set of the calling thread, set for the length of a scope. Ambient
// capabilities are the only ones an ordinary program keeps across execve (systemd's
// AmbientCapabilities= is how the agent's service user gets its four), so whatever is ambient when
// the command runner spawns a child is handed to that child. Capabilities are per thread on Linux
// and posix_spawn's child starts from the calling thread's credentials, so changing them here
// affects neither the agent's other threads nor its own (permitted, effective) privileges.
#pragma once

#include <span>
#include <vector>

namespace dozor::agent::platform {

class ScopedAmbientCapabilities {
 public:
  // Makes the calling thread's ambient set exactly `wanted` minus what cannot be raised (a
  // capability must be both permitted and inheritable to become ambient; an agent started without
  // it simply does not pass it on). Not thread-safe by design: use it on one thread and destroy it
  // on that same thread, which restores the previous set.
  explicit ScopedAmbientCapabilities(std::span<const int> wanted);
  ~ScopedAmbientCapabilities();
  ScopedAmbientCapabilities(const ScopedAmbientCapabilities&) = delete;
  ScopedAmbientCapabilities& operator=(const ScopedAmbientCapabilities&) = delete;

 private:
  std::vector<int> previous_;
};

// The capabilities in the calling thread's ambient set.
std::vector<int> AmbientCapabilitiesOfThisThread();

}  // namespace dozor::agent::platform
