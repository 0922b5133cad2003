#include "collectors/linux/command_util.hpp"

#include "collectors/linux/fs_util.hpp"
#include "dozor/common/files.hpp"

namespace dozor::agent {

Result<CommandOutput> RunCommandOrFixture(const CollectContext& ctx,
                                          const std::vector<std::string>& argv,
                                          const std::string& fixture_name, size_t max_bytes) {
  if (ctx.run_command) {
    auto output = ctx.run_command(argv);
    if (output.ok() && output->stdout_text.size() > max_bytes) {
      output->stdout_text.resize(max_bytes);
    }
    return output;
  }
  if (ctx.IsRealRoot()) return MakeError(ErrorCode::kUnavailable, "no command runner");
  const std::string base = "/dozor-fixture/commands/" + fixture_name;
  auto text = ReadFile(ctx.Path(base + ".txt"), max_bytes);
  const std::string exit_text = ReadTrimmedFile(ctx.Path(base + ".exit"));
  if (!text.ok() && exit_text.empty()) return MakeError(ErrorCode::kNotFound, argv.front());
  int exit_code = 0;
  if (!exit_text.empty() && !ParseNumber(exit_text, &exit_code)) exit_code = 1;
  return CommandOutput{exit_code, text.ok() ? std::move(text).value() : std::string()};
}

}  // namespace dozor::agent
