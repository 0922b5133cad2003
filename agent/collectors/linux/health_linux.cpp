// Linux health sources: /proc and /sys under ctx.root, statvfs on mount points.
// Parsing lives in parsers/health_parsers.cpp; this file only reads, keeps
// previous counters and assembles.
#include "collectors/linux/health_linux.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <exception>
#include <utility>

#include "collectors/parsers/text.hpp"

namespace dozor::agent {
namespace {

constexpr size_t kInitialBufferBytes = 64 * 1024;
// /proc/mounts on a container host with thousands of mounts is the largest file
// read here.
constexpr size_t kMaxFileBytes = 16 * 1024 * 1024;
constexpr size_t kPidStatBufferBytes = 4096;
constexpr double kMinCelsius = -50;
constexpr double kMaxCelsius = 150;

int64_t MonotonicNowMs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

void AddError(std::vector<std::string>* errors, std::string message) {
  if (errors != nullptr) {
    errors->push_back(std::move(message));
  }
}

std::string ErrnoText(int error_number) { return std::strerror(error_number); }

// Reads all of fd into *buffer (grown as needed up to kMaxFileBytes); returns
// bytes read or -errno.
ssize_t ReadAll(int fd, std::vector<char>* buffer) {
  size_t used = 0;
  while (true) {
    if (used == buffer->size()) {
      if (buffer->size() >= kMaxFileBytes) {
        return -EFBIG;
      }
      buffer->resize(std::min(kMaxFileBytes, std::max<size_t>(buffer->size() * 2, 4096)));
    }
    ssize_t n = ::read(fd, buffer->data() + used, buffer->size() - used);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return -errno;
    }
    if (n == 0) {
      return static_cast<ssize_t>(used);
    }
    used += static_cast<size_t>(n);
  }
}

// Reads at most `size` bytes of dir_fd/relative with one read(2), as /proc and sysfs files are
// produced whole by one read; bytes read, or -1 when the file cannot be opened or read.
ssize_t ReadOnceAt(int dir_fd, const char* relative, char* buffer, size_t size) {
  int fd = ::openat(dir_fd, relative, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return -1;
  }
  ssize_t n;
  do {
    n = ::read(fd, buffer, size);
  } while (n < 0 && errno == EINTR);
  ::close(fd);
  return n;
}

// Small sysfs value (a number or a name) relative to a directory fd; trimmed.
// False if unreadable.
bool ReadSmallAt(int dir_fd, const char* relative, std::string* out) {
  char text[256];
  ssize_t n = ReadOnceAt(dir_fd, relative, text, sizeof(text));
  if (n <= 0) {
    return false;
  }
  constexpr std::string_view kPadding("\n \0", 3);
  out->assign(TrimRight(std::string_view(text, static_cast<size_t>(n)), kPadding));
  return !out->empty();
}

class DirCloser {
 public:
  explicit DirCloser(DIR* dir) : dir_(dir) {}
  ~DirCloser() {
    if (dir_ != nullptr) {
      ::closedir(dir_);
    }
  }
  DirCloser(const DirCloser&) = delete;
  DirCloser& operator=(const DirCloser&) = delete;

 private:
  DIR* dir_;
};

// Directory entries starting with `prefix`, in natural order (zone2 before
// zone10): readdir order is arbitrary and a stable output order keeps
// dashboards and tests calm.
std::vector<std::string> ListSorted(DIR* dir, std::string_view prefix) {
  std::vector<std::string> names;
  while (dirent* entry = ::readdir(dir)) {
    if (std::string_view(entry->d_name).starts_with(prefix)) {
      names.emplace_back(entry->d_name);
    }
  }
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  return names;
}

}  // namespace

