// dozorctl output for enrollment tokens (token ...) and API tokens (apitoken ...).
#include <string>

#include "ctl/format.hpp"
#include "ctl/format_internal.hpp"

namespace dozor::ctl {

std::string RenderTokenList(const nlohmann::json& reply, Lang lang) {
  Table table({"ID", "ORG", "LABEL", "HINT", "STATE", "USES", "IMPORTS", "CREATED", "EXPIRES"},
              lang);
  table.AlignRight(0);
  table.AlignRight(5);
  for (const auto& token : Array(reply, "tokens")) {
    table.AddRow({std::to_string(JsonI64(At(token, "id"))), JsonStr(token, "org"),
                  OrDash(JsonStr(token, "label")), JsonStr(token, "hint") + "…",
                  JsonStr(token, "state"),
                  std::to_string(JsonI64(At(token, "uses"))) +
                      (At(token, "max_uses").is_number()
                           ? "/" + std::to_string(JsonI64(At(token, "max_uses")))
                           : ""),
                  // Whether files collected with it (collect --token) can be imported.
                  // (An older server does not say: "-".)
                  !At(token, "signs_imports").is_boolean() ? std::string("-")
                  : At(token, "signs_imports").get<bool>() ? Label("yes", lang)
                                                           : Label("no key", lang),
                  TimeField(token, "created_at_ms"), ExpiryField(token)});
  }
  return table.Render();
}

std::string RenderTokenCreated(const nlohmann::json& token, Lang /*lang*/) {
  std::string out = "Enrollment token for " + JsonStr(token, "org") + " (id " +
                    std::to_string(JsonI64(At(token, "id"))) + ", expires " + ExpiryField(token) +
                    "):\n\n  " + JsonStr(token, "token") +
                    "\n\nIt is shown only once. On each host run:\n\n  " +
                    JsonStr(token, "enroll_command") + "\n";
  // Servers that serve the install script also send the one-line install for the client.
  if (const std::string install = JsonStr(token, "install_command"); !install.empty()) {
    out += "\nOr install, enroll and start the agent in one step (as root):\n\n  " + install + "\n";
  }
  if (const std::string windows = JsonStr(token, "install_command_windows"); !windows.empty()) {
    out += "\nOn Windows, in PowerShell run as Administrator:\n\n  " + windows + "\n";
  }
  return out;
}

std::string RenderApiTokenList(const nlohmann::json& reply, Lang lang) {
  Table table({"ID", "NAME", "ROLE", "HINT", "STATE", "CREATED", "EXPIRES"}, lang);
  table.AlignRight(0);
  for (const auto& token : Array(reply, "api_tokens")) {
    table.AddRow({std::to_string(JsonI64(At(token, "id"))), JsonStr(token, "name"),
                  JsonStr(token, "role"), JsonStr(token, "hint") + "…", JsonStr(token, "state"),
                  TimeField(token, "created_at_ms"), ExpiryField(token)});
  }
  return table.Render();
}

std::string RenderApiTokenCreated(const nlohmann::json& token, Lang /*lang*/) {
  return "API token '" + JsonStr(token, "name") + "' (id " +
         std::to_string(JsonI64(At(token, "id"))) + ", role " + JsonStr(token, "role") +
         "):\n\n  " + JsonStr(token, "token") + "\n\nIt is shown only once.\n";
}

}  // namespace dozor::ctl
