// Host presence for the event feed: a host goes "offline" when it has not reported for
// offline_after, and "online" when it reports again; an agent that reports dropping samples from
// its spool is "agent_trouble". Checked every few seconds by ServerApp over the hosts the store
// lists; the last known state survives restarts through the feed itself (LastPresence), so a
// restart does not announce every host again.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "dozor/common/result.hpp"
#include "store/store.hpp"

namespace dozor::server {

class PresenceMonitor {
 public:
  PresenceMonitor(Store& store, int64_t offline_after_ms)
      : store_(store), offline_after_ms_(offline_after_ms) {}

  // One pass: appends host_online / host_offline / agent_trouble events for what changed since the
  // last pass (the first pass loads the last known states from the feed). The number appended.
  Result<int> Check(int64_t now_ms);

 private:
  struct Known {
    bool online = false;
    uint64_t dropped = 0;
    bool dropped_known = false;
  };
  Store& store_;
  int64_t offline_after_ms_;
  bool loaded_ = false;
  std::unordered_map<std::string, Known> known_;
};

}  // namespace dozor::server
