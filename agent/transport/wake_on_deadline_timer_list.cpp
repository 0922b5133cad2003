#include "transport/wake_on_deadline_timer_list.hpp"

#include <grpcpp/version_info.h>

#if GRPC_CPP_VERSION_MAJOR == 1 && GRPC_CPP_VERSION_MINOR == 51 && GRPC_CPP_VERSION_PATCH == 1
#define DOZOR_GRPC_TIMER_SEAM 1
#endif

#ifdef DOZOR_GRPC_TIMER_SEAM
#include <absl/status/status.h>
#include <grpc/support/time.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <mutex>
#include <utility>
#include <vector>

// ---- gRPC 1.51.1's internal seam, declared as gRPC defines it --------------------------------
// src/core/lib/iomgr/closure.h: only passed through.
struct grpc_closure;

namespace grpc_core {
// src/core/lib/gprpp/time.h: milliseconds after gRPC's process epoch, trivially copyable, so it
// travels in one register like its single int64_t.
class Timestamp {
 public:
  static Timestamp FromTimespecRoundDown(gpr_timespec t);
  int64_t millis;
};
static_assert(sizeof(Timestamp) == sizeof(int64_t));

// src/core/lib/gprpp/debug_location.h: a file and a line without NDEBUG (Debian's build), empty
// with it; ExecCtx::Run only reads it in builds without NDEBUG.
class DebugLocation;

// src/core/lib/iomgr/exec_ctx.h: queues the closure on the calling thread's ExecCtx; it runs when
// that ExecCtx is flushed (the timer thread flushes after every check that fired something).
class ExecCtx {
 public:
  static void Run(const DebugLocation& location, grpc_closure* closure, absl::Status error);
};
}  // namespace grpc_core

// src/core/lib/iomgr/timer.h. grpc_timer is allocated by gRPC; only the leading fields, identical
// in every build of 1.51.1, are declared (a debug-only field and a union follow them).
struct grpc_timer {
  int64_t deadline;
  uint32_t heap_index;
  bool pending;
  grpc_timer* next;
  grpc_timer* prev;
  grpc_closure* closure;
};

enum grpc_timer_check_result {
  GRPC_TIMERS_NOT_CHECKED,
  GRPC_TIMERS_CHECKED_AND_EMPTY,
  GRPC_TIMERS_FIRED,
};

struct grpc_timer_vtable {
  void (*init)(grpc_timer* timer, grpc_core::Timestamp deadline, grpc_closure* closure);
  void (*cancel)(grpc_timer* timer);
  grpc_timer_check_result (*check)(grpc_core::Timestamp* next);
  void (*list_init)();
  void (*list_shutdown)();
  void (*consume_kick)();
};

void grpc_set_timer_impl(grpc_timer_vtable* vtable);
void grpc_kick_poller();
// src/core/lib/iomgr/iomgr_internal.h: the platform (posix or windows) is chosen once, by
// grpc_init unless it was chosen before; choosing it sets the generic timer list, which is then
// replaced here before grpc_init can initialise it.
bool grpc_have_determined_iomgr_platform();
void grpc_set_default_iomgr_platform();
// ------------------------------------------------------------------------------------------------

namespace dozor::agent {
namespace {

// Where ExecCtx::Run records who scheduled a closure (debug builds of gRPC).
struct DebugLocationLayout {
  const char* file;
  int line;
};
constexpr DebugLocationLayout kHere{__FILE__, __LINE__};

void RunClosure(grpc_closure* closure, absl::Status status) {
  grpc_core::ExecCtx::Run(reinterpret_cast<const grpc_core::DebugLocation&>(kHere), closure,
                          std::move(status));
}

int64_t NowMillis() {
  return grpc_core::Timestamp::FromTimespecRoundDown(gpr_now(GPR_CLOCK_MONOTONIC)).millis;
}

// A binary min-heap on the deadline; each timer keeps its own index (grpc_timer::heap_index) so a
// cancel removes it in O(log n) without a search.
class TimerHeap {
 public:
  [[nodiscard]] bool empty() const { return timers_.empty(); }
  [[nodiscard]] grpc_timer* top() const { return timers_.front(); }

  void Add(grpc_timer* timer) {
    timer->heap_index = static_cast<uint32_t>(timers_.size());
    timers_.push_back(timer);
    SiftUp(timer->heap_index);
  }

  void Remove(grpc_timer* timer) {
    const uint32_t index = timer->heap_index;
    const uint32_t last = static_cast<uint32_t>(timers_.size() - 1);
    if (index != last) {
      Place(index, timers_[last]);
    }
    timers_.pop_back();
    if (index < timers_.size()) {
      SiftDown(index);
      SiftUp(index);
    }
  }

 private:
  void Place(uint32_t index, grpc_timer* timer) {
    timers_[index] = timer;
    timer->heap_index = index;
  }

  void SiftUp(uint32_t index) {
    grpc_timer* const timer = timers_[index];
    while (index > 0) {
      const uint32_t parent = (index - 1) / 2;
      if (timers_[parent]->deadline <= timer->deadline) {
        break;
      }
      Place(index, timers_[parent]);
      index = parent;
    }
    Place(index, timer);
  }

  void SiftDown(uint32_t index) {
    grpc_timer* const timer = timers_[index];
    const auto size = static_cast<uint32_t>(timers_.size());
    for (;;) {
      uint32_t child = 2 * index + 1;
      if (child >= size) {
        break;
      }
      if (child + 1 < size && timers_[child + 1]->deadline < timers_[child]->deadline) {
        ++child;
      }
      if (timer->deadline <= timers_[child]->deadline) {
        break;
      }
      Place(index, timers_[child]);
      index = child;
    }
    Place(index, timer);
  }

