// Builds the gRPC channel to the server: TLS with a pinned CA file (or the system roots), or
// plaintext when explicitly asked for (--insecure), and then only to a loopback address unless
// the operator also allows plaintext to a remote server by name (--allow-plaintext-remote): the
// agent's secret (and at enrollment the token) travels in every stream's first request.
#pragma once

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "dozor/common/result.hpp"
#include "dozor/contract/grpc_status.hpp"

namespace dozor::agent {

struct ChannelOptions {
  std::string server_address;         // host:port
  std::filesystem::path tls_ca_file;  // PEM; empty = system trust store
  std::string tls_server_name;        // override the name checked in the server certificate
  bool insecure = false;
  // Plaintext to an address that is not loopback (a VPN or SSH tunnel protects the path).
  bool allow_plaintext_remote = false;
};

// True when `address` ("HOST:PORT", "[V6]:PORT") names the loopback interface: an IPv4 address in
// 127.0.0.0/8 written as a dotted quad, ::1 (also ::ffff:127.x.y.z), or the name localhost. Decided
// on the text alone: a name is never resolved for this, since its answer can change under the
// agent.
[[nodiscard]] bool IsLoopbackAddress(std::string_view address);

// kFailedPrecondition when `options` ask for plaintext to an address that is not loopback without
// allow_plaintext_remote; the message names the settings that decide it.
[[nodiscard]] Status CheckPlaintextAllowed(const ChannelOptions& options);

// Refuses what CheckPlaintextAllowed refuses, whoever asks.
[[nodiscard]] Result<std::shared_ptr<grpc::Channel>> MakeServerChannel(
    const ChannelOptions& options);

// Sets the gRPC runtime up for one long-lived, mostly idle stream (fewer timer wake-ups). Reads
// and sets environment variables, so call it in main before any thread starts and before the
// first gRPC object exists; a value already in the environment wins.
void ConfigureGrpcForIdleStream();

// A failed gRPC status as "CODE: message" (dozor/contract/grpc_status.hpp).
inline std::string DescribeStatus(const grpc::Status& status) { return DescribeGrpcStatus(status); }

}  // namespace dozor::agent
