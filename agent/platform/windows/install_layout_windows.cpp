#include "platform/install_layout.hpp"

#include "platform/windows/wide_text.hpp"

// After the project headers: see wide_text.hpp.
#include <windows.h>
// The shell's headers need <windows.h> first.
#include <shellapi.h>
#include <shlobj.h>

namespace dozor::agent::platform {
namespace {

// %ProgramData%\Dozor: the MSI creates it (deploy/windows/dozor-agent.wxs). Asked of the shell
// rather than read from the environment, which a user can change for the processes they start.
std::filesystem::path ProgramDataDozor() {
  PWSTR folder = nullptr;
  std::filesystem::path base = L"C:\\ProgramData";
  if (SUCCEEDED(::SHGetKnownFolderPath(FOLDERID_ProgramData, KF_FLAG_DEFAULT, nullptr, &folder))) {
    base = folder;
  }
  ::CoTaskMemFree(folder);  // also after a failure, as the shell asks
  return base / L"Dozor";
}

}  // namespace

std::filesystem::path DefaultConfigFile() { return ProgramDataDozor() / L"agent.toml"; }

std::filesystem::path DefaultStateDir() { return ProgramDataDozor() / L"state"; }

std::filesystem::path ServiceLogDir() { return ProgramDataDozor() / L"logs"; }

std::vector<std::string> CommandLineArguments(int argc, char** argv) {
  int count = 0;
  LPWSTR* wide = ::CommandLineToArgvW(::GetCommandLineW(), &count);
  std::vector<std::string> arguments;
  if (wide == nullptr || count != argc) {
    // Cannot happen short of no memory; the ANSI arguments are still right for ASCII ones.
    if (wide != nullptr) ::LocalFree(wide);
    for (int i = 1; i < argc; ++i) arguments.emplace_back(argv[i]);
    return arguments;
  }
  for (int i = 1; i < count; ++i) arguments.push_back(Narrow(wide[i]));
  ::LocalFree(wide);
  return arguments;
}

}  // namespace dozor::agent::platform
