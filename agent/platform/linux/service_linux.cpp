#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "platform/service.hpp"

namespace dozor::agent::platform {

void PrepareProcess() {
  umask(077);
  // glibc gives every thread that allocates its own arena (64 MiB reserved, its touched pages
  // never shared); the agent's few threads allocate little and rarely contend, so one arena is
  // enough and keeps the resident heap small.
  mallopt(M_ARENA_MAX, 1);
}

// systemd keeps the agent's output in the journal.
int RunAsService(const std::function<int(bool as_service)>& agent) { return agent(false); }

void SetEnvironmentDefault(const char* name, const char* value) {
  ::setenv(name, value, /*overwrite=*/0);
}

// Signals are taken by one thread with sigwait, so no async-signal-safety puzzles elsewhere.
struct StopRequestWatcher::State {
  sigset_t signals{};
  std::atomic<bool> finished{false};
  std::thread thread;
};

StopRequestWatcher::StopRequestWatcher(std::function<void()> on_stop)
    : state_(std::make_unique<State>()) {
  sigemptyset(&state_->signals);
  sigaddset(&state_->signals, SIGINT);
  sigaddset(&state_->signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &state_->signals, nullptr);
  state_->thread = std::thread([state = state_.get(), on_stop = std::move(on_stop)] {
    int received = 0;
    sigwait(&state->signals, &received);
    if (!state->finished.load()) {
      on_stop();
    }
  });
}

StopRequestWatcher::~StopRequestWatcher() {
  state_->finished.store(true);
  pthread_kill(state_->thread.native_handle(), SIGTERM);
  state_->thread.join();
}

}  // namespace dozor::agent::platform
