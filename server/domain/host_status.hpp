// What a host's reporting looks like to the people watching the estate: online, offline, overdue
// (silent so long that someone must look), imported (loaded from a snapshot file: it never reports)
// or revoked. One rule for the estate overview's host counts and the host list's ?status= filter;
// the list's SQL (store/sqlite/sqlite_store_lists.cpp) states the same rule over the agents table
// and a test holds the two equal.
//
// Nothing here reads a clock: the caller turns its now into HostStatusBounds once.
#pragma once

#include <cstdint>

namespace dozor::server {

enum class HostStatus { kOnline, kOffline, kOverdue, kImported, kRevoked };

// A host silent this long is overdue: past offline, it needs someone to look.
inline constexpr int64_t kHostOverdueAfterMs = 24LL * 3600 * 1000;

// The two report times that split online, offline and overdue at one moment.
struct HostStatusBounds {
  int64_t online_since_ms = 0;    // a last report at or after this: online
  int64_t overdue_before_ms = 0;  // a last report at or before this (or none): overdue
};

HostStatusBounds HostStatusBoundsAt(int64_t now_ms, int64_t offline_after_ms);

// revoked -> kRevoked; not from an agent -> kImported; a report at or after online_since ->
// kOnline; no report, or the last at or before overdue_before -> kOverdue; otherwise kOffline.
// (With an offline threshold longer than the overdue one, a host is online until it is overdue.)
HostStatus HostStatusOf(bool revoked, bool from_agent, int64_t last_seen_ms,
                        const HostStatusBounds& bounds);

}  // namespace dozor::server
