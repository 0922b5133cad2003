// Builds the gRPC channel to the server: TLS with a pinned CA file (or the system roots), or
// plaintext only when explicitly asked for (--insecure, demo/loopback).
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "dozor/common/result.hpp"
#include "dozor/contract/grpc_status.hpp"

namespace dozor::agent {

struct ChannelOptions {
  std::string server_address;   // host:port
  std::string tls_ca_file;      // PEM; empty = system trust store
  std::string tls_server_name;  // override the name checked in the server certificate
  bool insecure = false;
};

[[nodiscard]] Result<std::shared_ptr<grpc::Channel>> MakeServerChannel(
    const ChannelOptions& options);

// Sets the gRPC runtime up for one long-lived, mostly idle stream (fewer timer wake-ups). Reads
// and sets environment variables, so call it in main before any thread starts and before the
// first gRPC object exists; a value already in the environment wins.
void ConfigureGrpcForIdleStream();

// A failed gRPC status as "CODE: message" (dozor/contract/grpc_status.hpp).
inline std::string DescribeStatus(const grpc::Status& status) { return DescribeGrpcStatus(status); }

}  // namespace dozor::agent
