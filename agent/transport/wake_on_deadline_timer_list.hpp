// gRPC's transport timers for the agent: a timer thread that sleeps until the nearest deadline.
//
// In gRPC 1.51 the connection's timers (keepalive pings and their timeouts, the client channel's
// backup poller, connect and call deadlines, reconnect backoff) live on iomgr's timer list,
// "timer_generic". It splits the timers into 2 x cores shards and advances each in windows of at
// most one second; a shard with no timer due still comes due at its window's end, so gRPC's timer
// thread (`grpc_global_timer`) wakes at least once a second, in practice twice, when the nearest
// timer is a minute away. On an idle agent that was 81 % of its CPU (tests/bench/README.md,
// "Agent footprint").
//
// gRPC selects the timer list through its own seam, grpc_set_timer_impl() (how it picks the list
// per platform). This replaces the list with one heap guarded by one mutex: check() tells gRPC's
// timer thread the true nearest deadline, so the thread sleeps until then, and a timer armed
// earlier than that wakes it (grpc_kick_poller, as the generic list does). gRPC's own timer
// thread, ExecCtx and closures stay: fired and cancelled timers are handed to ExecCtx::Run
// exactly as timer_generic.cc does, so gRPC's ordering and locking rules are unchanged.
//
// The seam's types are gRPC-internal (src/core/lib/iomgr/timer.h), so the declarations in the
// .cpp match gRPC 1.51.1 exactly and nothing else: built against another gRPC this compiles to a
// function that returns false, and at run time the library must report that same version too.
#pragma once

#include <cstdint>

namespace dozor::agent {

// Installs the list. Call before anything starts gRPC (the first channel, grpc_init). Returns
// false and changes nothing when gRPC is not 1.51.1 or has already chosen its platform; gRPC then
// keeps its own list and only costs the wake-ups described above.
bool UseWakeOnDeadlineTimerList();

// Whether an earlier call installed it in this process.
[[nodiscard]] bool WakeOnDeadlineTimerListInstalled();

// What the list has done since it was installed, for tests and the footprint bench.
struct TimerListCounts {
  uint64_t armed = 0;      // timers given a future deadline
  uint64_t fired = 0;      // timers run because their deadline passed
  uint64_t cancelled = 0;  // pending timers cancelled (their closure runs with CANCELLED)
  uint64_t checks = 0;     // times gRPC's timer thread asked what is due (one per wake-up)
  uint64_t kicks = 0;      // times a new earliest timer woke the timer thread early
};
[[nodiscard]] TimerListCounts WakeOnDeadlineTimerListCounts();

}  // namespace dozor::agent
