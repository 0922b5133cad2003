// Passwords for dozorctl: from a terminal with echo off, or one line of standard input.
#include "ctl/password_input.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <future>
#include <sstream>
#include <string>
#include <thread>

namespace dozor::ctl {
namespace {

TEST_CASE("dozorctl --password-stdin: one line, without its line ending") {
  std::istringstream in("first pass phrase\r\nsecond one\n\n");
  CHECK(*ReadPasswordLine(in) == "first pass phrase");
  PasswordReader reader(/*from_stdin=*/true, in);
  CHECK(*reader.New("unused", "unused") == "second one");  // no confirmation from a pipe
  auto empty = ReadPasswordLine(in);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().message == "empty password");
  auto none = ReadPasswordLine(in);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().message.find("no password") != std::string::npos);

  std::istringstream huge(std::string(kMaxPasswordInputBytes + 1, 'x'));
  CHECK_FALSE(ReadPasswordLine(huge).ok());
}

TEST_CASE("dozorctl password prompt: without a terminal it says to use --password-stdin") {
  auto read = ReadPasswordFromTerminal("Password: ", "/nonexistent/tty");
  REQUIRE_FALSE(read.ok());
  CHECK(read.error().message.find("--password-stdin") != std::string::npos);
}

TEST_CASE(
    "dozorctl password prompt: the terminal does not echo the password, and echoes again "
    "after") {
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  REQUIRE(master >= 0);
  REQUIRE(::grantpt(master) == 0);
  REQUIRE(::unlockpt(master) == 0);
  const std::string terminal = ::ptsname(master);
  const int watch = ::open(terminal.c_str(), O_RDWR | O_NOCTTY);
  REQUIRE(watch >= 0);
  termios settings{};
  REQUIRE(::tcgetattr(watch, &settings) == 0);
  REQUIRE((settings.c_lflag & ECHO) != 0);

  auto typed = std::async(std::launch::async,
                          [&] { return ReadPasswordFromTerminal("Password: ", terminal); });
  // Type only once the prompt has turned the echo off, as a person would after seeing it.
  bool echo_off = false;
  for (int i = 0; i < 500 && !echo_off; ++i) {
    REQUIRE(::tcgetattr(watch, &settings) == 0);
    echo_off = (settings.c_lflag & ECHO) == 0;
    if (!echo_off) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  REQUIRE(echo_off);
  const std::string keys = "s3cret-pass phrase\n";
  REQUIRE(::write(master, keys.data(), keys.size()) == static_cast<ssize_t>(keys.size()));
  auto password = typed.get();
  REQUIRE(password.ok());
  CHECK(*password == "s3cret-pass phrase");
  REQUIRE(::tcgetattr(watch, &settings) == 0);
  CHECK((settings.c_lflag & ECHO) != 0);

  // What the terminal showed: the prompt and the newline, never the password.
  ::fcntl(master, F_SETFL, ::fcntl(master, F_GETFL) | O_NONBLOCK);
  std::string shown;
  char buffer[256];
  for (ssize_t n; (n = ::read(master, buffer, sizeof(buffer))) > 0;) {
    shown.append(buffer, static_cast<size_t>(n));
  }
  CHECK(shown.find("Password: ") != std::string::npos);
  CHECK(shown.find("s3cret") == std::string::npos);
  ::close(watch);
  ::close(master);
}

}  // namespace
}  // namespace dozor::ctl
