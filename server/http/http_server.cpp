#include "http/http_server.hpp"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <limits>
#include <memory>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include "domain/log_limiter.hpp"
#include "http/api_service.hpp"
#include "http/request_head.hpp"
#include "http/router.hpp"

namespace dozor::server::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

namespace {

constexpr int kBusyRetryAfterSeconds = 5;
// Connections over the cap that are being answered 503 at once; beyond this they are closed
// without an answer (a flood must not make the rejections themselves unbounded).
constexpr int kMaxRejectingConnections = 64;
// How much lower the slow pool's threads run (nice steps).
constexpr int kSlowThreadNice = 10;
// After a failed accept (EMFILE, ENFILE, ENOBUFS) the next one waits this long, doubling up to
// the maximum: the listen queue keeps the connections, and a retry per I/O pass would only burn a
// core. A successful accept starts over.
constexpr std::chrono::milliseconds kFirstAcceptRetry{50};
constexpr std::chrono::milliseconds kMaxAcceptRetry{1000};
// Failed accepts are logged once, then summed at most this often.
constexpr int64_t kAcceptFailureLogIntervalMs = 10'000;

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category();
}

// How long a body of `expected_bytes` may take: the read timeout plus its transfer at the minimum
// rate, capped by the route's own limit (which is at least the read timeout).
int BodyDeadlineSeconds(const HttpServer::Options& options, const RouteLimits& limits,
                        uint64_t expected_bytes) {
  const int cap = std::max(options.read_timeout_seconds, limits.body_read_timeout_seconds);
  if (options.min_body_bytes_per_second == 0) {
    return cap;
  }
  const uint64_t transfer = expected_bytes / options.min_body_bytes_per_second + 1;
  return static_cast<int>(std::min<uint64_t>(
      static_cast<uint64_t>(cap),
      static_cast<uint64_t>(std::max(0, options.read_timeout_seconds)) + transfer));
}

int DefaultWorkers() { return std::max(2, static_cast<int>(std::thread::hardware_concurrency())); }
int DefaultSlowWorkers() {
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / 2);
}

// Slow handlers (PDF rendering) are CPU-bound for hundreds of ms; on a small machine they would
// compete for the cores with the small requests' workers on equal terms. A lower priority for
// the slow pool's threads lets the scheduler run a small request first. Linux: per-thread nice.
void LowerThisThreadPriorityOnce() {
  thread_local bool lowered = false;
  if (!lowered) {
    lowered = true;
    const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
    if (::setpriority(PRIO_PROCESS, tid, ::getpriority(PRIO_PROCESS, tid) + kSlowThreadNice) != 0) {
      spdlog::debug("http: cannot lower the slow pool's priority");
    }
  }
}

// What the sessions share: the API, the options, the pools and the counters. Owned by
// HttpServer::Impl, outlives every session.
struct Shared {
  ApiService& api;
  const HttpServer::Options& options;
  int slow_capacity = 0;       // slow requests running + waiting
  int upload_capacity = 0;     // large uploads being received or handled
  int long_poll_capacity = 0;  // long-polls waiting (each holds one long-poll thread)
  net::thread_pool* workers = nullptr;
  net::thread_pool* slow_workers = nullptr;
  net::thread_pool* long_poll_workers = nullptr;
  std::atomic<int> slow_in_flight{0};
  std::atomic<int> long_polls_in_flight{0};
  std::atomic<int> uploads_in_flight{0};
  std::atomic<int> connections{0};
  std::atomic<int> rejecting{0};
};

// Counts a connection for as long as its session lives.
class ConnectionCount {
 public:
  explicit ConnectionCount(std::atomic<int>& counter) : counter_(counter) { ++counter_; }
  ~ConnectionCount() { --counter_; }
  ConnectionCount(const ConnectionCount&) = delete;
  ConnectionCount& operator=(const ConnectionCount&) = delete;

 private:
  std::atomic<int>& counter_;
};

