// A simulated machine's health samples for the storage benchmarks (store_bench,
// pg_health_storage_bench): shaped like loadgen's report, 52 changing values (CPU, load, memory,
// swap, 6 filesystems, 2 disks, 2 NICs, 5+5 top processes, 2 temperatures) that wander like a
// real machine's rather than being fresh noise every minute.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "dozor/v1/agent.pb.h"

namespace dozor::bench {

// One simulated machine: labels and totals fixed per agent, metrics that wander the way real
// ones do (slow drifts, a noisy but bounded CPU, counters rounded like the agent rounds them),
// not fresh random noise in every digit of every value.
class SimulatedHost {
 public:
  explicit SimulatedHost(uint64_t index) : rng_(index * 7919 + 1) {
    std::uniform_int_distribution<int> gb(8, 500);
    memory_total_ = static_cast<uint64_t>(8 + index % 56) << 30;
    memory_available_ = memory_total_ / 2;
    for (int i = 0; i < 6; ++i) {
      uint64_t total = static_cast<uint64_t>(gb(rng_)) << 30;
      fs_total_.push_back(total);
      fs_free_.push_back(total / 2);
      inodes_free_.push_back((total >> 14) * 8 / 10);
    }
    for (int i = 0; i < 10; ++i) {
      pids_.push_back(300 + static_cast<uint32_t>(rng_() % 30000));
      rss_.push_back(static_cast<uint64_t>(400e6 / (i + 1)));
    }
  }

