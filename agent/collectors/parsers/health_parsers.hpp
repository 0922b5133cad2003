// Pure parsers for the Linux health sources (/proc/stat, loadavg, meminfo,
// diskstats, net/dev, mounts, /proc/<pid>/stat) and the rate arithmetic over
// two readings. No I/O here: text in, struct out, so every odd input is
// testable on fixture text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dozor/common/result.hpp"
#include "dozor/v1/agent.pb.h"

namespace dozor::agent {

// Aggregate "cpu" line of /proc/stat, in clock ticks. Fields a kernel does not
// report (iowait and later on very old kernels) stay 0. guest/guest_nice are
// already inside user/nice, so not kept.
struct CpuTimes {
  uint64_t user = 0;
  uint64_t nice = 0;
  uint64_t system = 0;
  uint64_t idle = 0;
  uint64_t iowait = 0;
  uint64_t irq = 0;
  uint64_t softirq = 0;
  uint64_t steal = 0;

  [[nodiscard]] uint64_t Total() const {
    return user + nice + system + idle + iowait + irq + softirq + steal;
  }
};

struct ProcStat {
  CpuTimes cpu;
  int64_t boot_time = 0;  // "btime", Unix seconds; 0 when absent
};

// kInvalidArgument when there is no aggregate "cpu" line with at least user,
// nice, system, idle.
[[nodiscard]] Result<ProcStat> ParseProcStat(std::string_view text);

struct LoadAverage {
  double load1 = 0;
  double load5 = 0;
  double load15 = 0;
};

[[nodiscard]] Result<LoadAverage> ParseLoadavg(std::string_view text);

struct MemInfo {
  uint64_t total_bytes = 0;
  uint64_t available_bytes = 0;  // MemAvailable, or MemFree+Buffers+Cached before Linux 3.14
  uint64_t swap_total_bytes = 0;
  uint64_t swap_free_bytes = 0;
};

// kInvalidArgument when MemTotal is missing.
[[nodiscard]] Result<MemInfo> ParseMeminfo(std::string_view text);

// One whole disk from /proc/diskstats (cumulative counters since boot).
struct DiskCounters {
  std::string name;
  uint64_t reads_completed = 0;
  uint64_t sectors_read = 0;  // always 512-byte units, whatever the device's sector size
  uint64_t writes_completed = 0;
  uint64_t sectors_written = 0;
  uint64_t io_ticks_ms = 0;  // time the device had I/O in flight
};

// True for whole disks worth reporting: sdX, vdX, xvdX, hdX, nvmeXnY, mmcblkN,
// mdN, dm-N. Partitions (sda1, nvme0n1p2, mmcblk0p1), loop, ram, zram, optical
// and the like are false.
[[nodiscard]] bool IsWholeDiskName(std::string_view name);

// Keeps whole disks only (IsWholeDiskName); malformed or truncated lines are
// skipped.
[[nodiscard]] Result<std::vector<DiskCounters>> ParseDiskstats(std::string_view text);

struct NetCounters {
  std::string interface;
  uint64_t rx_bytes = 0;
  uint64_t rx_errors = 0;
  uint64_t rx_dropped = 0;
  uint64_t tx_bytes = 0;
  uint64_t tx_errors = 0;
  uint64_t tx_dropped = 0;
};

// Every interface of /proc/net/dev (including lo: filtering is the caller's
// policy); header and malformed lines are skipped.
[[nodiscard]] Result<std::vector<NetCounters>> ParseNetDev(std::string_view text);

struct MountEntry {
  std::string device;
  std::string mount_point;  // octal escapes (\040 etc.) decoded
  std::string fs_type;
  bool network = false;  // nfs, cifs, ...: statvfs on these may block while the
                         // server is away
};

// "\040" -> " ", "\011" -> tab, "\012" -> newline, "\134" -> backslash;
// anything else verbatim.
[[nodiscard]] std::string DecodeMountEscapes(std::string_view text);

// Real filesystems only (ext2/3/4, xfs, btrfs, zfs, vfat, exfat, ntfs, f2fs,
// jfs, reiserfs and network ones marked `network`); pseudo and volatile ones
// (proc, sysfs, tmpfs, overlay, squashfs, cgroup, ...) are dropped. Order of
// the file is kept.
[[nodiscard]] Result<std::vector<MountEntry>> ParseMounts(std::string_view text);

// The fields of /proc/<pid>/stat the sampler needs. `comm` points into the
// parsed text (no allocation on the per-process hot path), so it is valid only
// while that text is.
struct PidStat {
  uint32_t pid = 0;
  std::string_view comm;
  char state = '?';
  uint64_t utime_ticks = 0;
  uint64_t stime_ticks = 0;
  uint64_t start_time_ticks = 0;  // since boot; tells a reused pid from the old process
  int64_t rss_pages = 0;
};

// comm may contain spaces and ')' (it is whatever the process set), so fields
// are read after the LAST ')'. kInvalidArgument on truncated or malformed text.
[[nodiscard]] Result<PidStat> ParseProcPidStat(std::string_view text);

// ---------------------------------------------------------------- rates over two readings

// cur - prev, or 0 when the counter went backwards (wrap at 32 bits, driver
// reset, reboot).
[[nodiscard]] inline uint64_t CounterDelta(uint64_t prev, uint64_t cur) {
  return cur >= prev ? cur - prev : 0;
}

// CounterDelta per second; 0 when elapsed_seconds <= 0.
[[nodiscard]] double RatePerSecond(uint64_t prev, uint64_t cur, double elapsed_seconds);

struct CpuUsage {
  double busy_percent = 0;    // everything but idle and iowait, 0..100
  double iowait_percent = 0;  // 0..100
};

// Over all cores between two readings; zeros when no tick elapsed or counters
// went backwards.
[[nodiscard]] CpuUsage ComputeCpuUsage(const CpuTimes& prev, const CpuTimes& cur);

// One DiskIo per disk of `cur`; a disk absent from `prev` (hot-plugged) gets
// zero rates. busy_percent is io_ticks over elapsed wall time, capped at 100.
[[nodiscard]] std::vector<dozor::v1::DiskIo> ComputeDiskIo(const std::vector<DiskCounters>& prev,
                                                           const std::vector<DiskCounters>& cur,
                                                           double elapsed_seconds);

// One NetworkIo per interface of `cur`; errors and drops are counts during the
// interval.
[[nodiscard]] std::vector<dozor::v1::NetworkIo> ComputeNetworkIo(
    const std::vector<NetCounters>& prev, const std::vector<NetCounters>& cur,
    double elapsed_seconds);

// CPU of one process as percent of one core (may exceed 100 for multi-threaded
// processes).
[[nodiscard]] double ProcessCpuPercent(uint64_t prev_ticks, uint64_t cur_ticks,
                                       double elapsed_seconds, int64_t ticks_per_second);

}  // namespace dozor::agent
