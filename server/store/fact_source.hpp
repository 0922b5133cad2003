// The rule engine's view of the store: read-only sessions over the fact views (the documented
// columns rules query, docs/rule-language.md), independent of the backend that holds them.
//
// A backend implements FactSource (SQLite: store/sqlite/sqlite_fact_source.hpp). A session owns
// one read-only connection on which the fact views exist; it prepares rule SQL in the rule
// dialect under the backend's guard (read-only, fact views only, whitelisted functions, one
// statement), runs prepared statements with a deadline and hands rows back as typed values. A
// scoped session shows the views restricted to a set of hosts (ScopeTo*), so one host or one
// organisation is evaluated without scanning the estate.
//
// Thread-safety: a session and its statements are used by one thread at a time; several
// sessions (of one or several sources) may be used concurrently. Statements must be destroyed
// before their session.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "dozor/common/result.hpp"

namespace dozor::server {

// One value of a fact row or a bound parameter. Booleans are integers 0/1 on every backend;
// binary values come back as lowercase hex text.
using FactValue = std::variant<std::monostate, int64_t, double, std::string>;

// A live (not revoked) host as the rule engine needs it.
struct FactHost {
  int64_t host_id = 0;
  int64_t org_id = 0;
  int64_t last_health_ms = 0;  // collected_at of its newest health sample, 0 if none
};

// A rule statement prepared on one session.
class FactStatement {
 public:
  virtual ~FactStatement() = default;
  [[nodiscard]] virtual const std::vector<std::string>& column_names() const = 0;
  // One entry per distinct parameter, in bind order: the name without its ':' for a named
  // parameter (:name), empty for any other style (?, ?1, $name), which rules may not use.
  [[nodiscard]] virtual const std::vector<std::string>& parameter_names() const = 0;
  // Fact views the statement reads, e.g. {"health_fs"}.
  [[nodiscard]] virtual const std::set<std::string>& views_read() const = 0;
  // "view.column" pairs the backend saw read where it matters to scheduling; today
  // "hosts.last_seen_ms" (a rule over it is re-run on health reports).
  [[nodiscard]] virtual const std::set<std::string>& columns_read() const = 0;
  // Binds parameter_names()[index]; the value stays bound across runs.
  virtual void Bind(size_t index, const FactValue& value) = 0;
};

// The current row during FactSession::Run; valid only inside the callback.
class FactRow {
 public:
  virtual ~FactRow() = default;
  [[nodiscard]] virtual size_t size() const = 0;
  [[nodiscard]] virtual FactValue Get(size_t column) const = 0;
  [[nodiscard]] virtual bool IsNull(size_t column) const = 0;
  [[nodiscard]] virtual int64_t Int(size_t column) const = 0;
};

class FactSession {
 public:
  virtual ~FactSession() = default;

  // Prepares one rule statement. Refused (kInvalidArgument, a message naming what is wrong):
  // syntax errors, anything but one SELECT, reads of anything but the fact views, functions
  // outside the backend's whitelist. `error_offset` receives the byte offset of the problem in
  // `sql` when the backend knows it, else -1.
  virtual Result<std::unique_ptr<FactStatement>> PrepareRule(std::string_view sql,
                                                             int* error_offset = nullptr) = 0;

  // Runs a statement of this session to its end. `on_row` returns false to stop early (Run
  // then returns OK). A statement still running after `timeout` is stopped:
  // kResourceExhausted, message "exceeded the N ms deadline and was stopped".
  virtual Status Run(FactStatement& statement, std::chrono::milliseconds timeout,
                     const std::function<bool(const FactRow&)>& on_row) = 0;

  // One consistent snapshot of the facts from Begin to End (an evaluation reads one state).
  virtual Status BeginSnapshot() = 0;
  virtual Status EndSnapshot() = 0;

  // Scoped sessions only: restrict the views to these hosts / to the live hosts of these
  // organisations (replaces the previous scope).
  virtual Status ScopeToHosts(const std::vector<int64_t>& host_ids) = 0;
  virtual Status ScopeToOrganizations(const std::vector<int64_t>& org_ids) = 0;

  // Targets of an evaluation, read outside any scope.
  virtual Result<std::vector<FactHost>> LiveHosts() = 0;
  virtual Result<std::optional<FactHost>> LiveHost(int64_t host_id) = 0;
  virtual Result<std::vector<int64_t>> Organizations() = 0;
  virtual Result<bool> OrganizationExists(int64_t org_id) = 0;
};

enum class FactSessionKind {
  kEstate,  // the views show every live host
  kScoped,  // the views show only the hosts of the current scope
};

class FactSource {
 public:
  virtual ~FactSource() = default;
  // kUnavailable when the store cannot be reached; kFailedPrecondition when a fact view does
  // not work on the store's schema.
  virtual Result<std::unique_ptr<FactSession>> OpenSession(FactSessionKind kind) = 0;
};

}  // namespace dozor::server
