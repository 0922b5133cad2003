#include "http/http_server.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include "http/api_service.hpp"
#include "http/router.hpp"

namespace dozor::server::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

namespace {

constexpr uint32_t kHeaderLimitBytes = 16 * 1024;
constexpr int kSnapshotReadTimeoutSeconds = 120;

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category();
}

// POST /api/v1/orgs/{org}/imports carries a snapshot file (dozor-agent collect), which may be
// far larger than any other request: only that route gets kMaxSnapshotFileBytes.
template <class Header>
bool IsSnapshotUpload(const Header& header) {
  if (header.method() != bhttp::verb::post) {
    return false;
  }
  std::string_view target(header.target().data(), header.target().size());
  target = target.substr(0, target.find('?'));
  const auto segments = SplitPath(target);
  return segments.size() == 5 && segments[0] == "api" && segments[1] == "v1" &&
         segments[2] == "orgs" && segments[4] == "imports";
}

Result<ApiRequest> ToApiRequest(const bhttp::request<bhttp::string_body>& request) {
  ApiRequest out;
  out.method = std::string(request.method_string());
  const std::string_view target(request.target().data(), request.target().size());
  const size_t question = target.find('?');
  // The path stays encoded so an escaped '/' inside a name cannot change the route; the router
  // decodes each captured parameter.
  out.path = std::string(target.substr(0, question));
  if (!PercentDecode(out.path, /*plus_is_space=*/false)) {
    return MakeError(ErrorCode::kInvalidArgument, "malformed request path");
  }
  if (question != std::string_view::npos) {
    auto query = ParseQuery(target.substr(question + 1));
    if (!query.ok()) {
      return query.error();
    }
    out.query = std::move(query).value();
  }
  out.body = request.body();
  const auto auth = request.find(bhttp::field::authorization);
  if (auth != request.end()) {
    out.authorization = std::string(auth->value().data(), auth->value().size());
  }
  return out;
}

