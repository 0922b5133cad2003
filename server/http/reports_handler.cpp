// /api/v1/orgs/{org}/report: the pre-contract audit report of one organisation as HTML, PDF,
// JSON or CSV, served as a download (not JSON-wrapped), or with ?disposition=inline to be shown in
// the browser (the dashboard frames the HTML report).
#include "http/handlers.hpp"
#include "report/renderers.hpp"
#include "report/report_builder.hpp"
#include "rules/rule.hpp"

namespace dozor::server::http {

namespace {

struct Format {
  std::string_view name;
  std::string_view content_type;
};

constexpr std::string_view kHtmlReportContentSecurityPolicy =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; "
    "base-uri 'none'; form-action 'none'";

constexpr Format kFormats[] = {
    {"html", "text/html; charset=utf-8"},
    {"pdf", "application/pdf"},
    {"json", "application/json"},
    {"csv", "text/csv; charset=utf-8"},
};

// UTC "YYYY-MM-DD" of a Unix ms time.
std::string UtcDate(int64_t ms) {
  const std::string iso = IsoUtc(ms);
  return iso.size() >= 10 ? iso.substr(0, 10) : std::string("0000-00-00");
}

// Printable ASCII letters, digits, '-', '_' and '.' kept; runs of anything else become one '_'.
std::string AsciiFileStem(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    const bool keep = (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
                      (byte >= '0' && byte <= '9') || byte == '-' || byte == '.';
    if (keep) {
      out.push_back(c);
    } else if (out.empty() || out.back() != '_') {
      out.push_back('_');
    }
  }
  while (!out.empty() && (out.back() == '_' || out.back() == '.')) {
    out.pop_back();
  }
  while (!out.empty() && (out.front() == '_' || out.front() == '.')) {
    out.erase(out.begin());
  }
  return out.substr(0, 100);
}

// Names whose letters are not all ASCII (Cyrillic) keep an ASCII fallback (the org id when
// nothing is left) plus the exact UTF-8 name in filename*, which browsers prefer.
std::string ContentDisposition(const Organization& org, int64_t now_ms, std::string_view ext) {
  const std::string date = UtcDate(now_ms);
  std::string ascii = AsciiFileStem(org.name);
  if (ascii.empty()) {
    ascii = "org" + std::to_string(org.id);
  }
  const std::string suffix = "-" + date + "." + std::string(ext);
  std::string header = "attachment; filename=\"audit-" + ascii + suffix + "\"";
  // A name with characters we replaced (spaces, Cyrillic) also gets the exact form.
  if (ascii != org.name) {
    header += "; filename*=UTF-8''" + PercentEncode("audit-" + org.name + suffix);
  }
  return header;
}

ApiResponse ReportRoute(ApiContext& context, const ApiRequest& request) {
  if (context.rules == nullptr) {
    return ErrorResponse(503, "unavailable", "rules are not loaded on this server");
  }
  const Format* format = &kFormats[0];
  if (const auto it = request.query.find("format");
      it != request.query.end() && !it->second.empty()) {
    format = nullptr;
    for (const auto& candidate : kFormats) {
      if (candidate.name == it->second) {
        format = &candidate;
      }
    }
    if (format == nullptr) {
      return ErrorResponse(400, "invalid_argument",
                           "query parameter 'format' must be html, pdf, json or csv");
    }
  }
  bool inline_view = false;
  if (const auto it = request.query.find("disposition");
      it != request.query.end() && !it->second.empty()) {
    if (it->second != "inline" && it->second != "attachment") {
      return ErrorResponse(400, "invalid_argument",
                           "query parameter 'disposition' must be attachment or inline");
    }
    inline_view = it->second == "inline";
  }
  auto lang = QueryLang(request, "ru");
  if (!lang.ok()) {
    return ErrorResponse(lang.error());
  }
  auto org = FindOrg(context.store.Organizations(), request.params.at("org"));
  if (!org.ok()) {
    return ErrorResponse(org.error());
  }
  const int64_t now = context.clock.NowMs();
  auto model = report::BuildAuditReport(context.store, *context.rules, org->id, now, *lang);
  if (!model.ok()) {
    return ErrorResponse(model.error());
  }
  std::string payload;
  if (format->name == "html") {
    payload = report::RenderHtml(*model);
  } else if (format->name == "json") {
    payload = report::RenderJson(*model);
  } else if (format->name == "csv") {
    payload = report::RenderCsv(*model);
  } else {
    auto pdf = report::RenderPdf(*model);
    if (!pdf.ok()) {
      return ErrorResponse(pdf.error());
    }
    payload = std::move(pdf).value();
  }
  std::string disposition = ContentDisposition(*org, now, format->name);
  if (inline_view) {
    // Shown in the page (the dashboard frames the HTML report) instead of saved; same name when
    // the user saves it from there.
    disposition.replace(0, std::string_view("attachment").size(), "inline");
  }
  ApiResponse response = RawResponse(std::move(payload), format->content_type, disposition);
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (format->name == "html") {
    // The report is one document with an inline <style> and no scripts, images or links: its
    // policy allows exactly that. The dashboard shows it in an <iframe> of the same origin, so
    // framing by this origin (and no other) is allowed.
    response.headers.emplace_back("Content-Security-Policy", kHtmlReportContentSecurityPolicy);
    response.headers.emplace_back("X-Frame-Options", "SAMEORIGIN");
  }
  return response;
}

}  // namespace

void RegisterReportRoutes(Router& router, ApiContext& context) {
  // A 500-host PDF renders for a few hundred ms: the slow pool.
  router.Add(
      "GET", "/api/v1/orgs/{org}/report", Access::kRead, Scope::Org(),
      [&context](ApiRequest& request) { return ReportRoute(context, request); },
      RouteLimits{.cost = RouteCost::kSlow});
}

}  // namespace dozor::server::http
