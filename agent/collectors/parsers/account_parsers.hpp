// Pure parsers for local accounts beyond passwd: the groups with their members, and the login
// records (utmp-format wtmp, lastlog) that say when an account last logged in and from where.
// No I/O here; linux/os_linux.cpp feeds them /etc/group, the tail of /var/log/wtmp and one
// lastlog record per account.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
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

}  // namespace dozor::agent
