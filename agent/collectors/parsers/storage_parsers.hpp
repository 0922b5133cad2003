// Pure parsers for storage arrays and UPS monitoring: /proc/mdstat and md's sysfs attributes,
// `zpool list` / `zpool status`, `storcli /call/vall show` (also perccli, same format), NUT's
// `upsc` output and configuration (ups.conf, upsmon.conf, nut.conf) and apcupsd's `apcaccess
// status` (or its status file). No I/O here; linux/storage_linux.cpp feeds them.
//
// All of it is text a local administrator or a tool's odd version can shape: every function
// answers a value for arbitrary bytes (unknown forms give empty or partial results) and keeps
// its output bounded.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "dozor/v1/agent.pb.h"

namespace dozor::agent {

inline constexpr size_t kMaxStorageArrays = 256;
inline constexpr size_t kMaxStorageMembers = 256;  // per array

// The arrays of /proc/mdstat: name, level, state ("active", "inactive", "active
// (auto-read-only)"), members with their md state, size, [n/m], and the resync / recovery / check
// in progress with its percentage (sync_action in sysfs words: "recovery" becomes "recover").
// degraded: fewer active devices than expected, a '_' in [UU_], or a faulty member.
[[nodiscard]] std::vector<dozor::v1::StorageArray> ParseMdstat(std::string_view text);

// Refines an md array with /sys/block/<md>/md/{array_state,degraded,sync_action} (each the
// file's text, "" when unreadable): a positive "degraded" count or array_state "broken" or
// "inactive" makes it degraded or inactive; a running sync_action fills one mdstat did not show.
void ApplyMdSysfs(std::string_view array_state, std::string_view degraded_count,
                  std::string_view sync_action, dozor::v1::StorageArray* array);

// `zpool list -H -p -o name,size,alloc,free,health` (tab or space separated; sizes exact or
// human, "1.81T"): one array per pool, kind "zfs", degraded unless health is ONLINE.
[[nodiscard]] std::vector<dozor::v1::StorageArray> ParseZpoolList(std::string_view text);

// Merges `zpool status` into the pools (adding pools it names that the list had not): state,
// level (the first vdev group: mirror, raidz1, raidz2, raidz3, draid…; "stripe" when disks sit
// directly under the pool), leaf members with their state, scrub or resilver in progress with
// its percentage, when the last scrub ended, and the "errors:" line unless it says none.
void ApplyZpoolStatus(std::string_view text, std::vector<dozor::v1::StorageArray>* pools);

// The virtual drives of `storcli /call/vall show` (storcli64, perccli64): kind "hwraid", name
// "c<controller>/v<vd>", level from TYPE (RAID1, RAID5…), state spelled out (Optl -> Optimal,
// Dgrd -> Degraded, Pdgd -> Partially Degraded, OfLn -> Offline, Rec -> Recovery), size.
// degraded unless Optimal.
[[nodiscard]] std::vector<dozor::v1::StorageArray> ParseStorcliVirtualDrives(std::string_view text);

// `upsc <ups>` output ("battery.charge: 100"): model (ups.model or device.model, with the
// maker), status words, battery charge, runtime. Fields it lacks stay unknown (-1, "").
void ApplyUpsc(std::string_view text, dozor::v1::Ups* ups);

// The UPSes upsmon.conf's MONITOR lines watch ("ups@localhost"), in order, at most 64.
[[nodiscard]] std::vector<std::string> ParseUpsmonMonitors(std::string_view text);

// The UPS sections of NUT's ups.conf ("[myups]"), in order, at most 64.
[[nodiscard]] std::vector<std::string> ParseNutUpsConfNames(std::string_view text);

// nut.conf's MODE (none, standalone, netserver, netclient), unquoted and lower case; "" unset.
[[nodiscard]] std::string ParseNutMode(std::string_view text);

// `apcaccess status` or apcupsd's status file ("STATUS   : ONLINE"): name (UPSNAME), model,
// status mapped to NUT's words, battery charge, runtime (TIMELEFT minutes). False when the text
// has no STATUS line (not apcupsd's).
bool ApplyApcaccess(std::string_view text, dozor::v1::Ups* ups);

// Sets on_battery / low_battery from NUT-style status words (OB, LB).
void SetUpsFlags(dozor::v1::Ups* ups);

}  // namespace dozor::agent
