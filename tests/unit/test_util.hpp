// Shared helpers for unit tests: temporary directories, fixture paths, and waiting for what
// another thread does (a gate a job blocks on, polling a condition with a time limit).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>

namespace dozor::testing {

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  // A random name created with create_directory, which fails when the name exists: what mkdtemp
  // does, on every platform (the agent's tests also run on Windows, under Wine).
  TempDir() {
    std::random_device random;
    for (int attempt = 0; attempt < 100 && path_.empty(); ++attempt) {
      char name[32];
      std::snprintf(name, sizeof(name), "dozor-test-%08x%08x", random(), random());
      std::filesystem::path candidate = std::filesystem::temp_directory_path() / name;
      std::error_code ec;
      if (std::filesystem::create_directory(candidate, ec)) {
        std::filesystem::permissions(candidate, std::filesystem::perms::owner_all,
                                     std::filesystem::perm_options::replace, ec);
        path_ = std::move(candidate);
      }
    }
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] std::filesystem::path operator/(const std::string& name) const {
    return path_ / name;
  }

 private:
  std::filesystem::path path_;
};

inline std::filesystem::path FixturePath(const std::string& relative) {
  return std::filesystem::path(DOZOR_FIXTURES_DIR) / relative;
}

// A gate a job blocks on until the test opens it; held by a shared_ptr so a job left behind
// (abandoned at its deadline) keeps it alive.
struct Gate {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;

  void Wait() {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return open; });
  }
  void Open() {
    std::lock_guard lock(mutex);
    open = true;
    cv.notify_all();
  }
};

// Polls `condition` until it holds or `limit` passed; its value at the end.
inline bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

}  // namespace dozor::testing
