#include "collectors/parsers/health_parsers.hpp"

#include <algorithm>
#include <array>
#include <cstddef>

#include "collectors/parsers/text.hpp"

namespace dozor::agent {
namespace {

// "name" followed by digits only, e.g. "md" + "127".
bool PrefixThenDigits(std::string_view name, std::string_view prefix) {
  return name.starts_with(prefix) && IsAllDigits(name.substr(prefix.size()));
}

// "sd" + letters only (sda, sdaa), not partitions like sda1.
bool PrefixThenLetters(std::string_view name, std::string_view prefix) {
  if (!name.starts_with(prefix) || name.size() == prefix.size()) {
    return false;
  }
  for (char c : name.substr(prefix.size())) {
    if (c < 'a' || c > 'z') {
      return false;
    }
  }
  return true;
}

double Percent(uint64_t part, uint64_t whole) {
  if (whole == 0) {
    return 0;
  }
  return std::clamp(100.0 * static_cast<double>(part) / static_cast<double>(whole), 0.0, 100.0);
}

}  // namespace

Result<ProcStat> ParseProcStat(std::string_view text) {
  ProcStat result;
  bool have_cpu = false;
  LineReader lines(text);
  std::string_view line;
  while (lines.Next(&line)) {
    std::array<std::string_view, 11> fields;
    size_t count = SplitWords(line, &fields);
    if (count == 0) {
      continue;
    }
    if (fields[0] == "cpu" && !have_cpu) {
      if (count < 5) {
        return MakeError(ErrorCode::kInvalidArgument, "/proc/stat: cpu line has too few fields");
      }
      std::array<uint64_t*, 8> targets = {
          &result.cpu.user,   &result.cpu.nice, &result.cpu.system,  &result.cpu.idle,
          &result.cpu.iowait, &result.cpu.irq,  &result.cpu.softirq, &result.cpu.steal};
      for (size_t i = 0; i < targets.size() && i + 1 < count; ++i) {
        if (!ParseNumber(fields[i + 1], targets[i])) {
          return MakeError(ErrorCode::kInvalidArgument,
                           "/proc/stat: bad number in cpu line: " + std::string(fields[i + 1]));
        }
      }
      have_cpu = true;
    } else if (fields[0] == "btime" && count >= 2) {
      int64_t boot_time = 0;
      if (ParseNumber(fields[1], &boot_time)) {
        result.boot_time = boot_time;
      }
    }
  }
  if (!have_cpu) {
    return MakeError(ErrorCode::kInvalidArgument, "/proc/stat: no aggregate cpu line");
  }
  return result;
}

Result<LoadAverage> ParseLoadavg(std::string_view text) {
  std::array<std::string_view, 3> fields;
  LoadAverage load;
  if (SplitWords(text, &fields) < 3 || !ParseNumber(fields[0], &load.load1) ||
      !ParseNumber(fields[1], &load.load5) || !ParseNumber(fields[2], &load.load15) ||
      load.load1 < 0 || load.load5 < 0 || load.load15 < 0) {
    return MakeError(ErrorCode::kInvalidArgument, "/proc/loadavg: expected three load averages");
  }
  return load;
}

Result<MemInfo> ParseMeminfo(std::string_view text) {
  struct Field {
    std::string_view key;
    uint64_t bytes = 0;
    bool seen = false;
  };
  enum { kTotal, kAvailable, kFree, kBuffers, kCached, kSwapTotal, kSwapFree, kCount };
  std::array<Field, kCount> wanted = {{{"MemTotal"},
                                       {"MemAvailable"},
                                       {"MemFree"},
                                       {"Buffers"},
                                       {"Cached"},
                                       {"SwapTotal"},
                                       {"SwapFree"}}};
  ForEachLine(text, [&](std::string_view line) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return;
    }
    std::string_view key = line.substr(0, colon);
    auto field =
        std::find_if(wanted.begin(), wanted.end(), [&](const Field& f) { return f.key == key; });
    if (field == wanted.end()) {
      return;
    }
    std::array<std::string_view, 2> parts;
    size_t count = SplitWords(line.substr(colon + 1), &parts);
    uint64_t value = 0;
    if (count == 0 || !ParseNumber(parts[0], &value)) {
      return;
    }
    // Every size in meminfo is in kB (KiB); a line without a unit would be a
    // page count we do not expect for these keys, so it is taken as bytes
    // rather than guessed.
    bool in_kib = count >= 2 && (parts[1] == "kB" || parts[1] == "KB" || parts[1] == "KiB");
    if (in_kib && value > UINT64_MAX / 1024) {
      return;
    }
    field->bytes = in_kib ? value * 1024 : value;
    field->seen = true;
  });
  if (!wanted[kTotal].seen) {
    return MakeError(ErrorCode::kInvalidArgument, "/proc/meminfo: no MemTotal");
  }
  MemInfo info;
  info.total_bytes = wanted[kTotal].bytes;
  if (wanted[kAvailable].seen) {
    info.available_bytes = wanted[kAvailable].bytes;
  } else {
    info.available_bytes = wanted[kFree].bytes + wanted[kBuffers].bytes + wanted[kCached].bytes;
  }
  info.available_bytes = std::min(info.available_bytes, info.total_bytes);
  info.swap_total_bytes = wanted[kSwapTotal].bytes;
  info.swap_free_bytes = std::min(wanted[kSwapFree].bytes, info.swap_total_bytes);
  return info;
}

