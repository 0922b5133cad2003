// The Windows health sampler: GetSystemTimes (CPU), GlobalMemoryStatusEx (memory and the page
// file), the fixed drives (space), GetIfTable2 (network), a Toolhelp snapshot with per-process
// times and working sets (processes), and PDH's PhysicalDisk counters (disk throughput and busy
// time). The rate arithmetic is the Linux sampler's (parsers/health_parsers.hpp). Windows has no
// load average and no iowait: those fields stay 0. No temperatures: Windows exposes none without
// vendor drivers (MSAcpi_ThermalZoneTemperature is absent or frozen on most PCs).
//
// Not thread-safe: one sampler per scheduler thread, like the Linux one. The first Sample()
// primes the counters and reports rates as 0.
#include "collectors/health.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cwchar>
#include <exception>
#include <iterator>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "collectors/parsers/health_parsers.hpp"
#include "platform/windows/wide_text.hpp"

// After the project headers: <windows.h>'s macros break the generated agent.pb.h. The socket
// headers first: the IP helper's need them, and ahead of <windows.h>.
#include <winsock2.h>
#include <ws2tcpip.h>

#include "platform/windows/win32_handles.hpp"

#include <iphlpapi.h>
#include <netioapi.h>
#include <pdh.h>
#include <pdhmsg.h>
#include <psapi.h>
#include <tlhelp32.h>

namespace dozor::agent {
namespace {

using platform::HresultText;
using platform::Narrow;
using platform::UniqueHandle;
using platform::WindowsErrorMessage;

constexpr size_t kMaxProcesses = 65536;
constexpr size_t kTopProcesses = 5;
// FILETIME and process times count 100-nanosecond intervals.
constexpr int64_t kFileTimeTicksPerSecond = 10'000'000;
// A PDH query that could not be built (performance counters disabled or corrupt, a common
// Windows ailment fixed with `lodctr /r`) is retried this often, not every sample.
constexpr int64_t kPdhRetryMs = 10 * 60 * 1000;
constexpr int kPdhFormatAttempts = 3;
constexpr wchar_t kTotalInstance[] = L"_Total";

int64_t MonotonicNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

uint64_t Ticks(const FILETIME& time) {
  return (static_cast<uint64_t>(time.dwHighDateTime) << 32) | time.dwLowDateTime;
}

void AddError(std::vector<std::string>* errors, std::string message) {
  if (errors != nullptr) {
    errors->push_back(std::move(message));
  }
}

double ElapsedSeconds(int64_t now_ms, int64_t then_ms) {
  return now_ms > then_ms ? static_cast<double>(now_ms - then_ms) / 1000.0 : 0.0;
}

class MibTable {
 public:
  MibTable() = default;
  ~MibTable() {
    if (table_ != nullptr) {
      ::FreeMibTable(table_);
    }
  }
  MibTable(const MibTable&) = delete;
  MibTable& operator=(const MibTable&) = delete;
  [[nodiscard]] PMIB_IF_TABLE2* Put() { return &table_; }
  [[nodiscard]] const MIB_IF_TABLE2* get() const { return table_; }

 private:
  PMIB_IF_TABLE2 table_ = nullptr;
};

class WindowsHealthSampler final : public HealthSampler {
 public:
  WindowsHealthSampler() = default;
  ~WindowsHealthSampler() override { ClosePdh(); }
  WindowsHealthSampler(const WindowsHealthSampler&) = delete;
  WindowsHealthSampler& operator=(const WindowsHealthSampler&) = delete;

  Result<dozor::v1::HealthSample> Sample(std::vector<std::string>* errors) override;
  void ReleaseMemory() override;

