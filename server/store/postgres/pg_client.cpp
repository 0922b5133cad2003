#include "store/postgres/pg_client.hpp"

#include "dozor/common/text.hpp"

#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace dozor::pg {
namespace {

// libpq's messages end with a newline (and sometimes carry a second line of detail).
std::string Trimmed(const char* text) {
  std::string out = text != nullptr ? text : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) {
    out.pop_back();
  }
  for (char& c : out) {
    if (c == '\n') {
      c = ' ';
    }
  }
  return out;
}

// Server notices ("relation ... already exists, skipping") are for a person at psql, not for the
// server's log at its default level.
void LogNotice(void* /*arg*/, const char* message) {
  spdlog::debug("PostgreSQL: {}", Trimmed(message));
}

Error ConnectionError(pg_conn* conn, std::string_view context) {
  std::string message = Trimmed(PQerrorMessage(conn));
  // Refused credentials are a configuration error the operator must fix; anything else (server
  // down, network) may pass.
  const bool refused = message.find("authentication failed") != std::string::npos ||
                       message.find("no pg_hba.conf entry") != std::string::npos ||
                       message.find("password") != std::string::npos;
  return MakeError(refused ? ErrorCode::kPermissionDenied : ErrorCode::kUnavailable,
                   std::string(context) + ": " + message);
}

