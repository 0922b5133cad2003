// One way to print a gRPC status ("UNAVAILABLE: failed to connect ..."), for the agent's logs and
// status file and the load generator. Header-only: include it only from targets that link gRPC.
#pragma once

#include <grpcpp/support/status.h>

#include <array>
#include <string>

namespace dozor {

inline std::string DescribeGrpcStatus(const grpc::Status& status) {
  static constexpr std::array<const char*, 17> kNames = {"OK",
                                                         "CANCELLED",
                                                         "UNKNOWN",
                                                         "INVALID_ARGUMENT",
                                                         "DEADLINE_EXCEEDED",
                                                         "NOT_FOUND",
                                                         "ALREADY_EXISTS",
                                                         "PERMISSION_DENIED",
                                                         "RESOURCE_EXHAUSTED",
                                                         "FAILED_PRECONDITION",
                                                         "ABORTED",
                                                         "OUT_OF_RANGE",
                                                         "UNIMPLEMENTED",
                                                         "INTERNAL",
                                                         "UNAVAILABLE",
                                                         "DATA_LOSS",
                                                         "UNAUTHENTICATED"};
  const auto code = static_cast<size_t>(status.error_code());
  std::string name = code < kNames.size() ? kNames[code] : std::to_string(code);
  return name + ": " + status.error_message();
}

}  // namespace dozor