// One connection: reads requests in a loop (keep-alive), answers each with JSON.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  template <class... Args>
  Session(ApiService& api, const HttpServer::Options& options, Args&&... args)
      : stream_(std::forward<Args>(args)...), api_(api), options_(options) {}

  void Run() {
    // Start on the connection's strand so every handler of this session is serialised.
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->Lowest().expires_after(std::chrono::seconds(self->options_.read_timeout_seconds));
        self->stream_.async_handshake(ssl::stream_base::server,
                                      [self](beast::error_code ec) { self->OnHandshake(ec); });
      } else {
        self->DoRead();
      }
    });
  }

 private:
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void OnHandshake(beast::error_code ec) {
    if (ec) {
      spdlog::debug("http: TLS handshake failed: {}", ec.message());
      return;
    }
    DoRead();
  }

  void DoRead() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimitBytes);
    // Beast checks Content-Length against the limit while parsing the header, so the header is
    // read under the largest limit of any route; OnHeader narrows it once the route is known.
    body_limit_ = std::max(options_.max_body_bytes, kMaxSnapshotFileBytes);
    parser_->body_limit(body_limit_);
    Lowest().expires_after(std::chrono::seconds(options_.read_timeout_seconds));
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) {
      OnRead(ec);
      return;
    }
    if (IsSnapshotUpload(parser_->get())) {
      // 32 MiB may take longer than the usual read timeout over a slow link.
      const int seconds = std::max(options_.read_timeout_seconds, kSnapshotReadTimeoutSeconds);
      Lowest().expires_after(std::chrono::seconds(seconds));
    } else {
      body_limit_ = options_.max_body_bytes;
      parser_->body_limit(body_limit_);  // still applies to a chunked body
      if (const auto length = parser_->content_length(); length && *length > body_limit_) {
        OnRead(bhttp::error::body_limit);
        return;
      }
    }
    if (parser_->is_done()) {
      OnRead(ec);
      return;
    }
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code read_ec, size_t) {
                        self->OnRead(read_ec);
                      });
  }

  void OnRead(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream) {
      DoClose();
      return;
    }
    if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit) {
      Respond(ErrorResponse(
                  413, "too_large",
                  ec == bhttp::error::body_limit
                      ? "request body exceeds " + std::to_string(body_limit_) + " bytes"
                      : std::string("request headers too large")),
              11, /*keep_alive=*/false);
      return;
    }
    if (ec && IsHttpParseError(ec)) {
      Respond(ErrorResponse(400, "bad_request", "malformed HTTP request"), 11, false);
      return;
    }
    if (ec) {
      // Timeout, reset, TLS failure: nothing useful can be sent.
      return;
    }
    const auto& request = parser_->get();
    auto api_request = ToApiRequest(request);
    const ApiResponse response =
        api_request.ok() ? api_.Handle(*api_request) : ErrorResponse(api_request.error());
    Respond(response, request.version(), request.keep_alive());
  }

  void Respond(const ApiResponse& api_response, unsigned version, bool keep_alive) {
    response_ = {};
    response_.version(version);
    response_.result(static_cast<unsigned>(api_response.status));
    response_.set(bhttp::field::server, "dozor");
    response_.set(bhttp::field::content_type, api_response.raw_body.has_value()
                                                  ? api_response.content_type
                                                  : std::string("application/json"));
    if (api_response.raw_body.has_value() && !api_response.content_disposition.empty()) {
      response_.set(bhttp::field::content_disposition, api_response.content_disposition);
    }
    response_.set(bhttp::field::cache_control, "no-store");
    if (api_response.status == 401) {
      response_.set(bhttp::field::www_authenticate, "Bearer");
    }
    if (api_response.status == 405 && api_response.body.contains("error") &&
        api_response.body["error"].contains("allowed")) {
      response_.set(bhttp::field::allow, api_response.body["error"]["allowed"].get<std::string>());
    }
    // Replace invalid UTF-8 (echoed paths, names) instead of throwing while serialising.
    if (api_response.raw_body.has_value()) {
      response_.body() = *api_response.raw_body;
    } else {
      response_.body() =
          api_response.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    }
    response_.keep_alive(keep_alive);
    response_.prepare_payload();
    Lowest().expires_after(std::chrono::seconds(options_.read_timeout_seconds));
    bhttp::async_write(stream_, response_,
                       [self = this->shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                         self->OnWrite(ec, keep_alive);
                       });
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

  // Lingering close: after answering early (e.g. 413 before the body was read), keep reading and
  // discarding for a bounded time and size, so a client still writing its body gets to read the
  // answer instead of a connection reset.
  void Linger() {
    Lowest().expires_after(std::chrono::seconds(kLingerSeconds));
    Lowest().async_read_some(net::buffer(drain_), [self = this->shared_from_this()](beast::error_code ec,
                                                                                     size_t bytes) {
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
  ApiService& api_;
  const HttpServer::Options& options_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  size_t body_limit_ = 0;  // of the request being read
  bhttp::response<bhttp::string_body> response_;
};

}  // namespace

struct HttpServer::Impl {
  Impl(Options options_in, Store& store, AgentControl* agents, const Clock& clock)
      : options(std::move(options_in)),
        api(ApiContext{store, agents, clock, options.grpc_public_address,
                       options.offline_after_seconds, options.rules, options.evaluate_now,
                       options.install}),
        io(std::max(1, options.threads)),
        acceptor(io) {}

  void DoAccept() {
    acceptor.async_accept(net::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == net::error::operation_aborted || !acceptor.is_open()) {
          return;
        }
        // EMFILE and friends: keep serving the connections we have, try again shortly.
        spdlog::warn("http: accept failed: {}", ec.message());
      } else if (tls) {
        std::make_shared<Session<TlsStream>>(api, options, std::move(socket), *tls)->Run();
      } else {
        std::make_shared<Session<PlainStream>>(api, options, std::move(socket))->Run();
      }
      DoAccept();
    });
  }

  Options options;
  ApiService api;  // declared before io: sessions owned by io's handlers refer to it
  std::optional<ssl::context> tls;
  net::io_context io;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
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
  spdlog::info("http: management API listening on {}://{}:{}", impl.tls ? "https" : "http",
               options.address, impl.bound_port.load());
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
  // No thread runs the io_context any more, so the acceptor can be touched directly.
  beast::error_code ignored;
  impl.acceptor.close(ignored);
}

}  // namespace dozor::server::http