Error ResultError(pg_conn* conn, pg_result* result, std::string_view context) {
  if (result == nullptr) {
    return ConnectionError(conn, context);
  }
  const char* sqlstate = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  std::string message = Trimmed(PQresultErrorMessage(result));
  if (message.empty()) {
    message = Trimmed(PQerrorMessage(conn));
  }
  if (sqlstate == nullptr) {
    // No SQLSTATE: the client lost the connection mid-statement.
    return MakeError(ErrorCode::kUnavailable, std::string(context) + ": " + message);
  }
  return ErrorFromSqlState(sqlstate, message).Wrap(context);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Error ErrorFromSqlState(std::string_view sqlstate, std::string_view message) {
  std::string text = std::string(message) + " (SQLSTATE " + std::string(sqlstate) + ")";
  auto code = ErrorCode::kInternal;
  const std::string_view cls = sqlstate.substr(0, 2);
  if (sqlstate == "23505") {
    code = ErrorCode::kAlreadyExists;
  } else if (cls == "23") {
    code = ErrorCode::kFailedPrecondition;  // foreign key, check, not-null: a broken invariant
  } else if (sqlstate == "40001" || sqlstate == "40P01" || cls == "08" || sqlstate == "57P01" ||
             sqlstate == "57P02" || sqlstate == "57P03" || sqlstate == "55P03") {
    code = ErrorCode::kUnavailable;  // retry, elsewhere or later
  } else if (cls == "53") {
    code = ErrorCode::kResourceExhausted;  // disk full, out of memory, too many connections
  } else if (cls == "22" || cls == "21") {
    // A value PostgreSQL cannot take (encoding, range), or a row a statement would touch twice:
    // what the caller's data did.
    code = ErrorCode::kInvalidArgument;
  } else if (cls == "28") {
    code = ErrorCode::kPermissionDenied;
  } else if (cls == "42" && sqlstate == "42501") {
    code = ErrorCode::kPermissionDenied;
  } else if (sqlstate == "57014") {
    code = ErrorCode::kUnavailable;  // statement timeout / cancelled
  } else if (cls == "XX" && sqlstate != "XX000") {
    code = ErrorCode::kDataLoss;  // data corrupted, index corrupted
  }
  return MakeError(code, std::move(text));
}

Status CheckTransportSecurity(const std::string& conninfo) {
  char* parse_error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &parse_error);
  if (options == nullptr) {
    std::string message = parse_error != nullptr ? Trimmed(parse_error) : "out of memory";
    PQfreemem(parse_error);
    return MakeError(ErrorCode::kInvalidArgument,
                     "PostgreSQL connection string does not parse: " + message);
  }
  std::string hosts;
  std::string hostaddrs;
  std::string sslmode;
  for (PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    const std::string keyword = option->keyword;
    const std::string value = option->val != nullptr ? option->val : "";
    if (keyword == "host") hosts = value;
    if (keyword == "hostaddr") hostaddrs = value;
    if (keyword == "sslmode") sslmode = value;
  }
  PQconninfoFree(options);
  if (sslmode.empty()) {
    const char* environment = std::getenv("PGSSLMODE");
    sslmode = environment != nullptr ? environment : "";
  }
  if (hosts.empty() && hostaddrs.empty()) {
    const char* environment = std::getenv("PGHOST");
    hosts = environment != nullptr ? environment : "";
  }
  auto local = [](std::string_view host) {
    return host.empty() || host.front() == '/' || host == "localhost" ||
           host.rfind("127.", 0) == 0 || host == "::1";
  };
  bool all_local = true;
  for (const std::string* list : {&hosts, &hostaddrs}) {
    size_t start = 0;
    while (start <= list->size()) {
      const size_t comma = list->find(',', start);
      const std::string host =
          list->substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!(list->empty() && list == &hostaddrs) && !local(host)) {
        all_local = false;
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  if (all_local || sslmode == "verify-full" || sslmode == "verify-ca") {
    return OkStatus();
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   "the PostgreSQL server is reached over the network without a verified TLS "
                   "connection: add sslmode=verify-full (and sslrootcert=...) to the connection "
                   "string");
}

bool IsRetryable(const Error& error) {
  return error.code == ErrorCode::kUnavailable &&
         (error.message.find("(SQLSTATE 40001)") != std::string::npos ||
          error.message.find("(SQLSTATE 40P01)") != std::string::npos);
}

std::string StorableText(std::string_view text) {
  if (text.find('\0') == std::string_view::npos && IsValidUtf8(text)) {
    return std::string(text);
  }
  return EscapeInvalidUtf8(text);
}

// ------------------------------------------------------------------ ArrayLiteral

ArrayLiteral& ArrayLiteral::Raw(std::string_view element) {
  if (count_ > 0) {
    text_.push_back(',');
  }
  text_.append(element);
  ++count_;
  return *this;
}

ArrayLiteral& ArrayLiteral::Add(int64_t value) { return Raw(std::to_string(value)); }

ArrayLiteral& ArrayLiteral::Add(double value) {
  if (std::isnan(value)) {
    return Raw("NaN");
  }
  if (std::isinf(value)) {
    return Raw(value > 0 ? "Infinity" : "-Infinity");
  }
  char buffer[64];
  const int length = std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return Raw(std::string_view(buffer, static_cast<size_t>(length)));
}

ArrayLiteral& ArrayLiteral::Add(std::string_view text) {
  std::string storable;
  if (text.find('\0') != std::string_view::npos || !IsValidUtf8(text)) {
    storable = EscapeInvalidUtf8(text);
    text = storable;
  }
  // Inside double quotes only the backslash and the double quote are special.
  std::string quoted;
  quoted.reserve(text.size() + 2);
  quoted.push_back('"');
  for (char c : text) {
    if (c == '"' || c == '\\') {
      quoted.push_back('\\');
    }
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return Raw(quoted);
}

ArrayLiteral& ArrayLiteral::AddBytes(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  // "\\x0a1b…": the array parser turns the escaped backslash into one, bytea's input the rest.
  std::string element = "\"\\\\x";
  element.reserve(bytes.size() * 2 + 5);
  for (unsigned char c : bytes) {
    element.push_back(kHex[c >> 4]);
    element.push_back(kHex[c & 15]);
  }
  element.push_back('"');
  return Raw(element);
}

// ------------------------------------------------------------------ ByteaArray

namespace {
void AppendInt32(std::string& out, uint32_t value) {
  out.push_back(static_cast<char>((value >> 24) & 0xff));
  out.push_back(static_cast<char>((value >> 16) & 0xff));
  out.push_back(static_cast<char>((value >> 8) & 0xff));
  out.push_back(static_cast<char>(value & 0xff));
}
constexpr uint32_t kByteaOid = 17;  // pg_type.h, fixed across versions
}  // namespace

ByteaArray& ByteaArray::Add(std::string_view bytes) {
  AppendInt32(elements_, static_cast<uint32_t>(bytes.size()));
  elements_.append(bytes);
  ++count_;
  return *this;
}

std::string ByteaArray::Encoded() const {
  std::string out;
  out.reserve(20 + elements_.size());
  AppendInt32(out, count_ == 0 ? 0 : 1);  // dimensions (an empty array has none)
  AppendInt32(out, 0);                    // no NULL elements
  AppendInt32(out, kByteaOid);
  if (count_ != 0) {
    AppendInt32(out, static_cast<uint32_t>(count_));
    AppendInt32(out, 1);  // lower bound
  }
  out.append(elements_);
  return out;
}

// ------------------------------------------------------------------ Params

Params& Params::Add(double value) {
  char buffer[64];
  // 17 significant digits round-trip every double.
  const int length = std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return AddText(std::string_view(buffer, static_cast<size_t>(length)));
}

Params& Params::AddText(std::string_view text) {
  // Text parameters go to libpq as C strings (a NUL would cut the value short) and PostgreSQL's
  // text holds only UTF-8: such text is stored in EscapeInvalidUtf8's form.
  if (text.find('\0') != std::string_view::npos || !IsValidUtf8(text)) {
    values_.push_back(StorableText(text));
    null_.push_back(false);
    lengths_.push_back(static_cast<int>(values_.back().size()));
    formats_.push_back(0);
    Repoint();
    return *this;
  }
  values_.emplace_back(text);
  null_.push_back(false);
  lengths_.push_back(static_cast<int>(text.size()));
  formats_.push_back(0);
  Repoint();
  return *this;
}

Params& Params::AddBytes(std::string_view bytes) {
  values_.emplace_back(bytes);
  null_.push_back(false);
  lengths_.push_back(static_cast<int>(bytes.size()));
  formats_.push_back(1);
  Repoint();
  return *this;
}

Params& Params::AddNull() {
  values_.emplace_back();
  null_.push_back(true);
  lengths_.push_back(0);
  formats_.push_back(0);
  Repoint();
  return *this;
}

// The strings may move when values_ grows: the pointer array is rebuilt after every Add.
void Params::Repoint() {
  pointers_.resize(values_.size());
  for (size_t i = 0; i < values_.size(); ++i) {
    pointers_[i] = null_[i] ? nullptr : values_[i].data();
  }
}

// ------------------------------------------------------------------ Rows

void Rows::Clear::operator()(pg_result* result) const { PQclear(result); }

Rows::Rows(pg_result* result) : result_(result) {}

int Rows::size() const { return result_ ? PQntuples(result_.get()) : 0; }

bool Rows::IsNull(int row, int column) const {
  return PQgetisnull(result_.get(), row, column) != 0;
}

int64_t Rows::Int(int row, int column) const { return OptionalInt(row, column).value_or(0); }

std::optional<int64_t> Rows::OptionalInt(int row, int column) const {
  if (IsNull(row, column)) {
    return std::nullopt;
  }
  const char* text = PQgetvalue(result_.get(), row, column);
  const char* end = text + PQgetlength(result_.get(), row, column);
  int64_t value = 0;
  auto parsed = std::from_chars(text, end, value);
  if (parsed.ec != std::errc()) {
    return std::nullopt;
  }
  return value;
}

double Rows::Double(int row, int column) const {
  if (IsNull(row, column)) {
    return 0;
  }
  return std::strtod(PQgetvalue(result_.get(), row, column), nullptr);
}

bool Rows::Bool(int row, int column) const {
  if (IsNull(row, column)) {
    return false;
  }
  const char first = PQgetvalue(result_.get(), row, column)[0];
  return first == 't' || first == '1';
}

std::string Rows::Text(int row, int column) const {
  return std::string(PQgetvalue(result_.get(), row, column),
                     static_cast<size_t>(PQgetlength(result_.get(), row, column)));
}

std::optional<std::string> Rows::OptionalText(int row, int column) const {
  if (IsNull(row, column)) {
    return std::nullopt;
  }
  return Text(row, column);
}

std::string Rows::Bytes(int row, int column) const {
  const std::string hex = Text(row, column);
  // bytea_output = hex (the default since 9.0, and set on every connection): "\x0a1b…".
  if (hex.size() < 2 || hex[0] != '\\' || hex[1] != 'x') {
    return std::string();
  }
  std::string out;
  out.reserve((hex.size() - 2) / 2);
  for (size_t i = 2; i + 1 < hex.size(); i += 2) {
    const int high = HexValue(hex[i]);
    const int low = HexValue(hex[i + 1]);
    if (high < 0 || low < 0) {
      return std::string();
    }
    out.push_back(static_cast<char>(high * 16 + low));
  }
  return out;
}

int64_t Rows::affected() const {
  if (!result_) {
    return 0;
  }
  const char* count = PQcmdTuples(result_.get());
  int64_t value = 0;
  std::from_chars(count, count + std::char_traits<char>::length(count), value);
  return value;
}

// ------------------------------------------------------------------ Connection

Connection::Connection(Connection&& other) noexcept
    : conn_(other.conn_), statement_names_(std::move(other.statement_names_)) {
  other.conn_ = nullptr;
}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    if (conn_ != nullptr) {
      PQfinish(conn_);
    }
    conn_ = other.conn_;
    statement_names_ = std::move(other.statement_names_);
    other.conn_ = nullptr;
  }
  return *this;
}

Connection::~Connection() {
  if (conn_ != nullptr) {
    PQfinish(conn_);
  }
}

Result<Connection> Connection::Open(const std::string& conninfo) {
  Connection connection;
  // A default connect_timeout (the connection string's own wins: it is expanded after it), so an
  // unreachable address fails in seconds instead of after the system's TCP timeout.
  const char* const keywords[] = {"connect_timeout", "dbname", nullptr};
  const char* const values[] = {"10", conninfo.c_str(), nullptr};
  connection.conn_ = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (connection.conn_ == nullptr) {
    return MakeError(ErrorCode::kResourceExhausted, "PostgreSQL: out of memory connecting");
  }
  if (PQstatus(connection.conn_) != CONNECTION_OK) {
    return ConnectionError(connection.conn_, "PostgreSQL: cannot connect");
  }
  PQsetNoticeProcessor(connection.conn_, &LogNotice, nullptr);
  // UTF-8 both ways whatever the database's default; UTC so now() and date functions agree
  // with the server's milliseconds; hex bytea (Rows::Bytes decodes it). No JIT: the store's
  // statements are short, and a batch's estimated cost over big tables made PostgreSQL spend
  // hundreds of milliseconds compiling code for a statement that then ran in a few.
  if (PQsetClientEncoding(connection.conn_, "UTF8") != 0) {
    return ConnectionError(connection.conn_, "PostgreSQL: setting client encoding");
  }
  DOZOR_RETURN_IF_ERROR(connection.Exec(
      "SET TIME ZONE 'UTC'; SET bytea_output = 'hex'; SET lock_timeout = '30s'; SET jit = off"));
  return connection;
}

Status Connection::Exec(std::string_view sql) {
  std::unique_ptr<pg_result, void (*)(pg_result*)> result(PQexec(conn_, std::string(sql).c_str()),
                                                          PQclear);
  const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return ResultError(conn_, result.get(), "PostgreSQL");
  }
  return OkStatus();
}