 private:
  struct ProcessTimes {
    uint32_t pid = 0;
    uint64_t created = 0;  // FILETIME: tells a reused pid from the old process
    uint64_t cpu = 0;      // kernel + user, 100 ns
  };
  struct ProcessRow {
    uint32_t pid = 0;
    double cpu_percent = 0;
    uint64_t rss_bytes = 0;
    std::string name;
  };
  template <typename T>
  struct Previous {
    T value{};
    int64_t at_ms = 0;
    bool valid = false;
  };
  struct DiskCounters {
    PDH_HCOUNTER idle_percent = nullptr;
    PDH_HCOUNTER read_bytes = nullptr;
    PDH_HCOUNTER write_bytes = nullptr;
    PDH_HCOUNTER reads = nullptr;
    PDH_HCOUNTER writes = nullptr;
  };

  bool SampleCpu(int64_t now_ms, dozor::v1::HealthSample* out, std::vector<std::string>* errors);
  bool SampleMemory(dozor::v1::HealthSample* out, std::vector<std::string>* errors);
  void SampleFilesystems(dozor::v1::HealthSample* out, std::vector<std::string>* errors);
  void SampleNetworks(int64_t now_ms, dozor::v1::HealthSample* out,
                      std::vector<std::string>* errors);
  void SampleProcesses(int64_t now_ms, dozor::v1::HealthSample* out,
                       std::vector<std::string>* errors);
  void CollectPdh(int64_t now_ms, std::vector<std::string>* errors);
  void SampleDisks(dozor::v1::HealthSample* out, std::vector<std::string>* errors);
  bool OpenPdh(std::string* error);
  void ClosePdh();
  // The counter's value per instance ("0 C:"), _Total left out; invalid values skipped.
  Result<std::vector<std::pair<std::wstring, double>>> InstanceValues(PDH_HCOUNTER counter);

  Previous<CpuTimes> previous_cpu_;
  Previous<std::vector<NetCounters>> previous_networks_;
  std::vector<ProcessTimes> previous_times_;
  std::vector<ProcessTimes> current_times_;
  std::vector<ProcessRow> rows_;
  int64_t previous_process_scan_ms_ = 0;
  uint64_t previous_process_scan_time_ = 0;  // FILETIME of the last scan
  bool have_previous_process_scan_ = false;
  int64_t previous_sample_ms_ = 0;
  bool have_previous_sample_ = false;

