// A thin client over libpq for the PostgreSQL backend: connections, bound parameters, result rows,
// a fixed-size connection pool and a transaction helper that retries what PostgreSQL asks to be
// retried. Values are always bound ($1, $2, ...), never spliced into SQL text; each connection
// prepares a statement the first time it runs its text and reuses the plan afterwards.
//
// Why libpq rather than libpqxx: Debian's libpqxx is 6.4 (exceptions for every error, no
// pipeline, its own connection classes), while the store wants Result<T> at every boundary, its
// own pool and retry policy, and error codes mapped from SQLSTATE. libpq is the reference client
// and is all of that in a few hundred lines.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dozor/common/result.hpp"

struct pg_conn;
struct pg_result;

namespace dozor::pg {

// A PostgreSQL array literal ({1,2} / {"a","b",NULL}) built element by element, bound as one
// text parameter and cast in SQL: "INSERT … SELECT * FROM unnest($1::bigint[], $2::text[])"
// writes a whole column of rows in one round trip. Text elements are always quoted and escaped
// (and made storable: StorableText); doubles keep 17 digits, NaN and the infinities by name.
class ArrayLiteral {
 public:
  ArrayLiteral& Add(int64_t value);
  ArrayLiteral& Add(int value) { return Add(static_cast<int64_t>(value)); }
  ArrayLiteral& Add(uint32_t value) { return Add(static_cast<int64_t>(value)); }
  ArrayLiteral& Add(bool value) { return Raw(value ? "t" : "f"); }
  ArrayLiteral& Add(long long value) { return Add(static_cast<int64_t>(value)); }  // NOLINT
  ArrayLiteral& Add(uint64_t value) { return Add(static_cast<int64_t>(value)); }
  ArrayLiteral& Add(double value);
  ArrayLiteral& Add(std::string_view text);
  ArrayLiteral& Add(const std::string& text) { return Add(std::string_view(text)); }
  ArrayLiteral& Add(const char* text) { return Add(std::string_view(text)); }
  ArrayLiteral& AddNull() { return Raw("NULL"); }
  // A bytea element (for "$1::bytea[]"), in PostgreSQL's hex form.
  ArrayLiteral& AddBytes(std::string_view bytes);
  template <typename T>
  ArrayLiteral& Add(const std::optional<T>& value) {
    return value ? Add(*value) : AddNull();
  }
  template <typename Enum>
  requires std::is_enum_v<Enum> ArrayLiteral& Add(Enum value) { return Add(ToString(value)); }

  [[nodiscard]] size_t size() const { return count_; }
  // The literal, closed.
  [[nodiscard]] std::string str() const { return text_ + "}"; }

 private:
  ArrayLiteral& Raw(std::string_view element);

  std::string text_ = "{";
  size_t count_ = 0;
};

// A bytea[] parameter in PostgreSQL's binary array format, bound with Params::Add and cast in SQL
// ("$5::bytea[]"): each element's bytes go as they are. ArrayLiteral::AddBytes doubles them into
// hex text that the server parses back character by character, which cost ingest about a tenth
// of PostgreSQL's CPU per health report.
class ByteaArray {
 public:
  ByteaArray& Add(std::string_view bytes);
  [[nodiscard]] size_t size() const { return count_; }
  // The array_recv form: dimensions, no-null flag, element type, then each element's length
  // and bytes (network byte order).
  [[nodiscard]] std::string Encoded() const;

 private:
  std::string elements_;
  size_t count_ = 0;
};

// Text as PostgreSQL can hold it: valid UTF-8 without NUL as it is; anything else (a NUL, which
// text cannot contain and libpq would take for the end of the value, or bytes that are not UTF-8)
// in EscapeInvalidUtf8's form (\x00, \xNN, and \\ for that text's backslashes). SQLite keeps such
// bytes raw; the agent already sends valid UTF-8 and proto3 parsing refuses anything else, so only
// a NUL can arrive this way.
std::string StorableText(std::string_view text);

// Values bound to $1..$n in order: text (numbers as decimal text, booleans as true/false) or raw
// bytes for bytea parameters, sent in binary so no escaping is involved.
class Params {
 public:
  Params() = default;
  template <typename... Values>
  explicit Params(const Values&... values) {
    (Add(values), ...);
  }

