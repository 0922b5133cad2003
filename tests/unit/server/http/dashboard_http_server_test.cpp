// The dashboard's answers on a real socket (HttpServer on 127.0.0.1:0): the embedded bytes and
// headers as sent, HEAD without a body but with the GET answer's Content-Length, and a 304
// without body or Content-Length.
#include <doctest/doctest.h>

#include <utility>  // before Boost 1.74's asio, which uses std::exchange without it

#include <boost/asio.hpp>
#include <memory>
#include <string>

#include "dozor/common/clock.hpp"
#include "http/http_server.hpp"
#include "server/test_store.hpp"
#include "test_util.hpp"

namespace dozor::server::http {
namespace {

constexpr unsigned char kServedIndex[] = {'<', 'h', 't', 'm', 'l', '>', 0, '\n'};
constexpr unsigned char kServedIndexGzip[] = {0x1f, 0x8b, 8, 0};

constexpr EmbeddedAsset kServedAssets[] = {
    {"/index.html", "text/html; charset=utf-8", "1d3x", kServedIndex, kServedIndexGzip},
};

struct DashboardServerFixture {
  DashboardServerFixture() {
    store = dozor::testing::OpenTestStore(dir);
    HttpServer::Options options;
    options.dashboard = kServedAssets;
    server = std::make_unique<HttpServer>(options, *store, nullptr, clock);
    REQUIRE(server->Start().ok());
  }

  // Sends one request (closing the connection after it) and returns all the bytes of the answer.
  std::string Exchange(const std::string& method, const std::string& path,
                       const std::string& headers = "") {
    namespace net = boost::asio;
    net::io_context io;
    net::ip::tcp::socket socket(io);
    socket.connect({net::ip::make_address("127.0.0.1"), server->port()});
    const std::string request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers +
                                "Connection: close\r\n\r\n";
    net::write(socket, net::buffer(request));
    std::string reply;
    boost::system::error_code ec;
    char buffer[4096];
    while (!ec) {
      reply.append(buffer, socket.read_some(net::buffer(buffer), ec));
    }
    return reply;
  }

  dozor::testing::TempDir dir;
  FakeClock clock{1'700'000'000'000};
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<HttpServer> server;
};

std::string HeadOf(const std::string& reply) { return reply.substr(0, reply.find("\r\n\r\n") + 4); }
std::string BodyOf(const std::string& reply) { return reply.substr(reply.find("\r\n\r\n") + 4); }

TEST_CASE("the dashboard's embedded bytes and headers go out as they are") {
  DashboardServerFixture f;
  const std::string reply = f.Exchange("GET", "/");
  const std::string head = HeadOf(reply);
  CHECK(head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(BodyOf(reply) == std::string("<html>\0\n", 8));
  CHECK(head.find("Content-Length: 8\r\n") != std::string::npos);
  CHECK(head.find("Content-Type: text/html; charset=utf-8\r\n") != std::string::npos);
  CHECK(head.find("Cache-Control: no-cache\r\n") != std::string::npos);
  CHECK(head.find("ETag: \"1d3x\"\r\n") != std::string::npos);
  CHECK(head.find("X-Content-Type-Options: nosniff\r\n") != std::string::npos);
  CHECK(head.find("Content-Security-Policy: default-src 'self'; script-src 'self';") !=
        std::string::npos);

  const std::string gzipped = f.Exchange("GET", "/orgs/acme", "Accept-Encoding: gzip\r\n");
  CHECK(HeadOf(gzipped).find("Content-Encoding: gzip\r\n") != std::string::npos);
  CHECK(HeadOf(gzipped).find("Content-Length: 4\r\n") != std::string::npos);
  CHECK(BodyOf(gzipped) == std::string("\x1f\x8b\x08\0", 4));
}

TEST_CASE("HEAD gets the GET answer's headers and Content-Length, and no body") {
  DashboardServerFixture f;
  const std::string reply = f.Exchange("HEAD", "/", "Accept-Encoding: gzip\r\n");
  CHECK(reply.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(HeadOf(reply).find("Content-Length: 4\r\n") != std::string::npos);
  CHECK(HeadOf(reply).find("Content-Encoding: gzip\r\n") != std::string::npos);
  CHECK(BodyOf(reply).empty());
  // A HEAD the API does not answer gets its error's status without the JSON body.
  const std::string refused = f.Exchange("HEAD", "/api/v1/health");
  CHECK(refused.rfind("HTTP/1.1 405 ", 0) == 0);
  CHECK(BodyOf(refused).empty());
}

TEST_CASE("a 304 has neither body nor Content-Length") {
  DashboardServerFixture f;
  const std::string reply = f.Exchange("GET", "/", "If-None-Match: \"1d3x\"\r\n");
  CHECK(reply.rfind("HTTP/1.1 304 Not Modified\r\n", 0) == 0);
  CHECK(HeadOf(reply).find("\r\nContent-Length:") == std::string::npos);
  CHECK(HeadOf(reply).find("\r\nContent-Type:") == std::string::npos);
  CHECK(HeadOf(reply).find("ETag: \"1d3x\"\r\n") != std::string::npos);
  CHECK(BodyOf(reply).empty());
}

}  // namespace
}  // namespace dozor::server::http
