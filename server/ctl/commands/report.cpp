// `report`: downloads an organisation's audit report (HTML, PDF, JSON or CSV).
#include <unistd.h>

#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "ctl/cli.hpp"
#include "ctl/commands/commands.hpp"
#include "dozor/common/files.hpp"
#include "dozor/common/text.hpp"

namespace dozor::ctl {
namespace {

struct ReportRequest {
  std::string org;
  std::string format = "html";
  std::optional<std::string> lang;    // default: --lang when given, else Russian
  std::optional<std::string> output;  // "-" = stdout
};

std::string HumanSize(size_t bytes) {
  return bytes < 1024 ? std::to_string(bytes) + " bytes" : HumanBytes(bytes);
}

// Downloads the report and writes it to the file (atomically) or to stdout. PDF is binary and
// would garble a terminal, so it goes to stdout only when stdout is redirected or with -o -.
int RunReport(Context& context, const ReportRequest& request) {
  const bool to_stdout = !request.output.has_value() || *request.output == "-";
  if (!request.output.has_value() && request.format == "pdf" && &context.out == &std::cout &&
      isatty(STDOUT_FILENO) == 1) {
    context.err << "dozorctl: not writing a PDF to the terminal; use -o FILE (or -o - to force)\n";
    return kExitUsage;
  }
  // The report is a document for the client, Russian unless asked otherwise: the reader's own
  // output language is not the client's.
  const std::string lang =
      request.lang.value_or(context.lang_given ? std::string(LangCode(context.lang)) : "ru");
  auto reply = context.client.Download(OrgPath(request.org, "/report") +
                                       QueryString({{"format", request.format}, {"lang", lang}}));
  if (!reply.ok()) {
    return ReportError(context, reply.error());
  }
  if (to_stdout) {
    context.out.write(reply->body.data(), static_cast<std::streamsize>(reply->body.size()));
    context.out.flush();
    return kExitOk;
  }
  if (auto written = WriteFileAtomic(*request.output, reply->body, 0644); !written.ok()) {
    context.err << "dozorctl: writing " << *request.output << ": " << written.error().message
                << "\n";
    return kExitApiError;
  }
  context.out << "Wrote " << *request.output << " (" << HumanSize(reply->body.size()) << ", "
              << (reply->content_type.empty() ? request.format : reply->content_type) << ")\n";
  return kExitOk;
}

}  // namespace

void AddReportCommand(CLI::App& app, Action& action) {
  auto request = std::make_shared<ReportRequest>();
  auto* report = app.add_subcommand("report", "download an organisation's audit report");
  report->add_option("--org", request->org, "organisation id or name")->required();
  report->add_option("--format", request->format, "html | pdf | json | csv")
      ->check(CLI::IsMember({"html", "pdf", "json", "csv"}))
      ->capture_default_str();
  report->add_option("--lang", request->lang, "ru | en (default ru, or the global --lang)")
      ->check(CLI::IsMember({"ru", "en"}));
  report->add_option("-o,--output", request->output, "file to write; - for stdout");
  report->callback([request, &action] {
    action = [request](Context& context) { return RunReport(context, *request); };
  });
}

}  // namespace dozor::ctl