// One connection: reads requests in a loop (keep-alive). Network operations run on the
// connection's strand; admission and handlers run on the worker pools, one at a time per
// connection (the next request is read only after the answer is written), so the members below
// are handed from the strand to a worker and back, never touched by both at once.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  // `rejecting`: the connection is over the cap; it is answered 503 and closed.
  template <class... Args>
  Session(Shared& shared, bool rejecting, Args&&... args)
      : stream_(std::forward<Args>(args)...),
        shared_(shared),
        count_(rejecting ? shared.rejecting : shared.connections),
        rejecting_(rejecting) {}

  ~Session() { ReleaseSlots(); }

  void Run() {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->Lowest().expires_after(std::chrono::seconds(self->Options().read_timeout_seconds));
        self->stream_.async_handshake(ssl::stream_base::server,
                                      [self](beast::error_code ec) { self->OnHandshake(ec); });
      } else {
        self->Begin();
      }
    });
  }

 private:
  const HttpServer::Options& Options() const { return shared_.options; }
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void OnHandshake(beast::error_code ec) {
    if (ec) {
      spdlog::debug("http: TLS handshake failed: {}", ec.message());
      return;
    }
    Begin();
  }

  void Begin() {
    beast::error_code ec;
    const auto peer = Lowest().socket().remote_endpoint(ec);
    // Unknown peer (already gone): still throttled, all such clients under one key.
    client_address_ = ec ? std::string("unknown") : ClientAddressKey(peer.address());
    if (rejecting_) {
      ApiResponse busy = ErrorResponse(503, "unavailable",
                                       "too many connections to the management API; retry later");
      busy.retry_after_seconds = kBusyRetryAfterSeconds;
      Respond(std::move(busy), 11, /*keep_alive=*/false);
      return;
    }
    DoRead();
  }

  void DoRead() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimitBytes);
    // The header is read without a body limit (Beast would refuse a large Content-Length before
    // we know the route); ReadBody sets the route's limit before any body byte is read. Not
    // boost::none: Boost 1.74 compares Content-Length with the optional and then refuses every
    // body.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    request_ = {};
    route_ = nullptr;
    Lowest().expires_after(std::chrono::seconds(Options().read_timeout_seconds));
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) {
      OnReadError(ec);
      return;
    }
    Lowest().expires_never();  // the worker pool may take a moment; nothing is being read
    auto request = ToApiRequest(parser_->get().base());
    if (!request.ok()) {
      Respond(ErrorResponse(request.error()), parser_->get().version(),
              KeepAliveAfterEarlyAnswer());
      return;
    }
    request_ = std::move(request).value();
    request_.client_address = client_address_;
    request_.tls = kTls;
    // Authentication reads the store: on a worker, not on the I/O thread.
    net::post(*shared_.workers, [self = this->shared_from_this()] { self->Admit(); });
  }

  // On a worker.
  void Admit() {
    Admission admission = shared_.api.Admit(request_);
    if (admission.response) {
      Answer(std::move(*admission.response), /*body_read=*/false);
      return;
    }
    route_ = admission.route;
    if (route_->limits.upload && !parser_->is_done() &&
        !TakeSlot(shared_.uploads_in_flight, shared_.upload_capacity)) {
      ApiResponse busy =
          ErrorResponse(503, "unavailable",
                        "too many uploads in progress (at most " +
                            std::to_string(shared_.upload_capacity) + " at once); retry later");
      busy.retry_after_seconds = kBusyRetryAfterSeconds;
      Answer(std::move(busy), /*body_read=*/false);
      return;
    }
    holds_upload_slot_ = route_->limits.upload && !parser_->is_done();
    if (route_->limits.cost == RouteCost::kSlow &&
        !TakeSlot(shared_.slow_in_flight, shared_.slow_capacity)) {
      ApiResponse busy = ErrorResponse(
          503, "unavailable",
          "too many slow requests (reports, evaluations, imports) in progress; retry later");
      busy.retry_after_seconds = kBusyRetryAfterSeconds;
      Answer(std::move(busy), /*body_read=*/false);
      return;
    }
    holds_slow_slot_ = route_->limits.cost == RouteCost::kSlow;
    if (route_->limits.cost == RouteCost::kLongPoll &&
        !TakeSlot(shared_.long_polls_in_flight, shared_.long_poll_capacity)) {
      ReleaseSlots();
      ApiResponse busy = ErrorResponse(503, "unavailable",
                                       "too many clients waiting on the event feed (" +
                                           std::to_string(shared_.long_poll_capacity) +
                                           " at once); retry after a pause");
      busy.retry_after_seconds = kBusyRetryAfterSeconds;
      Answer(std::move(busy), /*body_read=*/false);
      return;
    }
    holds_long_poll_slot_ = route_->limits.cost == RouteCost::kLongPoll;
    if (parser_->is_done()) {
      Schedule(/*on_worker=*/true);
      return;
    }
    net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->ReadBody(); });
  }

  // On the strand: the route is known and the caller admitted; now the body.
  void ReadBody() {
    const size_t limit = route_->limits.max_body_bytes != 0 ? route_->limits.max_body_bytes
                                                            : Options().max_body_bytes;
    body_limit_ = limit;
    if (const auto length = parser_->content_length(); length && *length > limit) {
      OnReadError(bhttp::error::body_limit);
      return;
    }
    parser_->body_limit(limit);  // still applies to a chunked body
    // A deadline for the whole body, not per read: a client trickling a byte now and then must
    // not hold its connection (or its upload slot) for long.
    const int seconds =
        BodyDeadlineSeconds(Options(), route_->limits, parser_->content_length().value_or(limit));
    const auto expect = parser_->get().find(bhttp::field::expect);
    if (expect != parser_->get().end() && beast::iequals(expect->value(), "100-continue")) {
      // The client waits for this before sending the body (curl does, for large uploads).
      continue_.emplace(bhttp::status::continue_, parser_->get().version());
      Lowest().expires_after(std::chrono::seconds(Options().read_timeout_seconds));
      bhttp::async_write(stream_, *continue_,
                         [self = this->shared_from_this(), seconds](beast::error_code ec, size_t) {
                           if (!ec) {
                             self->ReadBodyBytes(seconds);
                           }
                         });
      return;
    }
    ReadBodyBytes(seconds);
  }

  void ReadBodyBytes(int timeout_seconds) {
    Lowest().expires_after(std::chrono::seconds(timeout_seconds));
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (ec) {
      OnReadError(ec);
      return;
    }
    Lowest().expires_never();
    Schedule(/*on_worker=*/false);
  }

  // Hands the complete request to its pool (a fast route already on a worker just runs).
  void Schedule(bool on_worker) {
    request_.body = std::move(parser_->get().body());
    auto job = [self = this->shared_from_this()] {
      ApiResponse response = self->shared_.api.Dispatch(*self->route_, self->request_);
      std::string().swap(self->request_.body);  // an upload's memory goes with its slot
      self->ReleaseSlots();
      self->Answer(std::move(response), /*body_read=*/true);
    };
    if (route_->limits.cost == RouteCost::kLongPoll) {
      net::post(*shared_.long_poll_workers, std::move(job));
    } else if (route_->limits.cost == RouteCost::kSlow) {
      net::post(*shared_.slow_workers, [job = std::move(job)] {
        LowerThisThreadPriorityOnce();
        job();
      });
    } else if (on_worker) {
      job();
    } else {
      net::post(*shared_.workers, std::move(job));
    }
  }

  // From a worker: back to the strand to write.
  void Answer(ApiResponse response, bool body_read) {
    net::post(stream_.get_executor(), [self = this->shared_from_this(),
                                       response = std::move(response), body_read]() mutable {
      const auto& request = self->parser_->get();
      const bool keep_alive = body_read ? request.keep_alive() : self->KeepAliveAfterEarlyAnswer();
      self->Respond(std::move(response), request.version(), keep_alive);
    });
  }

  // Answered before the body was read: the connection can carry on only if there was none.
  bool KeepAliveAfterEarlyAnswer() const {
    return parser_->is_done() && parser_->get().keep_alive();
  }

  static bool TakeSlot(std::atomic<int>& in_flight, int capacity) {
    int current = in_flight.load();
    do {
      if (current >= capacity) {
        return false;
      }
    } while (!in_flight.compare_exchange_weak(current, current + 1));
    return true;
  }

  void ReleaseSlots() {
    if (holds_long_poll_slot_) {
      holds_long_poll_slot_ = false;
      --shared_.long_polls_in_flight;
    }
    if (holds_slow_slot_) {
      holds_slow_slot_ = false;
      --shared_.slow_in_flight;
    }
    if (holds_upload_slot_) {
      holds_upload_slot_ = false;
      --shared_.uploads_in_flight;
    }
  }

  void OnReadError(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream) {
      DoClose();
      return;
    }
    if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit) {
      Respond(ec == bhttp::error::body_limit
                  ? BodyTooLargeResponse(body_limit_)
                  : ErrorResponse(413, "too_large", "request headers too large"),
              11, /*keep_alive=*/false);
      return;
    }
    if (ec && IsHttpParseError(ec)) {
      Respond(ErrorResponse(400, "bad_request", "malformed HTTP request"), 11, false);
      return;
    }
    // Timeout, reset, TLS failure: nothing useful can be sent.
  }

  void Respond(ApiResponse api_response, unsigned version, bool keep_alive) {
    ReleaseSlots();  // an early answer of an admitted slow request or upload
    if (api_response.file_body.has_value()) {
      RespondWithFile(std::move(api_response), version, keep_alive);
      return;
    }
    if (api_response.static_body.has_value()) {
      auto response = std::make_shared<bhttp::response<bhttp::span_body<const unsigned char>>>();
      SetHeaders(*response, api_response, version, keep_alive);
      response->body() = {api_response.static_body->data(), api_response.static_body->size()};
      Send(std::move(response), keep_alive);
      return;
    }
    auto response = std::make_shared<bhttp::response<bhttp::string_body>>();
    SetHeaders(*response, api_response, version, keep_alive);
    // Replace invalid UTF-8 (echoed paths, names) instead of throwing while serialising.
    if (api_response.raw_body.has_value()) {
      response->body() = std::move(*api_response.raw_body);
    } else {
      response->body() =
          api_response.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    }
    Send(std::move(response), keep_alive);
  }

  // Agent packages (up to 200 MiB) go from disk to the socket in chunks.
  void RespondWithFile(ApiResponse api_response, unsigned version, bool keep_alive) {
    beast::error_code ec;
    bhttp::file_body::value_type file;
    file.open(api_response.file_body->c_str(), beast::file_mode::scan, ec);
    if (ec) {
      spdlog::error("http: opening {} failed: {}", api_response.file_body->string(), ec.message());
      Respond(ErrorResponse(500, "internal", "cannot read the file"), version, keep_alive);
      return;
    }
    auto response = std::make_shared<bhttp::response<bhttp::file_body>>();
    SetHeaders(*response, api_response, version, keep_alive);
    response->body() = std::move(file);
    Send(std::move(response), keep_alive);
  }

  template <class Response>
  void SetHeaders(Response& response, const ApiResponse& api_response, unsigned version,
                  bool keep_alive) {
    response.version(version);
    response.result(static_cast<unsigned>(api_response.status));
    response.set(bhttp::field::server, "dozor");
    const bool raw = api_response.raw_body.has_value() || api_response.file_body.has_value() ||
                     api_response.static_body.has_value();
    if (!raw) {
      response.set(bhttp::field::content_type, "application/json");
    } else if (!api_response.content_type.empty()) {  // a 304 has none
      response.set(bhttp::field::content_type, api_response.content_type);
    }
    if (raw && !api_response.content_disposition.empty()) {
      response.set(bhttp::field::content_disposition, api_response.content_disposition);
    }
    response.set(bhttp::field::cache_control, api_response.cache_control.empty()
                                                  ? std::string("no-store")
                                                  : api_response.cache_control);
    for (const auto& [name, value] : api_response.headers) {
      response.set(name, value);
    }
    if (api_response.status == 401) {
      response.set(bhttp::field::www_authenticate, "Bearer");
    }
    if (api_response.retry_after_seconds > 0) {
      response.set(bhttp::field::retry_after, std::to_string(api_response.retry_after_seconds));
    }
    for (const auto& cookie : api_response.set_cookies) {
      response.insert(bhttp::field::set_cookie, cookie);
    }
    if (api_response.status == 405 && api_response.body.contains("error") &&
        api_response.body["error"].contains("allowed")) {
      response.set(bhttp::field::allow, api_response.body["error"]["allowed"].get<std::string>());
    }
    response.keep_alive(keep_alive);
  }

  // Sets the payload headers and writes. A 304 gets no Content-Length (it would have to be the
  // full answer's). The answer to a HEAD request is the header of its GET answer, Content-Length
  // included, without the body.
  template <class Body>
  void Send(std::shared_ptr<bhttp::response<Body>> response, bool keep_alive) {
    if (response->result() != bhttp::status::not_modified) {
      response->prepare_payload();
    }
    if (request_.method == "HEAD") {
      Write(std::make_shared<bhttp::response<bhttp::empty_body>>(std::move(response->base())),
            keep_alive);
      return;
    }
    Write(std::move(response), keep_alive);
  }

  template <class Response>
  void Write(std::shared_ptr<Response> response, bool keep_alive) {
    Lowest().expires_after(std::chrono::seconds(Options().read_timeout_seconds));
    bhttp::async_write(stream_, *response,
                       [self = this->shared_from_this(), response, keep_alive](
                           beast::error_code ec, size_t) { self->OnWrite(ec, keep_alive); });
  }

  void OnWrite(beast::error_code ec, bool keep_alive) {
    if (ec) {
      return;
    }
    if (!keep_alive) {
      DoClose();
      return;
    }
    DoRead();
  }

  void DoClose() {
    if constexpr (kTls) {
      Lowest().expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      Linger();
    }
  }

  // Lingering close: after answering early (401/413 before the body was read, 503 over the
  // cap), keep reading and discarding for a bounded time and size, so a client still writing its
  // body gets to read the answer instead of a connection reset.
  void Linger() {
    Lowest().expires_after(std::chrono::seconds(rejecting_ ? 1 : kLingerSeconds));
    Lowest().async_read_some(net::buffer(drain_),
                             [self = this->shared_from_this()](beast::error_code ec, size_t bytes) {
                               self->lingered_bytes_ += bytes;
                               if (!ec && self->lingered_bytes_ < kLingerMaxBytes) {
                                 self->Linger();
                               }
                             });
  }

  static constexpr int kLingerSeconds = 5;
  static constexpr size_t kLingerMaxBytes = 64 * 1024 * 1024;
  std::array<char, 16384> drain_{};
  size_t lingered_bytes_ = 0;

  Stream stream_;
  Shared& shared_;
  ConnectionCount count_;
  const bool rejecting_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::empty_body>> continue_;
  ApiRequest request_;
  const Route* route_ = nullptr;
  size_t body_limit_ = 0;  // of the request being read
  std::string client_address_;
  bool holds_slow_slot_ = false;
  bool holds_long_poll_slot_ = false;
  bool holds_upload_slot_ = false;
};

}  // namespace

