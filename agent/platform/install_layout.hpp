// Where an installed agent keeps its files, per OS: the packaged layout (deploy/packaging on
// Linux, the MSI on Windows) and the defaults of `--config` and `--state-dir` agree with it.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace dozor::agent::platform {

// The configuration file read when no --config is given (and it exists):
// /etc/dozor/agent.toml on Linux, %ProgramData%\Dozor\agent.toml on Windows.
[[nodiscard]] std::filesystem::path DefaultConfigFile();

// Identity, spool and status: /var/lib/dozor-agent on Linux, %ProgramData%\Dozor\state on
// Windows (readable by SYSTEM and Administrators only, see EnsureDirectory in dozor/common/files).
[[nodiscard]] std::filesystem::path DefaultStateDir();

// Where the agent logs when it runs as a service whose manager keeps no output: empty on Linux
// (systemd's journal has it), %ProgramData%\Dozor\logs on Windows.
[[nodiscard]] std::filesystem::path ServiceLogDir();

// The process's arguments after the program name, in UTF-8. On Linux they are argv as given; on
// Windows argv is in the ANSI code page (a Cyrillic path or name would arrive as '?'), so they are
// read again from the UTF-16 command line.
[[nodiscard]] std::vector<std::string> CommandLineArguments(int argc, char** argv);

}  // namespace dozor::agent::platform
