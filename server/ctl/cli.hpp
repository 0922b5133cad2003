// dozorctl's command line: parsing (CLI11) and dispatch to the API client and renderers.
#pragma once

#include <istream>
#include <ostream>

namespace dozor::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitApiError = 1;     // the server answered with an error
inline constexpr int kExitUsage = 2;        // bad command line
inline constexpr int kExitUnreachable = 3;  // cannot connect (or TLS verification failed)

// Runs one dozorctl invocation. Never throws; output goes to `out`, diagnostics to `err`;
// --password-stdin and `notes set -` read `in`.
int RunCli(int argc, const char* const* argv, std::istream& in, std::ostream& out,
           std::ostream& err);
// The same with std::cin as input.
int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace dozor::ctl
