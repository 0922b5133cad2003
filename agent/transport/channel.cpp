#include "transport/channel.hpp"

#include "dozor/common/files.hpp"
#include "dozor/common/version.hpp"
#include "platform/service.hpp"

namespace dozor::agent {

void ConfigureGrpcForIdleStream() {
  // The client channel's backup poller polls every channel every 5 s in case no thread does. The
  // stream client always has a thread in Read() polling the stream's connection, and the
  // keepalive pings run every 60 s anyway: once a minute is enough, and saves 11 wake-ups a
  // minute of an otherwise idle process.
  platform::SetEnvironmentDefault("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "60000");
}

Result<std::shared_ptr<grpc::Channel>> MakeServerChannel(const ChannelOptions& options) {
  if (options.server_address.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "no server address configured");
  }
  grpc::ChannelArguments args;
  // Notice a dead server or a silently dropped connection within ~a minute, even when idle.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 60000);
  args.SetMaxReceiveMessageSize(4 * 1024 * 1024);
  args.SetMaxSendMessageSize(32 * 1024 * 1024);
  args.SetUserAgentPrefix(std::string("dozor-agent/") + kVersion);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.insecure) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    if (!options.tls_ca_file.empty()) {
      auto pem = ReadFile(options.tls_ca_file, 1024 * 1024);
      if (!pem.ok()) {
        return pem.error().Wrap("TLS CA file");
      }
      ssl.pem_root_certs = *pem;
    }
    credentials = grpc::SslCredentials(ssl);
    if (!options.tls_server_name.empty()) {
      args.SetSslTargetNameOverride(options.tls_server_name);
    }
  }
  return grpc::CreateCustomChannel(options.server_address, credentials, args);
}

std::string DescribeStatus(const grpc::Status& status) {
  static const char* kNames[] = {"OK",
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
  int code = static_cast<int>(status.error_code());
  std::string name = (code >= 0 && code <= 16) ? kNames[code] : std::to_string(code);
  return name + ": " + status.error_message();
}

}  // namespace dozor::agent
