// The session file of `dozorctl login`: where it lives, its mode, and files that are not used.
#include "ctl/session_file.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <map>
#include <string>

#include "dozor/common/files.hpp"
#include "test_util.hpp"

namespace dozor::ctl {
namespace {

mode_t ModeOf(const std::filesystem::path& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_mode & 07777;
}

TEST_CASE("dozorctl session file: XDG_CONFIG_HOME when absolute, else ~/.config") {
  std::map<std::string, std::string> env;
  auto getenv = [&env](const char* name) -> const char* {
    const auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  CHECK(DefaultSessionPath(getenv).empty());
  env["HOME"] = "/home/ivan";
  CHECK(DefaultSessionPath(getenv) == "/home/ivan/.config/dozor/session");
  env["XDG_CONFIG_HOME"] = "relative/config";  // invalid by the XDG spec: ignored
  CHECK(DefaultSessionPath(getenv) == "/home/ivan/.config/dozor/session");
  env["XDG_CONFIG_HOME"] = "/srv/config";
  CHECK(DefaultSessionPath(getenv) == "/srv/config/dozor/session");
}

TEST_CASE("dozorctl session file: saved 0600 in a 0700 directory and read back") {
  dozor::testing::TempDir dir;
  const auto path = dir / "config" / "dozor" / "session";
  CHECK_FALSE(LoadSession(path)->has_value());

  StoredSession session;
  session.server_url = "https://dozor.example:8480/";
  session.token = "dzs_abc";
  session.login = "ivan";
  session.role = "engineer";
  session.language = "ru";
  session.expires_at_ms = 1'700'000'000'000;
  REQUIRE(SaveSession(path, session).ok());
  CHECK(ModeOf(path) == 0600);
  CHECK(ModeOf(path.parent_path()) == 0700);
  auto loaded = LoadSession(path);
  REQUIRE(loaded.ok());
  REQUIRE(loaded->has_value());
  CHECK((*loaded)->server_url == "https://dozor.example:8480");
  CHECK((*loaded)->token == "dzs_abc");
  CHECK((*loaded)->login == "ivan");
  CHECK((*loaded)->language == "ru");
  CHECK((*loaded)->expires_at_ms == 1'700'000'000'000);
  CHECK(SameServer((*loaded)->server_url, "https://dozor.example:8480//"));
  CHECK_FALSE(SameServer((*loaded)->server_url, "https://dozor.example:8481"));

  REQUIRE(RemoveSession(path).ok());
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK(RemoveSession(path).ok());  // already gone: fine
}

TEST_CASE("dozorctl session file: one others can read, or that is not a session, is not used") {
  dozor::testing::TempDir dir;
  const auto path = dir / "session";
  StoredSession session;
  session.server_url = "http://127.0.0.1:8480";
  session.token = "dzs_abc";
  REQUIRE(SaveSession(path, session).ok());
  REQUIRE(::chmod(path.c_str(), 0644) == 0);
  auto exposed = LoadSession(path);
  REQUIRE_FALSE(exposed.ok());
  CHECK(exposed.error().code == ErrorCode::kPermissionDenied);
  CHECK(exposed.error().message.find("other users") != std::string::npos);

  REQUIRE(WriteFileAtomic(path, "{\"token\": \"x\"}", 0600).ok());
  auto foreign = LoadSession(path);
  REQUIRE_FALSE(foreign.ok());
  CHECK(foreign.error().code == ErrorCode::kDataLoss);
  REQUIRE(WriteFileAtomic(path, "not json", 0600).ok());
  CHECK_FALSE(LoadSession(path).ok());
}

}  // namespace
}  // namespace dozor::ctl
