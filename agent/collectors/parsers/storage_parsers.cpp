#include "collectors/parsers/storage_parsers.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "collectors/parsers/text.hpp"

namespace dozor::agent {
namespace {
// Named inside the anonymous namespace: a unity build puts other parsers' helpers in the same
// translation unit.
namespace storage_text {

constexpr size_t kMaxUpsNames = 64;
constexpr size_t kMaxFieldBytes = 256;

std::string Bounded(std::string_view text) {
  return std::string(text.substr(0, std::min(text.size(), kMaxFieldBytes)));
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// "976630464" in 1 KiB blocks, "1.81T", "928G", "512K", "-": bytes, 0 unknown.
uint64_t ParseHumanBytes(std::string_view text) {
  if (text.empty()) return 0;
  uint64_t exact = 0;
  if (ParseNumber(text, &exact)) return exact;
  double multiplier = 1;
  switch (text.back()) {
    case 'K':
      multiplier = 1024.0;
      break;
    case 'M':
      multiplier = 1024.0 * 1024;
      break;
    case 'G':
      multiplier = 1024.0 * 1024 * 1024;
      break;
    case 'T':
      multiplier = 1024.0 * 1024 * 1024 * 1024;
      break;
    case 'P':
      multiplier = 1024.0 * 1024 * 1024 * 1024 * 1024;
      break;
    default:
      return 0;
  }
  double value = 0;
  if (!ParseNumber(text.substr(0, text.size() - 1), &value) || !(value >= 0) || value > 1e6) {
    return 0;
  }
  return static_cast<uint64_t>(value * multiplier);
}

// "12.5%" -> 12.5; false when it is not a percentage in 0..100.
bool ParsePercent(std::string_view text, double* out) {
  if (text.empty() || text.back() != '%') return false;
  double value = 0;
  if (!ParseNumber(text.substr(0, text.size() - 1), &value) || !(value >= 0) || value > 100) {
    return false;
  }
  *out = value;
  return true;
}

// mdstat's member "sdb1[1](F)": the device and its md state.
dozor::v1::StorageMember MdMember(std::string_view word) {
  dozor::v1::StorageMember member;
  size_t bracket = word.find('[');
  member.set_device(Bounded(word.substr(0, bracket)));
  std::string_view flags =
      bracket == std::string_view::npos ? std::string_view() : word.substr(bracket);
  if (flags.find("(F)") != std::string_view::npos) {
    member.set_state("faulty");
  } else if (flags.find("(S)") != std::string_view::npos) {
    member.set_state("spare");
  } else if (flags.find("(R)") != std::string_view::npos) {
    member.set_state("replacement");
  } else if (flags.find("(J)") != std::string_view::npos) {
    member.set_state("journal");
  } else if (flags.find("(W)") != std::string_view::npos) {
    member.set_state("write_mostly");
  } else {
    member.set_state("in_sync");
  }
  return member;
}

// An array's first line: "md0 : active raid1 sdb1[1] sda1[0]".
bool ParseMdHeader(std::string_view line, dozor::v1::StorageArray* array) {
  size_t colon = line.find(" : ");
  if (colon == std::string_view::npos) return false;
  std::string_view name = Trim(line.substr(0, colon));
  if (!StartsWith(name, "md") || name.find_first_of(" \t") != std::string_view::npos) return false;
  array->set_kind("md");
  array->set_name(Bounded(name));
  std::vector<std::string_view> words =
      SplitWords(line.substr(colon + 3), IsWhitespace, 1 + 2 + kMaxStorageMembers);
  size_t i = 0;
  if (i < words.size()) array->set_state(Bounded(words[i++]));
  while (i < words.size() && words[i].front() == '(' &&
         words[i].find('[') == std::string_view::npos) {
    array->set_state(array->state() + " " + Bounded(words[i++]));
  }
  if (i < words.size() && words[i].find('[') == std::string_view::npos) {
    array->set_level(Bounded(words[i++]));
  }
  for (; i < words.size() && array->members_size() < static_cast<int>(kMaxStorageMembers); ++i) {
    if (words[i].find('[') == std::string_view::npos) continue;
    *array->add_members() = MdMember(words[i]);
  }
  return true;
}

// "[2/1]" and "[_U]" of the status line; "N blocks" gives the size.
void ParseMdStatusLine(std::string_view line, dozor::v1::StorageArray* array) {
  std::vector<std::string_view> words = SplitWords(line, IsWhitespace, 64);
  for (size_t i = 0; i < words.size(); ++i) {
    std::string_view word = words[i];
    if (i + 1 < words.size() && words[i + 1] == "blocks") {
      uint64_t blocks = 0;
      if (ParseNumber(word, &blocks) && blocks < (UINT64_MAX >> 10)) {
        array->set_size_bytes(blocks * 1024);
      }
    }
    if (word.size() < 3 || word.front() != '[' || word.back() != ']') continue;
    std::string_view inside = word.substr(1, word.size() - 2);
    size_t slash = inside.find('/');
    int32_t expected = 0, active = 0;
    if (slash != std::string_view::npos && ParseNumber(inside.substr(0, slash), &expected) &&
        ParseNumber(inside.substr(slash + 1), &active)) {
      array->set_devices_expected(expected);
      array->set_devices_active(active);
      if (active < expected) array->set_degraded(true);
    } else if (inside.find_first_not_of("U_") == std::string_view::npos &&
               inside.find('_') != std::string_view::npos) {
      array->set_degraded(true);
    }
  }
}

// "[=>....]  recovery =  8.5% (166367488/1953382400) finish=142.0min" or "resync=DELAYED".
bool ParseMdProgressLine(std::string_view line, dozor::v1::StorageArray* array) {
  static constexpr std::pair<std::string_view, std::string_view> kActions[] = {
      {"recovery", "recover"},
      {"resync", "resync"},
      {"check", "check"},
      {"repair", "repair"},
      {"reshape", "reshape"}};
  for (const auto& [word, action] : kActions) {
    size_t at = line.find(word);
    if (at == std::string_view::npos) continue;
    std::string_view rest = Trim(line.substr(at + word.size()));
    if (rest.empty() || rest.front() != '=') continue;
    rest = Trim(rest.substr(1));
    array->set_sync_action(std::string(action));
    std::vector<std::string_view> words = SplitWords(rest, IsWhitespace, 1);
    double percent = 0;
    if (!words.empty() && ParsePercent(words[0], &percent)) array->set_sync_percent(percent);
    return true;
  }
  return false;
}

bool HasFaultyMember(const dozor::v1::StorageArray& array) {
  return std::any_of(array.members().begin(), array.members().end(),
                     [](const auto& member) { return member.state() == "faulty"; });
}

// "Sun Oct  8 00:24:02 2023" -> Unix seconds of that wall-clock time read as UTC (zpool prints
// the host's local time; the few hours off do not matter to "when was the last scrub"). 0 if
// it is not that form.
int64_t ParseCtimeDate(std::string_view text) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::vector<std::string_view> words = SplitWords(text, IsWhitespace, 6);
  if (words.size() < 5) return 0;
  const auto month = std::find(std::begin(kMonths), std::end(kMonths), words[1]);
  int day = 0, year = 0, hour = 0, minute = 0, second = 0;
  std::string_view clock = words[3];
  if (month == std::end(kMonths) || !ParseNumber(words[2], &day) || !ParseNumber(words[4], &year) ||
      clock.size() != 8 || clock[2] != ':' || clock[5] != ':' ||
      !ParseNumber(clock.substr(0, 2), &hour) || !ParseNumber(clock.substr(3, 2), &minute) ||
      !ParseNumber(clock.substr(6, 2), &second)) {
    return 0;
  }
  if (day < 1 || day > 31 || year < 1970 || year > 9999 || hour > 23 || minute > 59 ||
      second > 60) {
    return 0;
  }
  // Days since 1970-01-01 of the civil date (Howard Hinnant's days_from_civil): no timegm on
  // MinGW, and this file is built for Windows too.
  const int month_number = static_cast<int>(month - std::begin(kMonths)) + 1;
  const int y = month_number <= 2 ? year - 1 : year;
  const int era = y / 400;
  const int year_of_era = y - era * 400;
  const int day_of_year = (153 * (month_number + (month_number > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  const int64_t days = static_cast<int64_t>(era) * 146097 + day_of_era - 719468;
  return days * 86400 + hour * 3600 + minute * 60 + second;
}

// A zpool status "scan:" text (its lines joined): what runs and how far, or when the last
// scrub ended.
void ApplyZpoolScan(std::string_view scan, dozor::v1::StorageArray* pool) {
  const bool scrub_running = scan.find("scrub in progress") != std::string_view::npos;
  const bool resilver_running = scan.find("resilver in progress") != std::string_view::npos;
  if (scrub_running || resilver_running) {
    pool->set_sync_action(scrub_running ? "scrub" : "resilver");
    size_t done = scan.find("% done");
    if (done != std::string_view::npos) {
      size_t start = scan.find_last_of(" \t,", done);
      start = start == std::string_view::npos ? 0 : start + 1;
      double percent = 0;
      if (ParsePercent(scan.substr(start, done + 1 - start), &percent)) {
        pool->set_sync_percent(percent);
      }
    }
    return;
  }
  if (StartsWith(scan, "scrub repaired") || StartsWith(scan, "scrub canceled")) {
    size_t on = scan.rfind(" on ");
    if (on != std::string_view::npos && StartsWith(scan, "scrub repaired")) {
      pool->set_last_scrub_time(ParseCtimeDate(scan.substr(on + 4)));
    }
  }
}

bool IsVdevGroup(std::string_view name, std::string* level) {
  static constexpr std::string_view kGroups[] = {"mirror", "raidz1", "raidz2", "raidz3", "raidz",
                                                 "draid1", "draid2", "draid3", "draid"};
  for (std::string_view group : kGroups) {
    if (StartsWith(name, group) &&
        (name.size() == group.size() || name[group.size()] == '-' || name[group.size()] == ':')) {
      *level = std::string(group == "raidz" ? std::string_view("raidz1") : group);
      return true;
    }
  }
  return StartsWith(name, "replacing-") || StartsWith(name, "spare-");
}

bool IsZpoolSection(std::string_view name) {
  return name == "logs" || name == "cache" || name == "spares" || name == "special" ||
         name == "dedup";
}

dozor::v1::StorageArray* FindOrAddPool(std::vector<dozor::v1::StorageArray>* pools,
                                       std::string_view name) {
  for (auto& pool : *pools) {
    if (pool.name() == name) return &pool;
  }
  if (pools->size() >= kMaxStorageArrays) return nullptr;
  dozor::v1::StorageArray pool;
  pool.set_kind("zfs");
  pool.set_name(Bounded(name));
  pools->push_back(std::move(pool));
  return &pools->back();
}

// storcli's abbreviations in the VD table's State column.
std::string StorcliState(std::string_view abbreviation) {
  static constexpr std::pair<std::string_view, std::string_view> kStates[] = {
      {"Optl", "Optimal"}, {"Dgrd", "Degraded"}, {"Pdgd", "Partially Degraded"},
      {"OfLn", "Offline"}, {"Rec", "Recovery"},  {"Cac", "CacheCade"}};
  for (const auto& [shortened, full] : kStates) {
    if (abbreviation == shortened) return std::string(full);
  }
  return Bounded(abbreviation);
}

// "446.625 GB" as the VD table prints it.
uint64_t StorcliSize(std::string_view number, std::string_view unit) {
  double value = 0;
  if (!ParseNumber(number, &value) || !(value >= 0) || value > 1e9) return 0;
  double multiplier = 0;
  if (unit == "KB") multiplier = 1024.0;
  if (unit == "MB") multiplier = 1024.0 * 1024;
  if (unit == "GB") multiplier = 1024.0 * 1024 * 1024;
  if (unit == "TB") multiplier = 1024.0 * 1024 * 1024 * 1024;
  if (unit == "PB") multiplier = 1024.0 * 1024 * 1024 * 1024 * 1024;
  return static_cast<uint64_t>(std::llround(value * multiplier));
}

// apcupsd's STATUS words in NUT's vocabulary.
std::string ApcStatusToNut(std::string_view status) {
  static constexpr std::pair<std::string_view, std::string_view> kWords[] = {
      {"ONLINE", "OL"},      {"ONBATT", "OB"},     {"LOWBATT", "LB"},
      {"REPLACEBATT", "RB"}, {"OVERLOAD", "OVER"}, {"CAL", "CAL"},
      {"TRIM", "TRIM"},      {"BOOST", "BOOST"},   {"COMMLOST", "COMMLOST"},
      {"NOBATT", "NOBATT"},  {"SHUTTING", "FSD"},  {"SLAVEDOWN", "COMMLOST"}};
  std::string out;
  ForEachWord(status, IsWhitespace, [&](std::string_view word) {
    for (const auto& [apc, nut] : kWords) {
      if (word == apc && !ContainsWord(out, nut)) AppendJoined(&out, nut, " ");
    }
    return out.size() < kMaxFieldBytes;
  });
  return out;
}

// "45.0 Percent", "12.5 Minutes": the leading number, false without one.
bool LeadingNumber(std::string_view value, double* out) {
  std::vector<std::string_view> words = SplitWords(value, IsWhitespace, 1);
  return !words.empty() && ParseNumber(words[0], out) && std::isfinite(*out);
}

}  // namespace storage_text
}  // namespace

using namespace storage_text;

std::vector<dozor::v1::StorageArray> ParseMdstat(std::string_view text) {
  std::vector<dozor::v1::StorageArray> arrays;
  dozor::v1::StorageArray* current = nullptr;
  ForEachLine(text, [&](std::string_view line) {
    if (Trim(line).empty()) {
      current = nullptr;
      return;
    }
    if (!line.empty() && !IsWhitespace(line.front())) {
      current = nullptr;
      if (arrays.size() >= kMaxStorageArrays) return;
      dozor::v1::StorageArray array;
      if (ParseMdHeader(line, &array)) {
        arrays.push_back(std::move(array));
        current = &arrays.back();
      }
      return;
    }
    if (current == nullptr) return;
    if (!ParseMdProgressLine(line, current)) ParseMdStatusLine(line, current);
  });
  for (auto& array : arrays) {
    if (HasFaultyMember(array)) array.set_degraded(true);
  }
  return arrays;
}

void ApplyMdSysfs(std::string_view array_state, std::string_view degraded_count,
                  std::string_view sync_action, dozor::v1::StorageArray* array) {
  array_state = Trim(array_state);
  if (array_state == "broken") {
    array->set_state("broken");
    array->set_degraded(true);
  } else if (array_state == "inactive") {
    array->set_state("inactive");
  }
  int64_t missing = 0;
  if (ParseNumber(Trim(degraded_count), &missing) && missing > 0) array->set_degraded(true);
  sync_action = Trim(sync_action);
  if (array->sync_action().empty() &&
      (sync_action == "resync" || sync_action == "recover" || sync_action == "check" ||
       sync_action == "repair" || sync_action == "reshape")) {
    array->set_sync_action(std::string(sync_action));
  }
}

std::vector<dozor::v1::StorageArray> ParseZpoolList(std::string_view text) {
  std::vector<dozor::v1::StorageArray> pools;
  ForEachLine(text, [&](std::string_view line) {
    if (pools.size() >= kMaxStorageArrays) return;
    std::vector<std::string_view> words = SplitWords(line, IsWhitespace, 6);
    if (words.size() != 5 || words[0] == "NAME") return;
    dozor::v1::StorageArray pool;
    pool.set_kind("zfs");
    pool.set_name(Bounded(words[0]));
    pool.set_size_bytes(ParseHumanBytes(words[1]));
    pool.set_free_bytes(ParseHumanBytes(words[3]));
    pool.set_state(Bounded(words[4]));
    pool.set_degraded(words[4] != "ONLINE");
    pools.push_back(std::move(pool));
  });
  return pools;
}

void ApplyZpoolStatus(std::string_view text, std::vector<dozor::v1::StorageArray>* pools) {
  dozor::v1::StorageArray* pool = nullptr;
  enum class Part { kHeader, kScan, kConfig, kOther } part = Part::kOther;
  std::string scan;
  size_t pool_row_indent = std::string_view::npos;
  bool in_spares_or_cache = false;
  bool saw_group = false;
  bool saw_leaf_under_pool = false;
  auto finish_pool = [&] {
    if (pool == nullptr) return;
    ApplyZpoolScan(Trim(scan), pool);
    if (pool->level().empty() && (saw_group || saw_leaf_under_pool)) {
      pool->set_level(saw_group ? "" : "stripe");
    }
    scan.clear();
  };
  ForEachLine(text, [&](std::string_view raw) {
    std::string_view line = Trim(raw);
    std::string_view key, value;
    const bool keyed = SplitKeyValue(line, ':', &key, &value) && !key.empty() &&
                       key.find_first_of(" \t") == std::string_view::npos && part != Part::kConfig;
    if (StartsWith(line, "pool:")) {
      finish_pool();
      pool = FindOrAddPool(pools, Trim(line.substr(5)));
      part = Part::kHeader;
      pool_row_indent = std::string_view::npos;
      in_spares_or_cache = saw_group = saw_leaf_under_pool = false;
      return;
    }
    if (pool == nullptr) return;
    if (StartsWith(line, "errors:")) {
      part = Part::kOther;
      std::string_view errors = Trim(line.substr(7));
      if (!errors.empty() && errors != "No known data errors") pool->set_errors(Bounded(errors));
      return;
    }
    if (line == "config:") {
      part = Part::kConfig;
      return;
    }
    if (part != Part::kConfig && keyed) {
      if (key == "state") {
        pool->set_state(Bounded(value));
        pool->set_degraded(value != "ONLINE");
      }
      if (key == "scan") {
        part = Part::kScan;
        scan = Bounded(value);
      } else {
        part = Part::kHeader;
      }
      return;
    }
    if (part == Part::kScan) {
      if (scan.size() < 4 * kMaxFieldBytes) scan += " " + Bounded(line);
      return;
    }
    if (part != Part::kConfig || line.empty()) return;
    std::vector<std::string_view> words = SplitWords(line, IsWhitespace, 3);
    if (words.empty() || words[0] == "NAME") return;
    const size_t indent = raw.find_first_not_of(" \t");
    if (pool_row_indent == std::string_view::npos) {
      pool_row_indent = indent;  // the pool's own row
      return;
    }
    if (indent <= pool_row_indent && IsZpoolSection(words[0])) {
      in_spares_or_cache = words[0] == "spares" || words[0] == "cache";
      return;
    }
    std::string level;
    if (IsVdevGroup(words[0], &level)) {
      if (!in_spares_or_cache && !level.empty() && pool->level().empty()) {
        pool->set_level(level);
      }
      saw_group = true;
      return;
    }
    if (indent <= pool_row_indent + 2 && !in_spares_or_cache) saw_leaf_under_pool = true;
    if (pool->members_size() >= static_cast<int>(kMaxStorageMembers)) return;
    dozor::v1::StorageMember* member = pool->add_members();
    member->set_device(Bounded(words[0]));
    member->set_state(words.size() > 1 ? Bounded(words[1]) : std::string());
  });
  finish_pool();
}

std::vector<dozor::v1::StorageArray> ParseStorcliVirtualDrives(std::string_view text) {
  std::vector<dozor::v1::StorageArray> drives;
  std::string controller = "0";
  ForEachLine(text, [&](std::string_view raw) {
    std::string_view line = Trim(raw);
    std::string_view key, value;
    if (SplitKeyValue(line, '=', &key, &value) && key == "Controller") {
      uint32_t number = 0;
      if (ParseNumber(value, &number)) controller = std::to_string(number);
      return;
    }
    if (drives.size() >= kMaxStorageArrays) return;
    // "0/1   RAID5 Dgrd  RW     No      RWBD  -   ON   10.915 TB data"
    std::vector<std::string_view> words = SplitWords(line, IsWhitespace, 64);
    if (words.size() < 3) return;
    size_t slash = words[0].find('/');
    uint32_t group = 0, vd = 0;
    if (slash == std::string_view::npos || !ParseNumber(words[0].substr(0, slash), &group) ||
        !ParseNumber(words[0].substr(slash + 1), &vd)) {
      return;
    }
    dozor::v1::StorageArray drive;
    drive.set_kind("hwraid");
    drive.set_name("c" + controller + "/v" + std::to_string(vd));
    drive.set_controller("/c" + controller);
    drive.set_level(Bounded(words[1]));
    drive.set_state(StorcliState(words[2]));
    drive.set_degraded(drive.state() != "Optimal");
    for (size_t i = 4; i < words.size(); ++i) {
      uint64_t size = StorcliSize(words[i - 1], words[i]);
      if (size > 0) {
        drive.set_size_bytes(size);
        break;
      }
    }
    drives.push_back(std::move(drive));
  });
  return drives;
}

void SetUpsFlags(dozor::v1::Ups* ups) {
  ups->set_on_battery(ContainsWord(ups->status(), "OB"));
  ups->set_low_battery(ContainsWord(ups->status(), "LB"));
}

void ApplyUpsc(std::string_view text, dozor::v1::Ups* ups) {
  std::string maker, ups_model, device_model;
  ForEachLine(text, [&](std::string_view line) {
    std::string_view key, value;
    if (!SplitKeyValue(line, ':', &key, &value)) return;
    double number = 0;
    if (key == "ups.status") {
      std::string status;
      ForEachWord(value, IsWhitespace, [&](std::string_view word) {
        AppendJoined(&status, word, " ");
        return status.size() < kMaxFieldBytes;
      });
      ups->set_status(status);
    } else if (key == "battery.charge" && LeadingNumber(value, &number) && number >= 0 &&
               number <= 100) {
      ups->set_battery_charge_pct(number);
    } else if (key == "battery.runtime" && LeadingNumber(value, &number) && number >= 0 &&
               number < 1e7) {
      ups->set_runtime_seconds(static_cast<int64_t>(number));
    } else if (key == "ups.model") {
      ups_model = Bounded(value);
    } else if (key == "device.model") {
      device_model = Bounded(value);
    } else if ((key == "ups.mfr" || key == "device.mfr") && maker.empty()) {
      maker = Bounded(value);
    }
  });
  std::string model = ups_model.empty() ? device_model : ups_model;
  if (!maker.empty() && !model.empty() && !StartsWith(model, maker)) model = maker + " " + model;
  if (!model.empty()) ups->set_model(model);
  SetUpsFlags(ups);
}

std::vector<std::string> ParseUpsmonMonitors(std::string_view text) {
  std::vector<std::string> names;
  ForEachLine(text, [&](std::string_view line) {
    if (names.size() >= kMaxUpsNames) return;
    std::vector<std::string_view> words = SplitWords(line, IsWhitespace, 2);
    if (words.size() == 2 && words[0] == "MONITOR") names.push_back(Bounded(words[1]));
  });
  return names;
}

std::vector<std::string> ParseNutUpsConfNames(std::string_view text) {
  std::vector<std::string> names;
  ForEachLine(text, [&](std::string_view line) {
    line = Trim(line);
    if (names.size() >= kMaxUpsNames || line.size() < 3 || line.front() != '[' ||
        line.back() != ']') {
      return;
    }
    std::string_view name = Trim(line.substr(1, line.size() - 2));
    if (!name.empty()) names.push_back(Bounded(name));
  });
  return names;
}

std::string ParseNutMode(std::string_view text) {
  std::string mode;
  ForEachLine(text, [&](std::string_view line) {
    std::string_view key, value;
    line = Trim(line);
    if (line.empty() || line.front() == '#' || !SplitKeyValue(line, '=', &key, &value) ||
        key != "MODE") {
      return;
    }
    mode = Lower(Trim(value, " \t\"'"));
  });
  return Bounded(mode);
}

bool ApplyApcaccess(std::string_view text, dozor::v1::Ups* ups) {
  bool has_status = false;
  ForEachLine(text, [&](std::string_view line) {
    std::string_view key, value;
    if (!SplitKeyValue(line, ':', &key, &value)) return;
    double number = 0;
    if (key == "STATUS") {
      has_status = true;
      ups->set_status(ApcStatusToNut(value));
    } else if (key == "UPSNAME" && !value.empty()) {
      ups->set_name(Bounded(value));
    } else if (key == "MODEL" && !value.empty()) {
      ups->set_model(Bounded(value));
    } else if (key == "BCHARGE" && LeadingNumber(value, &number) && number >= 0 && number <= 100) {
      ups->set_battery_charge_pct(number);
    } else if (key == "TIMELEFT" && LeadingNumber(value, &number) && number >= 0 && number < 1e6) {
      ups->set_runtime_seconds(static_cast<int64_t>(std::llround(number * 60)));
    }
  });
  SetUpsFlags(ups);
  return has_status;
}

}  // namespace dozor::agent