Result<Rows> Connection::Query(std::string_view sql, const Params& params) {
  std::string text(sql);
  auto named = statement_names_.find(text);
  if (named == statement_names_.end()) {
    std::string name = "s" + std::to_string(statement_names_.size());
    std::unique_ptr<pg_result, void (*)(pg_result*)> prepared(
        PQprepare(conn_, name.c_str(), text.c_str(), 0, nullptr), PQclear);
    if (!prepared || PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
      return ResultError(conn_, prepared.get(), "PostgreSQL: preparing");
    }
    named = statement_names_.emplace(std::move(text), std::move(name)).first;
  }
  pg_result* result = PQexecPrepared(conn_, named->second.c_str(), params.size(), params.values(),
                                     params.lengths(), params.formats(), /*resultFormat=*/0);
  Rows rows(result);
  const ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return ResultError(conn_, result, "PostgreSQL");
  }
  return rows;
}

Result<int64_t> Connection::Run(std::string_view sql, const Params& params) {
  DOZOR_ASSIGN_OR_RETURN(Rows rows, Query(sql, params));
  return rows.affected();
}

bool Connection::healthy() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

bool Connection::in_transaction() const {
  if (conn_ == nullptr) {
    return false;
  }
  const PGTransactionStatusType status = PQtransactionStatus(conn_);
  return status == PQTRANS_INTRANS || status == PQTRANS_INERROR;
}