  PDH_HQUERY pdh_query_ = nullptr;
  DiskCounters disk_counters_;
  PDH_HCOUNTER paging_usage_ = nullptr;  // "% Usage" of all page files; null when absent
  bool pdh_collected_ = false;           // a collection happened: the next gives rates
  bool pdh_ready_ = false;               // two collections: rates are valid
  std::string pdh_error_;
  int64_t next_pdh_attempt_ms_ = 0;
  std::vector<PDH_FMT_COUNTERVALUE_ITEM_W> pdh_items_;
};

void WindowsHealthSampler::ReleaseMemory() {
  rows_.clear();
  rows_.shrink_to_fit();
  current_times_.clear();
  current_times_.shrink_to_fit();
  pdh_items_.clear();
  pdh_items_.shrink_to_fit();
}

Result<dozor::v1::HealthSample> WindowsHealthSampler::Sample(std::vector<std::string>* errors) {
  try {
    dozor::v1::HealthSample sample;
    const int64_t now_ms = MonotonicNowMs();
    if (have_previous_sample_) {
      sample.set_interval_seconds(
          static_cast<uint32_t>(std::lround(ElapsedSeconds(now_ms, previous_sample_ms_))));
    }
    // First, so the page file's usage is fresh for the memory figures.
    CollectPdh(now_ms, errors);
    const bool have_cpu = SampleCpu(now_ms, &sample, errors);
    const bool have_memory = SampleMemory(&sample, errors);
    if (!have_cpu && !have_memory) {
      return MakeError(ErrorCode::kUnavailable,
                       "health: neither the CPU times nor the memory status are readable");
    }
    SampleDisks(&sample, errors);
    SampleNetworks(now_ms, &sample, errors);
    SampleFilesystems(&sample, errors);
    SampleProcesses(now_ms, &sample, errors);
    previous_sample_ms_ = now_ms;
    have_previous_sample_ = true;
    return sample;
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, std::string("health sampler threw: ") + e.what());
  }
}

bool WindowsHealthSampler::SampleCpu(int64_t now_ms, dozor::v1::HealthSample* out,
                                     std::vector<std::string>* errors) {
  FILETIME idle = {};
  FILETIME kernel = {};
  FILETIME user = {};
  if (!::GetSystemTimes(&idle, &kernel, &user)) {
    AddError(errors, "cpu: GetSystemTimes: " + WindowsErrorMessage(::GetLastError()));
    return false;
  }
  // Kernel time includes the idle time; all processors summed.
  CpuTimes times;
  times.user = Ticks(user);
  times.idle = Ticks(idle);
  times.system = Ticks(kernel) >= times.idle ? Ticks(kernel) - times.idle : 0;
  if (previous_cpu_.valid) {
    out->set_cpu_percent(ComputeCpuUsage(previous_cpu_.value, times).busy_percent);
  }
  previous_cpu_ = {times, now_ms, true};
  return true;
}

bool WindowsHealthSampler::SampleMemory(dozor::v1::HealthSample* out,
                                        std::vector<std::string>* errors) {
  MEMORYSTATUSEX status = {};
  status.dwLength = sizeof(status);
  if (!::GlobalMemoryStatusEx(&status)) {
    AddError(errors, "memory: GlobalMemoryStatusEx: " + WindowsErrorMessage(::GetLastError()));
    return false;
  }
  out->set_memory_total_bytes(status.ullTotalPhys);
  out->set_memory_available_bytes(status.ullAvailPhys);
  // The page files stand for swap. Their size is the commit limit less physical memory; how
  // full they are comes from PDH's "% Usage" when it is there, else from the commit charge left
  // over after physical memory (an estimate: Windows commits before it pages).
  const uint64_t page_total = status.ullTotalPageFile > status.ullTotalPhys
                                  ? status.ullTotalPageFile - status.ullTotalPhys
                                  : 0;
  uint64_t page_free = 0;
  PDH_FMT_COUNTERVALUE usage = {};
  if (paging_usage_ != nullptr &&
      ::PdhGetFormattedCounterValue(paging_usage_, PDH_FMT_DOUBLE, nullptr, &usage) ==
          ERROR_SUCCESS &&
      (usage.CStatus == PDH_CSTATUS_VALID_DATA || usage.CStatus == PDH_CSTATUS_NEW_DATA)) {
    const double used = std::clamp(usage.doubleValue, 0.0, 100.0) / 100.0;
    page_free = static_cast<uint64_t>(static_cast<double>(page_total) * (1.0 - used));
  } else {
    const uint64_t spare = status.ullAvailPageFile > status.ullAvailPhys
                               ? status.ullAvailPageFile - status.ullAvailPhys
                               : 0;
    page_free = std::min(spare, page_total);
  }
  out->set_swap_total_bytes(page_total);
  out->set_swap_free_bytes(page_free);
  return true;
}

void WindowsHealthSampler::SampleFilesystems(dozor::v1::HealthSample* out,
                                             std::vector<std::string>* errors) {
  // "A:\", "C:\", ... at most 26 letters of 4 characters, and a final NUL.
  wchar_t drives[26 * 4 + 2] = {};
  const DWORD length = ::GetLogicalDriveStringsW(static_cast<DWORD>(std::size(drives) - 1), drives);
  if (length == 0 || length >= std::size(drives)) {
    AddError(errors,
             "filesystems: GetLogicalDriveStrings: " + WindowsErrorMessage(::GetLastError()));
    return;
  }
  // Fixed drives only: network drives may block while their server is away, removable ones may
  // hold no medium. Volumes mounted in a folder rather than on a letter are not listed.
  for (const wchar_t* root = drives; *root != L'\0'; root += std::wcslen(root) + 1) {
    if (::GetDriveTypeW(root) != DRIVE_FIXED) {
      continue;
    }
    const std::string mount_point = Narrow(std::wstring_view(root, 2));  // "C:"
    ULARGE_INTEGER available = {};
    ULARGE_INTEGER total = {};
    ULARGE_INTEGER total_free = {};
    if (!::GetDiskFreeSpaceExW(root, &available, &total, &total_free)) {
      // A BitLocker-locked data drive answers "access denied" until it is unlocked.
      AddError(errors,
               "filesystems: " + mount_point + ": " + WindowsErrorMessage(::GetLastError()));
      continue;
    }
    if (total.QuadPart == 0) {
      continue;
    }
    wchar_t fs_type[MAX_PATH + 1] = {};
    if (!::GetVolumeInformationW(root, nullptr, 0, nullptr, nullptr, nullptr, fs_type,
                                 MAX_PATH + 1)) {
      fs_type[0] = L'\0';
    }
    wchar_t volume[64] = {};  // "\\?\Volume{GUID}\": 49 characters
    std::wstring device;
    if (::GetVolumeNameForVolumeMountPointW(root, volume, static_cast<DWORD>(std::size(volume)))) {
      device = volume;
      if (!device.empty() && device.back() == L'\\') {
        device.pop_back();
      }
    }
    dozor::v1::FilesystemUsage* usage = out->add_filesystems();
    usage->set_mount_point(mount_point);
    usage->set_device(Narrow(device));
    usage->set_fs_type(Narrow(fs_type));
    usage->set_total_bytes(total.QuadPart);
    usage->set_free_bytes(total_free.QuadPart);
    usage->set_available_bytes(available.QuadPart);
    // No inode limit on NTFS or ReFS: inodes stay 0.
  }
}

void WindowsHealthSampler::SampleNetworks(int64_t now_ms, dozor::v1::HealthSample* out,
                                          std::vector<std::string>* errors) {
  MibTable table;
  const DWORD status = ::GetIfTable2(table.Put());
  if (status != NO_ERROR || table.get() == nullptr) {
    AddError(errors, "network: GetIfTable2: " + WindowsErrorMessage(status));
    return;
  }
  std::vector<NetCounters> current;
  for (ULONG i = 0; i < table.get()->NumEntries; ++i) {
    const MIB_IF_ROW2& row = table.get()->Table[i];
    // Loopback says nothing about the host's health; interfaces that are not up carry nothing;
    // filter interfaces (QoS, WFP, ...) are layers over an adapter and would count its traffic
    // twice.
    if (row.Type == IF_TYPE_SOFTWARE_LOOPBACK || row.OperStatus != IfOperStatusUp ||
        row.InterfaceAndOperStatusFlags.FilterInterface) {
      continue;
    }
    // Member order (interface name, rx bytes/errors/dropped, tx bytes/errors/dropped): the first
    // member's name is a macro once <windows.h> is included.
    current.push_back(NetCounters{Narrow(row.Alias), row.InOctets, row.InErrors, row.InDiscards,
                                  row.OutOctets, row.OutErrors, row.OutDiscards});
  }
  const double elapsed =
      previous_networks_.valid ? ElapsedSeconds(now_ms, previous_networks_.at_ms) : 0;
  for (auto& io : ComputeNetworkIo(previous_networks_.value, current, elapsed)) {
    *out->add_networks() = std::move(io);
  }
  previous_networks_ = {std::move(current), now_ms, true};
}

void WindowsHealthSampler::SampleProcesses(int64_t now_ms, dozor::v1::HealthSample* out,
                                           std::vector<std::string>* errors) {
  UniqueHandle snapshot(::CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0));
  if (!snapshot.valid()) {
    AddError(errors,
             "processes: CreateToolhelp32Snapshot: " + WindowsErrorMessage(::GetLastError()));
    return;
  }
  FILETIME scan_time = {};
  ::GetSystemTimeAsFileTime(&scan_time);
  const bool rates = have_previous_process_scan_;
  const double elapsed = rates ? ElapsedSeconds(now_ms, previous_process_scan_ms_) : 0;
  current_times_.clear();
  size_t row_count = 0;
  bool complete = true;
  PROCESSENTRY32W entry = {};
  entry.dwSize = sizeof(entry);
  for (BOOL more = ::Process32FirstW(snapshot.get(), &entry); more;
       more = ::Process32NextW(snapshot.get(), &entry)) {
    if (entry.th32ProcessID == 0) {
      continue;  // the System Idle Process: its "CPU time" is the idle time
    }
    if (row_count >= kMaxProcesses) {
      complete = false;
      break;
    }
    const uint32_t pid = entry.th32ProcessID;
    if (row_count == rows_.size()) {
      rows_.emplace_back();
    }
    ProcessRow& row = rows_[row_count++];
    row.pid = pid;
    row.cpu_percent = 0;
    row.rss_bytes = 0;
    row.name = Narrow(entry.szExeFile);
    // PROCESS_VM_READ is needed for the working set before Windows 8.1 and is refused for
    // protected processes, which still give their times with the limited right alone.
    UniqueHandle process(
        ::OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_VM_READ, FALSE, pid));
    if (!process.valid()) {
      process.Reset(::OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid));
    }
    if (!process.valid()) {
      continue;  // exited since the snapshot, or not even its times may be read: counted only
    }
    PROCESS_MEMORY_COUNTERS memory = {};
    memory.cb = sizeof(memory);
    if (::GetProcessMemoryInfo(process.get(), &memory, sizeof(memory))) {
      row.rss_bytes = memory.WorkingSetSize;
    }
    FILETIME created = {};
    FILETIME exited = {};
    FILETIME kernel = {};
    FILETIME user = {};
    if (!::GetProcessTimes(process.get(), &created, &exited, &kernel, &user)) {
      continue;
    }
    const ProcessTimes times{pid, Ticks(created), Ticks(kernel) + Ticks(user)};
    current_times_.push_back(times);
    if (!rates) {
      continue;
    }
    auto previous =
        std::lower_bound(previous_times_.begin(), previous_times_.end(), pid,
                         [](const ProcessTimes& t, uint32_t wanted) { return t.pid < wanted; });
    if (previous != previous_times_.end() && previous->pid == pid &&
        previous->created == times.created) {
      row.cpu_percent =
          ProcessCpuPercent(previous->cpu, times.cpu, elapsed, kFileTimeTicksPerSecond);
    } else if (times.created >= previous_process_scan_time_) {
      // Started since the last scan: all its CPU is in the interval.
      row.cpu_percent = ProcessCpuPercent(0, times.cpu, elapsed, kFileTimeTicksPerSecond);
    }
  }
  if (!complete) {
    AddError(errors, "processes: more than " + std::to_string(kMaxProcesses) +
                         "; the rest were not scanned");
  }
  out->set_process_count(static_cast<uint32_t>(row_count));

  std::sort(current_times_.begin(), current_times_.end(),
            [](const ProcessTimes& a, const ProcessTimes& b) { return a.pid < b.pid; });
  std::swap(previous_times_, current_times_);
  previous_process_scan_ms_ = now_ms;
  previous_process_scan_time_ = Ticks(scan_time);
  have_previous_process_scan_ = true;

  const auto rows_end = rows_.begin() + static_cast<std::ptrdiff_t>(row_count);
  const auto top_end =
      rows_.begin() + static_cast<std::ptrdiff_t>(std::min(kTopProcesses, row_count));
  // The largest non-zero values (ties by pid), as the Linux sampler reports them.
  const auto add_top = [&](auto metric, auto* list) {
    std::partial_sort(rows_.begin(), top_end, rows_end,
                      [&](const ProcessRow& a, const ProcessRow& b) {
                        return a.*metric != b.*metric ? a.*metric > b.*metric : a.pid < b.pid;
                      });
    for (auto it = rows_.begin(); it != top_end && (*it).*metric > 0; ++it) {
      dozor::v1::ProcessUsage* usage = list->Add();
      usage->set_pid(it->pid);
      usage->set_name(it->name);
      usage->set_cpu_percent(it->cpu_percent);
      usage->set_rss_bytes(it->rss_bytes);
    }
  };
  add_top(&ProcessRow::cpu_percent, out->mutable_top_cpu());
  add_top(&ProcessRow::rss_bytes, out->mutable_top_memory());
}

