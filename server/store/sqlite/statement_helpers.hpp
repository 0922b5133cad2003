// Small helpers over sqlite::Statement for the store: bind a row of values in one call, walk the
// result rows, read zero-or-one row. Each resets the statement when done, so no reader keeps a
// snapshot (and with it the WAL) pinned after returning. Not thread-safe: callers hold the lock
// of the statement's connection.
#pragma once

#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "dozor/common/result.hpp"
#include "dozor/common/sqlite.hpp"

namespace dozor::server {

// Resets a statement when a query scope ends.
class ResetOnExit {
 public:
  explicit ResetOnExit(sqlite::Statement& statement) : statement_(statement) {}
  ~ResetOnExit() { statement_.Reset(); }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  sqlite::Statement& statement_;
};

// Marks a value to be bound with BindBlob rather than as text.
struct BlobArg {
  std::string_view bytes;
};

namespace statement_detail {

template <typename T>
void BindOne(sqlite::Statement& s, int index, const T& value) {
  s.Bind(index, value);
}

inline void BindOne(sqlite::Statement& s, int index, const BlobArg& value) {
  s.BindBlob(index, value.bytes);
}

// Typed enums are stored as their edge spelling (ToString, found next to the enum).
template <typename Enum>
requires std::is_enum_v<Enum>
void BindOne(sqlite::Statement& s, int index, const Enum& value) { s.Bind(index, ToString(value)); }

template <typename Enum>
requires std::is_enum_v<Enum>
void BindOne(sqlite::Statement& s, int index, const std::optional<Enum>& value) {
  if (value) {
    s.Bind(index, ToString(*value));
  } else {
    s.BindNull(index);
  }
}

}  // namespace statement_detail

// Binds values to parameters 1..N in order.
template <typename... Values>
sqlite::Statement& BindAll(sqlite::Statement& s, const Values&... values) {
  int index = 0;
  (statement_detail::BindOne(s, ++index, values), ...);
  return s;
}

// Binds values to parameters 1..N and runs a statement that returns no rows.
template <typename... Values>
[[nodiscard]] Status RunWith(sqlite::Statement& s, const Values&... values) {
  return BindAll(s, values...).Run();
}

// Steps through every row of an already bound statement, calling on_row(s) for each. on_row
// may return void, or bool (false stops early). Resets the statement afterwards.
template <typename OnRow>
[[nodiscard]] Status ForEachRow(sqlite::Statement& s, OnRow&& on_row) {
  ResetOnExit reset(s);
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      return OkStatus();
    }
    if constexpr (std::is_same_v<std::invoke_result_t<OnRow&, sqlite::Statement&>, bool>) {
      if (!on_row(s)) {
        return OkStatus();
      }
    } else {
      on_row(s);
    }
  }
}

// Every row of an already bound statement, mapped by read(s).
template <typename Read>
[[nodiscard]] auto ReadAll(sqlite::Statement& s, Read&& read)
    -> Result<std::vector<std::invoke_result_t<Read&, const sqlite::Statement&>>> {
  std::vector<std::invoke_result_t<Read&, const sqlite::Statement&>> out;
  DOZOR_RETURN_IF_ERROR(
      ForEachRow(s, [&](const sqlite::Statement& row) { out.push_back(read(row)); }));
  return out;
}

// The first row of an already bound statement mapped by read(s), or nullopt when it has none.
template <typename Read>
[[nodiscard]] auto ReadOptional(sqlite::Statement& s, Read&& read)
    -> Result<std::optional<std::invoke_result_t<Read&, const sqlite::Statement&>>> {
  using Value = std::invoke_result_t<Read&, const sqlite::Statement&>;
  ResetOnExit reset(s);
  DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) {
    return std::optional<Value>();
  }
  return std::optional<Value>(std::in_place, read(s));
}

// The first row of an already bound statement mapped by read(s), or the error made by
// missing() (only built when needed) when it has none.
template <typename Read, typename Missing>
[[nodiscard]] auto ReadOne(sqlite::Statement& s, Read&& read, Missing&& missing)
    -> Result<std::invoke_result_t<Read&, const sqlite::Statement&>> {
  DOZOR_ASSIGN_OR_RETURN(auto value, ReadOptional(s, read));
  if (!value) {
    return missing();
  }
  return std::move(*value);
}

// Whether an already bound query returns at least one row.
[[nodiscard]] inline Result<bool> HasRow(sqlite::Statement& s) {
  ResetOnExit reset(s);
  return s.Step();
}

}  // namespace dozor::server
