// Alert messages in words and on the wire: both languages, hostile text from a client machine
// escaped, the MIME e-mail, Telegram's request and the signed webhook.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "alerts/alert_message.hpp"
#include "alerts/alert_senders.hpp"
#include "dozor/common/base64.hpp"
#include "dozor/common/text.hpp"

namespace dozor::server::alerts {
namespace {

rules::Rule DiskRule() {
  rules::Rule rule;
  rule.id = "disk-space-low";
  rule.category = "hardware";
  rule.severity = "high";
  rule.title = {"Disk almost full", "Диск почти заполнен"};
  rule.why = {"Services stop when the disk fills.", "Службы остановятся, когда диск заполнится."};
  rule.remediation = {"Free space or grow the volume.", "Освободите место или расширьте том."};
  rule.evidence_template = {"{mount}: {used_pct}% used", "{mount}: занято {used_pct}%"};
  return rule;
}

AlertFacts Opened(const rules::Rule& rule) {
  AlertFacts facts;
  facts.kind = AlertKind::kFindingOpened;
  facts.org_name = "ООО «Ромашка»";
  facts.hostname = "db01";
  facts.agent_id = "agent-1";
  facts.finding_id = 42;
  facts.severity = "high";
  facts.rule_id = rule.id;
  facts.rule = &rule;
  facts.evidence_json = R"([{"mount":"/var","used_pct":97}])";
  facts.at_ms = 1'800'000'000'000;
  facts.link = "https://dozor.example/findings/42";
  return facts;
}

// The decoded text of the base64 part that follows `content_type` in a MIME message.
std::string DecodedPart(const std::string& mail, const std::string& content_type) {
  const size_t type = mail.find("Content-Type: " + content_type);
  REQUIRE(type != std::string::npos);
  const size_t start = mail.find("\r\n\r\n", type) + 4;
  const size_t end = mail.find("--", start);
  std::string base64;
  for (size_t i = start; i < end; ++i) {
    if (mail[i] != '\r' && mail[i] != '\n') base64 += mail[i];
  }
  auto decoded = Base64Decode(base64);
  REQUIRE(decoded.ok());
  return *decoded;
}

TEST_CASE("a new finding reads in the recipient's language with evidence, why and what to do") {
  const auto rule = DiskRule();
  const auto facts = Opened(rule);
  const auto ru = RenderAlert(facts, "ru");
  CHECK(ru.subject ==
        "[Dozor] Новая проблема (высокая): ООО «Ромашка», db01 — Диск почти заполнен");
  CHECK(ru.text.find("Клиент: ООО «Ромашка»") != std::string::npos);
  CHECK(ru.text.find("/var: занято 97%") != std::string::npos);
  CHECK(ru.text.find("Освободите место") != std::string::npos);
  CHECK(ru.text.find("https://dozor.example/findings/42") != std::string::npos);
  CHECK(ru.text.find("Free space") == std::string::npos);  // no English in a Russian message
  const auto en = RenderAlert(facts, "en");
  CHECK(en.subject == "[Dozor] New finding (high): ООО «Ромашка», db01 — Disk almost full");
  CHECK(en.text.find("/var: 97% used") != std::string::npos);
  CHECK(en.html.find("<a href=\"https://dozor.example/findings/42\">") != std::string::npos);
  CHECK(RenderAlert(facts, "de").subject == en.subject);  // anything else reads as English
  CHECK(AlertSummary(facts) == "finding_opened high: disk-space-low on db01 (ООО «Ромашка»)");

  AlertFacts escalated = facts;
  escalated.stage = 1;
  CHECK(RenderAlert(escalated, "ru").subject.rfind("[Dozor] [эскалация] ", 0) == 0);
  AlertFacts resolved = facts;
  resolved.kind = AlertKind::kFindingResolved;
  const auto done = RenderAlert(resolved, "en");
  CHECK(done.subject.find("Resolved") != std::string::npos);
  CHECK(done.text.find("What to do") == std::string::npos);  // nothing to do any more
}

TEST_CASE("text from a client machine cannot inject markup, headers or broken UTF-8") {
  const auto rule = DiskRule();
  AlertFacts facts = Opened(rule);
  facts.hostname = "<script>alert(1)</script>\r\nBcc: all@example.com \xff\xfe";
  facts.evidence_json = R"([{"mount":"<b>/x</b>","used_pct":99}])";
  const auto message = RenderAlert(facts, "en");
  CHECK(IsValidUtf8(message.subject));
  CHECK(IsValidUtf8(message.text));
  CHECK(message.subject.find('\n') == std::string::npos);
  CHECK(message.subject.find('\r') == std::string::npos);
  CHECK(message.html.find("<script>") == std::string::npos);
  CHECK(message.html.find("&lt;script&gt;") != std::string::npos);
  CHECK(message.html.find("<b>/x</b>") == std::string::npos);

  const std::string mail =
      EmailMessage(message, "Dozor <dozor@example.com>", "anna@example.com", "e7-key", 0);
  // One Subject header, and the hostname's "Bcc:" is inside an encoded word, not a header.
  CHECK(mail.find("\r\nBcc:") == std::string::npos);
  const auto telegram = nlohmann::json::parse(TelegramRequest(message, "12345"));
  CHECK(telegram["parse_mode"] == "HTML");
  CHECK(telegram["text"].get<std::string>().find("<script>") == std::string::npos);
  CHECK(telegram["text"].get<std::string>().rfind("<b>", 0) == 0);
}

TEST_CASE("the e-mail: RFC 2047 subject, both parts in base64, a Message-ID from the key") {
  const auto rule = DiskRule();
  const auto message = RenderAlert(Opened(rule), "ru");
  const std::string mail = EmailMessage(message, "Dozor <dozor@example.com>", "anna@example.com",
                                        "e7-finding_opened-s0-u3-email", 1'800'000'000'000);
  CHECK(mail.rfind("From: Dozor <dozor@example.com>\r\nTo: anna@example.com\r\n", 0) == 0);
  CHECK(mail.find("Subject: =?UTF-8?B?") != std::string::npos);
  CHECK(mail.find("Message-ID: <e7-finding_opened-s0-u3-email@dozor>\r\n") != std::string::npos);
  CHECK(mail.find("Date: Fri, 15 Jan 2027 08:00:00 +0000\r\n") != std::string::npos);
  CHECK(mail.find("Content-Type: multipart/alternative;") != std::string::npos);
  CHECK(DecodedPart(mail, "text/plain") == message.text);
  CHECK(DecodedPart(mail, "text/html") == message.html);
  // Every line within SMTP's limit.
  size_t start = 0;
  while (start < mail.size()) {
    const size_t end = mail.find("\r\n", start);
    REQUIRE(end != std::string::npos);
    CHECK(end - start <= 998);
    start = end + 2;
  }
  // The encoded subject decodes back to the subject.
  std::string decoded;
  size_t at = mail.find("Subject: ");
  const size_t subject_end = mail.find("\r\nDate:", at);
  while ((at = mail.find("=?UTF-8?B?", at)) != std::string::npos && at < subject_end) {
    const size_t close = mail.find("?=", at + 10);
    auto part = Base64Decode(mail.substr(at + 10, close - at - 10));
    REQUIRE(part.ok());
    decoded += *part;
    at = close + 2;
  }
  CHECK(decoded == message.subject);
}

TEST_CASE("Telegram: a long message is cut to the limit on a character boundary") {
  RenderedAlert message;
  message.subject = "s";
  for (int i = 0; i < 3000; ++i) message.text += "ж";  // 2 bytes each
  message.text += "\n";
  for (int i = 0; i < 3000; ++i) message.text += "x";
  const auto request = nlohmann::json::parse(TelegramRequest(message, "-100123"));
  CHECK(request["chat_id"] == "-100123");
  const std::string text = request["text"];
  CHECK(IsValidUtf8(text));
  CHECK(CodePointCount(text) < 4096);
  CHECK(text.size() > 3000);
}

TEST_CASE("the webhook body and its HMAC-SHA256 signature") {
  const auto rule = DiskRule();
  const auto facts = Opened(rule);
  const auto body =
      nlohmann::json::parse(WebhookBody(facts, RenderAlert(facts, "en"), "key-1", {"anna"}));
  CHECK(body["idempotency_key"] == "key-1");
  CHECK(body["kind"] == "finding_opened");
  CHECK(body["finding_id"] == 42);
  CHECK(body["organization"] == "ООО «Ромашка»");
  CHECK(body["notified"] == nlohmann::json::array({"anna"}));
  CHECK(body["link"] == "https://dozor.example/findings/42");
  // HMAC-SHA256("key", "1700000000.{}"), computed independently with openssl dgst.
  CHECK(WebhookSignature("key", 1'700'000'000, "{}") ==
        "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae");
  CHECK(MailboxAddress("Dozor <dozor@example.com>") == "dozor@example.com");
  CHECK(MailboxAddress(" dozor@example.com ") == "dozor@example.com");
}

}  // namespace
}  // namespace dozor::server::alerts