bool WindowsHealthSampler::OpenPdh(std::string* error) {
  // English counter paths: the localised names ("\Физический диск(*)\...") differ per machine.
  // % Idle Time rather than % Disk Time: the latter is a queue length in disguise and passes
  // 100; 100 - idle is the share of time with I/O in flight, what Linux's busy_percent measures.
  struct Wanted {
    const wchar_t* path;
    PDH_HCOUNTER* counter;
  };
  const Wanted wanted[] = {
      {L"\\PhysicalDisk(*)\\% Idle Time", &disk_counters_.idle_percent},
      {L"\\PhysicalDisk(*)\\Disk Read Bytes/sec", &disk_counters_.read_bytes},
      {L"\\PhysicalDisk(*)\\Disk Write Bytes/sec", &disk_counters_.write_bytes},
      {L"\\PhysicalDisk(*)\\Disk Reads/sec", &disk_counters_.reads},
      {L"\\PhysicalDisk(*)\\Disk Writes/sec", &disk_counters_.writes},
  };
  PDH_STATUS status = ::PdhOpenQueryW(nullptr, 0, &pdh_query_);
  if (status != ERROR_SUCCESS) {
    pdh_query_ = nullptr;
    *error = "PdhOpenQuery failed (" + HresultText(static_cast<long>(status)) + ")";
    return false;
  }
  for (const Wanted& counter : wanted) {
    status = ::PdhAddEnglishCounterW(pdh_query_, counter.path, 0, counter.counter);
    if (status != ERROR_SUCCESS) {
      *error = "PdhAddEnglishCounter " + Narrow(counter.path) + " failed (" +
               HresultText(static_cast<long>(status)) + ")";
      ClosePdh();
      return false;
    }
  }
  // Optional: a machine without a page file has no such instance.
  if (::PdhAddEnglishCounterW(pdh_query_, L"\\Paging File(_Total)\\% Usage", 0, &paging_usage_) !=
      ERROR_SUCCESS) {
    paging_usage_ = nullptr;
  }
  pdh_collected_ = false;
  pdh_ready_ = false;
  return true;
}