ApiContext MakeApiContext(const HttpServer::Options& options, Store& store, AgentControl* agents,
                          const Clock& clock) {
  ApiContext context{store,
                     agents,
                     clock,
                     options.grpc_public_address,
                     options.offline_after_seconds,
                     options.rules,
                     options.evaluate_now,
                     options.install,
                     options.auth_throttle,
                     options.import_keys,
                     options.sessions,
                     options.dashboard,
                     options.metrics,
                     options.alert_ack_key};
  context.audit = options.security_audit;
  return context;
}

struct HttpServer::Impl {
  Impl(Options options_in, Store& store, AgentControl* agents, const Clock& clock_in)
      : options(std::move(options_in)),
        clock(clock_in),
        api(MakeApiContext(options, store, agents, clock)),
        worker_count(options.workers > 0 ? options.workers : DefaultWorkers()),
        slow_worker_count(options.slow_workers > 0 ? options.slow_workers : DefaultSlowWorkers()),
        shared{api, options, slow_worker_count + std::max(0, options.slow_queue),
               std::max(1, options.max_concurrent_uploads)},
        io(std::max(1, options.threads)),
        acceptor(io),
        accept_retry(io) {}

  // EMFILE and friends: the connections we have keep being served; the next accept waits (50 ms
  // doubling to 1 s) so that a full descriptor table does not make this loop spin.
  void RetryAcceptLater(const beast::error_code& ec) {
    accept_backoff = accept_backoff.count() == 0 ? kFirstAcceptRetry
                                                 : std::min(accept_backoff * 2, kMaxAcceptRetry);
    ++failed_accepts;
    if (const auto left_out = accept_failure_log.Allow(clock.NowMs())) {
      if (*left_out == 0) {
        spdlog::warn(
            "http: accept failed: {}; retrying with a backoff of up to {} ms (repeats are summed "
            "every {} s)",
            ec.message(), kMaxAcceptRetry.count(), kAcceptFailureLogIntervalMs / 1000);
      } else {
        spdlog::warn("http: accept failed {} more times: {}; {} failed in a row now", *left_out + 1,
                     ec.message(), failed_accepts);
      }
    }
    accept_retry.expires_after(accept_backoff);
    accept_retry.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec && acceptor.is_open()) {
        DoAccept();
      }
    });
  }

  void DoAccept() {
    acceptor.async_accept(net::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == net::error::operation_aborted || !acceptor.is_open()) {
          return;
        }
        RetryAcceptLater(ec);
        return;
      }
      accept_backoff = std::chrono::milliseconds(0);
      failed_accepts = 0;
      const bool over_cap = shared.connections.load() >= std::max(1, options.max_connections);
      if (over_cap && shared.rejecting.load() >= kMaxRejectingConnections) {
        beast::error_code ignored;
        socket.close(ignored);
      } else if (tls) {
        std::make_shared<Session<TlsStream>>(shared, over_cap, std::move(socket), *tls)->Run();
      } else {
        std::make_shared<Session<PlainStream>>(shared, over_cap, std::move(socket))->Run();
      }
      if (over_cap) {
        if (const auto left_out = over_cap_log.Allow(clock.NowMs())) {
          spdlog::warn(
              "http: {} connections open (the cap): refusing new ones with 503 ({} refused since "
              "the last such line)",
              shared.connections.load(), *left_out + 1);
        }
      }
      DoAccept();
    });
  }

  // Destruction runs bottom-up: the pools go first (their queued jobs drop the last references
  // to sessions, whose sockets need the io_context and TLS context), then the io_context with its
  // pending handlers; `shared` (counters the sessions decrement), the API and the options last.
  Options options;
  const Clock& clock;
  ApiService api;
  int worker_count;
  int slow_worker_count;
  Shared shared;
  std::optional<ssl::context> tls;
  net::io_context io;
  tcp::acceptor acceptor;
  // The accept loop's state: touched only by its handlers, which run one at a time.
  net::steady_timer accept_retry;
  std::chrono::milliseconds accept_backoff{0};
  int64_t failed_accepts = 0;  // in a row
  LogLimiter accept_failure_log{kAcceptFailureLogIntervalMs};
  LogLimiter over_cap_log{kAcceptFailureLogIntervalMs};
  std::vector<std::thread> threads;
  std::unique_ptr<net::thread_pool> workers;
  std::unique_ptr<net::thread_pool> slow_workers;
  std::unique_ptr<net::thread_pool> long_poll_workers;
  std::atomic<uint16_t> bound_port{0};
  bool started = false;
};