LinuxHealthSampler::LinuxHealthSampler(CollectContext ctx, LinuxHealthOptions options)
    : ctx_(std::move(ctx)), options_(std::move(options)) {
  if (!options_.monotonic_ms) {
    options_.monotonic_ms = MonotonicNowMs;
  }
  if (options_.page_size <= 0) {
    options_.page_size = ::sysconf(_SC_PAGESIZE);
  }
  if (options_.ticks_per_second <= 0) {
    options_.ticks_per_second = ::sysconf(_SC_CLK_TCK);
  }
  proc_dir_ = ctx_.Path("/proc").string();
  stat_path_ = ctx_.Path("/proc/stat").string();
  loadavg_path_ = ctx_.Path("/proc/loadavg").string();
  meminfo_path_ = ctx_.Path("/proc/meminfo").string();
  diskstats_path_ = ctx_.Path("/proc/diskstats").string();
  net_dev_path_ = ctx_.Path("/proc/net/dev").string();
  mounts_path_ = ctx_.Path("/proc/mounts").string();
  thermal_dir_ = ctx_.Path("/sys/class/thermal").string();
  hwmon_dir_ = ctx_.Path("/sys/class/hwmon").string();
  buffer_.resize(kInitialBufferBytes);
  pid_buffer_.resize(kPidStatBufferBytes);
}

void LinuxHealthSampler::ReleaseMemory() {
  buffer_.assign(kInitialBufferBytes, 0);
  buffer_.shrink_to_fit();
  rows_.clear();
  rows_.shrink_to_fit();
  current_ticks_.clear();
  current_ticks_.shrink_to_fit();
}

Result<std::string_view> LinuxHealthSampler::ReadToBuffer(const std::string& path) {
  // O_NONBLOCK: a FIFO in place of a /proc file must fail this read, not hang every sample
  // (reading one with no writer returns at once; with a silent writer, EAGAIN). Regular and
  // procfs files ignore the flag, so the hot path pays no extra system call.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int error_number = errno;
    return MakeError(error_number == ENOENT ? ErrorCode::kNotFound : ErrorCode::kUnavailable,
                     path + ": " + ErrnoText(error_number));
  }
  ssize_t n = ReadAll(fd, &buffer_);
  ::close(fd);
  if (n < 0) {
    return MakeError(n == -EFBIG ? ErrorCode::kResourceExhausted : ErrorCode::kUnavailable,
                     path + ": " + ErrnoText(static_cast<int>(-n)));
  }
  return std::string_view(buffer_.data(), static_cast<size_t>(n));
}

double LinuxHealthSampler::ElapsedSeconds(int64_t now_ms, int64_t then_ms) const {
  return now_ms > then_ms ? static_cast<double>(now_ms - then_ms) / 1000.0 : 0.0;
}

