#include "collectors/parsers/account_parsers.hpp"

#include <algorithm>
#include <limits>
#include <set>

#include "collectors/parsers/text.hpp"

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

// utmp's ut_host width: a longer host or terminal in a store is not a name any login program sets.
constexpr size_t kMaxStoreFieldBytes = 256;
constexpr int64_t kMicrosecondsPerSecond = 1'000'000;
constexpr int64_t kSecondsPerDay = 86400;

bool HasControlCharacter(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

std::string_view StoreField(std::string_view text) {
  return text.size() > kMaxStoreFieldBytes || HasControlCharacter(text) ? std::string_view() : text;
}

// A shadow day count: a non-negative number, else "not set" (-1), as getspnam(3) reads it.
int64_t ShadowDays(std::string_view field) {
  int64_t days = -1;
  return ParseNumber(field, &days) && days >= 0 ? days : -1;
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

void MergeNewerLogins(const std::map<std::string, LastLogin>& from,
                      std::map<std::string, LastLogin>* into) {
  for (const auto& [user, login] : from) {
    auto [it, inserted] = into->try_emplace(user, login);
    if (!inserted) it->second = NewerLogin(it->second, login);
  }
}

std::map<std::string, LastLogin> NewestStoreLogins(const std::vector<LoginStoreRow>& rows,
                                                   LoginTimeUnit unit, int64_t now_seconds) {
  std::map<std::string, LastLogin> newest;
  for (const LoginStoreRow& row : rows) {
    if (row.user.empty() || account_detail::HasControlCharacter(row.user)) continue;
    const int64_t time = unit == LoginTimeUnit::kMicroseconds
                             ? row.time / account_detail::kMicrosecondsPerSecond
                             : row.time;
    if (!account_detail::PlausibleTime(time, now_seconds)) continue;
    LastLogin login = account_detail::LoginFrom(account_detail::StoreField(row.remote_host),
                                                account_detail::StoreField(row.tty), time);
    auto [it, inserted] = newest.try_emplace(row.user, login);
    if (!inserted) it->second = NewerLogin(it->second, login);
  }
  return newest;
}

std::set<std::string> ShadowLockedOutAccounts(std::string_view shadow_text, int64_t now_seconds) {
  std::set<std::string> locked_out;
  const int64_t today = now_seconds / account_detail::kSecondsPerDay;
  ForEachLine(shadow_text, [&](std::string_view line) {
    if (line.empty() || line.front() == '#' || line.front() == '+' || line.front() == '-') return;
    // name:password:lastchg:min:max:warn:inactive:expire:reserved; [1] (the password) is skipped.
    std::vector<std::string_view> fields = Split(line, ':');
    if (fields.size() != 9 || fields[0].empty()) return;
    const int64_t last_change = account_detail::ShadowDays(fields[2]);
    const int64_t max_age = account_detail::ShadowDays(fields[4]);
    const int64_t inactive = account_detail::ShadowDays(fields[6]);
    const int64_t expire = account_detail::ShadowDays(fields[7]);
    bool account_expired = expire >= 0 && today >= expire;
    // Day counts this large are garbage; bounding them keeps the sum below from overflowing.
    constexpr int64_t kMaxDays = std::numeric_limits<int64_t>::max() / 4;
    bool password_inactive = last_change > 0 && max_age >= 0 && inactive >= 0 &&
                             last_change < kMaxDays && max_age < kMaxDays && inactive < kMaxDays &&
                             today - last_change > max_age + inactive;
    if (account_expired || password_inactive) locked_out.emplace(fields[0]);
  });
  return locked_out;
}

}  // namespace dozor::agent
