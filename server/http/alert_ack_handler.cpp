// /alert-ack: the signed one-time acknowledgement link of an alert message (alerts/ack_link.hpp).
// Public: the link's signature is the credential, and it can do one thing, acknowledge that alert
// for the person it was sent to. GET shows the alert and a button; only the button's POST
// acknowledges (link scanners and chat previews fetch with GET). Both languages on the page: the
// link opens in whatever browser the engineer has at hand, logged in or not.
#include <cctype>

#include "alerts/ack_link.hpp"
#include "alerts/alert_message.hpp"
#include "http/handlers.hpp"

namespace dozor::server::http {

namespace {

constexpr char kPageSecurityPolicy[] =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'";

ApiResponse Page(int status, const std::string& title_en, const std::string& title_ru,
                 const std::string& body_html) {
  using alerts::EscapeHtml;
  std::string html =
      "<!DOCTYPE html><html lang=\"ru\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
      "content=\"width=device-width\"><meta name=\"robots\" content=\"noindex\"><title>Dozor: " +
      EscapeHtml(title_en) +
      "</title></head><body style=\"font-family:sans-serif;max-width:40em;margin:2em auto;"
      "padding:0 1em\"><h1>" +
      EscapeHtml(title_ru) + "</h1><p lang=\"en\"><strong>" + EscapeHtml(title_en) +
      "</strong></p>" + body_html + "</body></html>";
  ApiResponse response = RawResponse(std::move(html), "text/html; charset=utf-8");
  response.status = status;
  response.headers.emplace_back("Content-Security-Policy", kPageSecurityPolicy);
  // The token is in the URL: never sent on to another site.
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  return response;
}

ApiResponse Refused() {
  return Page(403, "This acknowledgement link is not valid.",
              "Ссылка для принятия оповещения недействительна.", "");
}

std::optional<int64_t> PositiveId(const ApiRequest& request, const std::string& key) {
  const auto it = request.query.find(key);
  if (it == request.query.end() || it->second.empty() || it->second.size() > 18)
    return std::nullopt;
  int64_t value = 0;
  for (const char c : it->second) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value > 0 ? std::optional(value) : std::nullopt;
}

ApiResponse AckRoute(ApiContext& context, const ApiRequest& request, bool acknowledge) {
  using alerts::EscapeHtml;
  if (context.alert_ack_key.empty()) return Refused();
  const auto event_id = PositiveId(request, "e");
  const auto user_id = PositiveId(request, "u");
  const auto kind = request.query.find("k");
  const auto token = request.query.find("t");
  if (!event_id || !user_id || kind == request.query.end() || token == request.query.end() ||
      kind->second.size() > 40) {
    return Refused();
  }
  const alerts::AckTarget target{*event_id, kind->second, *user_id};
  if (!alerts::VerifyAckToken(context.alert_ack_key, target, token->second)) return Refused();
  auto alert = context.store.Alerts().FindAlertByEvent(*event_id, kind->second);
  if (!alert.ok()) {
    if (alert.error().code == ErrorCode::kNotFound) {
      return Page(404, "This alert no longer exists.", "Этого оповещения больше нет.", "");
    }
    return ErrorResponse(alert.error());
  }
  const int64_t now_ms = context.clock.NowMs();
  if (now_ms - alert->created_at_ms > alerts::kAckLinkValidMs) {
    return Page(410, "This link has expired: acknowledge the alert in the dashboard.",
                "Срок действия ссылки истёк: примите оповещение в панели.", "");
  }
  auto user = context.store.Users().GetUser(*user_id);
  if (!user.ok() || !user->enabled) return Refused();  // the account went away meanwhile
  const std::string about = "<p>" + EscapeHtml(alert->summary) + "</p>";
  if (alert->acked_at_ms) {
    return Page(200, "Already acknowledged by " + alert->acked_by + ".",
                "Оповещение уже принято: " + alert->acked_by + ".", about);
  }
  if (!acknowledge) {
    // The form posts to this same URL (the signed query) and nothing else.
    const std::string action =
        "/alert-ack?e=" + std::to_string(*event_id) + "&k=" + PercentEncode(kind->second) +
        "&u=" + std::to_string(*user_id) + "&t=" + PercentEncode(token->second);
    return Page(200, "Acknowledge this alert?", "Принять оповещение?",
                about + "<form method=\"post\" action=\"" + EscapeHtml(action) +
                    "\"><button type=\"submit\" style=\"font-size:1.2em;padding:.5em 1.5em\">"
                    "Принять / Acknowledge</button></form>");
  }
  const std::string actor = user->login + " (link)";
  auto acked = context.store.Alerts().AcknowledgeAlert(alert->id, actor, now_ms);
  if (!acked.ok()) {
    if (acked.error().code == ErrorCode::kFailedPrecondition) {
      return Page(200, "Already acknowledged.", "Оповещение уже принято.", about);
    }
    return ErrorResponse(acked.error());
  }
  ApiResponse response = Page(200, "Acknowledged: it will not escalate.",
                              "Оповещение принято: дальше оно не уйдёт.", about);
  response.audit_actor = user->login;
  response.audit_object = "alert " + std::to_string(alert->id);
  response.audit_org_id = alert->org_id;
  return response;
}

}  // namespace

void RegisterAlertAckRoutes(Router& router, ApiContext& context) {
  router.Add("GET", "/alert-ack", Access::kPublic, Scope::Public(),
             [&context](ApiRequest& request) { return AckRoute(context, request, false); });
  router.Add("POST", "/alert-ack", Access::kPublic, Scope::Public(),
             [&context](ApiRequest& request) { return AckRoute(context, request, true); });
}

}  // namespace dozor::server::http
