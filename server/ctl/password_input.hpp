// Reading passwords for dozorctl. A password never comes from the command line (other users see
// it in `ps`, and it stays in the shell history): it is typed at the terminal with echo off, or
// read from standard input (--password-stdin) for scripts.
#pragma once

#include <istream>
#include <ostream>
#include <string>
#include <string_view>

#include "dozor/common/result.hpp"

namespace dozor::ctl {

// Longest password accepted; the server's limit is lower (256 bytes).
inline constexpr size_t kMaxPasswordInputBytes = 4096;

// Shows `prompt` on the controlling terminal (`tty_path`), reads one line with echo off and
// restores the terminal, also when interrupted (the signal is then re-raised). kFailedPrecondition
// when there is no terminal (say: use --password-stdin); kInvalidArgument for an empty line.
Result<std::string> ReadPasswordFromTerminal(std::string_view prompt,
                                             const std::string& tty_path = "/dev/tty");

// Shows `prompt` on the terminal and reads one line with echo on (a login name).
// kFailedPrecondition when there is no terminal.
Result<std::string> ReadLineFromTerminal(std::string_view prompt,
                                         const std::string& tty_path = "/dev/tty");

// One line of `in` without its line ending; kInvalidArgument at end of input or for an empty line.
Result<std::string> ReadPasswordLine(std::istream& in);

// Where the passwords of one dozorctl command come from.
class PasswordReader {
 public:
  // `from_stdin`: --password-stdin (every password is the next line of `in`); else the terminal.
  PasswordReader(bool from_stdin, std::istream& in) : from_stdin_(from_stdin), in_(in) {}

  // A password already set: one line of stdin, or one prompt.
  Result<std::string> Existing(std::string_view prompt);
  // A new password: one line of stdin, or a prompt and a confirmation that must match.
  Result<std::string> New(std::string_view prompt, std::string_view confirm_prompt);

 private:
  bool from_stdin_;
  std::istream& in_;
};

// Overwrites a password's bytes before the string is freed (best effort: copies made by JSON
// encoding and libcurl are not reached).
void Forget(std::string& secret);

}  // namespace dozor::ctl