Result<dozor::v1::HealthSample> LinuxHealthSampler::Sample(std::vector<std::string>* errors) {
  try {
    dozor::v1::HealthSample sample;
    int64_t now_ms = options_.monotonic_ms();
    if (have_previous_sample_) {
      sample.set_interval_seconds(
          static_cast<uint32_t>(std::lround(ElapsedSeconds(now_ms, previous_sample_ms_))));
    }

    bool have_stat = false;
    auto stat_text = ReadToBuffer(stat_path_);
    Result<ProcStat> stat = stat_text.ok() ? ParseProcStat(*stat_text) : stat_text.error();
    if (stat.ok()) {
      have_stat = true;
      if (previous_cpu_.valid) {
        CpuUsage usage = ComputeCpuUsage(previous_cpu_.value, stat->cpu);
        sample.set_cpu_percent(usage.busy_percent);
        sample.set_cpu_iowait_percent(usage.iowait_percent);
      }
      previous_cpu_ = {stat->cpu, now_ms, true};
    } else {
      AddError(errors, "cpu: " + stat.error().message);
    }

    auto load_text = ReadToBuffer(loadavg_path_);
    Result<LoadAverage> load = load_text.ok() ? ParseLoadavg(*load_text) : load_text.error();
    if (load.ok()) {
      sample.set_load1(load->load1);
      sample.set_load5(load->load5);
      sample.set_load15(load->load15);
    } else {
      AddError(errors, "load: " + load.error().message);
    }

    bool have_memory = false;
    auto mem_text = ReadToBuffer(meminfo_path_);
    Result<MemInfo> mem = mem_text.ok() ? ParseMeminfo(*mem_text) : mem_text.error();
    if (mem.ok()) {
      have_memory = true;
      sample.set_memory_total_bytes(mem->total_bytes);
      sample.set_memory_available_bytes(mem->available_bytes);
      sample.set_swap_total_bytes(mem->swap_total_bytes);
      sample.set_swap_free_bytes(mem->swap_free_bytes);
    } else {
      AddError(errors, "memory: " + mem.error().message);
    }

    if (!have_stat && !have_memory) {
      return MakeError(ErrorCode::kUnavailable,
                       "health: neither " + stat_path_ + " nor " + meminfo_path_ + " is readable");
    }

    auto disk_text = ReadToBuffer(diskstats_path_);
    Result<std::vector<DiskCounters>> disks =
        disk_text.ok() ? ParseDiskstats(*disk_text) : disk_text.error();
    if (disks.ok()) {
      double elapsed = previous_disks_.valid ? ElapsedSeconds(now_ms, previous_disks_.at_ms) : 0;
      for (auto& io : ComputeDiskIo(previous_disks_.value, *disks, elapsed)) {
        *sample.add_disks() = std::move(io);
      }
      previous_disks_ = {std::move(disks).value(), now_ms, true};
    } else {
      AddError(errors, "disks: " + disks.error().message);
    }

    auto net_text = ReadToBuffer(net_dev_path_);
    Result<std::vector<NetCounters>> nets =
        net_text.ok() ? ParseNetDev(*net_text) : net_text.error();
    if (nets.ok()) {
      // Loopback traffic says nothing about the host's health and would crowd
      // the dashboard.
      std::erase_if(*nets, [](const NetCounters& n) { return n.interface == "lo"; });
      double elapsed =
          previous_networks_.valid ? ElapsedSeconds(now_ms, previous_networks_.at_ms) : 0;
      for (auto& io : ComputeNetworkIo(previous_networks_.value, *nets, elapsed)) {
        *sample.add_networks() = std::move(io);
      }
      previous_networks_ = {std::move(nets).value(), now_ms, true};
    } else {
      AddError(errors, "network: " + nets.error().message);
    }

    SampleFilesystems(&sample, errors);
    SampleProcesses(now_ms, &sample, errors);
    SampleTemperatures(&sample, errors);

    previous_sample_ms_ = now_ms;
    have_previous_sample_ = true;
    return sample;
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, std::string("health sampler threw: ") + e.what());
  }
}

void LinuxHealthSampler::SampleFilesystems(dozor::v1::HealthSample* out,
                                           std::vector<std::string>* errors) {
  auto text = ReadToBuffer(mounts_path_);
  Result<std::vector<MountEntry>> mounts = text.ok() ? ParseMounts(*text) : text.error();
  if (!mounts.ok()) {
    AddError(errors, "filesystems: " + mounts.error().message);
    return;
  }
  for (const MountEntry& mount : *mounts) {
    if (mount.network && !options_.stat_network_filesystems) {
      continue;
    }
    struct statvfs vfs {};
    std::string path = ctx_.Path(mount.mount_point).string();
    if (::statvfs(path.c_str(), &vfs) != 0) {
      AddError(errors, "filesystems: statvfs " + path + ": " + ErrnoText(errno));
      continue;
    }
    if (vfs.f_blocks == 0) {
      continue;
    }
    uint64_t block = vfs.f_frsize != 0 ? vfs.f_frsize : vfs.f_bsize;
    dozor::v1::FilesystemUsage usage;
    usage.set_mount_point(mount.mount_point);
    usage.set_device(mount.device);
    usage.set_fs_type(mount.fs_type);
    usage.set_total_bytes(static_cast<uint64_t>(vfs.f_blocks) * block);
    usage.set_free_bytes(static_cast<uint64_t>(vfs.f_bfree) * block);
    usage.set_available_bytes(static_cast<uint64_t>(vfs.f_bavail) * block);
    usage.set_inodes_total(vfs.f_files);
    usage.set_inodes_free(vfs.f_ffree);

    // The same device mounted again (bind mounts, containers' /etc/hosts) or a
    // mount point mounted over: report each once, under its shortest mount
    // point / its latest mount.
    auto* filesystems = out->mutable_filesystems();
    auto same = std::find_if(filesystems->begin(), filesystems->end(), [&](const auto& fs) {
      return fs.mount_point() == mount.mount_point || fs.device() == mount.device;
    });
    if (same == filesystems->end()) {
      *out->add_filesystems() = std::move(usage);
    } else if (same->mount_point() == mount.mount_point ||
               mount.mount_point.size() < same->mount_point().size()) {
      *same = std::move(usage);
    }
  }
}

