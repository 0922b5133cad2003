#include "alerts/alert_senders.hpp"

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <mutex>
#include <vector>

#include "dozor/common/crypto.hpp"
#include "dozor/common/version.hpp"

namespace dozor::server::alerts {

namespace {

// A receiver's answer beyond this is not read (we need its status and a line of its error).
constexpr size_t kMaxAnswerBytes = 64 * 1024;

struct CurlDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;
using CurlList = std::unique_ptr<curl_slist, SlistDeleter>;

CurlHandle NewHandle() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  return CurlHandle(curl_easy_init());
}

void Append(CurlList& list, const std::string& line) {
  list.reset(curl_slist_append(list.release(), line.c_str()));
}

// Feeds the upload body to libcurl.
struct Upload {
  std::string_view data;
  size_t offset = 0;
};
size_t ReadUpload(char* buffer, size_t size, size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  const size_t n = std::min(size * count, upload->data.size() - upload->offset);
  std::copy_n(upload->data.data() + upload->offset, n, buffer);
  upload->offset += n;
  return n;
}

size_t KeepAnswer(char* data, size_t size, size_t count, void* user) {
  auto* answer = static_cast<std::string*>(user);
  const size_t n = size * count;
  if (answer->size() < kMaxAnswerBytes) {
    answer->append(data, std::min(n, kMaxAnswerBytes - answer->size()));
  }
  return n;
}

void CommonOptions(CURL* curl, char* error_buffer, const std::string& ca_file, int timeout_s) {
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, static_cast<long>(timeout_s));
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https,smtp,smtps");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  if (!ca_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file.c_str());
  }
}

std::string CurlError(CURLcode rc, const char* buffer) {
  std::string error = curl_easy_strerror(rc);
  if (buffer != nullptr && buffer[0] != '\0') {
    error += ": ";
    error += buffer;
  }
  return error;
}

// Never lets a secret (the bot token in Telegram's URL) into a stored error.
std::string Redact(std::string text, std::string_view secret) {
  if (secret.empty()) return text;
  for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
    text.replace(at, secret.size(), "***");
  }
  return text;
}

std::string OneLine(std::string_view text, size_t max = 300) {
  std::string out;
  for (const char c : text.substr(0, max)) {
    out += (c == '\r' || c == '\n' || c == '\t') ? ' ' : c;
  }
  return out;
}

struct HttpAnswer {
  long status = 0;
  std::string body;
  std::string error;  // transport failure (no status)
};

HttpAnswer PostJson(const std::string& url, const std::vector<std::string>& headers,
                    const std::string& body, const std::string& ca_file, int timeout_s) {
  HttpAnswer answer;
  CurlHandle curl = NewHandle();
  if (!curl) {
    answer.error = "libcurl could not start a transfer";
    return answer;
  }
  char error_buffer[CURL_ERROR_SIZE] = {};
  CommonOptions(curl.get(), error_buffer, ca_file, timeout_s);
  CurlList list;
  Append(list, "Content-Type: application/json");
  Append(list, "Expect:");
  for (const auto& header : headers) Append(list, header);
  const std::string agent = std::string("dozor-server/") + kVersion;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_USERAGENT, agent.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, KeepAnswer);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &answer.body);
  const CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) {
    answer.error = CurlError(rc, error_buffer);
    return answer;
  }
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &answer.status);
  return answer;
}

// 408 and 429 say "later"; any other 4xx refuses this very message.
bool RefusedForGood(long status) {
  return status >= 400 && status < 500 && status != 408 && status != 429;
}

class SmtpSender final : public AlertSender {
 public:
  explicit SmtpSender(SmtpSettings settings) : settings_(std::move(settings)) {}

  SendOutcome Send(const Delivery& delivery) override {
    SendOutcome outcome;
    CurlHandle curl = NewHandle();
    if (!curl) {
      outcome.error = "libcurl could not start a transfer";
      return outcome;
    }
    char error_buffer[CURL_ERROR_SIZE] = {};
    CommonOptions(curl.get(), error_buffer, settings_.ca_file, settings_.timeout_seconds);
    curl_easy_setopt(curl.get(), CURLOPT_URL, settings_.url.c_str());
    if (settings_.url.rfind("smtp://", 0) == 0 && !settings_.allow_plaintext) {
      // STARTTLS or nothing: credentials and client data never cross the network in clear.
      curl_easy_setopt(curl.get(), CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
    }
    if (!settings_.username.empty()) {
      curl_easy_setopt(curl.get(), CURLOPT_USERNAME, settings_.username.c_str());
      curl_easy_setopt(curl.get(), CURLOPT_PASSWORD, settings_.password.c_str());
    }
    const std::string from = "<" + MailboxAddress(settings_.from) + ">";
    curl_easy_setopt(curl.get(), CURLOPT_MAIL_FROM, from.c_str());
    CurlList recipients;
    Append(recipients, "<" + delivery.address + ">");
    curl_easy_setopt(curl.get(), CURLOPT_MAIL_RCPT, recipients.get());
    Upload upload{delivery.payload};
    curl_easy_setopt(curl.get(), CURLOPT_READFUNCTION, ReadUpload);
    curl_easy_setopt(curl.get(), CURLOPT_READDATA, &upload);
    curl_easy_setopt(curl.get(), CURLOPT_UPLOAD, 1L);
    const CURLcode rc = curl_easy_perform(curl.get());
    long code = 0;
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &code);
    if (rc == CURLE_OK) {
      outcome.delivered = true;
      return outcome;
    }
    outcome.error = "SMTP " + OneLine(Redact(CurlError(rc, error_buffer), settings_.password));
    if (code > 0) outcome.error += " (server said " + std::to_string(code) + ")";
    // A 5xx that is not about our login refuses this message (an unknown mailbox); wrong
    // credentials are the server's configuration: retried until an admin fixes it.
    outcome.permanent = code >= 500 && code < 600 && rc != CURLE_LOGIN_DENIED && code != 530 &&
                        code != 535 && code != 534 && code != 538;
    return outcome;
  }

