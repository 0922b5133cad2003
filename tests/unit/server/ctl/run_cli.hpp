// Runs dozorctl in-process (RunCli) with captured output, for the ctl tests.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "ctl/cli.hpp"

namespace dozor::ctl {

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

// `args` without the program name.
inline CliRun Run(std::vector<std::string> args) {
  args.insert(args.begin(), "dozorctl");
  std::vector<const char*> argv;
  for (const auto& arg : args) {
    argv.push_back(arg.c_str());
  }
  std::ostringstream out;
  std::ostringstream err;
  CliRun run;
  run.code = RunCli(static_cast<int>(argv.size()), argv.data(), out, err);
  run.out = out.str();
  run.err = err.str();
  return run;
}

}  // namespace dozor::ctl