void WindowsHealthSampler::ClosePdh() {
  if (pdh_query_ != nullptr) {
    ::PdhCloseQuery(pdh_query_);  // frees its counters too
  }
  pdh_query_ = nullptr;
  disk_counters_ = {};
  paging_usage_ = nullptr;
  pdh_collected_ = false;
  pdh_ready_ = false;
}

void WindowsHealthSampler::CollectPdh(int64_t now_ms, std::vector<std::string>* errors) {
  if (pdh_query_ == nullptr) {
    if (now_ms < next_pdh_attempt_ms_) {
      AddError(errors, "disks: " + pdh_error_);
      return;
    }
    if (!OpenPdh(&pdh_error_)) {
      next_pdh_attempt_ms_ = now_ms + kPdhRetryMs;
      AddError(errors, "disks: " + pdh_error_);
      return;
    }
  }
  const PDH_STATUS status = ::PdhCollectQueryData(pdh_query_);
  if (status != ERROR_SUCCESS) {
    AddError(errors,
             "disks: PdhCollectQueryData failed (" + HresultText(static_cast<long>(status)) + ")");
    pdh_ready_ = false;
    return;
  }
  pdh_ready_ = pdh_collected_;
  pdh_collected_ = true;
}

Result<std::vector<std::pair<std::wstring, double>>> WindowsHealthSampler::InstanceValues(
    PDH_HCOUNTER counter) {
  constexpr DWORD kFormat = PDH_FMT_DOUBLE | PDH_FMT_NOCAP100;
  constexpr auto kMoreData = static_cast<PDH_STATUS>(PDH_MORE_DATA);
  PDH_STATUS status = kMoreData;
  DWORD bytes = 0;
  DWORD count = 0;
  // The instance list can grow between the size query and the read (a disk plugged in).
  for (int attempt = 0; attempt < kPdhFormatAttempts && status == kMoreData; ++attempt) {
    bytes = static_cast<DWORD>(pdh_items_.size() * sizeof(PDH_FMT_COUNTERVALUE_ITEM_W));
    status = ::PdhGetFormattedCounterArrayW(counter, kFormat, &bytes, &count,
                                            pdh_items_.empty() ? nullptr : pdh_items_.data());
    if (status == kMoreData) {
      // Items first, then the instance names they point to, in one buffer of `bytes`.
      pdh_items_.resize((bytes + sizeof(PDH_FMT_COUNTERVALUE_ITEM_W) - 1) /
                        sizeof(PDH_FMT_COUNTERVALUE_ITEM_W));
    }
  }
  if (status != ERROR_SUCCESS) {
    return MakeError(ErrorCode::kUnavailable, "PdhGetFormattedCounterArray failed (" +
                                                  HresultText(static_cast<long>(status)) + ")");
  }
  std::vector<std::pair<std::wstring, double>> values;
  for (DWORD i = 0; i < count && i < pdh_items_.size(); ++i) {
    const PDH_FMT_COUNTERVALUE_ITEM_W& item = pdh_items_[i];
    if (item.szName == nullptr || std::wcscmp(item.szName, kTotalInstance) == 0 ||
        (item.FmtValue.CStatus != PDH_CSTATUS_VALID_DATA &&
         item.FmtValue.CStatus != PDH_CSTATUS_NEW_DATA)) {
      continue;
    }
    values.emplace_back(item.szName, item.FmtValue.doubleValue);
  }
  return values;
}

