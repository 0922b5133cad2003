#include "alerts/alert_message.hpp"

#include <nlohmann/json.hpp>

#include <ctime>

#include "domain/local_time.hpp"
#include "dozor/common/base64.hpp"
#include "dozor/common/text.hpp"
#include "dozor/common/utc_time.hpp"
#include "report/report_model.hpp"
#include "report/text_util.hpp"

namespace dozor::server::alerts {

namespace {

// Telegram's limit for one message, in UTF-16 code units; counting code points and leaving room
// for the markup is on the safe side for the Cyrillic and Latin text we send.
constexpr size_t kTelegramMaxChars = 3900;

struct Words {
  std::string_view new_finding, regressed, resolved, verify, host_offline, site_offline,
      agent_trouble, escalated, client, host, what, severity, evidence, why, todo, open_link,
      asked_by, since, hosts_offline, ack_hint, estate_wide, more, ack_now, channel_failed,
      monthly_report, held_working_hours, held_quiet_hours;
};

constexpr Words kEnglish{
    "New finding",
    "Finding came back",
    "Resolved",
    "Fix to verify",
    "Server offline",
    "Site offline",
    "Agent trouble",
    "[escalated] ",
    "Client",
    "Host",
    "What",
    "Severity",
    "Evidence",
    "Why it matters",
    "What to do",
    "Open",
    "Asked by",
    "Since",
    "Offline",
    "Acknowledge it in the dashboard (or: dozorctl alerts ack) so that it does not escalate.",
    "the whole estate",
    "and more",
    "Acknowledge now (one click, no login)",
    "Alert channel failing",
    "Monthly report",
    "Held until working hours began (the client's contract).",
    "Held until your quiet hours ended.",
};

constexpr Words kRussian{
    "Новая проблема",
    "Проблема вернулась",
    "Устранено",
    "Просят проверить исправление",
    "Сервер пропал со связи",
    "Площадка недоступна",
    "Неполадка агента",
    "[эскалация] ",
    "Клиент",
    "Хост",
    "Что",
    "Важность",
    "Подтверждение",
    "Почему это важно",
    "Что сделать",
    "Открыть",
    "Просит",
    "С",
    "Не на связи",
    "Примите его в работу в панели (или: dozorctl alerts ack), иначе оно уйдёт дальше.",
    "вся инфраструктура",
    "и другие",
    "Принять сейчас (одно нажатие, без входа)",
    "Канал оповещений не работает",
    "Ежемесячный отчёт",
    "Придержано до начала рабочего времени клиента (по договору).",
    "Придержано до конца ваших тихих часов.",
};

std::string_view SeverityWord(std::string_view severity, bool russian) {
  struct Pair {
    std::string_view id, ru;
  };
  static constexpr Pair kSeverities[] = {{"critical", "критическая"},
                                         {"high", "высокая"},
                                         {"medium", "средняя"},
                                         {"low", "низкая"},
                                         {"info", "справочно"}};
  if (!russian) return severity;
  for (const auto& pair : kSeverities) {
    if (pair.id == severity) return pair.ru;
  }
  return severity;
}

std::string_view Headline(AlertKind kind, const Words& w) {
  switch (kind) {
    case AlertKind::kFindingOpened:
      return w.new_finding;
    case AlertKind::kFindingRegressed:
      return w.regressed;
    case AlertKind::kFindingResolved:
      return w.resolved;
    case AlertKind::kVerifyRequested:
      return w.verify;
    case AlertKind::kHostOffline:
      return w.host_offline;
    case AlertKind::kSiteOffline:
      return w.site_offline;
    case AlertKind::kAgentTrouble:
      return w.agent_trouble;
    case AlertKind::kChannelFailed:
      return w.channel_failed;
    case AlertKind::kMonthlyReport:
      return w.monthly_report;
  }
  return w.new_finding;
}

// Text from a client machine or a person may be anything: valid UTF-8, no control characters.
std::string Clean(std::string_view text) { return EscapeControlText(EscapeInvalidUtf8(text)); }

// "db1", or "db1: /var" for a finding about an object of the host (two findings of one rule on
// one host differ only by it).
std::string HostLabel(const AlertFacts& facts, const Words& w) {
  const std::string object = facts.object.empty() ? "" : ": " + Clean(facts.object);
  if (!facts.hostname.empty()) return Clean(facts.hostname) + object;
  if (!facts.agent_id.empty()) return Clean(facts.agent_id) + object;
  return std::string(w.estate_wide);
}

bool IsFinding(AlertKind kind) {
  return kind == AlertKind::kFindingOpened || kind == AlertKind::kFindingRegressed ||
         kind == AlertKind::kFindingResolved || kind == AlertKind::kVerifyRequested;
}

std::string Title(const AlertFacts& facts, std::string_view language) {
  if (facts.rule != nullptr) {
    const std::string& title = facts.rule->title.In(language);
    if (!title.empty()) return Clean(title);
  }
  return Clean(facts.rule_id);
}

// (label, value) lines of the body, in order; values are plain text.
std::vector<std::pair<std::string, std::string>> BodyRows(const AlertFacts& facts,
                                                          std::string_view language,
                                                          const Words& w) {
  const bool russian = language == "ru";
  std::vector<std::pair<std::string, std::string>> rows;
  rows.emplace_back(w.client, Clean(facts.org_name));
  if (facts.kind == AlertKind::kSiteOffline) {
    rows.emplace_back(w.hosts_offline, std::to_string(facts.offline_hosts) + " / " +
                                           std::to_string(facts.live_hosts));
    std::string names;
    for (size_t i = 0; i < facts.offline_hostnames.size() && i < 10; ++i) {
      if (!names.empty()) names += ", ";
      names += Clean(facts.offline_hostnames[i]);
    }
    if (facts.offline_hostnames.size() > 10) names += ", " + std::string(w.more);
    rows.emplace_back(w.host, names);
  } else {
    rows.emplace_back(w.host, HostLabel(facts, w));
  }
  if (IsFinding(facts.kind)) {
    rows.emplace_back(w.what, Title(facts, language));
    rows.emplace_back(w.severity, std::string(SeverityWord(facts.severity, russian)));
  }
  if (facts.kind == AlertKind::kVerifyRequested && !facts.actor.empty()) {
    rows.emplace_back(w.asked_by, Clean(facts.actor));
  }
  std::string since = report::FormatTime(facts.at_ms);
  if (!facts.time_zone.empty()) {
    if (auto local = FormatLocalTime(facts.time_zone, facts.at_ms); local.ok()) since = *local;
  }
  rows.emplace_back(w.since, since);
  return rows;
}

std::vector<std::string> EvidenceLines(const AlertFacts& facts, std::string_view language) {
  if (!IsFinding(facts.kind) || facts.evidence_json.empty()) return {};
  const std::string_view templ =
      facts.rule != nullptr ? std::string_view(facts.rule->evidence_template.In(language)) : "";
  std::vector<std::string> lines;
  for (const auto& line : report::RenderEvidence(facts.evidence_json, templ)) {
    lines.push_back(Clean(line));
  }
  return lines;
}

std::string SubjectOf(const AlertFacts& facts, std::string_view language, const Words& w) {
  std::string subject = "[Dozor] ";
  if (facts.stage > 0) subject += w.escalated;
  subject += Headline(facts.kind, w);
  if (IsFinding(facts.kind)) {
    subject += " (" + std::string(SeverityWord(facts.severity, language == "ru")) + ")";
  }
  subject += ": " + Clean(facts.org_name);
  if (facts.kind == AlertKind::kSiteOffline) {
    subject += ", " + std::to_string(facts.offline_hosts) + "/" + std::to_string(facts.live_hosts);
  } else {
    subject += ", " + HostLabel(facts, w);
  }
  if (IsFinding(facts.kind)) subject += " — " + Title(facts, language);
  // One line, of a length mail clients and phones show.
  std::string line;
  for (const char c : subject) line += (c == '\r' || c == '\n') ? ' ' : c;
  if (CodePointCount(line) > 200) {
    size_t cut = 0;
    for (size_t points = 0; cut < line.size() && points < 197; ++points) {
      cut += Utf8SequenceLength(line, cut);
    }
    line = line.substr(0, cut) + "...";
  }
  return line;
}

std::string WrapBase64(std::string_view bytes) {
  const std::string encoded = Base64Encode(bytes);
  std::string out;
  for (size_t i = 0; i < encoded.size(); i += 76) {
    out += encoded.substr(i, 76);
    out += "\r\n";
  }
  return out;
}

// RFC 2047 encoded-words for a header value with non-ASCII text, each at most 75 characters and
// never splitting a UTF-8 sequence.
std::string EncodeHeader(std::string_view value) {
  bool ascii = true;
  for (const char c : value) {
    if (static_cast<unsigned char>(c) >= 0x80) ascii = false;
  }
  if (ascii) return std::string(value);
  std::string out;
  size_t i = 0;
  while (i < value.size()) {
    size_t end = i;
    // 45 bytes -> 60 base64 characters + 12 of "=?UTF-8?B??=" = 72.
    while (end < value.size() && end - i + Utf8SequenceLength(value, end) <= 45) {
      end += Utf8SequenceLength(value, end);
    }
    if (end == i) end = i + 1;
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + Base64Encode(value.substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

std::string RfcDate(int64_t ms) { return FormatUtc(ms, UtcStyle::kRfc5322); }

// An address header value without line breaks (the address comes from an account or config).
std::string HeaderValue(std::string_view text) {
  std::string out;
  for (const char c : text) out += (c == '\r' || c == '\n') ? ' ' : c;
  return out;
}

std::string_view HeldNote(std::string_view held, const Words& w) {
  if (held == "working_hours") return w.held_working_hours;
  if (held == "quiet_hours") return w.held_quiet_hours;
  return {};
}

// A filename for Content-Disposition: plain when ASCII, else RFC 2231 percent-encoded UTF-8.
std::string FilenameParameter(std::string_view name) {
  bool ascii = true;
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80 || u < 0x20 || c == '"' || c == '\\') ascii = false;
  }
  if (ascii) return "filename=\"" + std::string(name) + "\"";
  return "filename*=UTF-8''" + PercentEncode(name);
}

}  // namespace

std::string EscapeHtml(std::string_view text) { return report::XmlEscape(text); }

RenderedAlert RenderAlert(const AlertFacts& facts, std::string_view language) {
  const std::string_view lang = language == "ru" ? "ru" : "en";
  const Words& w = lang == "ru" ? kRussian : kEnglish;
  RenderedAlert out;
  out.subject = SubjectOf(facts, lang, w);
  const auto rows = BodyRows(facts, lang, w);
  const auto evidence = EvidenceLines(facts, lang);
  std::string why;
  std::string todo;
  if (facts.rule != nullptr && facts.kind != AlertKind::kFindingResolved) {
    why = Clean(facts.rule->why.In(lang));
    todo = Clean(facts.rule->remediation.In(lang));
  }
  const std::string detail = Clean(facts.detail);

  std::string& text = out.text;
  text += std::string(Headline(facts.kind, w)) + "\n\n";
  for (const auto& [label, value] : rows) text += label + ": " + value + "\n";
  if (!detail.empty()) text += "\n" + detail + "\n";
  if (!evidence.empty()) {
    text += "\n" + std::string(w.evidence) + ":\n";
    for (const auto& line : evidence) text += "  - " + line + "\n";
  }
  if (!why.empty()) text += "\n" + std::string(w.why) + ":\n" + why + "\n";
  if (!todo.empty()) text += "\n" + std::string(w.todo) + ":\n" + todo + "\n";
  if (!facts.link.empty()) text += "\n" + std::string(w.open_link) + ": " + facts.link + "\n";
  if (!facts.ack_link.empty()) text += "\n" + std::string(w.ack_now) + ": " + facts.ack_link + "\n";
  if (Escalates(facts.kind)) text += "\n" + std::string(w.ack_hint) + "\n";
  const std::string_view held = HeldNote(facts.held, w);
  if (!held.empty()) text += "\n" + std::string(held) + "\n";

  std::string& html = out.html;
  html = "<!DOCTYPE html><html lang=\"" + std::string(lang) +
         "\"><head><meta charset=\"utf-8\"><title>" + EscapeHtml(out.subject) +
         "</title></head><body style=\"font-family:sans-serif\">";
  html += "<h2>" + EscapeHtml(Headline(facts.kind, w)) + "</h2><table>";
  for (const auto& [label, value] : rows) {
    html += "<tr><th align=\"left\">" + EscapeHtml(label) + "</th><td>" + EscapeHtml(value) +
            "</td></tr>";
  }
  html += "</table>";
  if (!detail.empty()) html += "<p>" + EscapeHtml(detail) + "</p>";
  if (!evidence.empty()) {
    html += "<h3>" + EscapeHtml(w.evidence) + "</h3><ul>";
    for (const auto& line : evidence) html += "<li>" + EscapeHtml(line) + "</li>";
    html += "</ul>";
  }
  if (!why.empty()) html += "<h3>" + EscapeHtml(w.why) + "</h3><p>" + EscapeHtml(why) + "</p>";
  if (!todo.empty()) html += "<h3>" + EscapeHtml(w.todo) + "</h3><p>" + EscapeHtml(todo) + "</p>";
  if (!facts.link.empty()) {
    html += "<p><a href=\"" + EscapeHtml(facts.link) + "\">" + EscapeHtml(w.open_link) + "</a></p>";
  }
  if (!facts.ack_link.empty()) {
    html +=
        "<p><a href=\"" + EscapeHtml(facts.ack_link) + "\">" + EscapeHtml(w.ack_now) + "</a></p>";
  }
  if (Escalates(facts.kind)) html += "<p><small>" + EscapeHtml(w.ack_hint) + "</small></p>";
  if (!held.empty()) html += "<p><small>" + EscapeHtml(held) + "</small></p>";
  html += "</body></html>";
  return out;
}

std::string MessageJson(const RenderedAlert& message, std::string_view org_name) {
  nlohmann::json words = {{"org", Clean(org_name)},
                          {"subject", message.subject},
                          {"text", message.text},
                          {"html", message.html}};
  return words.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<RenderedAlert> RenderGroup(const std::vector<std::string>& message_jsons,
                                  std::string_view language) {
  const bool russian = language == "ru";
  std::vector<RenderedAlert> parts;
  std::string org;
  for (const auto& text : message_jsons) {
    const auto words = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!words.is_object() || !words.contains("subject") || !words["subject"].is_string() ||
        !words.contains("text") || !words["text"].is_string() || !words.contains("html") ||
        !words["html"].is_string()) {
      return MakeError(ErrorCode::kInvalidArgument, "a grouped message's words are unreadable");
    }
    if (org.empty() && words.contains("org") && words["org"].is_string()) {
      org = words["org"].get<std::string>();
    }
    parts.push_back(RenderedAlert{words["subject"].get<std::string>(),
                                  words["text"].get<std::string>(),
                                  words["html"].get<std::string>()});
  }
  const std::string count = std::to_string(parts.size());
  RenderedAlert out;
  out.subject = russian ? "[Dozor] " + org + ": оповещений — " + count
                        : "[Dozor] " + org + ": " + count + " alerts";
  const std::string intro = russian ? "Несколько оповещений по клиенту " + org + " подряд:"
                                    : count + " alerts for " + org + " in a row:";
  out.text = intro + "\n\n";
  for (size_t i = 0; i < parts.size(); ++i) {
    out.text += std::to_string(i + 1) + ". " + parts[i].subject + "\n";
  }
  out.html = "<!DOCTYPE html><html lang=\"" + std::string(russian ? "ru" : "en") +
             "\"><head><meta charset=\"utf-8\"><title>" + EscapeHtml(out.subject) +
             "</title></head><body style=\"font-family:sans-serif\"><p>" + EscapeHtml(intro) +
             "</p><ol>";
  for (const auto& part : parts) out.html += "<li>" + EscapeHtml(part.subject) + "</li>";
  out.html += "</ol>";
  for (size_t i = 0; i < parts.size(); ++i) {
    out.text += "\n----- " + std::to_string(i + 1) + " -----\n" + parts[i].text;
    // Each part is a whole document of ours: its body goes in.
    const std::string& html = parts[i].html;
    const size_t open = html.find("<body");
    const size_t start = open == std::string::npos ? open : html.find('>', open);
    const size_t end = html.rfind("</body>");
    out.html += "<hr>";
    if (start != std::string::npos && end != std::string::npos && end > start) {
      out.html += html.substr(start + 1, end - start - 1);
    } else {
      out.html += "<pre>" + EscapeHtml(parts[i].text) + "</pre>";
    }
  }
  out.html += "</body></html>";
  return out;
}

std::string AlertSummary(const AlertFacts& facts) {
  std::string summary(ToString(facts.kind));
  if (IsFinding(facts.kind)) {
    summary += " " + facts.severity + ": " + Clean(facts.rule_id);
  }
  if (facts.kind == AlertKind::kSiteOffline) {
    summary += ": " + std::to_string(facts.offline_hosts) + " of " +
               std::to_string(facts.live_hosts) + " hosts";
  } else if (!facts.hostname.empty() || !facts.agent_id.empty()) {
    summary += " on " + HostLabel(facts, kEnglish);
  }
  summary += " (" + Clean(facts.org_name) + ")";
  return summary;
}

std::string EmailMessage(const RenderedAlert& message, std::string_view from, std::string_view to,
                         std::string_view message_id, int64_t date_ms,
                         const Attachment* attachment) {
  const std::string boundary = "dozor-" + std::string(message_id.substr(0, 32)) + "-alt";
  const std::string mixed = "dozor-" + std::string(message_id.substr(0, 32)) + "-mix";
  std::string mail;
  mail += "From: " + HeaderValue(from) + "\r\n";
  mail += "To: " + HeaderValue(to) + "\r\n";
  mail += "Subject: " + EncodeHeader(message.subject) + "\r\n";
  mail += "Date: " + RfcDate(date_ms) + "\r\n";
  mail += "Message-ID: <" + HeaderValue(message_id) + "@dozor>\r\n";
  mail += "MIME-Version: 1.0\r\n";
  mail += "Auto-Submitted: auto-generated\r\n";
  if (attachment != nullptr) {
    mail += "Content-Type: multipart/mixed; boundary=\"" + mixed + "\"\r\n\r\n";
    mail += "--" + mixed + "\r\n";
  }
  mail += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
  mail += "--" + boundary + "\r\n";
  mail += "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  mail += WrapBase64(message.text);
  mail += "--" + boundary + "\r\n";
  mail += "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  mail += WrapBase64(message.html);
  mail += "--" + boundary + "--\r\n";
  if (attachment != nullptr) {
    mail += "--" + mixed + "\r\n";
    mail += "Content-Type: " + HeaderValue(attachment->content_type) + "\r\n";
    mail += "Content-Transfer-Encoding: base64\r\n";
    mail +=
        "Content-Disposition: attachment; " + FilenameParameter(attachment->filename) + "\r\n\r\n";
    mail += WrapBase64(attachment->bytes);
    mail += "--" + mixed + "--\r\n";
  }
  return mail;
}

std::string TelegramRequest(const RenderedAlert& message, std::string_view chat_id) {
  std::string text = message.text;
  if (CodePointCount(text) > kTelegramMaxChars) {
    size_t cut = 0;
    for (size_t points = 0; cut < text.size() && points < kTelegramMaxChars; ++points) {
      cut += Utf8SequenceLength(text, cut);
    }
    text = text.substr(0, cut) + "\n...";
  }
  nlohmann::json body = {
      {"chat_id", std::string(chat_id)},
      {"text", "<b>" + EscapeHtml(message.subject) + "</b>\n\n" + EscapeHtml(text)},
      {"parse_mode", "HTML"},
      {"disable_web_page_preview", true}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string WebhookBody(const AlertFacts& facts, const RenderedAlert& english,
                        std::string_view idempotency_key,
                        const std::vector<std::string>& notified) {
  nlohmann::json body = {
      {"idempotency_key", std::string(idempotency_key)},
      {"kind", std::string(ToString(facts.kind))},
      {"stage", facts.stage},
      {"organization", Clean(facts.org_name)},
      {"hostname", Clean(facts.hostname)},
      {"object", Clean(facts.object)},
      {"agent_id", Clean(facts.agent_id)},
      {"finding_id", facts.finding_id ? nlohmann::json(*facts.finding_id) : nlohmann::json()},
      {"rule_id", Clean(facts.rule_id)},
      {"severity", facts.severity},
      {"at_ms", facts.at_ms},
      {"link", facts.link},
      {"notified", notified},
      {"subject", english.subject},
      {"text", english.text},
  };
  if (facts.kind == AlertKind::kSiteOffline) {
    body["offline_hosts"] = facts.offline_hosts;
    body["live_hosts"] = facts.live_hosts;
  }
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace dozor::server::alerts