  Params& Add(int64_t value) { return AddText(std::to_string(value)); }
  Params& Add(int value) { return Add(static_cast<int64_t>(value)); }
  Params& Add(long long value) { return Add(static_cast<int64_t>(value)); }  // NOLINT(runtime/int)
  Params& Add(uint32_t value) { return Add(static_cast<int64_t>(value)); }
  // Stored as PostgreSQL's bigint, like SQLite's INTEGER: values above 2^63-1 are refused by the
  // callers before they get here (sequence numbers are validated at ingest).
  Params& Add(uint64_t value) { return Add(static_cast<int64_t>(value)); }
  Params& Add(bool value) { return AddText(value ? "true" : "false"); }
  Params& Add(double value);
  Params& Add(std::string_view text) { return AddText(text); }
  Params& Add(const std::string& text) { return AddText(text); }
  Params& Add(const char* text) { return AddText(text); }
  Params& Add(std::nullopt_t /*null*/) { return AddNull(); }
  // Typed enums go in as their edge spelling (the ToString next to the enum, found by ADL).
  template <typename Enum>
  requires std::is_enum_v<Enum> Params& Add(Enum value) { return AddText(ToString(value)); }
  template <typename T>
  Params& Add(const std::optional<T>& value) {
    return value ? Add(*value) : AddNull();
  }
  Params& Add(const ArrayLiteral& array) { return AddText(array.str()); }
  Params& Add(const ByteaArray& array) { return AddBytes(array.Encoded()); }
  Params& AddBytes(std::string_view bytes);
  Params& AddNull();
  // Adds a value and returns its placeholder ("$3"), for statements whose text grows with the
  // filters given: text and parameters are then built together and cannot drift apart.
  template <typename T>
  std::string Placeholder(const T& value) {
    Add(value);
    return "$" + std::to_string(size());
  }

  [[nodiscard]] int size() const { return static_cast<int>(values_.size()); }
  [[nodiscard]] const char* const* values() const { return pointers_.data(); }
  [[nodiscard]] const int* lengths() const { return lengths_.data(); }
  [[nodiscard]] const int* formats() const { return formats_.data(); }

 private:
  Params& AddText(std::string_view text);
  void Repoint();

  std::vector<std::string> values_;
  std::vector<bool> null_;
  std::vector<const char*> pointers_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// The rows of one statement (text format), owned. Columns are addressed by index.
class Rows {
 public:
  Rows() = default;
  explicit Rows(pg_result* result);
  Rows(Rows&&) noexcept = default;
  Rows& operator=(Rows&&) noexcept = default;

  [[nodiscard]] int size() const;
  [[nodiscard]] bool empty() const { return size() == 0; }
  [[nodiscard]] bool IsNull(int row, int column) const;
  [[nodiscard]] int64_t Int(int row, int column) const;  // 0 for NULL
  [[nodiscard]] std::optional<int64_t> OptionalInt(int row, int column) const;
  [[nodiscard]] double Double(int row, int column) const;
  [[nodiscard]] bool Bool(int row, int column) const;
  [[nodiscard]] std::string Text(int row, int column) const;  // "" for NULL
  [[nodiscard]] std::optional<std::string> OptionalText(int row, int column) const;
  // A bytea column, decoded from PostgreSQL's hex output.
  [[nodiscard]] std::string Bytes(int row, int column) const;
  // Rows an INSERT/UPDATE/DELETE touched.
  [[nodiscard]] int64_t affected() const;

