#include "app/presence_monitor.hpp"

namespace dozor::server {

Result<int> PresenceMonitor::Check(int64_t now_ms) {
  if (!loaded_) {
    DOZOR_ASSIGN_OR_RETURN(auto last, store_.Events().LastPresence());
    for (const auto& [agent_id, kind] : last) {
      known_[agent_id].online = kind == "host_online";
    }
    loaded_ = true;
  }
  DOZOR_ASSIGN_OR_RETURN(auto hosts, store_.Hosts().ListHosts(std::nullopt));
  int appended = 0;
  for (const auto& host : hosts) {
    if (host.revoked || host.source != "agent" || host.last_seen_ms == 0) {
      continue;
    }
    const bool online = now_ms - host.last_seen_ms <= offline_after_ms_;
    auto [it, first_sight] = known_.try_emplace(host.agent_id);
    Known& known = it->second;
    FeedEvent event;
    event.at_ms = now_ms;
    event.org_id = host.org_id;
    event.agent_id = host.agent_id;
    event.actor = "system";
    // A host seen for the first time is announced only when it is online (its first report); one
    // that was never announced and is already offline stays quiet until it comes back.
    if ((first_sight && online) || (!first_sight && online != known.online)) {
      event.kind = online ? "host_online" : "host_offline";
      event.detail =
          online ? "reporting again"
                 : "no report for " + std::to_string((now_ms - host.last_seen_ms) / 1000) + " s";
      DOZOR_RETURN_IF_ERROR(store_.Events().AppendEvent(event));
      ++appended;
    }
    known.online = online;
    if (known.dropped_known && host.dropped_health_samples > known.dropped) {
      event.kind = "agent_trouble";
      event.detail = "the agent dropped " +
                     std::to_string(host.dropped_health_samples - known.dropped) +
                     " health samples from its full spool (" +
                     std::to_string(host.dropped_health_samples) + " in total)";
      DOZOR_RETURN_IF_ERROR(store_.Events().AppendEvent(event));
      ++appended;
    }
    known.dropped = host.dropped_health_samples;
    known.dropped_known = true;
  }
  return appended;
}

}  // namespace dozor::server