HttpServer::HttpServer(Options options, Store& store, AgentControl* agents, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), store, agents, clock)) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  Impl& impl = *impl_;
  if (impl.started) {
    return MakeError(ErrorCode::kFailedPrecondition, "HTTP server already started");
  }
  const Options& options = impl.options;
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "HTTPS needs both a certificate and a key file (got only one)");
  }
  beast::error_code ec;
  if (!options.tls_cert_file.empty()) {
    impl.tls.emplace(ssl::context::tls_server);
    impl.tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                          ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                          ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    impl.tls->use_certificate_chain_file(options.tls_cert_file, ec);
    if (ec) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "loading TLS certificate " + options.tls_cert_file + ": " + ec.message());
    }
    impl.tls->use_private_key_file(options.tls_key_file, ssl::context::pem, ec);
    if (ec) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "loading TLS key " + options.tls_key_file + ": " + ec.message());
    }
  }
  const auto address = net::ip::make_address(options.address, ec);
  if (ec) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "bad HTTP listen address '" + options.address + "': " + ec.message());
  }
  const tcp::endpoint endpoint(address, options.port);
  const std::string where = options.address + ":" + std::to_string(options.port);
  if (impl.acceptor.open(endpoint.protocol(), ec); ec) {
    return MakeError(ErrorCode::kUnavailable, "opening HTTP socket " + where + ": " + ec.message());
  }
  if (impl.acceptor.set_option(net::socket_base::reuse_address(true), ec); ec) {
    return MakeError(ErrorCode::kUnavailable, "configuring " + where + ": " + ec.message());
  }
  if (impl.acceptor.bind(endpoint, ec); ec) {
    return MakeError(ErrorCode::kUnavailable, "binding HTTP " + where + ": " + ec.message());
  }
  if (impl.acceptor.listen(net::socket_base::max_listen_connections, ec); ec) {
    return MakeError(ErrorCode::kUnavailable, "listening on HTTP " + where + ": " + ec.message());
  }
  impl.bound_port = impl.acceptor.local_endpoint().port();
  impl.workers = std::make_unique<net::thread_pool>(impl.worker_count);
  impl.slow_workers = std::make_unique<net::thread_pool>(impl.slow_worker_count);
  impl.shared.workers = impl.workers.get();
  impl.shared.slow_workers = impl.slow_workers.get();
  impl.long_poll_workers =
      std::make_unique<net::thread_pool>(std::max(1, options.long_poll_workers));
  impl.shared.long_poll_workers = impl.long_poll_workers.get();
  impl.shared.long_poll_capacity = std::max(1, options.long_poll_workers);
  impl.started = true;
  impl.DoAccept();
  for (int i = 0; i < std::max(1, options.threads); ++i) {
    impl.threads.emplace_back([&impl] {
      for (;;) {
        try {
          impl.io.run();
          return;
        } catch (const std::exception& e) {
          // A throwing completion handler must not take the whole listener down.
          spdlog::error("http: I/O thread caught: {}", e.what());
        }
      }
    });
  }
  spdlog::info(
      "http: management API listening on {}://{}:{} ({} workers, {} for slow routes, at most {} "
      "connections)",
      impl.tls ? "https" : "http", options.address, impl.bound_port.load(), impl.worker_count,
      impl.slow_worker_count, std::max(1, options.max_connections));
  return OkStatus();
}

uint16_t HttpServer::port() const { return impl_->bound_port.load(); }

void HttpServer::Stop() {
  Impl& impl = *impl_;
  if (!impl.started) {
    return;
  }
  impl.started = false;
  impl.io.stop();
  for (auto& thread : impl.threads) {
    if (thread.joinable()) {
      thread.join();
    }
  }
  impl.threads.clear();
  // Handlers still running finish (a report in progress); queued ones are dropped with their
  // sessions while the io_context still exists.
  // Waiting long-polls answer at once instead of sleeping out their wait.
  impl.api.BeginStop();
  for (auto* pool : {impl.workers.get(), impl.slow_workers.get(), impl.long_poll_workers.get()}) {
    pool->stop();
    pool->join();
  }
  impl.workers.reset();
  impl.slow_workers.reset();
  impl.long_poll_workers.reset();
  // No thread runs the io_context any more, so the acceptor can be touched directly.
  beast::error_code ignored;
  impl.acceptor.close(ignored);
}

}  // namespace dozor::server::http
