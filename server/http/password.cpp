#include "http/password.hpp"

#include <sodium.h>

#include <condition_variable>
#include <mutex>

#include "dozor/common/text.hpp"

namespace dozor::server::http {

namespace {

// At most this many argon2id computations at once (each takes crypto_pwhash_MEMLIMIT_INTERACTIVE,
// 64 MiB).
constexpr int kMaxConcurrentHashes = 2;

class HashSlots {
 public:
  void Acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return in_use_ < kMaxConcurrentHashes; });
    ++in_use_;
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      --in_use_;
    }
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int in_use_ = 0;
};

HashSlots& Slots() {
  static HashSlots slots;
  return slots;
}

class SlotGuard {
 public:
  SlotGuard() { Slots().Acquire(); }
  ~SlotGuard() { Slots().Release(); }
  SlotGuard(const SlotGuard&) = delete;
  SlotGuard& operator=(const SlotGuard&) = delete;
};

bool SodiumReady() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

Result<std::string> HashUnthrottled(std::string_view password) {
  if (!SodiumReady()) {
    return MakeError(ErrorCode::kInternal, "libsodium failed to initialise");
  }
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return MakeError(ErrorCode::kResourceExhausted, "out of memory while hashing a password");
  }
  return std::string(out);
}

// A hash of a random password, verified against when the login is unknown (same cost).
const std::string& DummyHash() {
  static const std::string hash = [] {
    auto made = HashUnthrottled("dozor-dummy-password-for-timing");
    return made.ok() ? *made : std::string();
  }();
  return hash;
}

}  // namespace

Status CheckNewPassword(std::string_view password, std::string_view login) {
  if (!IsValidUtf8(password)) {
    return MakeError(ErrorCode::kInvalidArgument, "password must be UTF-8 text");
  }
  if (password.size() > kMaxPasswordBytes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "password must be at most " + std::to_string(kMaxPasswordBytes) + " bytes");
  }
  if (CodePointCount(password) < kMinPasswordChars) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "password must be at least " + std::to_string(kMinPasswordChars) + " characters");
  }
  if (password == login) {
    return MakeError(ErrorCode::kInvalidArgument, "password must not be the login");
  }
  return OkStatus();
}

Result<std::string> HashPassword(std::string_view password) {
  SlotGuard slot;
  return HashUnthrottled(password);
}

bool VerifyPassword(std::string_view hash, std::string_view password) {
  if (!SodiumReady() || password.size() > kMaxPasswordBytes) {
    return false;
  }
  const bool known = !hash.empty();
  const std::string stored(known ? hash : std::string_view(DummyHash()));
  if (stored.empty()) {
    return false;
  }
  SlotGuard slot;
  const bool match =
      crypto_pwhash_str_verify(stored.c_str(), password.data(), password.size()) == 0;
  return known && match;
}

}  // namespace dozor::server::http
