#include "transport/channel.hpp"

#include <doctest/doctest.h>

#include <string>

namespace dozor::agent {
namespace {

ChannelOptions Plaintext(const std::string& address) {
  ChannelOptions options;
  options.server_address = address;
  options.insecure = true;
  return options;
}

}  // namespace

TEST_CASE("loopback addresses are 127.0.0.0/8, ::1 and localhost, decided on the text alone") {
  CHECK(IsLoopbackAddress("127.0.0.1:7443"));
  CHECK(IsLoopbackAddress("127.255.3.9:1"));
  CHECK(IsLoopbackAddress("[::1]:7443"));
  CHECK(IsLoopbackAddress("[0:0:0:0:0:0:0:1]:7443"));
  CHECK(IsLoopbackAddress("[::ffff:127.0.0.1]:7443"));
  CHECK(IsLoopbackAddress("localhost:7443"));
  CHECK(IsLoopbackAddress("LocalHost:7443"));
  CHECK(IsLoopbackAddress("localhost.:7443"));

  CHECK_FALSE(IsLoopbackAddress("10.0.0.5:7443"));
  CHECK_FALSE(IsLoopbackAddress("128.0.0.1:7443"));
  CHECK_FALSE(IsLoopbackAddress("192.0.2.2:7443"));
  CHECK_FALSE(IsLoopbackAddress("[::2]:7443"));
  CHECK_FALSE(IsLoopbackAddress("[2001:db8::1]:7443"));
  CHECK_FALSE(IsLoopbackAddress("[::ffff:10.0.0.1]:7443"));
  // A name is never resolved to decide: what it resolves to can change under the agent.
  CHECK_FALSE(IsLoopbackAddress("dozor.example.com:7443"));
  CHECK_FALSE(IsLoopbackAddress("localhost.example.com:7443"));
  CHECK_FALSE(IsLoopbackAddress("mylocalhost:7443"));
  // Forms that are loopback to some parsers but not plainly written as such are refused.
  CHECK_FALSE(IsLoopbackAddress("127.1:7443"));
  CHECK_FALSE(IsLoopbackAddress("0177.0.0.1:7443"));
  CHECK_FALSE(IsLoopbackAddress("[::1%lo]:7443"));
  CHECK_FALSE(IsLoopbackAddress("ipv4:10.0.0.5:7443"));
  CHECK_FALSE(IsLoopbackAddress("dns:///127.0.0.1:7443"));
  CHECK_FALSE(IsLoopbackAddress(""));
  CHECK_FALSE(IsLoopbackAddress("[::1"));
}

TEST_CASE("plaintext to a server that is not on loopback is refused unless explicitly allowed") {
  CHECK(CheckPlaintextAllowed(Plaintext("127.0.0.1:7443")).ok());
  CHECK(CheckPlaintextAllowed(Plaintext("[::1]:7443")).ok());
  CHECK(CheckPlaintextAllowed(Plaintext("localhost:7443")).ok());
  // A list of replicas is loopback only when all of them are.
  CHECK(CheckPlaintextAllowed(Plaintext("127.0.0.1:7443,[::1]:7444")).ok());
  CHECK_FALSE(CheckPlaintextAllowed(Plaintext("127.0.0.1:7443,10.0.0.2:7443")).ok());

  Status refused = CheckPlaintextAllowed(Plaintext("10.0.0.5:7443"));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kFailedPrecondition);
  const std::string& message = refused.error().message;
  CHECK(message.find("10.0.0.5:7443") != std::string::npos);
  CHECK(message.find("server.insecure / --insecure") != std::string::npos);
  CHECK(message.find("server.allow_plaintext_remote = true / --allow-plaintext-remote") !=
        std::string::npos);
  CHECK_FALSE(CheckPlaintextAllowed(Plaintext("dozor.example.com:7443")).ok());

  ChannelOptions allowed = Plaintext("10.0.0.5:7443");
  allowed.allow_plaintext_remote = true;
  CHECK(CheckPlaintextAllowed(allowed).ok());

  // TLS goes anywhere.
  ChannelOptions tls;
  tls.server_address = "10.0.0.5:7443";
  CHECK(CheckPlaintextAllowed(tls).ok());
}

TEST_CASE("no plaintext channel to a remote server is ever built, whoever asks") {
  // The secret goes out in the first request's metadata: the channel itself must refuse.
  auto remote = MakeServerChannel(Plaintext("10.0.0.5:7443"));
  REQUIRE_FALSE(remote.ok());
  CHECK(remote.error().message.find("--allow-plaintext-remote") != std::string::npos);
  CHECK_FALSE(MakeServerChannel(Plaintext("dozor.example.com:7443")).ok());
  CHECK(MakeServerChannel(Plaintext("127.0.0.1:7443")).ok());
}

}  // namespace dozor::agent
