// dozorctl's client of the management API (libcurl). One ApiClient per invocation; not shared
// between threads.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "dozor/common/result.hpp"

namespace dozor::ctl {

struct ClientOptions {
  std::string server_url = "http://127.0.0.1:8480";
  std::string token;  // API token or session token, sent as "Authorization: Bearer"
  // The token is the session `dozorctl login` stored: a 401 then means that session ended, and
  // the error says to log in again.
  bool token_is_session = false;
  std::string
      ca_file;  // PEM bundle for HTTPS; empty = system store. Peer and host always verified.
  long timeout_seconds = 30;
};

struct HttpReply {
  long status = 0;
  std::string body;          // raw bytes (binary-safe)
  std::string content_type;  // of the reply, "" if the server sent none
};

// Every request says it comes from dozorctl (X-Dozor-Client), so the server's audit log records
// it as made through the CLI.
class ApiClient {
 public:
  explicit ApiClient(ClientOptions options);

  // One HTTP exchange. kUnavailable (with the URL in the message) when the server cannot be
  // reached or TLS verification fails; any HTTP status is a successful Send.
  Result<HttpReply> Send(std::string_view method, std::string_view path,
                         std::optional<std::string_view> body = std::nullopt,
                         std::string_view accept = "application/json");

  // GET of a non-JSON resource (reports): the bytes as sent, any content type. A non-2xx status
  // becomes an Error with the server's message, as with Call.
  Result<HttpReply> Download(std::string_view path);

  // Send + JSON decoding. A non-2xx status becomes an Error carrying the server's message (never
  // kUnavailable, so callers can tell "server said no" from "no server").
  Result<nlohmann::json> Call(std::string_view method, std::string_view path,
                              const std::optional<nlohmann::json>& body = std::nullopt);
  // Call with a body that is already JSON text (a file sent as is, e.g. a snapshot to import).
  Result<nlohmann::json> CallWithText(std::string_view method, std::string_view path,
                                      std::string_view body);
  Result<nlohmann::json> Get(std::string_view path) { return Call("GET", path); }
  Result<nlohmann::json> Post(std::string_view path, const nlohmann::json& body) {
    return Call("POST", path, body);
  }
  Result<nlohmann::json> Patch(std::string_view path, const nlohmann::json& body) {
    return Call("PATCH", path, body);
  }
  Result<nlohmann::json> Put(std::string_view path, const nlohmann::json& body) {
    return Call("PUT", path, body);
  }
  Result<nlohmann::json> Delete(std::string_view path) { return Call("DELETE", path); }

  [[nodiscard]] const ClientOptions& options() const { return options_; }

 private:
  ClientOptions options_;
};

// Maps an HTTP error status to an ErrorCode (400 -> kInvalidArgument, 404 -> kNotFound, ...).
ErrorCode ErrorCodeForStatus(long status);

}  // namespace dozor::ctl