void WindowsHealthSampler::SampleDisks(dozor::v1::HealthSample* out,
                                       std::vector<std::string>* errors) {
  if (pdh_query_ == nullptr || !pdh_ready_) {
    return;  // no query, or only one collection so far: no rates yet
  }
  using Setter = void (dozor::v1::DiskIo::*)(double);
  struct Field {
    PDH_HCOUNTER counter;
    Setter set;
    bool idle;  // % Idle Time, reported as busy = 100 - idle
  };
  const Field fields[] = {
      {disk_counters_.idle_percent, &dozor::v1::DiskIo::set_busy_percent, true},
      {disk_counters_.read_bytes, &dozor::v1::DiskIo::set_read_bytes_per_s, false},
      {disk_counters_.write_bytes, &dozor::v1::DiskIo::set_write_bytes_per_s, false},
      {disk_counters_.reads, &dozor::v1::DiskIo::set_reads_per_s, false},
      {disk_counters_.writes, &dozor::v1::DiskIo::set_writes_per_s, false},
  };
  std::map<std::wstring, dozor::v1::DiskIo> disks;  // by instance ("0 C:"), sorted
  for (const Field& field : fields) {
    auto values = InstanceValues(field.counter);
    if (!values.ok()) {
      AddError(errors, "disks: " + values.error().message);
      return;
    }
    for (const auto& [instance, value] : *values) {
      const double reported =
          field.idle ? std::clamp(100.0 - value, 0.0, 100.0) : std::max(value, 0.0);
      (disks[instance].*field.set)(reported);
    }
  }
  for (auto& [instance, io] : disks) {
    io.set_device(Narrow(instance));
    *out->add_disks() = std::move(io);
  }
}

// For a capture (`collect --root`): performance counters have no capture form, and sampling
// this machine instead would report its health as the capture's.
class CaptureHealthSampler final : public HealthSampler {
 public:
  Result<dozor::v1::HealthSample> Sample(std::vector<std::string>*) override {
    return MakeError(ErrorCode::kUnavailable,
                     "health: a Windows capture holds no performance counters; sample a live "
                     "machine");
  }
};

}  // namespace

std::unique_ptr<HealthSampler> MakeHealthSampler(const CollectContext& ctx) {
  if (!ctx.IsRealRoot()) {
    return std::make_unique<CaptureHealthSampler>();
  }
  return std::make_unique<WindowsHealthSampler>();
}

}  // namespace dozor::agent
