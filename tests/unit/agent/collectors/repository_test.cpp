#include <doctest/doctest.h>

#include <string>

#include "collectors/parsers/repository_parsers.hpp"

namespace dozor::agent {

TEST_CASE("apt one-line sources keep uri, suite, components and tell official from third-party") {
  const std::string text =
      "# the distribution\n"
      "deb http://deb.debian.org/debian bookworm main contrib non-free-firmware\n"
      "deb-src http://deb.debian.org/debian bookworm main\n"
      "deb http://security.debian.org/debian-security bookworm-security main # trailing comment\n"
      "  deb [arch=amd64 signed-by=/usr/share/keyrings/pg.gpg] "
      "https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main\r\n"
      "deb http://mirror.yandex.ru/debian/ bookworm main\n"
      "deb https://example.org/flat ./\n"
      "deb cdrom:[Debian GNU/Linux 12.0.0 _Bookworm_ - Official amd64 DVD]/ bookworm main\n"
      "#deb http://disabled.example.com/ bookworm main\n"
      "rpm http://ftp.altlinux.org/pub p10/branch/x86_64 classic\n"
      "deb http://only-uri.example.com\n";
  auto repositories = ParseAptSourcesList(text, "/etc/apt/sources.list");
  REQUIRE(repositories.size() == 7);
  CHECK(repositories[0].manager() == "apt");
  CHECK(repositories[0].file() == "/etc/apt/sources.list");
  CHECK(repositories[0].kind() == "deb");
  CHECK(repositories[0].uri() == "http://deb.debian.org/debian");
  CHECK(repositories[0].suite() == "bookworm");
  CHECK(repositories[0].components() == "main contrib non-free-firmware");
  CHECK(repositories[0].official());
  CHECK(repositories[0].enabled());
  CHECK(repositories[1].kind() == "deb-src");
  CHECK(repositories[2].components() == "main");
  CHECK(repositories[2].official());
  CHECK(repositories[3].uri() == "https://apt.postgresql.org/pub/repos/apt");
  CHECK(repositories[3].suite() == "bookworm-pgdg");
  CHECK_FALSE(repositories[3].official());  // a vendor's: third-party, however normal
  CHECK(repositories[4].official());        // a mirror serving /debian
  CHECK(repositories[5].suite() == "./");
  CHECK(repositories[5].components().empty());
  CHECK_FALSE(repositories[5].official());
  CHECK(repositories[6].uri() ==
        "cdrom:[Debian GNU/Linux 12.0.0 _Bookworm_ - Official amd64 DVD]/");
  CHECK(repositories[6].suite() == "bookworm");
  CHECK(repositories[6].official());
}

TEST_CASE("apt deb822 sources give one repository per uri with its enabled state") {
  const std::string text =
      "Types: deb deb-src\n"
      "URIs: http://archive.ubuntu.com/ubuntu/ http://ru.archive.ubuntu.com/ubuntu/\n"
      "Suites: noble noble-updates\n"
      "Components: main restricted\n"
      "Signed-By: -----BEGIN PGP PUBLIC KEY BLOCK-----\n"
      " .\n"
      " URIs: http://inside-a-key.example.com/\n"
      "\n"
      "# a disabled vendor repository\n"
      "types: deb\n"
      "uris: https://download.docker.com/linux/ubuntu\n"
      "suites: noble\n"
      "components: stable\n"
      "Enabled: no\n"
      "\n\n"
      "Types: deb\nURIs: http://ppa.launchpadcontent.net/x/y/ubuntu\n"
      "Suites: noble\nComponents: main";
  auto repositories = ParseAptDeb822Sources(text, "/etc/apt/sources.list.d/ubuntu.sources");
  REQUIRE(repositories.size() == 4);
  CHECK(repositories[0].kind() == "deb deb-src");
  CHECK(repositories[0].uri() == "http://archive.ubuntu.com/ubuntu/");
  CHECK(repositories[0].suite() == "noble noble-updates");
  CHECK(repositories[0].components() == "main restricted");
  CHECK(repositories[0].official());
  CHECK(repositories[1].uri() == "http://ru.archive.ubuntu.com/ubuntu/");
  CHECK(repositories[1].official());
  CHECK(repositories[2].uri() == "https://download.docker.com/linux/ubuntu");
  CHECK_FALSE(repositories[2].enabled());
  CHECK_FALSE(repositories[2].official());
  CHECK(repositories[3].uri() == "http://ppa.launchpadcontent.net/x/y/ubuntu");
  CHECK(repositories[3].enabled());
  CHECK_FALSE(repositories[3].official());  // a PPA is someone's, not Ubuntu's
  CHECK(ParseAptDeb822Sources("Types: rpm\nURIs: http://a/\nSuites: x\n", "f").empty());
  CHECK(ParseAptDeb822Sources("\x01\xff:\n\n:::\n", "f").empty());
}

TEST_CASE("yum repo files give the enabled repositories with their first url") {
  const std::string text =
      "[baseos]\n"
      "name=Rocky Linux $releasever - BaseOS\n"
      "mirrorlist=https://mirrors.rockylinux.org/"
      "mirrorlist?arch=$basearch&repo=BaseOS-$releasever\n"
      "#baseurl=http://dl.rockylinux.org/$contentdir/$releasever/BaseOS/$basearch/os/\n"
      "gpgcheck=1\n"
      "enabled=1\n"
      "\n"
      "[baseos-debug]\n"
      "name=debug\n"
      "baseurl=http://dl.rockylinux.org/debug/\n"
      "enabled=0\n"
      "\n"
      "[pgdg15]\r\n"
      "name = PostgreSQL 15\r\n"
      "baseurl = "
      "https://download.postgresql.org/pub/repos/yum/15/redhat/rhel-$releasever-$basearch\r\n"
      "  https://second.example.com/\r\n"
      "[no-enabled-key]\n"
      "baseurl=http://mirror.centos.org/centos/7/os/x86_64/,http://other.example.com/\n"
      "[empty]\n"
      "name=nothing to install from\n";
  auto repositories = ParseYumRepo(text, "/etc/yum.repos.d/mixed.repo");
  REQUIRE(repositories.size() == 3);
  CHECK(repositories[0].manager() == "yum");
  CHECK(repositories[0].name() == "baseos");
  CHECK(repositories[0].uri() ==
        "https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=BaseOS-$releasever");
  CHECK(repositories[0].suite() == "Rocky Linux $releasever - BaseOS");
  CHECK(repositories[0].official());
  CHECK(repositories[1].name() == "pgdg15");
  CHECK(repositories[1].uri() ==
        "https://download.postgresql.org/pub/repos/yum/15/redhat/rhel-$releasever-$basearch");
  CHECK_FALSE(repositories[1].official());
  CHECK(repositories[2].name() == "no-enabled-key");  // enabled unless it says otherwise
  CHECK(repositories[2].uri() == "http://mirror.centos.org/centos/7/os/x86_64/");
  CHECK(repositories[2].official());
}

TEST_CASE("official repository hosts are matched on whole domain labels") {
  CHECK(IsOfficialRepositoryUri("https://deb.debian.org/debian"));
  CHECK(IsOfficialRepositoryUri("http://user:pw@Security.Ubuntu.com:80/ubuntu"));
  CHECK(IsOfficialRepositoryUri("tor+http://deb.debian.org/debian"));
  CHECK(
      IsOfficialRepositoryUri("https://dl.astralinux.ru/astra/stable/1.7_x86-64/repository-main/"));
  CHECK(IsOfficialRepositoryUri("http://repo.almalinux.org/almalinux/9/BaseOS/"));
  CHECK_FALSE(IsOfficialRepositoryUri("http://notdebian.org/debian-like"));
  CHECK_FALSE(IsOfficialRepositoryUri("http://debian.org.evil.example/x"));
  CHECK_FALSE(IsOfficialRepositoryUri("https://repo.zabbix.com/zabbix/6.4/debian"));
  CHECK_FALSE(IsOfficialRepositoryUri("file:/srv/local-repo"));
  CHECK_FALSE(IsOfficialRepositoryUri("https://mirrors.fedoraproject.org/metalink?repo=epel-9"));
  CHECK(IsOfficialRepositoryUri("https://mirrors.fedoraproject.org/metalink?repo=fedora-39"));
  CHECK_FALSE(IsOfficialRepositoryUri(""));
  CHECK_FALSE(IsOfficialRepositoryUri("://"));
}

}  // namespace dozor::agent
