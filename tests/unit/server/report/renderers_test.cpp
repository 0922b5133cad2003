#include "report/renderers.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "report/synthetic_report.hpp"
#include "report/text_util.hpp"
#include "test_util.hpp"

namespace dozor::server::report {
namespace {

AuditReport HostileReport(std::string_view lang) {
  AuditReport report = MakeSyntheticReport(3, 2, lang);
  auto& f = report.findings.front();
  f.evidence = {"<script>alert('x')</script>", "=HYPERLINK(\"http://evil\")"};
  f.title = "Title with \"quotes\", commas & <b>tags</b>";
  report.estate.hosts.front().hostname = "<i>srv</i>";
  return report;
}

std::string RunCommand(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    out.append(buffer, n);
  }
  ::pclose(pipe);
  return out;
}

std::string Quoted(const std::filesystem::path& path) { return "'" + path.string() + "'"; }

// Writes the PDF, returns pdftotext's text and the page count from pdfinfo.
std::pair<std::string, int> PdfText(const std::string& pdf, const testing::TempDir& dir) {
  auto path = dir / "report.pdf";
  {
    std::ofstream file(path, std::ios::binary);
    file << pdf;
  }
  std::string text = RunCommand("pdftotext -layout " + Quoted(path) + " - 2>/dev/null");
  std::string info = RunCommand("pdfinfo " + Quoted(path) + " 2>/dev/null");
  int pages = -1;
  auto at = info.find("Pages:");
  if (at != std::string::npos) {
    pages = std::atoi(info.c_str() + at + 6);
  }
  return {text, pages};
}

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("HTML escapes hostile evidence and hostnames and has every section") {
  std::string html = RenderHtml(HostileReport("en"));
  CHECK_FALSE(Contains(html, "<script>"));
  CHECK(Contains(html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
  CHECK_FALSE(Contains(html, "<i>srv</i>"));
  CHECK(Contains(html, "&lt;i&gt;srv&lt;/i&gt;"));
  CHECK(Contains(html, "&lt;b&gt;tags&lt;/b&gt;"));
  CHECK_FALSE(Contains(html, "<link"));
  CHECK_FALSE(Contains(html, "src=\"http"));
  for (const char* id : {"must-fix", "counts", "by-severity", "by-category", "by-host", "waived",
                         "estate", "progress"}) {
    CHECK(Contains(html, std::string("id=\"") + id + "\""));
  }
  CHECK(Contains(html, "Must fix before the contract"));
  CHECK(Contains(html, "Progress since the first audit"));
  CHECK(Contains(html, "ООО «Ромашка»"));
  CHECK(Contains(html, "<style>"));
}

TEST_CASE("HTML in Russian uses Russian headings") {
  std::string html = RenderHtml(MakeSyntheticReport(2, 1, "ru"));
  CHECK(Contains(html, "Устранить до заключения договора"));
  CHECK(Contains(html, "Сводка по инфраструктуре"));
  CHECK(Contains(html, "lang=\"ru\""));
}

TEST_CASE("JSON carries the documented fields and round-trips") {
  AuditReport report = HostileReport("ru");
  auto doc = nlohmann::json::parse(RenderJson(report));
  CHECK(doc["format"] == "dozor.audit-report/v1");
  CHECK(doc["lang"] == "ru");
  CHECK(doc["organization"]["name"] == "ООО «Ромашка»");
  CHECK(doc["phase"]["key"] == "remediation");
  CHECK(doc["readiness_score"] == report.readiness_score);
  CHECK(doc["ready_to_sign"] == report.ready_to_sign);
  CHECK(doc["verdict"] == report.verdict);
  CHECK(doc["findings"].size() == report.findings.size());
  CHECK(doc["waived"].size() == report.waived.size());
  CHECK(doc["must_fix"].size() == report.must_fix.size());
  CHECK(doc["findings"][0]["evidence"][0] == "<script>alert('x')</script>");
  CHECK(doc["waived"][0]["waived_by"] == "director@romashka.ru");
  CHECK(doc["estate"]["host_count"] == 3);
  CHECK(doc["estate"]["hosts"].size() == 3);
  CHECK(doc["progress"]["since_first_audit"]["baseline_kind"] == "first-audit");
  CHECK(doc["progress"]["since_signing"].is_null());
  CHECK(doc["groups"]["by_host"].is_array());
  CHECK(doc["counts"]["by_severity"].size() == 5);
}

TEST_CASE("JSON never throws on invalid UTF-8 in the model") {
  AuditReport report = MakeSyntheticReport(1, 1, "en");
  report.organization = "bad \xff\xfe name";
  auto doc = nlohmann::json::parse(RenderJson(report));
  CHECK(doc["organization"]["name"] == "bad \xEF\xBF\xBD\xEF\xBF\xBD name");
}

TEST_CASE("CSV has a BOM, one row per finding incl. waived, RFC 4180 quoting") {
  AuditReport report = HostileReport("ru");
  std::string csv = RenderCsv(report);
  REQUIRE(csv.size() > 3);
  CHECK(csv.substr(0, 3) == "\xEF\xBB\xBF");
  size_t rows = 0;
  // Count record separators outside quotes.
  bool quoted = false;
  for (size_t i = 3; i < csv.size(); ++i) {
    if (csv[i] == '"') {
      quoted = !quoted;
    } else if (!quoted && csv[i] == '\n') {
      ++rows;
    }
  }
  CHECK(rows == 1 + report.findings.size() + report.waived.size());
  CHECK(Contains(csv, "\"Title with \"\"quotes\"\", commas & <b>tags</b>\""));
  CHECK(Contains(csv, "ООО «Ромашка»"));
  CHECK(Contains(csv, "бух-пк-0"));
  CHECK(csv.substr(3, 13) == "organization,");
}

TEST_CASE("CSV neutralises formulas") {
  CHECK(CsvField("=1+2") == "'=1+2");
  CHECK(CsvField("+7 495") == "'+7 495");
  CHECK(CsvField("-rf") == "'-rf");
  CHECK(CsvField("@SUM(A1)") == "'@SUM(A1)");
  CHECK(CsvField("=HYPERLINK(\"x\",\"y\")") == "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"");
  CHECK(CsvField("plain") == "plain");
  CHECK(CsvField("a\nb") == "\"a\nb\"");
  CHECK(CsvField("Сервер, бухгалтерия") == "\"Сервер, бухгалтерия\"");
  AuditReport report = HostileReport("en");
  std::string csv = RenderCsv(report);
  // Evidence lines are joined with a newline; the cell starts with the hostile <script> line,
  // and the formula line sits inside the same quoted cell, so it cannot start a cell.
  CHECK(Contains(csv, "\"<script>alert('x')</script>\n=HYPERLINK(\"\"http://evil\"\")\""));
}

TEST_CASE("PDF in Russian renders Cyrillic names and the expected sections") {
  AuditReport report = MakeSyntheticReport(6, 3, "ru");
  auto pdf = RenderPdf(report);
  REQUIRE(pdf.ok());
  REQUIRE(pdf->size() > 1000);
  CHECK(pdf->substr(0, 5) == "%PDF-");
  testing::TempDir dir;
  auto [text, pages] = PdfText(*pdf, dir);
  CHECK(Contains(text, "ООО «Ромашка»"));
  CHECK(Contains(text, "бух-пк-0"));
  CHECK(Contains(text, "Отчёт о предконтрактном аудите"));
  CHECK(Contains(text, "Устранить до заключения договора"));
  CHECK(Contains(text, "Проблемы по важности"));
  CHECK(Contains(text, "Проблемы по категориям"));
  CHECK(Contains(text, "Проблемы по узлам"));
  CHECK(Contains(text, "Сводка по инфраструктуре"));
  CHECK(Contains(text, "Изменения с первого аудита"));
  CHECK(Contains(text, "сначала устранить"));
  CHECK(Contains(text, "устранение проблем"));  // phase
  // The quote of the must-fix list: on the title page and under the list.
  REQUIRE(report.must_fix_effort_hours > 0);
  const std::string quote = "Оценка трудоёмкости устранения: " + report.must_fix_effort;
  CHECK(text.find(quote) != text.rfind(quote));
  CHECK(pages >= 3);
  CHECK(Contains(text, "страница 1 из " + std::to_string(pages)));
  CHECK(Contains(text, "страница " + std::to_string(pages) + " из " + std::to_string(pages)));
}

TEST_CASE("PDF in English has English headings and escapes markup in evidence") {
  AuditReport report = HostileReport("en");
  auto pdf = RenderPdf(report);
  REQUIRE(pdf.ok());
  testing::TempDir dir;
  auto [text, pages] = PdfText(*pdf, dir);
  CHECK(Contains(text, "Pre-contract audit report"));
  CHECK(Contains(text, "Must fix before the contract"));
  CHECK(Contains(text, "Findings by severity"));
  CHECK(Contains(text, "Estate summary"));
  CHECK(Contains(text, "Progress since the first audit"));
  CHECK(Contains(text, "<script>alert('x')</script>"));
  CHECK(Contains(text, "<i>srv</i>"));
  CHECK(Contains(text, "ООО «Ромашка»"));
  CHECK(pages >= 2);
  CHECK(Contains(text, "page 1 of " + std::to_string(pages)));
}

TEST_CASE("PDF of an empty organisation says nothing must be fixed") {
  AuditReport report;
  report.lang = "en";
  report.text = ReportTextFor("en");
  report.organization = "Empty Ltd";
  report.phase = "prospect";
  report.phase_label = PhaseLabel("prospect", "en");
  report.progress.note = "No first audit recorded yet.";
  FinalizeReport(report);
  auto pdf = RenderPdf(report);
  REQUIRE(pdf.ok());
  testing::TempDir dir;
  auto [text, pages] = PdfText(*pdf, dir);
  CHECK(Contains(text, "Nothing must be fixed before the contract."));
  CHECK(Contains(text, "ready to sign"));
  CHECK(Contains(text, "No first audit recorded yet."));
  CHECK(pages == 2);
}

TEST_CASE("PDF of a 50-host report renders quickly and scales to many pages") {
  AuditReport report = MakeSyntheticReport(50, 6, "ru");
  auto start = std::chrono::steady_clock::now();
  auto pdf = RenderPdf(report);
  auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  REQUIRE(pdf.ok());
  MESSAGE("50 hosts x 6 findings: " << elapsed << " s, " << pdf->size() << " bytes");
  CHECK(elapsed < 3.0);
  testing::TempDir dir;
  auto [text, pages] = PdfText(*pdf, dir);
  CHECK(pages > 10);
}

}  // namespace dozor::server::report
