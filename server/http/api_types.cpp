#include "http/api_types.hpp"
#include "dozor/common/utc_time.hpp"

#include <spdlog/spdlog.h>

#include <ctime>
#include <limits>

namespace dozor::server::http {

namespace {

const char* SlugFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kAlreadyExists:
      return "already_exists";
    case ErrorCode::kPermissionDenied:
      return "permission_denied";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kResourceExhausted:
      return "too_large";
    case ErrorCode::kFailedPrecondition:
      return "failed_precondition";
    case ErrorCode::kDataLoss:
    case ErrorCode::kInternal:
      break;
  }
  return "internal";
}

int StatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kFailedPrecondition:
      return 409;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kResourceExhausted:
      return 413;
    case ErrorCode::kDataLoss:
    case ErrorCode::kInternal:
      break;
  }
  return 500;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

}  // namespace

ApiResponse ErrorResponse(int status, std::string_view code, std::string_view message) {
  ApiResponse response;
  response.status = status;
  response.body = {{"error", {{"code", std::string(code)}, {"message", std::string(message)}}}};
  return response;
}

ApiResponse RawResponse(std::string payload, std::string_view content_type,
                        std::string_view content_disposition) {
  ApiResponse response;
  response.raw_body = std::move(payload);
  response.content_type = std::string(content_type);
  response.content_disposition = std::string(content_disposition);
  return response;
}

ApiResponse ErrorResponse(const Error& error) {
  // Internal details (SQL text, paths) stay in the server log, not in the response.
  const int status = StatusFor(error.code);
  if (status == 500) {
    spdlog::error("api: {}", error.ToString());
  }
  const std::string message = status == 500 ? "internal error" : error.message;
  return ErrorResponse(status, SlugFor(error.code), message);
}

std::string IsoUtc(int64_t ms) {
  if (ms == 0) {
    return "";
  }
  return FormatUtc(ms, UtcStyle::kRfc3339);
}

void PutTime(nlohmann::json& out, std::string_view key, int64_t ms) {
  out[std::string(key) + "_ms"] = ms;
  out[std::string(key)] = ms == 0 ? nlohmann::json(nullptr) : nlohmann::json(IsoUtc(ms));
}

void PutTime(nlohmann::json& out, std::string_view key, const std::optional<int64_t>& ms) {
  if (ms.has_value()) {
    PutTime(out, key, *ms);
  } else {
    out[std::string(key) + "_ms"] = nullptr;
    out[std::string(key)] = nullptr;
  }
}

Result<nlohmann::json> ParseJsonObject(std::string_view body) {
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return MakeError(ErrorCode::kInvalidArgument, "request body is not valid JSON");
  }
  if (!parsed.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "request body must be a JSON object");
  }
  return parsed;
}

Result<std::optional<std::string>> OptionalString(const nlohmann::json& object,
                                                  std::string_view key) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    return std::optional<std::string>();
  }
  if (!it->is_string()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field '" + std::string(key) + "' must be a string");
  }
  return std::optional<std::string>(it->get<std::string>());
}

Result<std::optional<int64_t>> OptionalInt(const nlohmann::json& object, std::string_view key,
                                           int64_t min, int64_t max) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    return std::optional<int64_t>();
  }
  const std::string range = " in " + std::to_string(min) + ".." + std::to_string(max);
  if (!it->is_number_integer()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field '" + std::string(key) + "' must be an integer" + range);
  }
  int64_t value = 0;
  if (it->is_number_unsigned()) {
    const auto unsigned_value = it->get<uint64_t>();
    if (unsigned_value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "field '" + std::string(key) + "' must be an integer" + range);
    }
    value = static_cast<int64_t>(unsigned_value);
  } else {
    value = it->get<int64_t>();
  }
  if (value < min || value > max) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field '" + std::string(key) + "' must be an integer" + range);
  }
  return std::optional<int64_t>(value);
}

Result<int64_t> QueryInt(const ApiRequest& request, std::string_view key, int64_t fallback,
                         int64_t min, int64_t max) {
  const auto it = request.query.find(key);
  if (it == request.query.end() || it->second.empty()) {
    return fallback;
  }
  const std::string& text = it->second;
  const std::string range = " in " + std::to_string(min) + ".." + std::to_string(max);
  const std::string message =
      "query parameter '" + std::string(key) + "' must be an integer" + range;
  if (text.size() > 19) {
    return MakeError(ErrorCode::kInvalidArgument, message);
  }
  int64_t value = 0;
  size_t i = 0;
  bool negative = false;
  if (text[0] == '-') {
    negative = true;
    i = 1;
  }
  if (i == text.size()) {
    return MakeError(ErrorCode::kInvalidArgument, message);
  }
  for (; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return MakeError(ErrorCode::kInvalidArgument, message);
    }
    if (value > (std::numeric_limits<int64_t>::max() - 9) / 10) {
      return MakeError(ErrorCode::kInvalidArgument, message);
    }
    value = value * 10 + (text[i] - '0');
  }
  if (negative) {
    value = -value;
  }
  if (value < min || value > max) {
    return MakeError(ErrorCode::kInvalidArgument, message);
  }
  return value;
}

std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) {
        return std::nullopt;
      }
      const int high = HexValue(text[i + 1]);
      const int low = HexValue(text[i + 2]);
      if (high < 0 || low < 0) {
        return std::nullopt;
      }
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<std::map<std::string, std::string, std::less<>>> ParseQuery(std::string_view query) {
  std::map<std::string, std::string, std::less<>> out;
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) {
      end = query.size();
    }
    const std::string_view pair = query.substr(start, end - start);
    if (!pair.empty()) {
      const size_t eq = pair.find('=');
      const auto key = PercentDecode(pair.substr(0, eq), true);
      const auto value = eq == std::string_view::npos ? std::optional<std::string>("")
                                                      : PercentDecode(pair.substr(eq + 1), true);
      if (!key || !value) {
        return MakeError(ErrorCode::kInvalidArgument, "malformed query string");
      }
      out[*key] = *value;
    }
    start = end + 1;
  }
  return out;
}

const char* CredentialState(const std::optional<int64_t>& revoked_at_ms,
                            const std::optional<int64_t>& expires_at_ms, int64_t now_ms) {
  if (revoked_at_ms.has_value()) {
    return "revoked";
  }
  if (expires_at_ms.has_value() && *expires_at_ms <= now_ms) {
    return "expired";
  }
  return "active";
}

}  // namespace dozor::server::http
