// Exercises the statically linked Windows dependencies for real: gRPC's channel machinery
// (resolver, poller, timers, a TCP connect that is refused), OpenSSL, SQLite and spdlog/fmt.
#include <grpcpp/grpcpp.h>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace {

const char* state_name(grpc_connectivity_state state) {
  switch (state) {
    case GRPC_CHANNEL_IDLE:
      return "IDLE";
    case GRPC_CHANNEL_CONNECTING:
      return "CONNECTING";
    case GRPC_CHANNEL_READY:
      return "READY";
    case GRPC_CHANNEL_TRANSIENT_FAILURE:
      return "TRANSIENT_FAILURE";
    case GRPC_CHANNEL_SHUTDOWN:
      return "SHUTDOWN";
  }
  return "?";
}

bool check_grpc() {
  // Nothing listens on port 1: the channel has to try, be refused and report it.
  auto channel = grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials());
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(1);
  grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_TRANSIENT_FAILURE && channel->WaitForStateChange(state, deadline)) {
    state = channel->GetState(false);
  }
  std::printf("grpc %s ok (127.0.0.1:1 after <= 1 s: %s)\n", grpc::Version().c_str(),
              state_name(state));
  return state != GRPC_CHANNEL_SHUTDOWN;
}

bool check_sqlite() {
  sqlite3* db = nullptr;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
    std::printf("sqlite: cannot open :memory:\n");
    sqlite3_close(db);
    return false;
  }
  sqlite3_stmt* stmt = nullptr;
  std::string version;
  if (sqlite3_prepare_v2(db, "SELECT sqlite_version()", -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    version = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  std::printf("sqlite %s ok (threadsafe %d)\n", version.c_str(), sqlite3_threadsafe());
  return version == SQLITE_VERSION;
}

}  // namespace

int main() {
  spdlog::set_pattern("%v");
  spdlog::info("spdlog {}.{}.{} with fmt {} ok", SPDLOG_VER_MAJOR, SPDLOG_VER_MINOR,
               SPDLOG_VER_PATCH, FMT_VERSION);
  std::printf("%s ok\n", OpenSSL_version(OPENSSL_VERSION));
  const bool grpc_ok = check_grpc();
  const bool sqlite_ok = check_sqlite();
  return grpc_ok && sqlite_ok ? 0 : 1;
}
