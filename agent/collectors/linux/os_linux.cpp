// Operating-system inventory on Linux.
//
// Fixture roots (ctx.root != "/") cannot ask the running kernel, so three facts
// come from files:
//   * architecture: proc/sys/kernel/arch (the real kernel's uname machine is
//   used on "/");
//   * fqdn: hostname + "." + proc/sys/kernel/domainname (getaddrinfo only on
//   "/");
//   * clock sync: dozor-fixture/adjtimex, one line "status=N maxerror=N" (STA_*
//   bitmask in
//     decimal, max error in microseconds); without it the state is unknown
//     (-1).
// Pending updates come from the package manager's simulation, which takes about
// a second, so the result is cached in memory until the package database or the
// repository lists change.
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timex.h>
#include <sys/types.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "collectors/caches.hpp"
#include "collectors/collector.hpp"
#include "collectors/linux/fs_util.hpp"
#include "collectors/linux/login_stores_linux.hpp"
#include "collectors/parsers/account_parsers.hpp"
#include "collectors/parsers/os_parsers.hpp"
#include "dozor/common/files.hpp"
#include "platform/host.hpp"

namespace dozor::agent {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxAccountFileBytes = 8 * 1024 * 1024;
constexpr int64_t kFqdnCacheSeconds = 3600;
constexpr int64_t kRetryTimedOutUpdatesSeconds = 3600;
constexpr size_t kMaxAccounts = 4096;
constexpr size_t kMaxGroups = 4096;
// About 21,800 login/logout records: months of logins on a busy server, read in one pass.
constexpr size_t kMaxWtmpTailBytes = 8 * 1024 * 1024;

// -----------------------------------------------------------------------------
// last logins
//
// No single record answers "when did this account last log in", so every one the machine keeps is
// read and the newest login per account wins:
//  * lastlog (indexed by uid, one 292-byte slot each) keeps every account's last login for as
//    long as the machine lives, but only what goes through pam_lastlog (login, sshd) writes it;
//    it is a sparse file as large as the highest uid times 292 (a directory uid of 10^9 makes it
//    hundreds of GB nominal), so each account's slot is read at its offset, never the file.
//  * wtmp has every session (also su -l, display managers, and systems without pam_lastlog),
//    but logrotate keeps it for a month or so (Debian and RHEL rotate it monthly, uncompressed,
//    one generation): alone it would call a quarterly user dormant. Only the tail is read, where
//    the newest records are; when the whole of wtmp fits in the 8 MiB budget, the rest of the
//    budget goes to the tail of wtmp.1, so last month's logins still count.
//  * newer distributions (util-linux 2.40's pam_lastlog2, wtmpdb: openSUSE, Debian 13, Fedora 41)
//    keep the same two records in SQLite databases instead, /var/lib/lastlog/lastlog2.db and
//    /var/lib/wtmpdb/wtmp.db (login_stores_linux.hpp reads them read-only and bounded). One that
//    exists but cannot be read (not a database, damaged, locked, too large) is named in
//    `unavailable`; a missing one is normal and says nothing.
// An account none of them mentions reads as "never or unknown" (0), which the dormant-account
// rule tolerates: it needs other logins recorded on the host before it says anyone is dormant.
//
// disabled (UserAccount.disabled) means what it means on Windows: nobody can log in as the account
// by any means. The shell decides first (BuildUserAccounts: nologin, false); then /etc/shadow, when
// readable (root, or the packaged service's CAP_DAC_READ_SEARCH), adds the accounts pam_unix
// refuses outright: expired, or inactive too long after the password expired
// (ShadowLockedOutAccounts). A locked password alone ("!", "*", usermod -L) is not disabled: SSH
// keys still log in. Without read access to shadow the shells' answer stands and nothing is
// reported missing: an agent run without that right is the operator's choice. The shadow text is
// wiped once parsed, and its password field is never looked at, kept or sent.

constexpr std::string_view kWtmpFiles[] = {"/var/log/wtmp", "/var/log/wtmp.1"};
constexpr std::string_view kLastlog2Path = "/var/lib/lastlog/lastlog2.db";
constexpr std::string_view kWtmpdbPath = "/var/lib/wtmpdb/wtmp.db";

std::map<std::string, LastLogin> ReadWtmpTails(const CollectContext& ctx, int64_t now) {
  std::map<std::string, LastLogin> logins;
  uint64_t budget = kMaxWtmpTailBytes;
  for (std::string_view name : kWtmpFiles) {
    Result<RandomAccessFile> wtmp = RandomAccessFile::Open(ctx.Path(std::string(name)));
    if (wtmp.ok()) {
      // Whole records from the end: a file cut mid-record by a crash keeps its tail aligned to
      // the end, which is where the newest records are.
      const uint64_t size = wtmp->Size();
      const uint64_t tail = std::min<uint64_t>(size, budget) / kUtmpRecordBytes * kUtmpRecordBytes;
      Result<std::string> bytes = wtmp->ReadAt(size - tail, static_cast<size_t>(tail));
      if (bytes.ok()) {
        MergeNewerLogins(ParseWtmp(*bytes, now), &logins);
      }
      budget -= tail;
      // The older generation only when this one was read back to its start: otherwise its own
      // oldest records, not read, are newer than anything in the rotated file.
      if (size - tail >= kUtmpRecordBytes) {
        break;
      }
    }
    // A missing wtmp (a wtmpdb system that stopped writing it) leaves the rotated one to read.
    if (budget < kUtmpRecordBytes) {
      break;
    }
  }
  return logins;
}

void ReadLoginStore(const CollectContext& ctx, std::string_view path,
                    Result<std::map<std::string, LastLogin>> (*read)(const fs::path&, int64_t),
                    int64_t now, std::map<std::string, LastLogin>* logins,
                    dozor::v1::OperatingSystem* os) {
  const fs::path database = ctx.Path(std::string(path));
  if (!PathExists(database)) {
    return;
  }
  Result<std::map<std::string, LastLogin>> stored = read(database, now);
  if (stored.ok()) {
    MergeNewerLogins(*stored, logins);
  } else {
    os->add_unavailable("last logins: " + std::string(path) + ": " + stored.error().message);
  }
}

void FillLastLogins(const CollectContext& ctx, dozor::v1::OperatingSystem* os) {
  const int64_t now = ctx.clock->NowSeconds();
  std::map<std::string, LastLogin> by_name = ReadWtmpTails(ctx, now);
  ReadLoginStore(ctx, kLastlog2Path, ReadLastlog2, now, &by_name, os);
  ReadLoginStore(ctx, kWtmpdbPath, ReadWtmpdb, now, &by_name, os);
  Result<RandomAccessFile> lastlog = RandomAccessFile::Open(ctx.Path("/var/log/lastlog"));
  for (dozor::v1::UserAccount& user : *os->mutable_users()) {
    LastLogin login;
    if (lastlog.ok()) {
      uint64_t offset = static_cast<uint64_t>(user.uid()) * kLastlogRecordBytes;
      Result<std::string> record = lastlog->ReadAt(offset, kLastlogRecordBytes);
      if (record.ok()) {
        login = ParseLastlogRecord(*record, now);
      }
    }
    auto recorded = by_name.find(user.name());
    if (recorded != by_name.end()) {
      login = NewerLogin(login, recorded->second);
    }
    user.set_last_login_time(login.time);
    user.set_last_login_from(std::move(login.from));
  }
}

void FillDisabledFromShadow(const CollectContext& ctx,
                            google::protobuf::RepeatedPtrField<dozor::v1::UserAccount>* users) {
  Result<std::string> shadow = ReadFile(ctx.Path("/etc/shadow"), kMaxAccountFileBytes);
  if (!shadow.ok()) {
    return;
  }
  const std::set<std::string> locked_out =
      ShadowLockedOutAccounts(*shadow, ctx.clock->NowSeconds());
  // The hashes are not kept in this process's memory longer than the parse.
  explicit_bzero(shadow->data(), shadow->size());
  for (dozor::v1::UserAccount& user : *users) {
    if (locked_out.count(user.name()) > 0) {
      user.set_disabled(true);
    }
  }
}

// -----------------------------------------------------------------------------
// pending updates

enum class PackageManager { kNone, kApt, kDnf, kYum };

PackageManager DetectPackageManager(const CollectContext& ctx,
                                    const dozor::v1::OperatingSystem& os) {
  std::string ids = os.id() + " " + os.id_like();
  bool debian_like = ContainsWord(ids, "debian") || ContainsWord(ids, "ubuntu");
  bool rhel_like =
      ContainsWord(ids, "rhel") || ContainsWord(ids, "fedora") || ContainsWord(ids, "centos");
  if (ctx.IsRealRoot()) {
    // On the real machine the binaries decide, whatever os-release claims.
    if (PathExists(ctx.Path("/usr/bin/apt-get"))) {
      return PackageManager::kApt;
    }
    if (PathExists(ctx.Path("/usr/bin/dnf"))) {
      return PackageManager::kDnf;
    }
    if (PathExists(ctx.Path("/usr/bin/yum"))) {
      return PackageManager::kYum;
    }
    return PackageManager::kNone;
  }
  if (debian_like) {
    return PackageManager::kApt;
  }
  if (rhel_like) {
    return PackageManager::kDnf;
  }
  return PackageManager::kNone;
}

std::string MtimeKey(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return "-";
  }
  return std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
}

