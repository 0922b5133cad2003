#include "transport/enroll_client.hpp"

#include <chrono>

#include "dozor/common/version.hpp"
#include "dozor/v1/agent.grpc.pb.h"
#include "transport/server_addresses.hpp"

namespace dozor::agent {

namespace {

Result<EnrollResult> EnrollAt(const ChannelOptions& channel_options, const EnrollParams& params) {
  DOZOR_ASSIGN_OR_RETURN(auto channel, MakeServerChannel(channel_options));
  auto stub = dozor::v1::AgentService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(params.timeout_seconds));
  context.set_wait_for_ready(false);
  dozor::v1::EnrollRequest request;
  request.set_token(params.token);
  request.set_hostname(params.hostname);
  request.set_machine_id(params.machine_id);
  request.set_agent_version(kVersion);
  request.set_os("linux");
  dozor::v1::EnrollResponse response;
  grpc::Status status = stub->Enroll(&context, request, &response);
  if (!status.ok()) {
    ErrorCode code = ErrorCode::kUnavailable;
    switch (status.error_code()) {
      case grpc::StatusCode::PERMISSION_DENIED:
      case grpc::StatusCode::UNAUTHENTICATED:
        code = ErrorCode::kPermissionDenied;
        break;
      case grpc::StatusCode::INVALID_ARGUMENT:
        code = ErrorCode::kInvalidArgument;
        break;
      default:
        break;
    }
    return MakeError(code, "enrollment at " + channel_options.server_address +
                               " failed: " + DescribeStatus(status));
  }
  if (response.agent_id().empty() || response.agent_secret().empty()) {
    return MakeError(ErrorCode::kInternal, "server returned an empty identity");
  }
  return EnrollResult{response.agent_id(), response.agent_secret(), response.organization()};
}

}  // namespace

Result<EnrollResult> Enroll(const ChannelOptions& channel_options, const EnrollParams& params) {
  const std::vector<std::string> addresses = SplitServerAddresses(channel_options.server_address);
  if (addresses.size() <= 1) {
    return EnrollAt(channel_options, params);
  }
  // Replicas share one database: any of them enrolls. A replica that is away is skipped; a
  // refusal (bad token, bad request) is the answer of all of them.
  Error last = MakeError(ErrorCode::kUnavailable, "no server address");
  for (const std::string& address : addresses) {
    ChannelOptions one = channel_options;
    one.server_address = address;
    auto enrolled = EnrollAt(one, params);
    if (enrolled.ok() || enrolled.error().code != ErrorCode::kUnavailable) {
      return enrolled;
    }
    last = enrolled.error();
  }
  return last;
}

}  // namespace dozor::agent
