#include "platform/linux/ambient_capabilities_linux.hpp"

#include <linux/capability.h>
#include <sys/prctl.h>

#include <algorithm>

namespace dozor::agent::platform {
namespace {

// Asking a capability number the kernel does not know fails (EINVAL): that is where the list
// ends. 63 bounds the loop whatever the kernel answers.
constexpr int kMaxCapability = 63;

bool IsAmbient(int capability) {
  return ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, capability, 0, 0) == 1;
}

void SetAmbient(std::span<const int> capabilities) {
  // Clearing cannot fail on a kernel with ambient capabilities (4.3+); on an older one there is
  // no ambient set to leak.
  (void)::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  for (int capability : capabilities) {
    // EPERM when the capability is not both permitted and inheritable: the child goes without it.
    (void)::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, capability, 0, 0);
  }
}

}  // namespace

std::vector<int> AmbientCapabilitiesOfThisThread() {
  std::vector<int> out;
  for (int capability = 0; capability <= kMaxCapability; ++capability) {
    const int answer = ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, capability, 0, 0);
    if (answer < 0) {
      break;
    }
    if (answer == 1) {
      out.push_back(capability);
    }
  }
  return out;
}

ScopedAmbientCapabilities::ScopedAmbientCapabilities(std::span<const int> wanted)
    : previous_(AmbientCapabilitiesOfThisThread()) {
  const bool unchanged =
      previous_.size() == wanted.size() && std::all_of(wanted.begin(), wanted.end(), IsAmbient);
  if (!unchanged) {
    SetAmbient(wanted);
  }
}

ScopedAmbientCapabilities::~ScopedAmbientCapabilities() {
  if (AmbientCapabilitiesOfThisThread() != previous_) {
    SetAmbient(previous_);
  }
}

}  // namespace dozor::agent::platform
