// `search TEXT`: hosts by host name, agent id, IP address, MAC, serial number or package
// (name or name=version), within what the caller may see; each hit says what matched.
#include <memory>
#include <string>

#include "ctl/cli.hpp"
#include "ctl/commands/commands.hpp"
#include "ctl/format.hpp"

namespace dozor::ctl {
namespace {

struct SearchOptions {
  std::string text;
  std::string org;
  int limit = 50;
};

}  // namespace

void AddSearchCommand(CLI::App& app, Action& action) {
  auto options = std::make_shared<SearchOptions>();
  auto* search = app.add_subcommand(
      "search", "find hosts by hostname, IP, MAC, serial number or package (name or name=version)");
  search->add_option("TEXT", options->text, "what to look for")->required();
  search->add_option("--org", options->org, "only this organisation");
  search->add_option("--limit", options->limit, "at most this many hosts")
      ->check(CLI::Range(1, 200))
      ->capture_default_str();
  search->callback([options, &action] {
    action = [options](Context& context) {
      const std::string query = QueryString(
          {{"q", options->text}, {"org", options->org}, {"limit", std::to_string(options->limit)}});
      return Emit(context, context.client.Get("/api/v1/search/hosts" + query), RenderHostSearch);
    };
  });
}

}  // namespace dozor::ctl
