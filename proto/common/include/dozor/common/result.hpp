// Result<T>: a value or an Error, returned at every I/O, parse and database boundary.
// (g++ 12 has no std::expected in C++20.)
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace dozor {

enum class ErrorCode {
  kInvalidArgument,  // bad input from a caller, an agent, a file
  kNotFound,
  kAlreadyExists,
  kPermissionDenied,   // wrong/expired/revoked credential
  kUnavailable,        // peer away, database busy: retry may help
  kResourceExhausted,  // disk full, size limit
  kDataLoss,           // corrupt file
  kFailedPrecondition,
  kInternal,
};

const char* ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  // "context: message", for adding where an error happened as it travels up.
  [[nodiscard]] Error Wrap(std::string_view context) const {
    return Error{code, std::string(context) + ": " + message};
  }
  [[nodiscard]] std::string ToString() const {
    return std::string(ErrorCodeName(code)) + ": " + message;
  }
};

inline Error MakeError(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : data_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool ok() const { return data_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(data_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(data_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(data_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  [[nodiscard]] const Error& error() const {
    assert(!ok());
    return std::get<1>(data_);
  }

  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Error> data_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error)
      : error_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  [[nodiscard]] const Error& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;
inline Status OkStatus() { return {}; }

}  // namespace dozor

// Propagates an error from an expression returning Result<...> / Status.
#define DOZOR_RETURN_IF_ERROR(expr) \
  do {                              \
    auto dozor_status_ = (expr);    \
    if (!dozor_status_.ok()) {      \
      return dozor_status_.error(); \
    }                               \
  } while (false)

#define DOZOR_CONCAT_INNER(a, b) a##b
#define DOZOR_CONCAT(a, b) DOZOR_CONCAT_INNER(a, b)
// DOZOR_ASSIGN_OR_RETURN(auto x, Foo()); declares x from Foo()'s value or returns its error.
#define DOZOR_ASSIGN_OR_RETURN(decl, expr) \
  DOZOR_ASSIGN_OR_RETURN_IMPL(DOZOR_CONCAT(dozor_result_, __LINE__), decl, expr)
#define DOZOR_ASSIGN_OR_RETURN_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) {                                   \
    return tmp.error();                              \
  }                                                  \
  decl = std::move(tmp).value()