struct CachedUpdates {
  std::string key;
  PendingUpdates updates;
  int64_t expires_at = 0;  // Unix seconds; 0 = valid until the key changes
};

std::mutex& UpdatesCacheMutex() {
  static std::mutex mutex;
  return mutex;
}

std::map<std::string, CachedUpdates>& UpdatesCache() {
  static std::map<std::string, CachedUpdates> cache;
  return cache;
}

Result<PendingUpdates> QueryApt(const CollectContext& ctx) {
  DOZOR_ASSIGN_OR_RETURN(
      CommandOutput output,
      ctx.run_command({"apt-get", "-s", "-o", "Debug::NoLocking=1", "dist-upgrade"}));
  if (output.exit_code != 0) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "apt-get simulation exited with " + std::to_string(output.exit_code));
  }
  return ParseAptSimulation(output.stdout_text);
}

Result<PendingUpdates> QueryDnf(const CollectContext& ctx, const std::string& program) {
  // --cacheonly: never touch the network from an inventory run; the distro's
  // makecache timer keeps the metadata fresh.
  DOZOR_ASSIGN_OR_RETURN(CommandOutput check,
                         ctx.run_command({program, "-q", "--cacheonly", "check-update"}));
  // check-update: 100 = updates available, 0 = none, anything else = error.
  if (check.exit_code != 0 && check.exit_code != 100) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     program + " check-update exited with " + std::to_string(check.exit_code));
  }
  PendingUpdates updates;
  updates.total = check.exit_code == 0 ? 0 : CountDnfCheckUpdate(check.stdout_text);
  Result<CommandOutput> security =
      ctx.run_command({program, "-q", "--cacheonly", "updateinfo", "list", "--security"});
  if (security.ok() && security->exit_code == 0) {
    updates.security = CountDnfSecurityUpdates(security->stdout_text);
  }
  return updates;
}