  std::vector<grpc_timer*> timers_;
};

struct TimerList {
  std::mutex mutex;
  bool initialized = false;
  TimerHeap heap;
  std::atomic<uint64_t> armed{0};
  std::atomic<uint64_t> fired{0};
  std::atomic<uint64_t> cancelled{0};
  std::atomic<uint64_t> checks{0};
  std::atomic<uint64_t> kicks{0};
};

// Never destroyed: gRPC may touch its timers from static destructors and its own threads.
TimerList& List() {
  static auto* list = new TimerList;
  return *list;
}

void TimerInit(grpc_timer* timer, grpc_core::Timestamp deadline, grpc_closure* closure) {
  TimerList& list = List();
  timer->closure = closure;
  timer->deadline = deadline.millis;
  bool earliest = false;
  {
    std::lock_guard lock(list.mutex);
    if (!list.initialized) {
      timer->pending = false;
      RunClosure(closure, absl::UnknownError("Attempt to create timer before initialization"));
      return;
    }
    if (deadline.millis <= NowMillis()) {
      timer->pending = false;
      RunClosure(closure, absl::OkStatus());
      return;
    }
    timer->pending = true;
    earliest = list.heap.empty() || deadline.millis < list.heap.top()->deadline;
    list.heap.Add(timer);
    list.armed.fetch_add(1, std::memory_order_relaxed);
  }
  // The timer thread may be asleep until a later deadline. Outside the list's mutex: the timer
  // manager calls consume_kick (below) while holding its own.
  if (earliest) {
    list.kicks.fetch_add(1, std::memory_order_relaxed);
    grpc_kick_poller();
  }
}

void TimerCancel(grpc_timer* timer) {
  TimerList& list = List();
  std::lock_guard lock(list.mutex);
  if (!list.initialized || !timer->pending) {
    return;  // already run (or running), or cancelled: the closure has its one call
  }
  timer->pending = false;
  list.heap.Remove(timer);
  list.cancelled.fetch_add(1, std::memory_order_relaxed);
  // Exactly absl::CancelledError(): gRPC compares with it (keepalive, backup poller) to tell a
  // cancelled timer from a failure, and closes the transport on anything else.
  RunClosure(timer->closure, absl::CancelledError());
}

grpc_timer_check_result TimerCheck(grpc_core::Timestamp* next) {
  TimerList& list = List();
  list.checks.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(list.mutex);
  const int64_t now = NowMillis();
  bool fired = false;
  while (!list.heap.empty() && list.heap.top()->deadline <= now) {
    grpc_timer* timer = list.heap.top();
    list.heap.Remove(timer);
    timer->pending = false;
    fired = true;
    list.fired.fetch_add(1, std::memory_order_relaxed);
    RunClosure(timer->closure, absl::OkStatus());
  }
  if (next != nullptr && !list.heap.empty() && list.heap.top()->deadline < next->millis) {
    next->millis = list.heap.top()->deadline;
  }
  return fired ? GRPC_TIMERS_FIRED : GRPC_TIMERS_CHECKED_AND_EMPTY;
}

void TimerListInit() {
  TimerList& list = List();
  std::lock_guard lock(list.mutex);
  list.initialized = true;
}

// grpc_shutdown: every timer still pending runs now, with an error, as timer_generic.cc does.
void TimerListShutdown() {
  TimerList& list = List();
  std::lock_guard lock(list.mutex);
  while (!list.heap.empty()) {
    grpc_timer* timer = list.heap.top();
    list.heap.Remove(timer);
    timer->pending = false;
    RunClosure(timer->closure, absl::UnknownError("Timer list shutdown"));
  }
  list.initialized = false;
}

// The generic list forgets a per-thread cache of the earliest deadline here; this one has none.
void TimerConsumeKick() {}

std::atomic<bool> g_installed{false};

grpc_timer_vtable g_wake_on_deadline_vtable = {
    TimerInit, TimerCancel, TimerCheck, TimerListInit, TimerListShutdown, TimerConsumeKick,
};

}  // namespace

bool UseWakeOnDeadlineTimerList() {
  if (grpc::Version() != GRPC_CPP_VERSION_STRING || grpc_have_determined_iomgr_platform()) {
    return false;
  }
  grpc_set_default_iomgr_platform();
  grpc_set_timer_impl(&g_wake_on_deadline_vtable);
  g_installed.store(true);
  return true;
}

bool WakeOnDeadlineTimerListInstalled() { return g_installed.load(); }

TimerListCounts WakeOnDeadlineTimerListCounts() {
  const TimerList& list = List();
  TimerListCounts counts;
  counts.armed = list.armed.load(std::memory_order_relaxed);
  counts.fired = list.fired.load(std::memory_order_relaxed);
  counts.cancelled = list.cancelled.load(std::memory_order_relaxed);
  counts.checks = list.checks.load(std::memory_order_relaxed);
  counts.kicks = list.kicks.load(std::memory_order_relaxed);
  return counts;
}

}  // namespace dozor::agent

#else  // another gRPC: its own timer list stays

namespace dozor::agent {
bool UseWakeOnDeadlineTimerList() { return false; }
bool WakeOnDeadlineTimerListInstalled() { return false; }
TimerListCounts WakeOnDeadlineTimerListCounts() { return {}; }
}  // namespace dozor::agent

#endif