  dozor::v1::HealthSample Next() {
    ++minute_;
    double day = std::sin(static_cast<double>(minute_) * 2 * M_PI / 1440.0);  // daily cycle
    double busy = std::clamp(25 + 15 * day + Noise(6), 0.0, 100.0);
    dozor::v1::HealthSample s;
    s.set_cpu_percent(Round(busy, 0.1));
    s.set_cpu_iowait_percent(Round(std::clamp(2 + Noise(1.5), 0.0, 100.0), 0.1));
    load_ = std::max(0.0, load_ * 0.8 + busy / 100 * 4 * 0.2 + Noise(0.1));
    load5_ = load5_ * 0.9 + load_ * 0.1;
    load15_ = load15_ * 0.97 + load_ * 0.03;
    s.set_load1(Round(load_, 0.01));
    s.set_load5(Round(load5_, 0.01));
    s.set_load15(Round(load15_, 0.01));
    s.set_memory_total_bytes(memory_total_);
    memory_available_ =
        Walk(memory_available_, memory_total_ / 200, memory_total_ / 10, memory_total_ * 9 / 10);
    s.set_memory_available_bytes(memory_available_ & ~4095ULL);
    s.set_swap_total_bytes(2ULL << 30);
    s.set_swap_free_bytes(((2ULL << 30) - (16ULL << 20) - (minute_ / 60) * 4096) & ~4095ULL);
    processes_ = static_cast<uint32_t>(
        std::clamp(static_cast<int>(processes_) + static_cast<int>(rng_() % 5) - 2, 150, 260));
    s.set_process_count(processes_);
    s.set_interval_seconds(60);
    const char* mounts[] = {"/", "/boot", "/var", "/home", "/srv", "/var/lib/postgresql"};
    for (size_t i = 0; i < fs_total_.size(); ++i) {
      auto* fs = s.add_filesystems();
      fs->set_mount_point(mounts[i]);
      fs->set_device("/dev/sda" + std::to_string(i + 1));
      fs->set_fs_type(i % 3 == 2 ? "xfs" : "ext4");
      // Most filesystems barely move; /var and the database one churn.
      uint64_t step = (i == 2 || i == 5) ? 64ULL << 20 : (i == 0 ? 1ULL << 20 : 0);
      fs_free_[i] = Walk(fs_free_[i], step, fs_total_[i] / 10, fs_total_[i] * 9 / 10);
      fs->set_total_bytes(fs_total_[i]);
      fs->set_free_bytes(fs_free_[i] & ~4095ULL);
      fs->set_available_bytes((fs_free_[i] - fs_total_[i] / 20) & ~4095ULL);
      fs->set_inodes_total(fs_total_[i] >> 14);
      inodes_free_[i] = Walk(inodes_free_[i], step ? 50 : 0, 1000, fs_total_[i] >> 14);
      fs->set_inodes_free(inodes_free_[i]);
    }
    for (const char* name : {"sda", "sdb"}) {
      auto* d = s.add_disks();
      d->set_device(name);
      double activity = busy / 25;
      d->set_read_bytes_per_s(Round(std::max(0.0, 2e6 * activity + Noise(5e5)), 512));
      d->set_write_bytes_per_s(Round(std::max(0.0, 4e6 * activity + Noise(1e6)), 512));
      d->set_reads_per_s(Round(std::max(0.0, 40 * activity + Noise(8)), 0.1));
      d->set_writes_per_s(Round(std::max(0.0, 80 * activity + Noise(15)), 0.1));
      d->set_busy_percent(Round(std::clamp(10 * activity + Noise(2), 0.0, 100.0), 0.1));
    }
    for (const char* name : {"eth0", "eth1"}) {
      auto* n = s.add_networks();
      n->set_interface(name);
      n->set_rx_bytes_per_s(Round(std::max(0.0, 5e5 * busy / 25 + Noise(1e5)), 1));
      n->set_tx_bytes_per_s(Round(std::max(0.0, 3e5 * busy / 25 + Noise(6e4)), 1));
      n->set_rx_errors(rng_() % 200 == 0 ? 1 : 0);
    }
    const char* names[] = {"postgres", "rphost",  "java",    "nginx", "ragent",
                           "rmngr",    "dockerd", "python3", "sshd",  "systemd-journald"};
    for (int i = 0; i < 10; ++i) {
      auto* p = i < 5 ? s.add_top_cpu() : s.add_top_memory();
      p->set_pid(pids_[static_cast<size_t>(i)]);
      p->set_name(names[i]);
      p->set_cpu_percent(Round(std::max(0.0, busy / (i + 1) + Noise(2)), 0.1));
      rss_[static_cast<size_t>(i)] =
          Walk(rss_[static_cast<size_t>(i)], 2ULL << 20, 4ULL << 20, 8ULL << 30);
      p->set_rss_bytes(rss_[static_cast<size_t>(i)] & ~4095ULL);
    }
    const char* sensors[] = {"coretemp/Package id 0", "nvme/Composite"};
    for (int i = 0; i < 2; ++i) {
      auto* t = s.add_temperatures();
      t->set_sensor(sensors[i]);
      t->set_celsius(Round(40 + busy / 5 + i * 3 + Noise(1), 1));
    }
    return s;
  }

 private:
  static double Round(double value, double step) { return std::round(value / step) * step; }
  double Noise(double spread) {
    return std::uniform_real_distribution<double>(-1, 1)(rng_) * spread;
  }
  uint64_t Walk(uint64_t value, uint64_t step, uint64_t low, uint64_t high) {
    if (step == 0) {
      return value;
    }
    auto delta = static_cast<int64_t>(rng_() % (2 * step + 1)) - static_cast<int64_t>(step);
    auto next = static_cast<int64_t>(value) + delta;
    return static_cast<uint64_t>(
        std::clamp<int64_t>(next, static_cast<int64_t>(low), static_cast<int64_t>(high)));
  }

  std::mt19937_64 rng_;
  uint64_t minute_ = 0;
  uint64_t memory_total_ = 0;
  uint64_t memory_available_ = 0;
  double load_ = 1, load5_ = 1, load15_ = 1;
  uint32_t processes_ = 180;
  std::vector<uint64_t> fs_total_, fs_free_, inodes_free_, rss_;
  std::vector<uint32_t> pids_;
};

}  // namespace dozor::bench