PendingUpdates CollectPendingUpdates(const CollectContext& ctx,
                                     const dozor::v1::OperatingSystem& os) {
  if (!ctx.run_command) {
    return {};
  }
  PackageManager manager = DetectPackageManager(ctx, os);
  std::string key;
  switch (manager) {
    case PackageManager::kNone:
      return {};
    case PackageManager::kApt:
      key = "apt " + MtimeKey(ctx.Path("/var/lib/dpkg/status")) + " " +
            MtimeKey(ctx.Path("/var/lib/apt/lists"));
      break;
    case PackageManager::kDnf:
    case PackageManager::kYum:
      key = "rpm " + MtimeKey(ctx.Path("/var/lib/rpm")) + " " +
            MtimeKey(ctx.Path("/var/cache/dnf")) + " " + MtimeKey(ctx.Path("/var/cache/yum"));
      break;
  }
  std::lock_guard<std::mutex> lock(UpdatesCacheMutex());
  std::string cache_slot = ctx.root.string();
  auto found = UpdatesCache().find(cache_slot);
  int64_t now = ctx.clock->NowSeconds();
  if (found != UpdatesCache().end() && found->second.key == key &&
      (found->second.expires_at == 0 || now < found->second.expires_at)) {
    return found->second.updates;
  }
  Result<PendingUpdates> result = manager == PackageManager::kApt   ? QueryApt(ctx)
                                  : manager == PackageManager::kDnf ? QueryDnf(ctx, "dnf")
                                                                    : QueryDnf(ctx, "yum");
  PendingUpdates updates = result.ok() ? *result : PendingUpdates{};
  // A timeout (kUnavailable) may pass on a quieter machine: retry it later, but
  // not on every inventory, or each run would wait for the whole timeout again.
  bool transient = !result.ok() && result.error().code == ErrorCode::kUnavailable;
  UpdatesCache()[cache_slot] =
      CachedUpdates{key, updates, transient ? now + kRetryTimedOutUpdatesSeconds : 0};
  return updates;
}

// -----------------------------------------------------------------------------
// names and clock