 private:
  SmtpSettings settings_;
};

class TelegramSender final : public AlertSender {
 public:
  explicit TelegramSender(TelegramSettings settings) : settings_(std::move(settings)) {
    while (!settings_.api_url.empty() && settings_.api_url.back() == '/') {
      settings_.api_url.pop_back();
    }
  }

  SendOutcome Send(const Delivery& delivery) override {
    SendOutcome outcome;
    const std::string url = settings_.api_url + "/bot" + settings_.bot_token + "/sendMessage";
    const HttpAnswer answer =
        PostJson(url, {}, delivery.payload, settings_.ca_file, settings_.timeout_seconds);
    if (!answer.error.empty()) {
      outcome.error = "Telegram: " + OneLine(Redact(answer.error, settings_.bot_token));
      return outcome;
    }
    const auto json = nlohmann::json::parse(answer.body, nullptr, false);
    const bool ok = json.is_object() && json.value("ok", false) == true;
    if (answer.status == 200 && ok) {
      outcome.delivered = true;
      return outcome;
    }
    std::string description;
    if (json.is_object() && json.contains("description") && json["description"].is_string()) {
      description = json["description"].get<std::string>();
    }
    outcome.error = "Telegram answered HTTP " + std::to_string(answer.status) +
                    (description.empty() ? "" : ": " + OneLine(description));
    outcome.error = Redact(outcome.error, settings_.bot_token);
    // 401/404 mean the token is wrong: the configuration's fault, kept for a fix. A 400 or 403
    // (chat not found, bot blocked by the user) refuses this chat.
    outcome.permanent =
        RefusedForGood(answer.status) && answer.status != 401 && answer.status != 404;
    return outcome;
  }

 private:
  TelegramSettings settings_;
};

class WebhookSender final : public AlertSender {
 public:
  WebhookSender(WebhookSettings settings, const Clock& clock)
      : settings_(std::move(settings)), clock_(clock) {}

  SendOutcome Send(const Delivery& delivery) override {
    SendOutcome outcome;
    const int64_t timestamp = clock_.NowMs() / 1000;
    const std::vector<std::string> headers = {
        "X-Dozor-Timestamp: " + std::to_string(timestamp),
        "X-Dozor-Signature: " + WebhookSignature(settings_.secret, timestamp, delivery.payload),
        "Idempotency-Key: " + delivery.idempotency_key,
    };
    const HttpAnswer answer = PostJson(settings_.url, headers, delivery.payload, settings_.ca_file,
                                       settings_.timeout_seconds);
    if (!answer.error.empty()) {
      outcome.error = "webhook: " + OneLine(answer.error);
      return outcome;
    }
    if (answer.status >= 200 && answer.status < 300) {
      outcome.delivered = true;
      return outcome;
    }
    outcome.error = "webhook answered HTTP " + std::to_string(answer.status);
    if (!answer.body.empty()) outcome.error += ": " + OneLine(answer.body, 200);
    outcome.permanent = RefusedForGood(answer.status);
    return outcome;
  }

 private:
  WebhookSettings settings_;
  const Clock& clock_;
};

}  // namespace

std::string WebhookSignature(std::string_view secret, int64_t timestamp, std::string_view body) {
  std::string signed_text = std::to_string(timestamp) + ".";
  signed_text.append(body);
  return "sha256=" + HmacSha256Hex(secret, signed_text);
}

std::string MailboxAddress(std::string_view from) {
  const size_t open = from.rfind('<');
  const size_t close = from.rfind('>');
  if (open != std::string_view::npos && close != std::string_view::npos && close > open) {
    return std::string(from.substr(open + 1, close - open - 1));
  }
  std::string bare(from);
  bare.erase(std::remove_if(bare.begin(), bare.end(), [](char c) { return c == ' '; }), bare.end());
  return bare;
}

std::unique_ptr<AlertSender> MakeSmtpSender(SmtpSettings settings) {
  return std::make_unique<SmtpSender>(std::move(settings));
}

std::unique_ptr<AlertSender> MakeTelegramSender(TelegramSettings settings) {
  return std::make_unique<TelegramSender>(std::move(settings));
}

std::unique_ptr<AlertSender> MakeWebhookSender(WebhookSettings settings, const Clock& clock) {
  return std::make_unique<WebhookSender>(std::move(settings), clock);
}

}  // namespace dozor::server::alerts
