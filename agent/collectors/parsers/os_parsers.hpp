// Pure parsers for operating-system inventory text: os-release, passwd/group,
// and the output of package managers' "what would be upgraded" commands. No I/O
// here; linux/os_linux.cpp feeds them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "dozor/v1/agent.pb.h"

namespace dozor::agent {

// os-release(5): KEY=value lines; values may be "double quoted" (backslash
// escapes \" \\ \$ \`), 'single quoted' (literal) or bare; comments and
// malformed lines are skipped.
std::map<std::string, std::string> ParseOsRelease(std::string_view text);

struct PasswdEntry {
  std::string name;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string home;
  std::string shell;
};

struct GroupEntry {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
};

// Lines that do not have the expected field count or numeric ids are skipped
// (as are NIS "+" entries and comments).
std::vector<PasswdEntry> ParsePasswd(std::string_view text);
std::vector<GroupEntry> ParseGroup(std::string_view text);

// False for the shells that refuse an interactive login (nologin, false, sync,
// halt, shutdown). An empty shell field means /bin/sh to login(1), so it counts
// as a login shell.
bool IsLoginShell(std::string_view shell);

// The groups whose members may run anything as root through sudo: Debian's sudo, Ubuntu's
// older admin, wheel of RHEL and SUSE.
bool GroupGrantsAdmin(std::string_view name);

// Every account, in passwd order. kind "user" for an account with a login
// shell, "system" for one without (nologin, false: a service's or the
// system's, which rules about people leave out). administrator = uid 0, or a
// member of sudo, wheel or admin (listed in the group or with it as primary
// group). disabled = no login shell: like a disabled Windows account, nobody
// can log in as it by any means (ssh, su and login all run the shell), so a
// person's account whose shell was set to nologin counts as disabled, and so
// does every system account (true of them, and what the admin rules want: a
// service account in sudo holds no one's key). The collector adds what
// /etc/shadow says (ShadowLockedOutAccounts).
std::vector<dozor::v1::UserAccount> BuildUserAccounts(const std::vector<PasswdEntry>& passwd,
                                                      const std::vector<GroupEntry>& groups);

struct PendingUpdates {
  int32_t total = -1;     // -1 unknown
  int32_t security = -1;  // -1 unknown
};

// `apt-get -s -o Debug::NoLocking=1 dist-upgrade` output: every "Inst " line is
// a pending package; it is a security update when its origin part (in
// parentheses) mentions "-security" or "Security".
PendingUpdates ParseAptSimulation(std::string_view text);

// `dnf -q check-update` (or yum) output: package lines "name.arch  version
// repo" up to an "Obsoleting Packages" section. Returns the number of packages.
int32_t CountDnfCheckUpdate(std::string_view text);

// `dnf -q updateinfo list --security` output: "ADVISORY  Severity/Sec.  nevra"
// lines. Returns the number of distinct package names (several advisories for
// one package count once).
int32_t CountDnfSecurityUpdates(std::string_view text);

struct ClockSync {
  int32_t synchronized = -1;  // 1, 0, -1 unknown
  int64_t max_error_us = -1;
};

// Fixture stand-in for adjtimex(2): one line "status=N maxerror=N" (status is
// the decimal STA_* bitmask, maxerror in microseconds). Unsynchronised when
// STA_UNSYNC (0x40) is set. Malformed text gives {-1, -1}.
ClockSync ParseAdjtimexFixture(std::string_view text);

}  // namespace dozor::agent
