#include <unistd.h>

#include "dozor/common/files.hpp"
#include "platform/host.hpp"

namespace dozor::agent::platform {

std::string Hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) {
    return {};
  }
  return name;
}

Result<std::string> ReadMachineId(const std::filesystem::path& root) {
  const std::filesystem::path path = root / "etc/machine-id";
  DOZOR_ASSIGN_OR_RETURN(std::string text, ReadFile(path, 4096));
  std::string id = text.substr(0, text.find('\n'));
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!id.empty() && blank(id.back())) {
    id.pop_back();
  }
  while (!id.empty() && blank(id.front())) {
    id.erase(id.begin());
  }
  if (id.empty() || id.size() > kMaxMachineIdLength) {
    return MakeError(ErrorCode::kDataLoss, path.string() + ": not a machine id");
  }
  return id;
}

}  // namespace dozor::agent::platform
