// `dozor-server rules check` and `dozor-server rules doc`: what an engineer runs after editing a
// rule directory, before restarting the server.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

namespace dozor::server {

// Loads the built-in pack plus `dirs`, compiles every condition against a scratch database of the
// current schema and prints one "file:line:col: message" per problem to `err`, then a summary to
// `out`. Returns the process exit code: 0 all good, 1 at least one broken rule, 2 could not check.
int RunRulesCheck(const std::vector<std::string>& dirs, std::ostream& out, std::ostream& err);

// Writes the Markdown rule reference of the pack (built-in plus `dirs`) to `output` ("-" or empty
// = `out`). Broken rules are left out and reported on `err`. Exit code as above.
int RunRulesDoc(const std::vector<std::string>& dirs, const std::filesystem::path& output,
                std::ostream& out, std::ostream& err);

}  // namespace dozor::server