bool IsWholeDiskName(std::string_view name) {
  if (PrefixThenLetters(name, "sd") || PrefixThenLetters(name, "vd") ||
      PrefixThenLetters(name, "xvd") || PrefixThenLetters(name, "hd")) {
    return true;
  }
  if (PrefixThenDigits(name, "mmcblk") || PrefixThenDigits(name, "md") ||
      PrefixThenDigits(name, "dm-")) {
    return true;
  }
  if (name.starts_with("nvme")) {
    // nvme<ctrl>n<namespace>, not nvme0n1p1 and not the nvme0c0n1 multipath
    // path devices
    std::string_view rest = name.substr(4);
    size_t n = rest.find('n');
    return n != std::string_view::npos && IsAllDigits(rest.substr(0, n)) &&
           IsAllDigits(rest.substr(n + 1));
  }
  return false;
}

Result<std::vector<DiskCounters>> ParseDiskstats(std::string_view text) {
  std::vector<DiskCounters> disks;
  ForEachLine(text, [&](std::string_view line) {
    // major minor name, then reads, reads merged, sectors read, ms reading,
    // writes, writes merged, sectors written, ms writing, in flight, io_ticks,
    // ...
    std::array<std::string_view, 13> fields;
    if (SplitWords(line, &fields) < 13 || !IsWholeDiskName(fields[2])) {
      return;
    }
    DiskCounters disk;
    if (!ParseNumber(fields[3], &disk.reads_completed) ||
        !ParseNumber(fields[5], &disk.sectors_read) ||
        !ParseNumber(fields[7], &disk.writes_completed) ||
        !ParseNumber(fields[9], &disk.sectors_written) ||
        !ParseNumber(fields[12], &disk.io_ticks_ms)) {
      return;
    }
    disk.name = std::string(fields[2]);
    disks.push_back(std::move(disk));
  });
  return disks;
}

Result<std::vector<NetCounters>> ParseNetDev(std::string_view text) {
  std::vector<NetCounters> interfaces;
  ForEachLine(text, [&](std::string_view line) {
    // Old kernels print "eth0:123" with no space once the byte count is wide,
    // so split on ':'.
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return;
    }
    std::array<std::string_view, 1> name_field;
    if (SplitWords(line.substr(0, colon), &name_field) != 1) {
      return;
    }
    // rx: bytes packets errs drop fifo frame compressed multicast, tx: bytes
    // packets errs drop
    std::array<std::string_view, 12> fields;
    if (SplitWords(line.substr(colon + 1), &fields) < 12) {
      return;
    }
    NetCounters counters;
    if (!ParseNumber(fields[0], &counters.rx_bytes) ||
        !ParseNumber(fields[2], &counters.rx_errors) ||
        !ParseNumber(fields[3], &counters.rx_dropped) ||
        !ParseNumber(fields[8], &counters.tx_bytes) ||
        !ParseNumber(fields[10], &counters.tx_errors) ||
        !ParseNumber(fields[11], &counters.tx_dropped)) {
      return;
    }
    counters.interface = std::string(name_field[0]);
    interfaces.push_back(std::move(counters));
  });
  return interfaces;
}

