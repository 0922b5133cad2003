#include "collectors/parsers/os_parsers.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "collectors/parsers/text.hpp"

namespace dozor::agent {
namespace {

// Colon-separated account database lines (passwd, group) with exactly `field_count` fields and
// a name; comments and NIS "+"/"-" entries are skipped.
template <typename Fn>
void ForEachAccountRecord(std::string_view text, size_t field_count, Fn&& fn) {
  ForEachLine(text, [&](std::string_view line) {
    if (line.empty() || line.front() == '#' || line.front() == '+' || line.front() == '-') {
      return;
    }
    std::vector<std::string_view> fields = Split(line, ':');
    if (fields.size() != field_count || fields[0].empty()) {
      return;
    }
    fn(fields);
  });
}

bool IsValidOsReleaseKey(std::string_view key) {
  if (key.empty() || std::isdigit(static_cast<unsigned char>(key.front())) != 0) {
    return false;
  }
  return std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
  });
}

// Shell-style unquoting as os-release(5) allows; false on an unterminated
// quote.
bool UnquoteShellValue(std::string_view raw, std::string* out) {
  out->clear();
  size_t i = 0;
  while (i < raw.size()) {
    char c = raw[i];
    if (c == '"') {
      ++i;
      bool closed = false;
      while (i < raw.size()) {
        char inner = raw[i];
        if (inner == '"') {
          closed = true;
          ++i;
          break;
        }
        if (inner == '\\' && i + 1 < raw.size() &&
            std::string_view("\"\\$`").find(raw[i + 1]) != std::string_view::npos) {
          out->push_back(raw[i + 1]);
          i += 2;
          continue;
        }
        out->push_back(inner);
        ++i;
      }
      if (!closed) {
        return false;
      }
    } else if (c == '\'') {
      size_t close = raw.find('\'', i + 1);
      if (close == std::string_view::npos) {
        return false;
      }
      out->append(raw.substr(i + 1, close - i - 1));
      i = close + 1;
    } else if (c == '\\' && i + 1 < raw.size()) {
      out->push_back(raw[i + 1]);
      i += 2;
    } else if (IsWhitespace(c)) {
      // Unquoted whitespace ends the value (anything after it would be a
      // separate shell word).
      break;
    } else {
      out->push_back(c);
      ++i;
    }
  }
  return true;
}

// "openssl-libs-1:3.0.7-25.el9_3.x86_64" -> "openssl-libs": drop ".arch", then
// "-release" and
// "-[epoch:]version".
std::string PackageNameFromNevra(std::string_view nevra) {
  size_t dot = nevra.rfind('.');
  if (dot != std::string_view::npos) {
    nevra = nevra.substr(0, dot);
  }
  for (int i = 0; i < 2; ++i) {
    size_t dash = nevra.rfind('-');
    if (dash == std::string_view::npos || dash == 0) {
      break;
    }
    nevra = nevra.substr(0, dash);
  }
  return std::string(nevra);
}

}  // namespace

std::map<std::string, std::string> ParseOsRelease(std::string_view text) {
  std::map<std::string, std::string> fields;
  ForEachLine(text, [&](std::string_view line) {
    line = Trim(line);
    if (line.empty() || line.front() == '#') {
      return;
    }
    size_t equals = line.find('=');
    if (equals == std::string_view::npos) {
      return;
    }
    std::string_view key = line.substr(0, equals);
    if (!IsValidOsReleaseKey(key)) {
      return;
    }
    std::string value;
    if (UnquoteShellValue(line.substr(equals + 1), &value)) {
      fields[std::string(key)] = std::move(value);
    }
  });
  return fields;
}

std::vector<PasswdEntry> ParsePasswd(std::string_view text) {
  std::vector<PasswdEntry> entries;
  ForEachAccountRecord(text, 7, [&](const std::vector<std::string_view>& fields) {
    PasswdEntry entry;
    if (!ParseNumber(fields[2], &entry.uid) || !ParseNumber(fields[3], &entry.gid)) {
      return;
    }
    entry.name = fields[0];
    entry.home = fields[5];
    entry.shell = fields[6];
    entries.push_back(std::move(entry));
  });
  return entries;
}

std::vector<GroupEntry> ParseGroup(std::string_view text) {
  std::vector<GroupEntry> entries;
  ForEachAccountRecord(text, 4, [&](const std::vector<std::string_view>& fields) {
    GroupEntry entry;
    if (!ParseNumber(fields[2], &entry.gid)) {
      return;
    }
    entry.name = fields[0];
    if (!fields[3].empty()) {
      for (std::string_view member : Split(fields[3], ',')) {
        member = Trim(member);
        if (!member.empty()) {
          entry.members.emplace_back(member);
        }
      }
    }
    entries.push_back(std::move(entry));
  });
  return entries;
}

