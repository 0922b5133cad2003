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

// `args` without the program name; `input` is what the command reads on standard input.
inline CliRun RunWithInput(std::vector<std::string> args, const std::string& input) {
  args.insert(args.begin(), "dozorctl");
  std::vector<const char*> argv;
  for (const auto& arg : args) {
    argv.push_back(arg.c_str());
  }
  std::istringstream in(input);
  std::ostringstream out;
  std::ostringstream err;
  CliRun run;
  run.code = RunCli(static_cast<int>(argv.size()), argv.data(), in, out, err);
  run.out = out.str();
  run.err = err.str();
  return run;
}

inline CliRun Run(std::vector<std::string> args) { return RunWithInput(std::move(args), ""); }

}  // namespace dozor::ctl
