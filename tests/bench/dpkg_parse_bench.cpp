// Times ParseDpkgStatus over the real /var/lib/dpkg/status (already in memory,
// best of 20) next to `awk 'END{print NR}'` reading the same file (process
// start included, best of 20), and the cost of the one-stat-per-package
// install-time lookup the software collector does. Prints numbers only.
//
//   dpkg_parse_bench [status-file]
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "collectors/parsers/package_parsers.hpp"
#include "dozor/common/files.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double Millis(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

template <typename Fn>
double BestOf(int runs, Fn&& fn) {
  double best = 1e300;
  for (int i = 0; i < runs; ++i) {
    auto started = Clock::now();
    fn();
    best = std::min(best, Millis(Clock::now() - started));
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::string path = argc > 1 ? argv[1] : "/var/lib/dpkg/status";
  auto text = dozor::ReadFile(path, 512 * 1024 * 1024);
  if (!text.ok()) {
    std::fprintf(stderr, "cannot read %s: %s\n", path.c_str(), text.error().ToString().c_str());
    return 1;
  }
  size_t count = 0;
  std::vector<dozor::v1::Package> packages;
  double parse_ms = BestOf(20, [&] {
    auto parsed = dozor::agent::ParseDpkgStatus(*text);
    count = parsed.ok() ? parsed->size() : 0;
    if (parsed.ok()) packages = std::move(parsed).value();
  });

  std::string command = "awk 'END{print NR}' '" + path + "'";
  std::string awk_lines;
  double awk_ms = BestOf(20, [&] {
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return;
    char buffer[64] = {};
    awk_lines = fgets(buffer, sizeof(buffer), pipe) != nullptr ? buffer : "";
    pclose(pipe);
  });
  while (!awk_lines.empty() && awk_lines.back() == '\n') awk_lines.pop_back();

  // Same lookup as the collector: info/<name>.list, then
  // info/<name>:<arch>.list.
  std::string info = std::filesystem::path(path).parent_path().string() + "/info/";
  size_t found = 0;
  double stat_ms = BestOf(20, [&] {
    found = 0;
    std::string file;
    struct stat st {};
    for (const auto& package : packages) {
      file.assign(info).append(package.name()).append(".list");
      bool ok = ::stat(file.c_str(), &st) == 0;
      if (!ok) {
        file.assign(info)
            .append(package.name())
            .append(":")
            .append(package.architecture())
            .append(".list");
        ok = ::stat(file.c_str(), &st) == 0;
      }
      if (ok) ++found;
    }
  });

  std::printf("status file:            %s (%zu bytes, %s lines)\n", path.c_str(), text->size(),
              awk_lines.c_str());
  std::printf("installed packages:     %zu\n", count);
  std::printf("ParseDpkgStatus:        %.3f ms (best of 20, in memory)\n", parse_ms);
  std::printf("awk 'END{print NR}':    %.3f ms (best of 20, incl. process start)\n", awk_ms);
  std::printf("ratio parse/awk:        %.2f\n", awk_ms > 0 ? parse_ms / awk_ms : 0.0);
  std::printf(
      "install-time stats:     %.3f ms for %zu packages (%zu .list "
      "files found)\n",
      stat_ms, packages.size(), found);
  return 0;
}
