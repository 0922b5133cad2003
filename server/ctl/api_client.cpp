#include "ctl/api_client.hpp"

#include <curl/curl.h>

#include <memory>
#include <mutex>

namespace dozor::ctl {

namespace {

// Replies larger than this are refused: no API response comes near it.
constexpr size_t kMaxReplyBytes = 256 * 1024 * 1024;

struct CurlDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  const size_t bytes = size * count;
  if (body->size() + bytes > kMaxReplyBytes) {
    return 0;  // makes curl fail with CURLE_WRITE_ERROR
  }
  body->append(data, bytes);
  return bytes;
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

ErrorCode ErrorCodeForStatus(long status) {
  switch (status) {
    case 400:
      return ErrorCode::kInvalidArgument;
    case 401:
    case 403:
      return ErrorCode::kPermissionDenied;
    case 404:
      return ErrorCode::kNotFound;
    case 409:
      return ErrorCode::kAlreadyExists;
    case 413:
      return ErrorCode::kResourceExhausted;
    default:
      return ErrorCode::kInternal;
  }
}

ApiClient::ApiClient(ClientOptions options) : options_(std::move(options)) {
  while (!options_.server_url.empty() && options_.server_url.back() == '/') {
    options_.server_url.pop_back();
  }
}

Result<HttpReply> ApiClient::Send(std::string_view method, std::string_view path,
                                  std::optional<std::string_view> body, std::string_view accept) {
  GlobalInit();
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) {
    return MakeError(ErrorCode::kInternal, "cannot initialise libcurl");
  }
  const std::string url = options_.server_url + std::string(path);
  const std::string method_string(method);
  std::string reply_body;
  char error_buffer[CURL_ERROR_SIZE] = {0};

  std::unique_ptr<curl_slist, SlistDeleter> headers;
  auto add_header = [&headers](const std::string& header) {
    headers.reset(curl_slist_append(headers.release(), header.c_str()));
  };
  add_header("Accept: " + std::string(accept));
  add_header("X-Dozor-Client: dozorctl");
  if (!options_.token.empty()) {
    add_header("Authorization: Bearer " + options_.token);
  }
  if (body.has_value()) {
    add_header("Content-Type: application/json");
  }

  CURL* handle = curl.get();
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, method_string.c_str());
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &reply_body);
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_TIMEOUT, options_.timeout_seconds);
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT, std::min(options_.timeout_seconds, 10L));
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS);
#endif
  // Never follow redirects: the bearer token must not travel to another host.
  curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_file.empty()) {
    curl_easy_setopt(handle, CURLOPT_CAINFO, options_.ca_file.c_str());
  }
  if (body.has_value()) {
    curl_easy_setopt(handle, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
  }

  const CURLcode code = curl_easy_perform(handle);
  if (code != CURLE_OK) {
    const std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    return MakeError(ErrorCode::kUnavailable,
                     "cannot connect to " + options_.server_url + ": " + detail);
  }
  HttpReply reply;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &reply.status);
  const char* content_type = nullptr;
  if (curl_easy_getinfo(handle, CURLINFO_CONTENT_TYPE, &content_type) == CURLE_OK &&
      content_type != nullptr) {
    reply.content_type = content_type;
  }
  reply.body = std::move(reply_body);
  return reply;
}

namespace {

// The server's error message from a JSON error body, or a generic one. When the server says the
// request carried no valid credentials ("unauthenticated", not a failed login), say what to do:
// a stored session has ended (idle or absolute expiry, logout elsewhere, password changed), or
// there was nothing to authenticate with.
Error ReplyError(const HttpReply& reply, bool token_is_session, bool has_token) {
  const nlohmann::json parsed =
      nlohmann::json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  const nlohmann::json* error = nullptr;
  if (!parsed.is_discarded() && parsed.is_object() && parsed.contains("error") &&
      parsed["error"].is_object()) {
    error = &parsed["error"];
  }
  auto field = [error](const char* key) {
    return error != nullptr && error->contains(key) && (*error)[key].is_string()
               ? (*error)[key].get<std::string>()
               : std::string();
  };
  std::string message = field("message");
  if (message.empty()) {
    message = "unexpected response";
  }
  if (reply.status == 401 && field("code") == "unauthenticated") {
    if (token_is_session) {
      return MakeError(ErrorCode::kPermissionDenied,
                       "session ended; run `dozorctl login` (server said: " + message + ")");
    }
    if (!has_token) {
      return MakeError(ErrorCode::kPermissionDenied,
                       "not logged in: run `dozorctl login`, or give --token or --token-file "
                       "(server said: " +
                           message + ")");
    }
  }
  return MakeError(ErrorCodeForStatus(reply.status),
                   message + " (HTTP " + std::to_string(reply.status) + ")");
}

// JSON of a 2xx reply, else the server's error.
Result<nlohmann::json> DecodeReply(const HttpReply& reply, bool token_is_session, bool has_token) {
  nlohmann::json parsed = nlohmann::json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  if (reply.status >= 200 && reply.status < 300) {
    if (parsed.is_discarded()) {
      return MakeError(ErrorCode::kInternal, "server sent a response that is not JSON (HTTP " +
                                                 std::to_string(reply.status) + ")");
    }
    return parsed;
  }
  return ReplyError(reply, token_is_session, has_token);
}

}  // namespace

Result<HttpReply> ApiClient::Download(std::string_view path) {
  DOZOR_ASSIGN_OR_RETURN(HttpReply reply, Send("GET", path, std::nullopt, "*/*"));
  if (reply.status < 200 || reply.status >= 300) {
    return ReplyError(reply, options_.token_is_session, !options_.token.empty());
  }
  return reply;
}

Result<nlohmann::json> ApiClient::Call(std::string_view method, std::string_view path,
                                       const std::optional<nlohmann::json>& body) {
  std::optional<std::string> text;
  if (body.has_value()) {
    text = body->dump();
  }
  DOZOR_ASSIGN_OR_RETURN(
      HttpReply reply,
      Send(method, path, text ? std::optional<std::string_view>(*text) : std::nullopt));
  return DecodeReply(reply, options_.token_is_session, !options_.token.empty());
}

Result<nlohmann::json> ApiClient::CallWithText(std::string_view method, std::string_view path,
                                               std::string_view body) {
  DOZOR_ASSIGN_OR_RETURN(HttpReply reply, Send(method, path, body));
  return DecodeReply(reply, options_.token_is_session, !options_.token.empty());
}

}  // namespace dozor::ctl