void LinuxHealthSampler::SampleProcesses(int64_t now_ms, dozor::v1::HealthSample* out,
                                         std::vector<std::string>* errors) {
  DIR* dir = ::opendir(proc_dir_.c_str());
  if (dir == nullptr) {
    AddError(errors, "processes: " + proc_dir_ + ": " + ErrnoText(errno));
    return;
  }
  DirCloser closer(dir);
  int dir_fd = ::dirfd(dir);
  const bool rates = have_previous_process_scan_;
  const double elapsed = rates ? ElapsedSeconds(now_ms, previous_process_scan_ms_) : 0;
  current_ticks_.clear();
  size_t row_count = 0;
  size_t scanned = 0;
  bool complete = true;
  char relative[64];
  while (dirent* entry = ::readdir(dir)) {
    if (!IsAllDigits(entry->d_name)) {
      continue;
    }
    if (++scanned > options_.max_processes) {
      complete = false;
      break;
    }
    size_t name_length = std::strlen(entry->d_name);
    if (name_length + sizeof("/stat") > sizeof(relative)) {
      continue;
    }
    std::memcpy(relative, entry->d_name, name_length);
    std::memcpy(relative + name_length, "/stat", sizeof("/stat"));
    // A pid that exited since readdir, or a directory without stat: not a
    // process to count.
    ssize_t n = ReadOnceAt(dir_fd, relative, pid_buffer_.data(), pid_buffer_.size());
    if (n <= 0) {
      continue;
    }
    auto stat = ParseProcPidStat(std::string_view(pid_buffer_.data(), static_cast<size_t>(n)));
    if (!stat.ok()) {
      continue;
    }
    uint64_t ticks = stat->utime_ticks + stat->stime_ticks;
    double cpu_percent = 0;
    if (rates) {
      auto previous =
          std::lower_bound(previous_ticks_.begin(), previous_ticks_.end(), stat->pid,
                           [](const ProcessTicks& t, uint32_t pid) { return t.pid < pid; });
      bool same_process = previous != previous_ticks_.end() && previous->pid == stat->pid &&
                          previous->start_time_ticks == stat->start_time_ticks;
      if (same_process) {
        cpu_percent = ProcessCpuPercent(previous->ticks, ticks, elapsed, options_.ticks_per_second);
      } else if (previous_process_scan_complete_) {
        // Not there at the last complete scan: it started since, so all its CPU
        // is in the interval.
        cpu_percent = ProcessCpuPercent(0, ticks, elapsed, options_.ticks_per_second);
      }
    }
    current_ticks_.push_back({stat->pid, stat->start_time_ticks, ticks});
    if (row_count == rows_.size()) {
      rows_.emplace_back();
    }
    ProcessRow& row = rows_[row_count++];
    row.pid = stat->pid;
    row.cpu_percent = cpu_percent;
    row.rss_bytes =
        static_cast<uint64_t>(stat->rss_pages) * static_cast<uint64_t>(options_.page_size);
    row.name.assign(stat->comm);
  }
  if (!complete) {
    AddError(errors, "processes: more than " + std::to_string(options_.max_processes) +
                         " entries in " + proc_dir_ + "; the rest were not scanned");
  }
  out->set_process_count(static_cast<uint32_t>(row_count));

  // /proc lists pids in ascending order; a fixture directory may not.
  auto by_pid = [](const ProcessTicks& a, const ProcessTicks& b) { return a.pid < b.pid; };
  if (!std::is_sorted(current_ticks_.begin(), current_ticks_.end(), by_pid)) {
    std::sort(current_ticks_.begin(), current_ticks_.end(), by_pid);
  }
  std::swap(previous_ticks_, current_ticks_);
  previous_process_scan_ms_ = now_ms;
  previous_process_scan_complete_ = complete;
  have_previous_process_scan_ = true;

  auto rows_end = rows_.begin() + static_cast<std::ptrdiff_t>(row_count);
  size_t top = std::min(options_.top_processes, row_count);
  auto top_end = rows_.begin() + static_cast<std::ptrdiff_t>(top);
  // The `top` rows with the largest non-zero `metric` (ties by pid) into `list`: processes at 0
  // say nothing about where the CPU or memory went.
  auto add_top = [&](auto metric, auto* list) {
    std::partial_sort(rows_.begin(), top_end, rows_end,
                      [&](const ProcessRow& a, const ProcessRow& b) {
                        return a.*metric != b.*metric ? a.*metric > b.*metric : a.pid < b.pid;
                      });
    for (auto it = rows_.begin(); it != top_end && (*it).*metric > 0; ++it) {
      auto* usage = list->Add();
      usage->set_pid(it->pid);
      usage->set_name(it->name);
      usage->set_cpu_percent(it->cpu_percent);
      usage->set_rss_bytes(it->rss_bytes);
    }
  };
  add_top(&ProcessRow::cpu_percent, out->mutable_top_cpu());
  add_top(&ProcessRow::rss_bytes, out->mutable_top_memory());
}