 private:
  struct Clear {
    void operator()(pg_result* result) const;
  };
  std::unique_ptr<pg_result, Clear> result_;
};

// One server connection. Not thread-safe: one user at a time (the pool hands it out).
class Connection {
 public:
  Connection() = default;
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Connects (conninfo: "host=… port=… dbname=…" or a postgresql:// URI). kUnavailable when the
  // server cannot be reached, kPermissionDenied when it refuses the credentials.
  [[nodiscard]] static Result<Connection> Open(const std::string& conninfo);

  // Fixed SQL text with no parameters, possibly several statements (migrations, BEGIN/COMMIT).
  [[nodiscard]] Status Exec(std::string_view sql);
  // One statement with bound parameters, prepared on this connection the first time its text is
  // seen and run from that plan afterwards.
  [[nodiscard]] Result<Rows> Query(std::string_view sql, const Params& params = Params());
  // Query for statements whose rows do not matter; the count of rows touched.
  [[nodiscard]] Result<int64_t> Run(std::string_view sql, const Params& params = Params());

  // False once the connection to the server is lost: the pool drops it instead of reusing it.
  [[nodiscard]] bool healthy() const;
  // Inside a transaction block (BEGIN without COMMIT/ROLLBACK yet, or a failed one).
  [[nodiscard]] bool in_transaction() const;

 private:
  pg_conn* conn_ = nullptr;
  std::unordered_map<std::string, std::string> statement_names_;  // SQL text -> prepared name
};

// The error for a failed result: SQLSTATE mapped to an ErrorCode (unique violation ->
// kAlreadyExists, serialization failure/deadlock/connection loss -> kUnavailable, disk full and
// out of memory -> kResourceExhausted, data exceptions -> kInvalidArgument), the message naming
// the SQLSTATE. Exposed for tests.
Error ErrorFromSqlState(std::string_view sqlstate, std::string_view message);

// TLS wherever the network is crossed: kInvalidArgument unless every host the connection string
// names is local (a Unix socket directory, localhost, 127.0.0.0/8, ::1) or sslmode is verify-ca
// or verify-full (libpq's default, "prefer", neither requires encryption nor checks the server).
// Also refuses a malformed connection string, naming the problem but not the string (it may
// hold a password).
Status CheckTransportSecurity(const std::string& conninfo);

// SQLSTATEs a transaction may simply be run again after: serialization failure, deadlock.
bool IsRetryable(const Error& error);

struct PoolOptions {
  std::string conninfo;
  int size = 8;  // connections at most; opened on demand, the first one at Open
  std::chrono::milliseconds acquire_timeout{10000};
};

// A fixed-size pool. Acquire waits up to acquire_timeout for a free connection (kUnavailable
// after that, naming the pool size); a connection that lost its server is closed on release and
// replaced on the next Acquire.
class Pool {
 public:
  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Connection> connection)
        : pool_(pool), connection_(std::move(connection)) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();
    Connection& operator*() { return *connection_; }
    Connection* operator->() { return connection_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> connection_;
  };

  // Opens the first connection, so a wrong address or credential is reported at start.
  [[nodiscard]] static Result<std::unique_ptr<Pool>> Open(const PoolOptions& options);

  [[nodiscard]] Result<Lease> Acquire();
  [[nodiscard]] const PoolOptions& options() const { return options_; }

 private:
  explicit Pool(PoolOptions options) : options_(std::move(options)) {}
  void Release(std::unique_ptr<Connection> connection);

  PoolOptions options_;
  std::mutex mu_;
  std::condition_variable released_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;  // connections in use or idle
};

// Runs `body(Connection&)` in BEGIN … COMMIT on a leased connection and returns its result. A
// body error rolls back and is returned; a serialization failure or deadlock (from the body or
// the COMMIT), or a pooled connection found dead at BEGIN, runs the whole body again, up to
// `attempts` times. The body must therefore be
// safe to repeat: it only talks to the database.
template <typename Body>
auto InTransaction(Pool& pool, Body&& body, int attempts = 5)
    -> decltype(body(std::declval<Connection&>())) {
  using ResultType = decltype(body(std::declval<Connection&>()));
  Error last = MakeError(ErrorCode::kInternal, "transaction never ran");
  for (int attempt = 0; attempt < attempts; ++attempt) {
    auto lease = pool.Acquire();
    if (!lease.ok()) {
      return ResultType(lease.error());
    }
    Connection& connection = **lease;
    if (Status begun = connection.Exec("BEGIN"); !begun.ok()) {
      if (!connection.healthy()) {
        // An idle pooled connection the server ended (a restart, a failover): nothing ran yet,
        // so take another one. The pool drops this one when the lease goes.
        last = begun.error();
        continue;
      }
      return ResultType(begun.error());
    }
    ResultType result = body(connection);
    if (!result.ok()) {
      (void)connection.Exec("ROLLBACK");
      if (!IsRetryable(result.error())) {
        return result;
      }
      last = result.error();
      continue;
    }
    Status committed = connection.Exec("COMMIT");
    if (committed.ok()) {
      return result;
    }
    if (connection.in_transaction()) {
      (void)connection.Exec("ROLLBACK");
    }
    if (!IsRetryable(committed.error())) {
      return ResultType(committed.error());
    }
    last = committed.error();
  }
  return ResultType(last.Wrap("gave up after " + std::to_string(attempts) + " attempts"));
}

}  // namespace dozor::pg
