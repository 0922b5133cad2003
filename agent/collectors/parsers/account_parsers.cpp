#include "collectors/parsers/account_parsers.hpp"

#include <algorithm>
#include <set>

namespace dozor::agent {
namespace account_detail {

// 1990-01-01: wtmp was not written before; smaller values are zeroed or garbage records.
constexpr int64_t kEarliestLogin = 631152000;
constexpr int64_t kClockSlackSeconds = 86400;

int32_t ReadInt32LittleEndian(std::string_view bytes, size_t offset) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) {
    value |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  }
  return static_cast<int32_t>(value);
}

// A NUL-padded fixed-width field: up to the first NUL. Empty when any byte is a control
// character (a garbage record; names and hosts never hold one).
std::string_view FixedField(std::string_view bytes, size_t offset, size_t width) {
  std::string_view field = bytes.substr(offset, width);
  size_t nul = field.find('\0');
  if (nul != std::string_view::npos) field = field.substr(0, nul);
  for (char c : field) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return {};
  }
  return field;
}

bool PlausibleTime(int64_t time, int64_t now_seconds) {
  return time >= kEarliestLogin && time <= now_seconds + kClockSlackSeconds;
}

LastLogin LoginFrom(std::string_view host, std::string_view line, int64_t time) {
  LastLogin login;
  login.time = time;
  login.from = std::string(host.empty() ? line : host);
  return login;
}

}  // namespace account_detail

std::vector<dozor::v1::LocalGroup> BuildLocalGroups(const std::vector<PasswdEntry>& passwd,
                                                    const std::vector<GroupEntry>& groups,
                                                    size_t max_groups) {
  std::map<uint32_t, std::vector<const PasswdEntry*>> by_primary_gid;
  for (const PasswdEntry& entry : passwd) {
    by_primary_gid[entry.gid].push_back(&entry);
  }
  std::vector<dozor::v1::LocalGroup> out;
  std::set<std::string> seen;
  std::set<uint32_t> primary_gids_named;
  for (const GroupEntry& entry : groups) {
    if (out.size() >= max_groups) break;
    // A name listed twice is one group to getgrnam(3): the first line wins.
    if (!seen.insert(entry.name).second) continue;
    dozor::v1::LocalGroup group;
    group.set_name(entry.name);
    group.set_gid(entry.gid);
    std::set<std::string> listed;
    for (const std::string& member : entry.members) {
      if (listed.insert(member).second) group.add_members(member);
    }
    // Two groups sharing a gid: getgrgid(3), and so `id`, names the first for the passwd gid.
    auto primary = by_primary_gid.find(entry.gid);
    if (primary != by_primary_gid.end() && primary_gids_named.insert(entry.gid).second) {
      for (const PasswdEntry* account : primary->second) {
        group.add_primary_members(account->name);
      }
    }
    group.set_administrator(GroupGrantsAdmin(entry.name));
    out.push_back(std::move(group));
  }
  return out;
}

std::map<std::string, LastLogin> ParseWtmp(std::string_view bytes, int64_t now_seconds) {
  std::map<std::string, LastLogin> newest;
  for (size_t offset = 0; offset + kUtmpRecordBytes <= bytes.size(); offset += kUtmpRecordBytes) {
    std::string_view record = bytes.substr(offset, kUtmpRecordBytes);
    const int32_t type_word = account_detail::ReadInt32LittleEndian(record, 0);
    if (static_cast<int16_t>(type_word & 0xffff) != kUtmpUserProcess) continue;
    std::string_view user = account_detail::FixedField(record, 44, 32);
    const int64_t time = account_detail::ReadInt32LittleEndian(record, 340);
    if (user.empty() || !account_detail::PlausibleTime(time, now_seconds)) continue;
    auto [it, inserted] = newest.try_emplace(std::string(user));
    if (inserted || time >= it->second.time) {
      it->second = account_detail::LoginFrom(account_detail::FixedField(record, 76, 256),
                                             account_detail::FixedField(record, 8, 32), time);
    }
  }
  return newest;
}

LastLogin ParseLastlogRecord(std::string_view record, int64_t now_seconds) {
  if (record.size() < kLastlogRecordBytes) return {};
  const int64_t time = account_detail::ReadInt32LittleEndian(record, 0);
  if (!account_detail::PlausibleTime(time, now_seconds)) return {};
  return account_detail::LoginFrom(account_detail::FixedField(record, 36, 256),
                                   account_detail::FixedField(record, 4, 32), time);
}

LastLogin NewerLogin(const LastLogin& a, const LastLogin& b) { return b.time > a.time ? b : a; }

}  // namespace dozor::agent
