#include "platform/install_layout.hpp"

namespace dozor::agent::platform {

std::filesystem::path DefaultConfigFile() { return "/etc/dozor/agent.toml"; }

std::filesystem::path DefaultStateDir() { return "/var/lib/dozor-agent"; }

std::filesystem::path ServiceLogDir() { return {}; }

std::vector<std::string> CommandLineArguments(int argc, char** argv) {
  std::vector<std::string> arguments;
  for (int i = 1; i < argc; ++i) arguments.emplace_back(argv[i]);
  return arguments;
}

}  // namespace dozor::agent::platform
