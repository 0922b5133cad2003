#include "collectors/health.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "collector_test_util.hpp"
#include "collectors/linux/health_linux.hpp"
#include "collectors/parsers/health_parsers.hpp"
#include "dozor/common/files.hpp"
#include "test_util.hpp"

namespace dozor::agent {
namespace {

using collector_test::FindIf;
using dozor::testing::FixturePath;
using dozor::testing::TempDir;

std::string Fixture(const std::string& relative) {
  auto text = ReadFile(FixturePath(relative));
  REQUIRE_MESSAGE(text.ok(), relative);
  return *text;
}

bool HasErrorContaining(const std::vector<std::string>& errors, const std::string& needle) {
  return std::any_of(errors.begin(), errors.end(),
                     [&](const std::string& e) { return e.find(needle) != std::string::npos; });
}

// A sampler whose clock the test moves by hand.
struct ControlledSampler {
  explicit ControlledSampler(const std::filesystem::path& root) {
    CollectContext ctx;
    ctx.root = root;
    LinuxHealthOptions options;
    options.monotonic_ms = [this] { return now_ms; };
    options.page_size = 4096;
    options.ticks_per_second = 100;
    sampler = std::make_unique<LinuxHealthSampler>(ctx, options);
  }
  int64_t now_ms = 1'000'000;
  std::unique_ptr<LinuxHealthSampler> sampler;
};

// ---------------------------------------------------------------- /proc/stat

TEST_CASE("proc stat parser reads the aggregate cpu line and btime") {
  auto stat = ParseProcStat(Fixture("health/stat.1"));
  REQUIRE(stat.ok());
  CHECK(stat->cpu.user == 10000);
  CHECK(stat->cpu.system == 2000);
  CHECK(stat->cpu.idle == 80000);
  CHECK(stat->cpu.iowait == 1000);
  CHECK(stat->cpu.Total() == 93000);
  CHECK(stat->boot_time == 1767225600);
}

TEST_CASE("proc stat parser accepts old kernels with only four cpu fields") {
  auto stat = ParseProcStat("cpu  100 5 50 1000\ncpu0 100 5 50 1000\n");
  REQUIRE(stat.ok());
  CHECK(stat->cpu.nice == 5);
  CHECK(stat->cpu.iowait == 0);
  CHECK(stat->cpu.steal == 0);
  CHECK(stat->boot_time == 0);
}

TEST_CASE("proc stat parser rejects missing, truncated and garbled cpu lines") {
  CHECK_FALSE(ParseProcStat("").ok());
  CHECK_FALSE(ParseProcStat("cpu0 1 2 3 4\nbtime 5\n").ok());
  CHECK_FALSE(ParseProcStat("cpu  1 2 3\n").ok());
  CHECK_FALSE(ParseProcStat("cpu  1 2 x 4\n").ok());
  CHECK_FALSE(ParseProcStat("cpu  1 2 -3 4\n").ok());
}

// ---------------------------------------------------------------- loadavg, meminfo

TEST_CASE("loadavg parser reads three averages and rejects garbage") {
  auto load = ParseLoadavg("0.52 0.61 12.70 2/431 48213\n");
  REQUIRE(load.ok());
  CHECK(load->load1 == doctest::Approx(0.52));
  CHECK(load->load5 == doctest::Approx(0.61));
  CHECK(load->load15 == doctest::Approx(12.70));
  CHECK_FALSE(ParseLoadavg("0.52 0.61\n").ok());
  CHECK_FALSE(ParseLoadavg("a b c\n").ok());
  CHECK_FALSE(ParseLoadavg("").ok());
}

TEST_CASE("meminfo parser converts kB to bytes") {
  auto mem = ParseMeminfo(Fixture("health/meminfo"));
  REQUIRE(mem.ok());
  CHECK(mem->total_bytes == 16303404ULL * 1024);
  CHECK(mem->available_bytes == 9876544ULL * 1024);
  CHECK(mem->swap_total_bytes == 2097148ULL * 1024);
  CHECK(mem->swap_free_bytes == 2000000ULL * 1024);
}

TEST_CASE(
    "meminfo parser falls back to MemFree+Buffers+Cached on kernels "
    "without MemAvailable") {
  auto mem = ParseMeminfo(Fixture("health/meminfo.old"));
  REQUIRE(mem.ok());
  CHECK(mem->total_bytes == 1048576ULL * 1024);
  CHECK(mem->available_bytes == (102400ULL + 51200 + 204800) * 1024);
  CHECK(mem->swap_total_bytes == 0);
}

TEST_CASE("meminfo parser needs MemTotal and skips malformed lines") {
  CHECK_FALSE(ParseMeminfo("MemFree: 100 kB\n").ok());
  auto mem = ParseMeminfo("MemTotal: 1000 kB\nMemAvailable: lots kB\nMemFree: 10 kB\nSwapTotal\n");
  REQUIRE(mem.ok());
  CHECK(mem->total_bytes == 1024000);
  CHECK(mem->available_bytes == 10240);  // MemAvailable unreadable -> fallback
  // Available can never exceed total, whatever the file says.
  auto odd = ParseMeminfo("MemTotal: 10 kB\nMemAvailable: 20 kB\n");
  REQUIRE(odd.ok());
  CHECK(odd->available_bytes == odd->total_bytes);
}

// ---------------------------------------------------------------- diskstats, net/dev, mounts

TEST_CASE("whole disk names keep disks and drop partitions and virtual devices") {
  for (const char* name : {"sda", "sdab", "vda", "xvdb", "hda", "nvme0n1", "nvme12n3", "mmcblk0",
                           "md0", "md127", "dm-0", "dm-12"}) {
    CHECK_MESSAGE(IsWholeDiskName(name), name);
  }
  for (const char* name : {"sda1", "vda2", "nvme0n1p1", "nvme0c0n1", "mmcblk0p1", "mmcblk0boot0",
                           "md0p1", "dm-", "loop0", "ram0", "zram0", "sr0", "nvme0", "sd", ""}) {
    CHECK_FALSE_MESSAGE(IsWholeDiskName(name), name);
  }
}

TEST_CASE("diskstats parser keeps whole disks with their counters") {
  auto disks = ParseDiskstats(Fixture("hosts/debian-server/proc/diskstats"));
  REQUIRE(disks.ok());
  std::vector<std::string> names;
  for (const auto& d : *disks) {
    names.push_back(d.name);
  }
  CHECK(names == std::vector<std::string>{"sda", "sdb", "nvme0n1", "dm-0", "md0"});
  const DiskCounters& sda = disks->front();
  CHECK(sda.reads_completed == 120000);
  CHECK(sda.sectors_read == 9600000);
  CHECK(sda.writes_completed == 80000);
  CHECK(sda.sectors_written == 6400000);
  CHECK(sda.io_ticks_ms == 300000);
}

TEST_CASE("diskstats parser skips truncated and garbled lines") {
  auto disks = ParseDiskstats(
      "   8 0 sda 1 2 3 4 5 6 7\n"             // truncated
      "   8 16 sdb 1 2 x 4 5 6 7 8 9 10 11\n"  // garbled
      "   8 32 sdc 1 2 3 4 5 6 7 8 9 10 11\n"  // old 11-field format is enough
      "garbage\n\n");
  REQUIRE(disks.ok());
  REQUIRE(disks->size() == 1);
  CHECK((*disks)[0].name == "sdc");
  CHECK((*disks)[0].sectors_written == 7);
  CHECK((*disks)[0].io_ticks_ms == 10);
}

TEST_CASE("net dev parser reads rx and tx counters per interface") {
  auto nets = ParseNetDev(Fixture("hosts/debian-server/proc/net/dev"));
  REQUIRE(nets.ok());
  REQUIRE(nets->size() == 3);
  const NetCounters& eth0 = (*nets)[1];
  CHECK(eth0.interface == "eth0");
  CHECK(eth0.rx_bytes == 123456789012ULL);
  CHECK(eth0.rx_errors == 3);
  CHECK(eth0.rx_dropped == 17);
  CHECK(eth0.tx_bytes == 98765432109ULL);
  CHECK(eth0.tx_errors == 1);
  CHECK(eth0.tx_dropped == 2);
  CHECK((*nets)[2].interface == "docker0");
}

TEST_CASE(
    "net dev parser handles a byte count glued to the colon and skips "
    "short lines") {
  auto nets = ParseNetDev(
      "  eth0:4000000000 3000000 1 5 0 0 0 0 2000000000 1500000 2 3 0 0 0 0\n"
      "  eth1: 1 2 3\n"
      "no colon here\n");
  REQUIRE(nets.ok());
  REQUIRE(nets->size() == 1);
  CHECK((*nets)[0].rx_bytes == 4000000000ULL);
  CHECK((*nets)[0].tx_dropped == 3);
}

TEST_CASE("mount escapes are decoded") {
  CHECK(DecodeMountEscapes("/srv/backup\\040disk") == "/srv/backup disk");
  CHECK(DecodeMountEscapes("/a\\011b\\134c") == "/a\tb\\c");
  CHECK(DecodeMountEscapes("/trailing\\04") == "/trailing\\04");
  CHECK(DecodeMountEscapes("/not\\999octal") == "/not\\999octal");
}

TEST_CASE("mounts parser keeps real and network filesystems only") {
  auto mounts = ParseMounts(Fixture("hosts/debian-server/proc/mounts"));
  REQUIRE(mounts.ok());
  std::vector<std::string> points;
  for (const auto& m : *mounts) {
    points.push_back(m.mount_point);
  }
  CHECK(points == std::vector<std::string>{"/", "/boot/efi", "/var/lib/postgresql",
                                           "/srv/backup disk", "/mnt/nas"});
  CHECK((*mounts)[0].device == "/dev/sda2");
  CHECK((*mounts)[0].fs_type == "ext4");
  CHECK_FALSE((*mounts)[0].network);
  CHECK((*mounts)[2].fs_type == "xfs");
  CHECK((*mounts)[4].network);
  CHECK((*mounts)[4].fs_type == "nfs4");
}

TEST_CASE("mounts parser skips truncated lines and relative mount points") {
  auto mounts =
      ParseMounts("/dev/sda1 /\n/dev/sda2 relative ext4 rw 0 0\n/dev/sdb / ext4 rw 0 0\n");
  REQUIRE(mounts.ok());
  REQUIRE(mounts->size() == 1);
  CHECK((*mounts)[0].device == "/dev/sdb");
}

// ---------------------------------------------------------------- /proc/<pid>/stat

TEST_CASE(
    "pid stat parser reads fields after the last parenthesis of a comm "
    "with ') '") {
  std::string text = Fixture("hosts/debian-server/proc/1002/stat");  // comm points into it
  auto stat = ParseProcPidStat(text);
  REQUIRE(stat.ok());
  CHECK(stat->pid == 1002);
  CHECK(stat->comm == "weird ) name");
  CHECK(stat->state == 'S');
  CHECK(stat->utime_ticks == 30);
  CHECK(stat->stime_ticks == 20);
  CHECK(stat->start_time_ticks == 5000);
  CHECK(stat->rss_pages == 1200);
}

TEST_CASE("pid stat parser reads kernel threads and empty comms") {
  std::string text = Fixture("hosts/debian-server/proc/1001/stat");
  auto kworker = ParseProcPidStat(text);
  REQUIRE(kworker.ok());
  CHECK(kworker->comm == "kworker/0:1");
  CHECK(kworker->stime_ticks == 4500);
  CHECK(kworker->rss_pages == 0);
  auto empty = ParseProcPidStat(
      "7 () S 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 "
      "99 0 5 18446744073709551615\n");
  REQUIRE(empty.ok());
  CHECK(empty->comm.empty());
  CHECK(empty->rss_pages == 5);
}

TEST_CASE("pid stat parser rejects truncated and malformed text") {
  CHECK_FALSE(ParseProcPidStat("").ok());
  CHECK_FALSE(ParseProcPidStat("12 (bash) S 1 12 12 0 -1 0 0 0 0 0 3 4").ok());
  CHECK_FALSE(ParseProcPidStat("12 bash S 1 12 12 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 9 0 5").ok());
  CHECK_FALSE(ParseProcPidStat("x (bash) S 1 12 12 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 9 0 5").ok());
  CHECK_FALSE(ParseProcPidStat("12 (bash) S 1 12 12 0 -1 0 0 0 0 0 x 4 0 0 20 0 1 0 9 0 5").ok());
  CHECK_FALSE(ParseProcPidStat(")12 (bash S 1 12 12 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 9 0 5").ok());
}

// ---------------------------------------------------------------- rates over two readings

TEST_CASE("counter deltas treat a counter going backwards as zero") {
  CHECK(CounterDelta(10, 15) == 5);
  CHECK(CounterDelta(4294967000ULL, 1000) == 0);
  CHECK(RatePerSecond(100, 1100, 10) == doctest::Approx(100));
  CHECK(RatePerSecond(1100, 100, 10) == 0);
  CHECK(RatePerSecond(100, 1100, 0) == 0);
}

TEST_CASE("cpu usage over two stat readings") {
  auto first = ParseProcStat(Fixture("health/stat.1"));
  auto second = ParseProcStat(Fixture("health/stat.2"));
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CpuUsage usage = ComputeCpuUsage(first->cpu, second->cpu);
  CHECK(usage.busy_percent == doctest::Approx(40.0));
  CHECK(usage.iowait_percent == doctest::Approx(10.0));
  // Same reading twice, or counters reset by a reboot: no division by zero, no
  // nonsense.
  CpuUsage none = ComputeCpuUsage(second->cpu, second->cpu);
  CHECK(none.busy_percent == 0);
  CpuUsage reset = ComputeCpuUsage(second->cpu, first->cpu);
  CHECK(reset.busy_percent == 0);
  CHECK(reset.iowait_percent == 0);
}

TEST_CASE("disk rates over two readings handle resets and new disks") {
  auto first = ParseDiskstats(Fixture("health/diskstats.1"));
  auto second = ParseDiskstats(Fixture("health/diskstats.2"));
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  auto io = ComputeDiskIo(*first, *second, 10.0);
  REQUIRE(io.size() == 3);
  CHECK(io[0].device() == "sda");
  CHECK(io[0].read_bytes_per_s() == doctest::Approx(1048576.0));
  CHECK(io[0].write_bytes_per_s() == doctest::Approx(2097152.0));
  CHECK(io[0].reads_per_s() == doctest::Approx(50.0));
  CHECK(io[0].writes_per_s() == doctest::Approx(10.0));
  CHECK(io[0].busy_percent() == doctest::Approx(25.0));
  CHECK(io[1].device() == "nvme0n1");
  CHECK(io[1].read_bytes_per_s() == 0);
  CHECK(io[1].reads_per_s() == 0);
  CHECK(io[1].busy_percent() == 0);
  CHECK(io[2].device() == "vdb");
  CHECK(io[2].reads_per_s() == 0);
  // Zero elapsed time (first sample, or clock did not move): names only, zero
  // rates.
  auto primed = ComputeDiskIo(*first, *second, 0);
  REQUIRE(primed.size() == 3);
  CHECK(primed[0].read_bytes_per_s() == 0);
}

TEST_CASE("disk busy percent is capped at 100") {
  std::vector<DiskCounters> before{{"sda", 0, 0, 0, 0, 0}};
  std::vector<DiskCounters> after{{"sda", 0, 0, 0, 0, 30000}};
  auto io = ComputeDiskIo(before, after, 10.0);
  REQUIRE(io.size() == 1);
  CHECK(io[0].busy_percent() == doctest::Approx(100.0));
}

TEST_CASE(
    "network rates over two readings count interval errors and survive a "
    "wrap") {
  auto first = ParseNetDev(Fixture("health/net_dev.1"));
  auto second = ParseNetDev(Fixture("health/net_dev.2"));
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  auto io = ComputeNetworkIo(*first, *second, 10.0);
  REQUIRE(io.size() == 3);
  const auto& eth0 = io[1];
  CHECK(eth0.interface() == "eth0");
  CHECK(eth0.rx_bytes_per_s() == doctest::Approx(1000000.0));
  CHECK(eth0.tx_bytes_per_s() == doctest::Approx(500000.0));
  CHECK(eth0.rx_errors() == 2);
  CHECK(eth0.rx_dropped() == 3);
  CHECK(eth0.tx_errors() == 0);
  CHECK(eth0.tx_dropped() == 1);
  const auto& wlan0 = io[2];
  CHECK(wlan0.interface() == "wlan0");
  CHECK(wlan0.rx_bytes_per_s() == 0);
  CHECK(wlan0.tx_bytes_per_s() == 0);
}

TEST_CASE("process cpu percent is of one core over the interval") {
  std::string first_text = Fixture("health/pid_stat.1");
  std::string second_text = Fixture("health/pid_stat.2");
  auto first = ParseProcPidStat(first_text);
  auto second = ParseProcPidStat(second_text);
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(second->comm == "busy ) worker");
  double percent = ProcessCpuPercent(first->utime_ticks + first->stime_ticks,
                                     second->utime_ticks + second->stime_ticks, 10.0, 100);
  CHECK(percent == doctest::Approx(30.0));
  CHECK(ProcessCpuPercent(500, 100, 10.0, 100) == 0);
  CHECK(ProcessCpuPercent(100, 500, 0, 100) == 0);
  CHECK(ProcessCpuPercent(100, 500, 10.0, 0) == 0);
  // Four busy threads: more than one core.
  CHECK(ProcessCpuPercent(0, 4000, 10.0, 100) == doctest::Approx(400.0));
}

// ---------------------------------------------------------------- the sampler on fixture roots

TEST_CASE("health sampler reads the debian-server fixture") {
  std::filesystem::path root = FixturePath("hosts/debian-server");
  ControlledSampler controlled(root);
  std::vector<std::string> errors;
  auto sample = controlled.sampler->Sample(&errors);
  REQUIRE(sample.ok());

  CHECK(sample->interval_seconds() == 0);
  CHECK(sample->cpu_percent() == 0);  // first sample only primes
  CHECK(sample->load1() == doctest::Approx(0.52));
  CHECK(sample->load15() == doctest::Approx(0.70));

  // proc/meminfo of this fixture belongs to the inventory fixtures; compare
  // with its own parse.
  auto meminfo = ReadFile(root / "proc/meminfo");
  if (meminfo.ok()) {
    auto mem = ParseMeminfo(*meminfo);
    REQUIRE(mem.ok());
    CHECK(sample->memory_total_bytes() == mem->total_bytes);
    CHECK(sample->memory_available_bytes() == mem->available_bytes);
    CHECK(sample->swap_free_bytes() == mem->swap_free_bytes);
  } else {
    CHECK(HasErrorContaining(errors, "memory"));
  }

  // Disks: whole disks only, zero rates when primed.
  REQUIRE(sample->disks_size() == 5);
  CHECK(sample->disks(0).device() == "sda");
  CHECK(sample->disks(0).read_bytes_per_s() == 0);

  // Networks: lo left out.
  REQUIRE(sample->networks_size() == 2);
  CHECK(sample->networks(0).interface() == "eth0");
  CHECK(sample->networks(1).interface() == "docker0");

  // Processes: pids 1000-1006 have stat files; pid dirs without one (100-199)
  // are skipped.
  CHECK(sample->process_count() == 7);
  CHECK(sample->top_cpu_size() == 0);  // no CPU rate yet
  REQUIRE(sample->top_memory_size() == 5);
  CHECK(sample->top_memory(0).pid() == 1003);
  CHECK(sample->top_memory(0).name() == "postgres");
  CHECK(sample->top_memory(0).rss_bytes() == 2097152ULL * 4096);
  CHECK(sample->top_memory(1).name() == "java");
  CHECK(sample->top_memory(2).name() == "nginx");
  CHECK(sample->top_memory(3).name() == "sshd");
  CHECK(sample->top_memory(4).name() == "weird ) name");

  // Temperatures: two thermal zones, coretemp with labels, an unlabelled input;
  // -273 dropped.
  std::vector<std::string> sensors;
  for (const auto& t : sample->temperatures()) {
    sensors.push_back(t.sensor());
  }
  CHECK(sensors == std::vector<std::string>{"acpitz", "x86_pkg_temp", "acpitz/temp1",
                                            "coretemp/Package id 0", "coretemp/Core 0",
                                            "coretemp/Core 1", "nct6775/temp2"});
  const auto* package = FindIf(sample->temperatures(),
                               [](const auto& t) { return t.sensor() == "coretemp/Package id 0"; });
  REQUIRE(package != nullptr);
  CHECK(package->celsius() == doctest::Approx(49.0));

  // Filesystems: "/" is the fixture root itself, so statvfs works; mount points
  // missing from the fixture tree are reported as errors, and the NFS mount is
  // never statvfs'd.
  const auto* rootfs =
      FindIf(sample->filesystems(), [](const auto& fs) { return fs.mount_point() == "/"; });
  REQUIRE(rootfs != nullptr);
  CHECK(rootfs->device() == "/dev/sda2");
  CHECK(rootfs->fs_type() == "ext4");
  CHECK(rootfs->total_bytes() > 0);
  CHECK(rootfs->available_bytes() <= rootfs->total_bytes());
  for (const auto& fs : sample->filesystems()) {
    CHECK(fs.mount_point() != "/mnt/nas");
    CHECK(std::filesystem::exists(root / fs.mount_point().substr(1)));
  }
  if (!std::filesystem::exists(root / "srv/backup disk")) {
    CHECK(HasErrorContaining(errors, "backup disk"));
  }
  CHECK_FALSE(HasErrorContaining(errors, "/mnt/nas"));
  CHECK_FALSE(HasErrorContaining(errors, "cpu"));
  CHECK_FALSE(HasErrorContaining(errors, "temperatures"));
}

TEST_CASE(
    "health sampler reports no temperatures and an error on the "
    "minimal-vm fixture") {
  ControlledSampler controlled(FixturePath("hosts/minimal-vm"));
  std::vector<std::string> errors;
  auto sample = controlled.sampler->Sample(&errors);
  REQUIRE(sample.ok());
  CHECK(sample->temperatures_size() == 0);
  CHECK(HasErrorContaining(errors, "temperatures"));
  CHECK(sample->load15() == doctest::Approx(0.05));
  REQUIRE(sample->disks_size() == 1);
  CHECK(sample->disks(0).device() == "vda");
  REQUIRE(sample->networks_size() == 1);
  CHECK(sample->networks(0).interface() == "ens3");
  CHECK(sample->process_count() == 2);
  REQUIRE(sample->filesystems_size() == 1);
  CHECK(sample->filesystems(0).mount_point() == "/");

  // Nothing changed between two samples 60 s apart: rates are zero, the
  // interval is reported.
  controlled.now_ms += 60'000;
  errors.clear();
  auto second = controlled.sampler->Sample(&errors);
  REQUIRE(second.ok());
  CHECK(second->interval_seconds() == 60);
  CHECK(second->cpu_percent() == 0);
  CHECK(second->disks(0).reads_per_s() == 0);
  CHECK(second->top_cpu_size() == 0);
}

TEST_CASE("health sampler reads the rpm-server fixture without a hwmon class") {
  ControlledSampler controlled(FixturePath("hosts/rpm-server"));
  std::vector<std::string> errors;
  auto sample = controlled.sampler->Sample(&errors);
  REQUIRE(sample.ok());
  CHECK(sample->process_count() == 3);
  REQUIRE(sample->top_memory_size() == 3);
  CHECK(sample->top_memory(0).name() == "rphost");
  REQUIRE(sample->temperatures_size() == 1);
  CHECK(sample->temperatures(0).celsius() == doctest::Approx(16.8));
  CHECK_FALSE(HasErrorContaining(errors, "temperatures"));
  std::vector<std::string> disks;
  for (const auto& d : sample->disks()) {
    disks.push_back(d.device());
  }
  CHECK(disks == std::vector<std::string>{"vda", "dm-0", "dm-1"});
}

// Writes `files` (relative path -> fixture under tests/fixtures/health) into
// `root`.
void Install(const TempDir& root, const std::vector<std::pair<std::string, std::string>>& files) {
  for (const auto& [target, fixture] : files) {
    auto path = root.path() / target;
    REQUIRE(EnsureDirectory(path.parent_path()).ok());
    REQUIRE(WriteFileAtomic(path, Fixture("health/" + fixture)).ok());
  }
}

void WriteText(const TempDir& root, const std::string& target, const std::string& text) {
  auto path = root.path() / target;
  REQUIRE(EnsureDirectory(path.parent_path()).ok());
  REQUIRE(WriteFileAtomic(path, text).ok());
}

std::string PidStat(uint32_t pid, const std::string& comm, uint64_t utime, uint64_t start,
                    int64_t rss) {
  return std::to_string(pid) + " (" + comm + ") S 1 1 1 0 -1 0 0 0 0 0 " + std::to_string(utime) +
         " 0 0 0 20 0 1 0 " + std::to_string(start) + " 1000000 " + std::to_string(rss) +
         " 18446744073709551615 1 1 0\n";
}

TEST_CASE("health sampler computes rates between two readings with controlled time") {
  TempDir root;
  Install(root, {{"proc/stat", "stat.1"},
                 {"proc/meminfo", "meminfo"},
                 {"proc/diskstats", "diskstats.1"},
                 {"proc/net/dev", "net_dev.1"},
                 {"proc/4242/stat", "pid_stat.1"}});
  WriteText(root, "proc/loadavg", "1.00 2.00 3.00 1/10 4242\n");
  WriteText(root, "proc/mounts", "/dev/sda1 / ext4 rw 0 0\n");
  WriteText(root, "proc/4244/stat", PidStat(4244, "reused", 5000, 100, 10));
  WriteText(root, "proc/4250/stat", PidStat(4250, "gone", 100, 100, 10));

  ControlledSampler controlled(root.path());
  std::vector<std::string> errors;
  auto first = controlled.sampler->Sample(&errors);
  REQUIRE(first.ok());
  CHECK(first->cpu_percent() == 0);
  CHECK(first->interval_seconds() == 0);
  CHECK(first->process_count() == 3);
  CHECK(first->memory_available_bytes() == 9876544ULL * 1024);

  Install(root, {{"proc/stat", "stat.2"},
                 {"proc/diskstats", "diskstats.2"},
                 {"proc/net/dev", "net_dev.2"},
                 {"proc/4242/stat", "pid_stat.2"}});
  // 4243 started since the first sample: all its ticks fall in the interval.
  // 4244 is a new process that reuses an old pid (different start time). 4250
  // exited.
  WriteText(root, "proc/4243/stat", PidStat(4243, "new", 100, 9000, 20));
  WriteText(root, "proc/4244/stat", PidStat(4244, "reused", 50, 9100, 30));
  std::filesystem::remove_all(root.path() / "proc/4250");
  controlled.now_ms += 10'000;

  errors.clear();
  auto second = controlled.sampler->Sample(&errors);
  REQUIRE(second.ok());
  CHECK(second->interval_seconds() == 10);
  CHECK(second->cpu_percent() == doctest::Approx(40.0));
  CHECK(second->cpu_iowait_percent() == doctest::Approx(10.0));

  const auto* sda = FindIf(second->disks(), [](const auto& d) { return d.device() == "sda"; });
  REQUIRE(sda != nullptr);
  CHECK(sda->read_bytes_per_s() == doctest::Approx(1048576.0));
  CHECK(sda->busy_percent() == doctest::Approx(25.0));
  const auto* eth0 =
      FindIf(second->networks(), [](const auto& n) { return n.interface() == "eth0"; });
  REQUIRE(eth0 != nullptr);
  CHECK(eth0->rx_bytes_per_s() == doctest::Approx(1000000.0));
  CHECK(eth0->rx_errors() == 2);

  CHECK(second->process_count() == 3);
  REQUIRE(second->top_cpu_size() == 3);
  CHECK(second->top_cpu(0).pid() == 4242);
  CHECK(second->top_cpu(0).name() == "busy ) worker");
  CHECK(second->top_cpu(0).cpu_percent() == doctest::Approx(30.0));
  CHECK(second->top_cpu(0).rss_bytes() == 25600ULL * 4096);
  CHECK(second->top_cpu(1).pid() == 4243);
  CHECK(second->top_cpu(1).cpu_percent() == doctest::Approx(10.0));
  CHECK(second->top_cpu(2).pid() == 4244);
  CHECK(second->top_cpu(2).cpu_percent() == doctest::Approx(5.0));
}

TEST_CASE(
    "health sampler keeps going when a source is missing and fails only "
    "without stat and "
    "meminfo") {
  TempDir root;
  Install(root, {{"proc/stat", "stat.1"}});
  ControlledSampler controlled(root.path());
  std::vector<std::string> errors;
  auto sample = controlled.sampler->Sample(&errors);
  REQUIRE(sample.ok());
  CHECK(HasErrorContaining(errors, "memory"));
  CHECK(HasErrorContaining(errors, "disks"));
  CHECK(HasErrorContaining(errors, "network"));
  CHECK(HasErrorContaining(errors, "load"));
  CHECK(HasErrorContaining(errors, "filesystems"));
  CHECK(sample->memory_total_bytes() == 0);
  CHECK(sample->disks_size() == 0);

  // A garbled stat with no meminfo fails the whole sample...
  WriteText(root, "proc/stat", "cpu garbage\n");
  controlled.now_ms += 1000;
  errors.clear();
  auto garbled = controlled.sampler->Sample(&errors);
  CHECK_FALSE(garbled.ok());
  // ...but does not poison the next rate: it is measured against the last good reading.
  Install(root, {{"proc/stat", "stat.2"}, {"proc/meminfo", "meminfo"}});
  controlled.now_ms += 1000;
  errors.clear();
  auto recovered = controlled.sampler->Sample(&errors);
  REQUIRE(recovered.ok());
  CHECK(recovered->cpu_percent() == doctest::Approx(40.0));
  CHECK(recovered->interval_seconds() == 2);

  TempDir empty;
  ControlledSampler nothing(empty.path());
  errors.clear();
  auto failed = nothing.sampler->Sample(&errors);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().message.find("meminfo") != std::string::npos);
  // A null errors vector is allowed.
  CHECK_FALSE(nothing.sampler->Sample(nullptr).ok());
  ControlledSampler quiet(root.path());
  CHECK(quiet.sampler->Sample(nullptr).ok());
}

// ---------------------------------------------------------------- the real machine

TEST_CASE("health sampler on the real machine reports values in range") {
  CollectContext ctx;
  auto sampler = MakeHealthSampler(ctx);
  std::vector<std::string> errors;
  auto first = sampler->Sample(&errors);
  REQUIRE(first.ok());
  // Burn a little CPU so the second sample has a non-empty interval to measure.
  volatile uint64_t sink = 0;
  for (uint64_t i = 0; i < 20'000'000; ++i) {
    sink = sink + i;
  }
  errors.clear();
  auto second = sampler->Sample(&errors);
  REQUIRE(second.ok());
  CHECK(second->cpu_percent() >= 0);
  CHECK(second->cpu_percent() <= 100);
  CHECK(second->cpu_iowait_percent() >= 0);
  CHECK(second->cpu_iowait_percent() <= 100);
  CHECK(second->memory_total_bytes() > 0);
  CHECK(second->memory_available_bytes() <= second->memory_total_bytes());
  CHECK(second->swap_free_bytes() <= second->swap_total_bytes());
  CHECK(second->process_count() >= 1);
  CHECK(second->load1() >= 0);
  CHECK(second->load5() >= 0);
  CHECK(second->load15() >= 0);
  bool any_sized = std::any_of(second->filesystems().begin(), second->filesystems().end(),
                               [](const auto& fs) { return fs.total_bytes() > 0; });
  // Containers may show only overlay/tmpfs mounts, which are not reported.
  auto mounts = ReadFile("/proc/mounts");
  REQUIRE(mounts.ok());
  auto real = ParseMounts(*mounts);
  REQUIRE(real.ok());
  if (std::any_of(real->begin(), real->end(), [](const MountEntry& m) { return !m.network; })) {
    CHECK(any_sized);
  }
  for (const auto& fs : second->filesystems()) {
    CHECK(fs.available_bytes() <= fs.total_bytes());
    CHECK(fs.free_bytes() <= fs.total_bytes());
  }
  // This test process itself is running and must be found by the scan.
  CHECK(second->top_memory_size() >= 1);
  for (const auto& p : second->top_cpu()) {
    CHECK(p.cpu_percent() > 0);
    CHECK(p.pid() > 0);
  }
  for (const auto& t : second->temperatures()) {
    CHECK(t.celsius() >= -50);
    CHECK(t.celsius() <= 150);
  }
}

}  // namespace
}  // namespace dozor::agent