void LinuxHealthSampler::AddTemperature(std::string sensor, std::string_view millidegrees,
                                        dozor::v1::HealthSample* out) {
  if (static_cast<size_t>(out->temperatures_size()) >= options_.max_temperatures) {
    return;
  }
  int64_t value = 0;
  if (!ParseNumber(millidegrees, &value)) {
    return;
  }
  double celsius = static_cast<double>(value) / 1000.0;
  // Disconnected inputs read as -273, 0x7fff or 255 °C; those are not
  // temperatures.
  if (celsius < kMinCelsius || celsius > kMaxCelsius) {
    return;
  }
  auto* temperature = out->add_temperatures();
  temperature->set_sensor(std::move(sensor));
  temperature->set_celsius(celsius);
}

void LinuxHealthSampler::SampleTemperatures(dozor::v1::HealthSample* out,
                                            std::vector<std::string>* errors) {
  bool any_source = false;
  std::string value;
  std::string name;

  if (DIR* dir = ::opendir(thermal_dir_.c_str())) {
    DirCloser closer(dir);
    any_source = true;
    int dir_fd = ::dirfd(dir);
    for (const std::string& zone : ListSorted(dir, "thermal_zone")) {
      if (!ReadSmallAt(dir_fd, (zone + "/temp").c_str(), &value)) {
        continue;
      }
      if (!ReadSmallAt(dir_fd, (zone + "/type").c_str(), &name)) {
        name = zone;
      }
      AddTemperature(name, value, out);
    }
  }

  if (DIR* dir = ::opendir(hwmon_dir_.c_str())) {
    DirCloser closer(dir);
    any_source = true;
    int class_fd = ::dirfd(dir);
    for (const std::string& hwmon : ListSorted(dir, "hwmon")) {
      // Kernels before 3.x kept the attributes under hwmonN/device/.
      std::string base = hwmon;
      if (!ReadSmallAt(class_fd, (base + "/name").c_str(), &name)) {
        base += "/device";
        if (!ReadSmallAt(class_fd, (base + "/name").c_str(), &name)) {
          name = hwmon;
          base = hwmon;
        }
      }
      int hwmon_fd = ::openat(class_fd, base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (hwmon_fd < 0) {
        continue;
      }
      DIR* hwmon_dir = ::fdopendir(hwmon_fd);
      if (hwmon_dir == nullptr) {
        ::close(hwmon_fd);
        continue;
      }
      DirCloser hwmon_closer(hwmon_dir);
      for (const std::string& input : ListSorted(hwmon_dir, "temp")) {
        if (input.size() <= 10 || input.compare(input.size() - 6, 6, "_input") != 0) {
          continue;
        }
        if (!ReadSmallAt(hwmon_fd, input.c_str(), &value)) {
          continue;
        }
        std::string channel = input.substr(0, input.size() - 6);  // "temp1"
        std::string label;
        if (!ReadSmallAt(hwmon_fd, (channel + "_label").c_str(), &label)) {
          label = channel;
        }
        AddTemperature(name + "/" + label, value, out);
      }
    }
  }

  if (!any_source) {
    AddError(errors, "temperatures: neither " + thermal_dir_ + " nor " + hwmon_dir_ + " exists");
  }
}

std::unique_ptr<HealthSampler> MakeHealthSampler(const CollectContext& ctx) {
  return std::make_unique<LinuxHealthSampler>(ctx);
}

}  // namespace dozor::agent