bool GroupGrantsAdmin(std::string_view name) {
  return name == "sudo" || name == "wheel" || name == "admin";
}

bool IsLoginShell(std::string_view shell) {
  shell = Trim(shell);
  if (shell.empty()) {
    return true;
  }
  size_t slash = shell.rfind('/');
  std::string_view base = slash == std::string_view::npos ? shell : shell.substr(slash + 1);
  return base != "nologin" && base != "false" && base != "sync" && base != "halt" &&
         base != "shutdown";
}

std::vector<dozor::v1::UserAccount> BuildUserAccounts(const std::vector<PasswdEntry>& passwd,
                                                      const std::vector<GroupEntry>& groups) {
  std::set<uint32_t> admin_gids;
  std::set<std::string> admin_members;
  for (const GroupEntry& group : groups) {
    if (!GroupGrantsAdmin(group.name)) {
      continue;
    }
    admin_gids.insert(group.gid);
    admin_members.insert(group.members.begin(), group.members.end());
  }
  std::vector<dozor::v1::UserAccount> users;
  for (const PasswdEntry& entry : passwd) {
    dozor::v1::UserAccount user;
    user.set_name(entry.name);
    user.set_uid(entry.uid);
    user.set_gid(entry.gid);
    const bool login_shell = IsLoginShell(entry.shell);
    user.set_kind(login_shell ? "user" : "system");
    // No session starts without a shell that runs: ssh, su and login all exec it.
    user.set_disabled(!login_shell);
    user.set_shell(entry.shell.empty() ? "/bin/sh" : entry.shell);
    user.set_home(entry.home);
    user.set_administrator(entry.uid == 0 || admin_gids.count(entry.gid) > 0 ||
                           admin_members.count(entry.name) > 0);
    users.push_back(std::move(user));
  }
  return users;
}

PendingUpdates ParseAptSimulation(std::string_view text) {
  PendingUpdates result{0, 0};
  ForEachLine(text, [&](std::string_view line) {
    if (!line.starts_with("Inst ")) {
      return;
    }
    ++result.total;
    // "Inst pkg [old] (new Origin:release/suite-security, Other:... [arch])":
    // the origin part is the parenthesised tail; the "[old]" version in front
    // of it never holds an origin.
    size_t open = line.find('(');
    std::string_view origin =
        open == std::string_view::npos ? std::string_view() : line.substr(open);
    if (origin.find("-security") != std::string_view::npos ||
        origin.find("Security") != std::string_view::npos) {
      ++result.security;
    }
  });
  return result;
}

int32_t CountDnfCheckUpdate(std::string_view text) {
  int32_t count = 0;
  bool done = false;
  ForEachLine(text, [&](std::string_view line) {
    if (done) {
      return;
    }
    if (line.starts_with("Obsoleting Packages")) {
      done = true;
      return;
    }
    if (line.empty() || IsWhitespace(line.front())) {
      return;  // blank separators and continuation lines of wrapped entries
    }
    std::vector<std::string_view> words = SplitWords(line);
    // A wrapped long name leaves the name alone on its line; version and repo
    // follow indented.
    if (words.empty() || words.size() > 3) {
      return;
    }
    std::string_view name_arch = words[0];
    size_t dot = name_arch.rfind('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 == name_arch.size()) {
      return;  // "Last metadata expiration check: ..." and other chatter
    }
    if (words.size() == 3 || words.size() == 1) {
      ++count;
    }
  });
  return count;
}

int32_t CountDnfSecurityUpdates(std::string_view text) {
  std::set<std::string> packages;
  ForEachLine(text, [&](std::string_view line) {
    std::vector<std::string_view> words = SplitWords(line);
    if (words.size() != 3) {
      return;
    }
    // Without --security dnf also lists bugfix/enhancement advisories; keep
    // only security ones.
    std::string_view type = words[1];
    if (type.find("Sec") == std::string_view::npos && type != "security") {
      return;
    }
    packages.insert(PackageNameFromNevra(words[2]));
  });
  return static_cast<int32_t>(packages.size());
}

ClockSync ParseAdjtimexFixture(std::string_view text) {
  constexpr int64_t kStaUnsync = 0x40;
  int64_t status = -1;
  int64_t max_error = -1;
  for (std::string_view word : SplitWords(text)) {
    if (word.starts_with("status=")) {
      if (!ParseNumber(word.substr(7), &status)) {
        return {};
      }
    } else if (word.starts_with("maxerror=")) {
      if (!ParseNumber(word.substr(9), &max_error)) {
        return {};
      }
    }
  }
  if (status < 0) {
    return {};
  }
  ClockSync sync;
  sync.synchronized = (status & kStaUnsync) != 0 ? 0 : 1;
  sync.max_error_us = max_error;
  return sync;
}

}  // namespace dozor::agent
