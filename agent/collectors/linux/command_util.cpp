#include "collectors/linux/command_util.hpp"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <system_error>

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

bool ServiceEnabledAtBoot(const CollectContext& ctx, const std::string& unit) {
  static constexpr const char* kWantsDirs[] = {"/etc/systemd/system/multi-user.target.wants",
                                               "/etc/systemd/system/default.target.wants",
                                               "/etc/systemd/system/graphical.target.wants"};
  return std::any_of(std::begin(kWantsDirs), std::end(kWantsDirs), [&](const char* dir) {
    std::error_code ec;
    auto status = std::filesystem::symlink_status(ctx.Path(dir) / unit, ec);
    return !ec && status.type() != std::filesystem::file_type::not_found;
  });
}

}  // namespace dozor::agent