// ------------------------------------------------------------------ Pool

Pool::Lease::~Lease() {
  if (pool_ != nullptr && connection_) {
    pool_->Release(std::move(connection_));
  }
}

Result<std::unique_ptr<Pool>> Pool::Open(const PoolOptions& options) {
  if (options.size < 1 || options.size > 1000) {
    return MakeError(ErrorCode::kInvalidArgument, "PostgreSQL pool size must be 1-1000");
  }
  std::unique_ptr<Pool> pool(new Pool(options));
  DOZOR_ASSIGN_OR_RETURN(Connection first, Connection::Open(options.conninfo));
  pool->idle_.push_back(std::make_unique<Connection>(std::move(first)));
  pool->open_ = 1;
  return pool;
}

Result<Pool::Lease> Pool::Acquire() {
  std::unique_lock lock(mu_);
  const auto deadline = std::chrono::steady_clock::now() + options_.acquire_timeout;
  while (true) {
    if (!idle_.empty()) {
      std::unique_ptr<Connection> connection = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(connection));
    }
    if (open_ < options_.size) {
      ++open_;
      lock.unlock();
      auto opened = Connection::Open(options_.conninfo);
      if (!opened.ok()) {
        lock.lock();
        --open_;
        released_.notify_one();
        return opened.error();
      }
      return Lease(this, std::make_unique<Connection>(std::move(opened).value()));
    }
    if (released_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= options_.size) {
      return MakeError(ErrorCode::kUnavailable,
                       "PostgreSQL: all " + std::to_string(options_.size) +
                           " pooled connections stayed busy for " +
                           std::to_string(options_.acquire_timeout.count()) + " ms");
    }
  }
}

void Pool::Release(std::unique_ptr<Connection> connection) {
  // A connection left inside a transaction (a caller returned early) is rolled back here so the
  // next user starts clean; one whose server went away is closed and replaced later.
  if (connection->healthy() && connection->in_transaction()) {
    (void)connection->Exec("ROLLBACK");
  }
  std::lock_guard lock(mu_);
  if (connection->healthy()) {
    idle_.push_back(std::move(connection));
  } else {
    --open_;
  }
  released_.notify_one();
}

}  // namespace dozor::pg
