// Renderers of the audit report: each is a pure function of the model (report_model.hpp).
#pragma once

#include <string>

#include "dozor/common/result.hpp"
#include "report/report_model.hpp"

namespace dozor::server::report {

// Self-contained HTML page (inline CSS, no external assets, print-friendly); all text escaped.
std::string RenderHtml(const AuditReport& report);
// JSON document; field names are documented in docs/audit-report.md and stable.
std::string RenderJson(const AuditReport& report);
// CSV, one row per finding (active and waived), UTF-8 with BOM, RFC 4180 quoting, formulas
// neutralised.
std::string RenderCsv(const AuditReport& report);
// PDF (A4) drawn in-process with cairo + pango (font "DejaVu Sans"). Calls are serialised by a
// process-wide mutex because fontconfig/pango are not thread-safe in older versions.
Result<std::string> RenderPdf(const AuditReport& report);

}  // namespace dozor::server::report
