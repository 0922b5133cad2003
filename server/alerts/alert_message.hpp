// An alert in words: the message each recipient reads, in their language (ru/en), and the bodies
// each channel sends: a MIME e-mail (plain text + HTML), a Telegram sendMessage request (HTML
// formatting, escaped), and the webhook's JSON. Pure: no I/O, no clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "alerts/alert_policy.hpp"
#include "rules/rule.hpp"

namespace dozor::server::alerts {

// What a message says about one alert.
struct AlertFacts {
  AlertKind kind = AlertKind::kFindingOpened;
  std::string org_name;
  std::string hostname;  // host events and host findings
  std::string object;    // what on the host a finding is about ("/var"), "" the whole host
  std::string agent_id;
  std::optional<int64_t> finding_id;
  std::string severity;               // finding events
  std::string rule_id;                // finding events
  const rules::Rule* rule = nullptr;  // its texts, when the rule is in the pack
  std::string evidence_json;          // the finding's evidence
  std::string detail;                 // the event's own words (a comment, the agent's trouble)
  std::string actor;                  // who asked (verification)
  int64_t at_ms = 0;                  // when it happened
  // Site offline: how many of the organisation's live hosts are offline, and some of their names.
  int64_t offline_hosts = 0;
  int64_t live_hosts = 0;
  std::vector<std::string> offline_hostnames;
  std::string link;      // the dashboard page of the finding, host or organisation; may be empty
  std::string ack_link;  // the recipient's signed one-time acknowledgement link; may be empty
  int stage = 0;         // > 0: an escalation (nobody acknowledged the earlier stage)
  // The reader's time zone for times in the message; empty: UTC.
  std::string time_zone;
  // Why the message comes late ("working_hours", "quiet_hours", "grace"); empty: it does not.
  std::string held;
};

struct RenderedAlert {
  std::string subject;  // one line
  std::string text;     // plain text, lines separated by \n
  std::string html;     // a complete small HTML document, every value escaped
};

// The message in "ru" or "en" (anything else reads as English).
RenderedAlert RenderAlert(const AlertFacts& facts, std::string_view language);

// One line in English for the alert list and logs ("high: disk-space-low on db01 (ООО Ромашка)").
std::string AlertSummary(const AlertFacts& facts);

// Escapes & < > " ' for HTML text and attribute values (also what Telegram's HTML mode needs),
// invalid UTF-8 repaired: the report's XmlEscape.
std::string EscapeHtml(std::string_view text);

// The words of a person's message kept with it in the outbox ({"org", "subject", "text",
// "html"}), so that a burst of one organisation's messages to one person can go as one.
std::string MessageJson(const RenderedAlert& message, std::string_view org_name);
// Several such messages as one: a subject that counts them, their subjects listed first, then
// each in full. kInvalidArgument when a part's words cannot be read.
Result<RenderedAlert> RenderGroup(const std::vector<std::string>& message_jsons,
                                  std::string_view language);

// A file sent along (the monthly report's PDF).
struct Attachment {
  std::string filename;  // UTF-8; sent with RFC 2231 encoding when not ASCII
  std::string content_type;
  std::string bytes;
};

// A complete RFC 5322 message: From, To, Subject (RFC 2047, UTF-8), Date, Message-ID,
// multipart/alternative with the text and HTML parts in base64 (inside multipart/mixed with the
// attachment, when there is one). Lines end with CRLF.
std::string EmailMessage(const RenderedAlert& message, std::string_view from, std::string_view to,
                         std::string_view message_id, int64_t date_ms,
                         const Attachment* attachment = nullptr);

// The JSON body of Telegram's sendMessage for one chat: the subject in bold and the text, in HTML
// parse mode, cut to Telegram's 4096-character limit.
std::string TelegramRequest(const RenderedAlert& message, std::string_view chat_id);

// The webhook's JSON body (docs/alerts.md "Webhook"): the alert's facts for a helpdesk to file,
// the English message, and the idempotency key a receiver uses to drop a repeat.
std::string WebhookBody(const AlertFacts& facts, const RenderedAlert& english,
                        std::string_view idempotency_key, const std::vector<std::string>& notified);

}  // namespace dozor::server::alerts
