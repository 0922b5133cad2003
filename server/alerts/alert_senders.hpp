// The channels' transports, over libcurl (a well-kept SMTP and HTTP client with STARTTLS, AUTH,
// certificate checks and timeouts; not worth writing again): e-mail over SMTP, Telegram's Bot API
// sendMessage, and the signed webhook. Each sends one planned message (its body rendered when the
// alert was planned) and says whether it arrived, or why not and whether trying again can help.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "dozor/common/clock.hpp"
#include "store/alert_store.hpp"

namespace dozor::server::alerts {

struct SendOutcome {
  bool delivered = false;
  // Trying again cannot help (the receiver refused this message itself: an unknown mailbox or
  // chat, a 4xx from the webhook): give up at once. Otherwise retried with backoff.
  bool permanent = false;
  std::string error;  // one line, without secrets
};

class AlertSender {
 public:
  virtual ~AlertSender() = default;
  virtual SendOutcome Send(const Delivery& delivery) = 0;
};

struct SmtpSettings {
  std::string url;  // smtp://host:587 (STARTTLS required) or smtps://host:465 (TLS from the start)
  std::string username;  // empty: no AUTH
  std::string password;
  std::string from;     // "Dozor <dozor@example.com>" or a bare address
  std::string ca_file;  // PEM to check the server's certificate against; empty: system CAs
  // smtp:// without TLS, for a relay on loopback only; must be explicit.
  bool allow_plaintext = false;
  int timeout_seconds = 30;
};
std::unique_ptr<AlertSender> MakeSmtpSender(SmtpSettings settings);

struct TelegramSettings {
  std::string api_url = "https://api.telegram.org";  // a stand-in or a proxy in tests
  std::string bot_token;
  std::string ca_file;
  int timeout_seconds = 20;
};
std::unique_ptr<AlertSender> MakeTelegramSender(TelegramSettings settings);

struct WebhookSettings {
  std::string url;
  std::string secret;  // HMAC-SHA256 key
  std::string ca_file;
  int timeout_seconds = 15;
};
std::unique_ptr<AlertSender> MakeWebhookSender(WebhookSettings settings, const Clock& clock);

// The X-Dozor-Signature header value of a webhook body sent at `timestamp` (Unix seconds, also
// sent as X-Dozor-Timestamp): "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
std::string WebhookSignature(std::string_view secret, int64_t timestamp, std::string_view body);

// The bare address of "Name <address>" or of an address.
std::string MailboxAddress(std::string_view from);

}  // namespace dozor::server::alerts
