// Pure parsers for the package repositories a machine is configured to use: APT's one-line
// sources.list format, APT's deb822 .sources format and YUM/DNF .repo files, and the judgement
// whether a repository is the distribution's own archive. No I/O here.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "dozor/v1/agent.pb.h"

namespace dozor::agent {

// More than this many repositories from one file is not a configuration a person wrote.
inline constexpr size_t kMaxRepositoriesPerFile = 500;

// /etc/apt/sources.list and sources.list.d/*.list: "deb [options] uri suite [component...]" and
// "deb-src ...", one per line; comments and other lines are skipped. `file` is recorded as given.
// A suite ending in '/' (a flat repository) has no components. "cdrom:[label with spaces]/" URIs
// are read whole.
[[nodiscard]] std::vector<dozor::v1::PackageRepository> ParseAptSourcesList(std::string_view text,
                                                                            std::string_view file);

// sources.list.d/*.sources (deb822): stanzas of Types, URIs, Suites, Components and Enabled
// (yes unless "no"); one repository per URI, kind holding the types ("deb deb-src"). Continuation
// lines (an inline Signed-By key) and comments are skipped.
[[nodiscard]] std::vector<dozor::v1::PackageRepository> ParseAptDeb822Sources(
    std::string_view text, std::string_view file);

// /etc/yum.repos.d/*.repo: INI sections [repo-id] with name, baseurl (the first of several),
// mirrorlist or metalink, and enabled (1 unless 0/no/false/off). Only enabled repositories are
// returned: a .repo file lists its disabled debug and source repositories too, which nothing
// installs from.
[[nodiscard]] std::vector<dozor::v1::PackageRepository> ParseYumRepo(std::string_view text,
                                                                     std::string_view file);

// True for a distribution's own archive: a host under debian.org, ubuntu.com, centos.org,
// rockylinux.org, almalinux.org, fedoraproject.org, redhat.com, oracle.com, astralinux.ru,
// red-soft.ru, altlinux.org/basealt.ru, opensuse.org; a mirror that serves the distribution under
// its own name as the first path segment (http://mirror.yandex.ru/debian); a cdrom: source.
// Everything else (a vendor's repository, a PPA, EPEL even from fedoraproject.org, a local file:
// repository) is third-party.
[[nodiscard]] bool IsOfficialRepositoryUri(std::string_view uri);

}  // namespace dozor::agent