std::string Architecture(const CollectContext& ctx) {
  if (ctx.IsRealRoot()) {
    utsname info{};
    if (::uname(&info) == 0) {
      return info.machine;
    }
    return {};
  }
  return ReadFirstLine(ctx.Path("/proc/sys/kernel/arch"));
}

std::string Hostname(const CollectContext& ctx) {
  std::string hostname = ReadFirstLine(ctx.Path("/proc/sys/kernel/hostname"));
  if (hostname.empty()) {
    hostname = ReadFirstLine(ctx.Path("/etc/hostname"));
  }
  return hostname;
}

std::string ResolveCanonicalName(const std::string& hostname) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_CANONNAME;
  addrinfo* result = nullptr;
  std::string fqdn;
  if (::getaddrinfo(hostname.c_str(), nullptr, &hints, &result) == 0 && result != nullptr) {
    if (result->ai_canonname != nullptr) {
      fqdn = result->ai_canonname;
    }
  }
  if (result != nullptr) {
    ::freeaddrinfo(result);
  }
  return fqdn;
}

std::string Fqdn(const CollectContext& ctx, const std::string& hostname) {
  if (hostname.empty()) {
    return {};
  }
  if (ctx.IsRealRoot()) {
    // A resolver lookup can take seconds when DNS is away; remember the answer
    // for an hour.
    struct Cached {
      std::string fqdn;
      int64_t at = 0;
    };
    static std::mutex mutex;
    static std::map<std::string, Cached> cache;
    int64_t now = ctx.clock->NowSeconds();
    std::lock_guard<std::mutex> lock(mutex);
    auto found = cache.find(hostname);
    if (found != cache.end() && now - found->second.at < kFqdnCacheSeconds &&
        now >= found->second.at) {
      return found->second.fqdn;
    }
    std::string fqdn = ResolveCanonicalName(hostname);
    if (fqdn.empty()) {
      fqdn = hostname;
    }
    cache[hostname] = Cached{fqdn, now};
    return fqdn;
  }
  if (hostname.find('.') != std::string::npos) {
    return hostname;
  }
  std::string domain = ReadFirstLine(ctx.Path("/proc/sys/kernel/domainname"));
  if (domain.empty() || domain == "(none)") {
    return hostname;
  }
  return hostname + "." + domain;
}

std::string Timezone(const CollectContext& ctx) {
  std::string zone = ReadFirstLine(ctx.Path("/etc/timezone"));
  if (!zone.empty()) {
    return zone;
  }
  fs::path localtime = ctx.Path("/etc/localtime");
  std::error_code ec;
  if (!fs::is_symlink(fs::symlink_status(localtime, ec))) {
    // glibc uses UTC when /etc/localtime is missing; a copied zone file has no
    // name to report.
    return fs::exists(fs::symlink_status(localtime, ec)) ? std::string() : "UTC";
  }
  std::string target = fs::read_symlink(localtime, ec).string();
  constexpr std::string_view kMarker = "zoneinfo/";
  size_t pos = target.rfind(kMarker);
  if (ec || pos == std::string::npos) {
    return {};
  }
  zone = target.substr(pos + kMarker.size());
  // Debian's "posix/" and "right/" trees hold the same zones with other
  // leap-second handling.
  for (std::string_view prefix : {"posix/", "right/"}) {
    if (zone.starts_with(prefix)) {
      zone = zone.substr(prefix.size());
    }
  }
  return zone;
}

ClockSync ClockState(const CollectContext& ctx) {
  if (ctx.IsRealRoot()) {
    timex tx{};
    tx.modes = 0;  // read only
    int state = ::adjtimex(&tx);
    if (state < 0) {
      return {};
    }
    ClockSync sync;
    sync.synchronized = (state == TIME_ERROR || (tx.status & STA_UNSYNC) != 0) ? 0 : 1;
    sync.max_error_us = tx.maxerror;
    return sync;
  }
  Result<std::string> fixture = ReadFile(ctx.Path("/dozor-fixture/adjtimex"), kMaxSmallFileBytes);
  return fixture.ok() ? ParseAdjtimexFixture(*fixture) : ClockSync{};
}

}  // namespace