std::string DecodeMountEscapes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size()) {
      std::string_view digits = text.substr(i + 1, 3);
      bool octal =
          std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '7'; });
      if (octal) {
        int value = (digits[0] - '0') * 64 + (digits[1] - '0') * 8 + (digits[2] - '0');
        if (value > 0 && value < 256) {
          out.push_back(static_cast<char>(value));
          i += 3;
          continue;
        }
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

Result<std::vector<MountEntry>> ParseMounts(std::string_view text) {
  static constexpr std::array<std::string_view, 15> kLocalTypes = {
      "ext2", "ext3",  "ext4",    "xfs",  "btrfs", "zfs",      "vfat",    "exfat",
      "ntfs", "ntfs3", "fuseblk", "f2fs", "jfs",   "reiserfs", "bcachefs"};
  static constexpr std::array<std::string_view, 7> kNetworkTypes = {
      "nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs"};
  std::vector<MountEntry> mounts;
  ForEachLine(text, [&](std::string_view line) {
    std::array<std::string_view, 3> fields;
    if (SplitWords(line, &fields) < 3) {
      return;
    }
    std::string_view type = fields[2];
    bool local = std::find(kLocalTypes.begin(), kLocalTypes.end(), type) != kLocalTypes.end();
    bool network =
        std::find(kNetworkTypes.begin(), kNetworkTypes.end(), type) != kNetworkTypes.end();
    if (!local && !network) {
      return;
    }
    MountEntry entry;
    entry.device = DecodeMountEscapes(fields[0]);
    entry.mount_point = DecodeMountEscapes(fields[1]);
    entry.fs_type = std::string(type);
    entry.network = network;
    if (entry.mount_point.empty() || entry.mount_point.front() != '/') {
      return;
    }
    mounts.push_back(std::move(entry));
  });
  return mounts;
}

Result<PidStat> ParseProcPidStat(std::string_view text) {
  PidStat stat;
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return MakeError(ErrorCode::kInvalidArgument, "/proc/<pid>/stat: no (comm)");
  }
  std::string_view pid_text = text.substr(0, open);
  // Hot path (once per process per sample): a plain loop, not TrimRight's character-set search.
  while (!pid_text.empty() && IsTableSpace(pid_text.back())) {
    pid_text.remove_suffix(1);
  }
  uint64_t pid = 0;
  if (!ParseNumber(pid_text, &pid) || pid == 0 || pid > UINT32_MAX) {
    return MakeError(ErrorCode::kInvalidArgument, "/proc/<pid>/stat: bad pid");
  }
  stat.pid = static_cast<uint32_t>(pid);
  stat.comm = text.substr(open + 1, close - open - 1);
  // After ")": field 3 (state) is index 0, so field N is index N - 3.
  std::array<std::string_view, 22> fields;
  if (SplitWords(text.substr(close + 1), &fields) < 22) {
    return MakeError(ErrorCode::kInvalidArgument, "/proc/<pid>/stat: truncated");
  }
  if (fields[0].size() != 1) {
    return MakeError(ErrorCode::kInvalidArgument, "/proc/<pid>/stat: bad state");
  }
  stat.state = fields[0][0];
  if (!ParseNumber(fields[11], &stat.utime_ticks) || !ParseNumber(fields[12], &stat.stime_ticks) ||
      !ParseNumber(fields[19], &stat.start_time_ticks) ||
      !ParseNumber(fields[21], &stat.rss_pages)) {
    return MakeError(ErrorCode::kInvalidArgument, "/proc/<pid>/stat: bad number");
  }
  stat.rss_pages = std::max<int64_t>(stat.rss_pages, 0);
  return stat;
}

double RatePerSecond(uint64_t prev, uint64_t cur, double elapsed_seconds) {
  if (elapsed_seconds <= 0) {
    return 0;
  }
  return static_cast<double>(CounterDelta(prev, cur)) / elapsed_seconds;
}

CpuUsage ComputeCpuUsage(const CpuTimes& prev, const CpuTimes& cur) {
  CpuUsage usage;
  uint64_t total = CounterDelta(prev.Total(), cur.Total());
  uint64_t idle = CounterDelta(prev.idle, cur.idle);
  uint64_t iowait = CounterDelta(prev.iowait, cur.iowait);
  if (total == 0) {
    return usage;
  }
  uint64_t not_busy = std::min(total, idle + iowait);
  usage.busy_percent = Percent(total - not_busy, total);
  usage.iowait_percent = Percent(iowait, total);
  return usage;
}

