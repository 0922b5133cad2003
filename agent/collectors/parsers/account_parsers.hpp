// Pure parsers for local accounts beyond passwd: the groups with their members, the login records
// (utmp-format wtmp, lastlog, and the rows of the SQLite stores lastlog2 and wtmpdb) that say when
// an account last logged in and from where, and /etc/shadow's account expiry. No I/O here;
// linux/os_linux.cpp feeds them /etc/group, the tails of /var/log/wtmp and wtmp.1, one lastlog
// record per account, the rows its SQL read and /etc/shadow.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/parsers/os_parsers.hpp"
#include "dozor/v1/agent.pb.h"

namespace dozor::agent {

// Every group of /etc/group, in file order, at most max_groups: its listed members, the accounts
// whose primary group it is (kept apart: `groups` and `id` show them, the member list does not),
// and whether it grants administrative rights (sudo, wheel, admin).
std::vector<dozor::v1::LocalGroup> BuildLocalGroups(const std::vector<PasswdEntry>& passwd,
                                                    const std::vector<GroupEntry>& groups,
                                                    size_t max_groups);

struct LastLogin {
  int64_t time = 0;  // Unix seconds
  std::string from;  // the remote host, else the terminal line
};

// glibc's struct utmp on x86_64 and aarch64 (also the 32-bit-time layout every 64-bit glibc
// writes for compatibility): 384 bytes, ut_type at 0, ut_line[32] at 8, ut_user[32] at 44,
// ut_host[256] at 76, ut_tv.tv_sec (int32) at 340.
inline constexpr size_t kUtmpRecordBytes = 384;
inline constexpr int16_t kUtmpUserProcess = 7;

// The newest USER_PROCESS record per user name in a run of utmp records (a wtmp file or its
// tail). A trailing partial record is ignored; so is a record whose type is not USER_PROCESS,
// whose user is empty or not printable, or whose time is not after 1990 or lies more than a day
// past now_seconds (garbage, or a clock that was wrong).
std::map<std::string, LastLogin> ParseWtmp(std::string_view bytes, int64_t now_seconds);

// struct lastlog on Linux with 64-bit glibc: int32 ll_time, char ll_line[32], char ll_host[256].
inline constexpr size_t kLastlogRecordBytes = 292;

// One lastlog record (the uid's slot). time 0 for a never-used slot, a short or garbage record,
// or a time more than a day past now_seconds.
LastLogin ParseLastlogRecord(std::string_view record, int64_t now_seconds);

// The newer of two last logins (a's when equal).
LastLogin NewerLogin(const LastLogin& a, const LastLogin& b);

// Keeps, per user, the newer of the logins in *into and in from.
void MergeNewerLogins(const std::map<std::string, LastLogin>& from,
                      std::map<std::string, LastLogin>* into);

// One row of a SQLite login store, its columns as SQLite returned them (any bytes: the tables are
// written by PAM modules from what the login program passed, and are not validated).
//  * util-linux lastlog2 (/var/lib/lastlog/lastlog2.db): Lastlog2(Name TEXT PRIMARY KEY, Time
//    INTEGER, TTY TEXT, RemoteHost TEXT, Service TEXT), one row per account, Time in seconds;
//  * wtmpdb (/var/lib/wtmpdb/wtmp.db): wtmp(ID INTEGER PRIMARY KEY, Type INTEGER, User TEXT,
//    Login INTEGER, Logout INTEGER, TTY TEXT, RemoteHost TEXT, Service TEXT), one row per session,
//    Login in microseconds, Type 3 (USER_PROCESS) for a login.
struct LoginStoreRow {
  std::string user;
  int64_t time = 0;  // in the store's unit
  std::string tty;
  std::string remote_host;
};

enum class LoginTimeUnit { kSeconds, kMicroseconds };

// The newest plausible login per user among the rows. A row is skipped when its user is empty or
// holds a control character, or its time (converted to seconds) is not after 1990 or lies more
// than a day past now_seconds; a host or terminal holding a control character, or longer than
// utmp's 256 bytes, is dropped (the login still counts). Other bytes, invalid UTF-8 included, are
// kept as they are (the agent repairs all text before sending it).
std::map<std::string, LastLogin> NewestStoreLogins(const std::vector<LoginStoreRow>& rows,
                                                   LoginTimeUnit unit, int64_t now_seconds);

// The account names /etc/shadow says can no longer log in by any means, as pam_unix's account
// check decides (so SSH keys are refused too): the account expired (field 8, days since the epoch,
// on or before today; 0 counts, as pam_unix reads it), or its password expired longer ago than the
// inactivity period allows (fields 3, 5 and 7: last change + maximum age + inactive days before
// today; not when the last change is 0, "change at next login"). A locked password ("!" prefix,
// "*", "!!") is NOT counted: passwd -l and usermod -L leave key-based SSH working (passwd(1) says
// so), and many cloud and installer-made admin accounts have no password at all. The password field
// is never copied or looked at. Lines that are not 9 colon-separated fields with a name, comments
// and NIS entries are skipped; empty or non-numeric day fields mean "not set".
std::set<std::string> ShadowLockedOutAccounts(std::string_view shadow_text, int64_t now_seconds);

}  // namespace dozor::agent