Status CollectOperatingSystem(const CollectContext& ctx, dozor::v1::OperatingSystem* out) {
  std::string problems;
  out->set_family("linux");

  Result<std::string> os_release = ReadFile(ctx.Path("/etc/os-release"), kMaxSmallFileBytes);
  if (!os_release.ok()) {
    os_release = ReadFile(ctx.Path("/usr/lib/os-release"), kMaxSmallFileBytes);
  }
  if (os_release.ok()) {
    std::map<std::string, std::string> fields = ParseOsRelease(*os_release);
    auto field = [&](const char* key) {
      auto it = fields.find(key);
      return it == fields.end() ? std::string() : it->second;
    };
    out->set_id(field("ID"));
    out->set_id_like(field("ID_LIKE"));
    out->set_name(field("NAME"));
    out->set_version(field("VERSION"));
    out->set_version_id(field("VERSION_ID"));
    out->set_pretty_name(field("PRETTY_NAME"));
  } else {
    AppendJoined(&problems, "os-release: " + os_release.error().message);
  }

  out->set_kernel(ReadFirstLine(ctx.Path("/proc/sys/kernel/osrelease")));
  if (out->kernel().empty()) {
    AppendJoined(&problems, "kernel release unreadable");
  }
  out->set_architecture(Architecture(ctx));
  out->set_hostname(Hostname(ctx));
  if (out->hostname().empty()) {
    AppendJoined(&problems, "hostname unreadable");
  }
  out->set_fqdn(Fqdn(ctx, out->hostname()));

  std::string uptime_text = ReadFirstLine(ctx.Path("/proc/uptime"));
  char* uptime_end = nullptr;
  double uptime = std::strtod(uptime_text.c_str(), &uptime_end);
  if (uptime_end == uptime_text.c_str() || !std::isfinite(uptime) || uptime < 0) {
    uptime = -1;
  }
  if (uptime >= 0) {
    out->set_uptime_seconds(static_cast<int64_t>(uptime));
    out->set_boot_time(ctx.clock->NowSeconds() - static_cast<int64_t>(uptime));
  } else {
    AppendJoined(&problems, "/proc/uptime unreadable");
  }

  out->set_timezone(Timezone(ctx));
  ClockSync sync = ClockState(ctx);
  out->set_clock_synchronized(sync.synchronized);
  out->set_clock_max_error_us(sync.max_error_us);
  out->set_reboot_required(PathExists(ctx.Path("/var/run/reboot-required")) ||
                           PathExists(ctx.Path("/run/reboot-required")));

  PendingUpdates updates = CollectPendingUpdates(ctx, *out);
  out->set_pending_updates(updates.total);
  out->set_pending_security_updates(updates.security);

  Result<std::string> passwd = ReadFile(ctx.Path("/etc/passwd"), kMaxAccountFileBytes);
  Result<std::string> group = ReadFile(ctx.Path("/etc/group"), kMaxAccountFileBytes);
  std::vector<GroupEntry> groups = group.ok() ? ParseGroup(*group) : std::vector<GroupEntry>{};
  std::vector<PasswdEntry> accounts =
      passwd.ok() ? ParsePasswd(*passwd) : std::vector<PasswdEntry>{};
  if (accounts.size() > kMaxAccounts) {
    accounts.resize(kMaxAccounts);
  }
  if (passwd.ok()) {
    for (dozor::v1::UserAccount& user : BuildUserAccounts(accounts, groups)) {
      *out->add_users() = std::move(user);
    }
    FillLastLogins(ctx, out);
    FillDisabledFromShadow(ctx, out->mutable_users());
  } else {
    AppendJoined(&problems, "passwd: " + passwd.error().message);
  }
  if (group.ok()) {
    for (dozor::v1::LocalGroup& local_group : BuildLocalGroups(accounts, groups, kMaxGroups)) {
      *out->add_groups() = std::move(local_group);
    }
  } else if (group.error().code != ErrorCode::kNotFound) {
    // A missing /etc/group is a minimal container's; one that cannot be read is worth saying.
    AppendJoined(&problems, "group: " + group.error().message);
  }

  Result<std::string> machine_id = platform::ReadMachineId(ctx.root);
  out->set_machine_id(machine_id.ok() ? *machine_id : std::string());

  if (!problems.empty()) {
    return MakeError(ErrorCode::kNotFound, problems);
  }
  return OkStatus();
}

void DropPendingUpdatesCache() {
  // The os collector holds the lock while its package manager runs, and may be hung there past
  // its deadline (core/collector_supervisor.hpp): the self-limits must not wait for it.
  std::unique_lock<std::mutex> lock(UpdatesCacheMutex(), std::try_to_lock);
  if (lock.owns_lock()) {
    UpdatesCache().clear();
  }
}

}  // namespace dozor::agent