namespace {

// Index of `name` in `items`, trying `hint` first because devices rarely change
// order.
template <typename T, typename Key>
const T* FindByName(const std::vector<T>& items, size_t hint, const std::string& name, Key key) {
  if (hint < items.size() && items[hint].*key == name) {
    return &items[hint];
  }
  for (const T& item : items) {
    if (item.*key == name) {
      return &item;
    }
  }
  return nullptr;
}

// One Io per item of `cur`, made by fill(now, before, &io); `before` is the same-named item of
// `prev`, or null when there is none or no time elapsed (no rate can be computed).
template <typename Io, typename Counters, typename Fill>
std::vector<Io> PerItemRates(const std::vector<Counters>& prev, const std::vector<Counters>& cur,
                             std::string Counters::*name, double elapsed_seconds, Fill fill) {
  std::vector<Io> result;
  result.reserve(cur.size());
  for (size_t i = 0; i < cur.size(); ++i) {
    const Counters& now = cur[i];
    const Counters* before = FindByName(prev, i, now.*name, name);
    Io io;
    fill(now, elapsed_seconds > 0 ? before : nullptr, &io);
    result.push_back(std::move(io));
  }
  return result;
}

}  // namespace

std::vector<dozor::v1::DiskIo> ComputeDiskIo(const std::vector<DiskCounters>& prev,
                                             const std::vector<DiskCounters>& cur,
                                             double elapsed_seconds) {
  auto fill = [&](const DiskCounters& now, const DiskCounters* before, dozor::v1::DiskIo* io) {
    io->set_device(now.name);
    if (before == nullptr) {
      return;
    }
    constexpr double kSectorBytes = 512;
    io->set_read_bytes_per_s(
        kSectorBytes * RatePerSecond(before->sectors_read, now.sectors_read, elapsed_seconds));
    io->set_write_bytes_per_s(kSectorBytes * RatePerSecond(before->sectors_written,
                                                           now.sectors_written, elapsed_seconds));
    io->set_reads_per_s(
        RatePerSecond(before->reads_completed, now.reads_completed, elapsed_seconds));
    io->set_writes_per_s(
        RatePerSecond(before->writes_completed, now.writes_completed, elapsed_seconds));
    double busy_ms = static_cast<double>(CounterDelta(before->io_ticks_ms, now.io_ticks_ms));
    io->set_busy_percent(std::clamp(busy_ms / (elapsed_seconds * 10.0), 0.0, 100.0));
  };
  return PerItemRates<dozor::v1::DiskIo>(prev, cur, &DiskCounters::name, elapsed_seconds, fill);
}

std::vector<dozor::v1::NetworkIo> ComputeNetworkIo(const std::vector<NetCounters>& prev,
                                                   const std::vector<NetCounters>& cur,
                                                   double elapsed_seconds) {
  auto fill = [&](const NetCounters& now, const NetCounters* before, dozor::v1::NetworkIo* io) {
    io->set_interface(now.interface);
    if (before == nullptr) {
      return;
    }
    io->set_rx_bytes_per_s(RatePerSecond(before->rx_bytes, now.rx_bytes, elapsed_seconds));
    io->set_tx_bytes_per_s(RatePerSecond(before->tx_bytes, now.tx_bytes, elapsed_seconds));
    io->set_rx_errors(CounterDelta(before->rx_errors, now.rx_errors));
    io->set_tx_errors(CounterDelta(before->tx_errors, now.tx_errors));
    io->set_rx_dropped(CounterDelta(before->rx_dropped, now.rx_dropped));
    io->set_tx_dropped(CounterDelta(before->tx_dropped, now.tx_dropped));
  };
  return PerItemRates<dozor::v1::NetworkIo>(prev, cur, &NetCounters::interface, elapsed_seconds,
                                            fill);
}

double ProcessCpuPercent(uint64_t prev_ticks, uint64_t cur_ticks, double elapsed_seconds,
                         int64_t ticks_per_second) {
  if (elapsed_seconds <= 0 || ticks_per_second <= 0) {
    return 0;
  }
  double seconds = static_cast<double>(CounterDelta(prev_ticks, cur_ticks)) /
                   static_cast<double>(ticks_per_second);
  return 100.0 * seconds / elapsed_seconds;
}

}  // namespace dozor::agent
