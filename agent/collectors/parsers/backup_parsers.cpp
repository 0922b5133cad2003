#include "collectors/parsers/backup_parsers.hpp"

#include <algorithm>
#include <array>
#include <initializer_list>

#include "collectors/parsers/text.hpp"
#include "dozor/common/utc_time.hpp"

namespace dozor::agent {
namespace {

// A command line is scanned into sub-commands (su -c "…", sh -c "…") this deep at most: a
// crafted line must not recurse without end.
constexpr int kMaxNesting = 4;

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20) || x == y;
         });
}

// The next whitespace-separated word of *rest, which is advanced past it.
std::string_view NextWord(std::string_view* rest) {
  *rest = Trim(*rest, " \t");
  size_t end = 0;
  while (end < rest->size() && (*rest)[end] != ' ' && (*rest)[end] != '\t') ++end;
  std::string_view word = rest->substr(0, end);
  rest->remove_prefix(end);
  return word;
}

bool IsNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

// "NAME=value" / "NAME = value": a crontab environment line (or a shell assignment word).
bool IsAssignment(std::string_view text) {
  size_t i = 0;
  if (text.empty() || IsDigit(text[0])) return false;
  while (i < text.size() && IsNameChar(text[i])) ++i;
  if (i == 0) return false;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
  return i < text.size() && text[i] == '=';
}

std::string BaseName(std::string_view path) {
  size_t slash = path.find_last_of("/\\");
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

bool IsOperator(const std::string& word) {
  return word == "|" || word == "||" || word == "&&" || word == "&" || word == ";";
}
bool IsRedirect(const std::string& word) {
  return word == ">" || word == ">>" || word == "<" || word == ">&";
}

bool Contains(const std::vector<std::string>& words, std::string_view word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

// The value of an option among `args`: "-B X", "-BX", "--backup-path=X", "--backup-path X".
std::string OptionValue(const std::vector<std::string>& args, std::string_view short_name,
                        std::string_view long_name) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!long_name.empty() && StartsWith(arg, long_name)) {
      if (arg.size() == long_name.size()) {
        return i + 1 < args.size() ? args[i + 1] : std::string();
      }
      if (arg[long_name.size()] == '=') return arg.substr(long_name.size() + 1);
    }
    if (!short_name.empty() && StartsWith(arg, short_name) && !StartsWith(arg, "--")) {
      if (arg.size() == short_name.size()) {
        return i + 1 < args.size() ? args[i + 1] : std::string();
      }
      return arg.substr(short_name.size());
    }
  }
  return {};
}

// The first word after `after` (a subcommand) that is not an option.
std::string PositionalAfter(const std::vector<std::string>& args, std::string_view after) {
  auto it = std::find(args.begin(), args.end(), after);
  if (it == args.end()) return {};
  for (++it; it != args.end(); ++it) {
    if (!it->empty() && (*it)[0] != '-') return *it;
  }
  return {};
}

// pg_dump's options that take a separate value: the word after them is not the database.
bool PgDumpOptionTakesValue(const std::string& arg) {
  static constexpr std::array<std::string_view, 14> kShort = {
      "-f", "-F", "-h", "-p", "-U", "-d", "-j", "-n", "-N", "-t", "-T", "-Z", "-E", "-S"};
  static constexpr std::array<std::string_view, 16> kLong = {
      "--file",     "--format",    "--host",           "--port",   "--username",      "--dbname",
      "--jobs",     "--schema",    "--exclude-schema", "--table",  "--exclude-table", "--compress",
      "--encoding", "--superuser", "--role",           "--section"};
  return std::find(kShort.begin(), kShort.end(), arg) != kShort.end() ||
         std::find(kLong.begin(), kLong.end(), arg) != kLong.end();
}

std::string LastPositional(const std::vector<std::string>& args) {
  std::string last;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].empty() || args[i][0] == '-') {
      if (PgDumpOptionTakesValue(args[i])) ++i;
      continue;
    }
    last = args[i];
  }
  return last;
}

// 1C's designer arguments are "/Name value" in any case: the value after /`name`.
std::string OneCArgument(const std::vector<std::string>& args, std::string_view name) {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (IEquals(args[i], name)) return args[i + 1];
  }
  return {};
}

// What a recognised tool backs up and where to, from its arguments. `redirect` is where the
// pipeline's output goes (pg_dump db | gzip > file).
std::optional<BackupCommand> Recognise(const std::string& program,
                                       const std::vector<std::string>& args,
                                       const std::string& redirect) {
  BackupCommand out;
  if (program == "pg_dump" || program == "pg_dumpall" || program == "pg_basebackup") {
    // Which instance: -p / --port, else the port of a connection string (-d; pg_dump's database
    // argument may be one too).
    (void)ParseNumber(OptionValue(args, "-p", "--port"), &out.port);
    std::string database = OptionValue(args, "-d", "--dbname");
    if (program == "pg_dump" && database.empty()) database = LastPositional(args);
    PostgresConninfo conninfo = ParsePostgresConninfo(database);
    if (out.port == 0) out.port = conninfo.port;
    if (program == "pg_dump") out.target = conninfo.is_conninfo ? conninfo.dbname : database;
  }
  if (program == "pg_dump" || program == "pg_dumpall" || program == "mysqldump" ||
      program == "mariadb-dump") {
    out.tool = program == "mariadb-dump" ? "mysqldump" : program;
    out.destination = OptionValue(args, "-f", "--file");
    if (out.destination.empty() && out.tool == "mysqldump") {
      out.destination = OptionValue(args, "-r", "--result-file");
    }
    if (out.destination.empty()) out.destination = redirect;
    if (out.tool == "mysqldump") {
      out.target = Contains(args, "--all-databases") || Contains(args, "-A") ? "all databases"
                                                                             : LastPositional(args);
    }
    return out;
  }
  if (program == "pg_basebackup") {
    out.tool = program;
    out.destination = OptionValue(args, "-D", "--pgdata");
    return out;
  }
  if (StartsWith(program, "pg_probackup")) {
    if (!Contains(args, "backup")) return std::nullopt;
    out.tool = "pg_probackup";
    out.destination = OptionValue(args, "-B", "--backup-path");
    out.target = OptionValue(args, "", "--instance");
    out.data_directory = OptionValue(args, "-D", "--pgdata");
    (void)ParseNumber(OptionValue(args, "-p", "--pgport"), &out.port);
    return out;
  }
  if (program == "pgbackrest") {
    if (!Contains(args, "backup")) return std::nullopt;
    out.tool = "pgbackrest";
    out.target = OptionValue(args, "", "--stanza");
    out.destination = OptionValue(args, "", "--repo1-path");
    out.data_directory = OptionValue(args, "", "--pg1-path");
    (void)ParseNumber(OptionValue(args, "", "--pg1-port"), &out.port);
    return out;
  }
  if (program == "barman" || program == "barman-cloud-backup") {
    if (program == "barman" && !Contains(args, "backup")) return std::nullopt;
    out.tool = "barman";
    out.target = program == "barman" ? PositionalAfter(args, "backup") : std::string();
    return out;
  }
  if (program == "wal-g" || program == "wal-g-pg") {
    if (!Contains(args, "backup-push")) return std::nullopt;
    out.tool = "wal-g";
    out.target = PositionalAfter(args, "backup-push");
    if (StartsWith(out.target, "/")) out.data_directory = out.target;
    return out;
  }
  if (program == "1cv8" || program == "1cv8c" || program == "1cv8s" ||
      IEquals(program, "1cv8.exe")) {
    std::string dump = OneCArgument(args, "/DumpIB");
    if (dump.empty()) return std::nullopt;
    out.tool = "1c-dumpib";
    out.destination = dump;
    out.target = OneCArgument(args, "/F");
    if (out.target.empty()) out.target = OneCArgument(args, "/S");
    return out;
  }
  if (program == "ibcmd") {
    if (!Contains(args, "dump")) return std::nullopt;
    out.tool = "1c-ibcmd";
    out.target = OptionValue(args, "", "--db-name");
    if (out.target.empty()) out.target = OptionValue(args, "", "--database-path");
    out.destination = LastPositional(args);
    return out;
  }
  if (program == "restic") {
    if (!Contains(args, "backup")) return std::nullopt;
    out.tool = "restic";
    out.destination = OptionValue(args, "-r", "--repo");
    out.target = PositionalAfter(args, "backup");
    return out;
  }
  if (program == "borg" || program == "borg2") {
    if (!Contains(args, "create")) return std::nullopt;
    out.tool = "borg";
    std::string archive = PositionalAfter(args, "create");
    out.destination = archive.substr(0, archive.find("::"));
    if (!archive.empty()) out.target = PositionalAfter(args, archive);
    return out;
  }
  if (program == "borgmatic") {
    for (std::string_view other : {"list", "info", "check", "extract", "mount", "umount", "init",
                                   "rcreate", "restore", "export-tar", "borg"}) {
      if (Contains(args, other)) return std::nullopt;
    }
    out.tool = "borgmatic";
    return out;
  }
  if (program == "proxmox-backup-client") {
    if (!Contains(args, "backup")) return std::nullopt;
    out.tool = program;
    out.destination = OptionValue(args, "", "--repository");
    out.target = PositionalAfter(args, "backup");
    return out;
  }
  if (program == "duplicity") {
    for (std::string_view other : {"restore", "verify", "collection-status", "list-current-files",
                                   "cleanup", "remove-older-than", "remove-all-but-n-full"}) {
      if (Contains(args, other)) return std::nullopt;
    }
    out.tool = program;
    return out;
  }
  if (program == "rsnapshot" || program == "rdiff-backup" || program == "vzdump") {
    if (Contains(args, "configtest") || Contains(args, "--restore-as-of") || Contains(args, "-r") ||
        Contains(args, "--list-increments")) {
      return std::nullopt;
    }
    out.tool = program;
    if (program == "vzdump") out.destination = OptionValue(args, "", "--dumpdir");
    return out;
  }
  if (program == "mariabackup" || program == "mariadb-backup" || program == "xtrabackup") {
    if (!Contains(args, "--backup")) return std::nullopt;
    out.tool = program == "xtrabackup" ? "xtrabackup" : "mariabackup";
    out.destination = OptionValue(args, "", "--target-dir");
    return out;
  }
  return std::nullopt;
}

// Skips the wrappers that run another program (sudo -u postgres, nice -n 19, ionice -c3,
// flock -n FILE, timeout 2h, env A=B, exec, time) and leading assignments. Returns the index
// of the program word, or words.size(). A wrapper's "-c CMD" (su, flock, sh) is `*nested`.
size_t SkipWrappers(const std::vector<std::string>& words, size_t begin, size_t end,
                    std::string* nested) {
  size_t i = begin;
  while (i < end) {
    const std::string& word = words[i];
    if (IsAssignment(word)) {
      ++i;
      continue;
    }
    std::string name = BaseName(word);
    if (name == "sudo" || name == "runuser" || name == "nice" || name == "ionice" ||
        name == "nocache" || name == "env" || name == "exec" || name == "time" ||
        name == "timeout" || name == "flock" || name == "chrt" || name == "systemd-inhibit" ||
        name == "su" || name == "sh" || name == "bash" || name == "dash" || name == "stdbuf") {
      ++i;
      // Options of the wrapper, and their values where they take one.
      while (i < end && !words[i].empty() && words[i][0] == '-' && words[i] != "--") {
        const std::string& option = words[i];
        bool runs_command = name == "su" || name == "runuser" || name == "sh" || name == "bash" ||
                            name == "dash" || name == "flock";
        if (runs_command && (option == "-c" || option == "--command")) {
          if (i + 1 < end) *nested = words[i + 1];
          return end;
        }
        bool takes_value =
            ((name == "sudo" || name == "runuser") &&
             (option == "-u" || option == "-g" || option == "-C" || option == "-D" ||
              option == "-h" || option == "-p" || option == "-U" || option == "-r" ||
              option == "-t" || option == "-T" || option == "-l")) ||
            (name == "nice" && option == "-n") ||
            (name == "ionice" && (option == "-c" || option == "-n" || option == "-p")) ||
            (name == "timeout" && (option == "-s" || option == "-k")) ||
            (name == "flock" && (option == "-w" || option == "-E")) ||
            (name == "su" && (option == "-s" || option == "-g" || option == "-G"));
        i += takes_value ? 2 : 1;
      }
      if (i < end && words[i] == "--") ++i;
      // Positional arguments of the wrapper itself: the user of su, the lock file of flock,
      // the duration of timeout, the priority of chrt.
      if ((name == "su" || name == "flock" || name == "timeout" || name == "chrt") && i < end) {
        ++i;
        // su USER -c CMD / flock FILE -c CMD.
        while (i < end && !words[i].empty() && words[i][0] == '-') {
          if (words[i] == "-c" || words[i] == "--command") {
            if (i + 1 < end) *nested = words[i + 1];
            return end;
          }
          ++i;
        }
      }
      if ((name == "su" || name == "sh" || name == "bash" || name == "dash") && i >= end) {
        return end;
      }
      continue;
    }
    return i;
  }
  return end;
}

void FindIn(std::string_view line, int depth, std::vector<BackupCommand>* out);

// One list element (commands joined by |): each command's program, or its nested command.
void FindInPipeline(const std::vector<std::string>& words, size_t begin, size_t end, int depth,
                    std::vector<BackupCommand>* out) {
  // Where the pipeline's output goes: the last plain '>' or '>>' target.
  std::string redirect;
  for (size_t i = begin; i + 1 < end; ++i) {
    if ((words[i] == ">" || words[i] == ">>") && words[i + 1] != "/dev/null") {
      redirect = words[i + 1];
    }
  }
  size_t command_begin = begin;
  while (command_begin < end) {
    size_t command_end = command_begin;
    while (command_end < end && words[command_end] != "|") ++command_end;
    std::string nested;
    size_t program = SkipWrappers(words, command_begin, command_end, &nested);
    bool found = false;
    if (!nested.empty()) {
      size_t before = out->size();
      FindIn(nested, depth + 1, out);
      found = out->size() > before;
    } else if (program < command_end) {
      std::vector<std::string> args;
      for (size_t i = program + 1; i < command_end; ++i) {
        if (IsRedirect(words[i])) {
          ++i;  // the redirect's target is not an argument
          continue;
        }
        args.push_back(words[i]);
      }
      auto command = Recognise(BaseName(words[program]), args, redirect);
      // PGPORT=5433 pg_dump …, env PGPORT=5433 pg_dump …: the assignments before the program.
      for (size_t i = command_begin; command && command->port == 0 && i < program; ++i) {
        if (StartsWith(words[i], "PGPORT=")) (void)ParseNumber(words[i].substr(7), &command->port);
      }
      // A wrapper this parser does not know (envdir DIR wal-g …, chpst -u user pg_dump …): a
      // known tool later in the same command, with the words after it as its arguments.
      for (size_t skip = 0; !command && skip < args.size(); ++skip) {
        if (args[skip].empty() || args[skip][0] == '-') continue;
        std::vector<std::string> rest(args.begin() + static_cast<std::ptrdiff_t>(skip) + 1,
                                      args.end());
        command = Recognise(BaseName(args[skip]), rest, redirect);
      }
      if (command) {
        out->push_back(std::move(*command));
        found = true;
      }
    }
    // A quoted word holding a command line of its own (xargs -I{} sh -c "…", ssh host "…").
    if (!found) {
      for (size_t i = command_begin; i < command_end; ++i) {
        if (words[i].find(' ') != std::string::npos) FindIn(words[i], depth + 1, out);
      }
    }
    command_begin = command_end + 1;
  }
}

void FindIn(std::string_view line, int depth, std::vector<BackupCommand>* out) {
  if (depth > kMaxNesting) return;
  std::vector<std::string> words = ShellWords(line);
  size_t begin = 0;
  for (size_t i = 0; i <= words.size(); ++i) {
    if (i == words.size() || (IsOperator(words[i]) && words[i] != "|")) {
      if (i > begin) FindInPipeline(words, begin, i, depth, out);
      begin = i + 1;
    }
  }
}

std::string StatusOfPgProbackup(std::string_view status) {
  if (status == "OK" || status == "DONE") return "ok";
  if (status == "RUNNING" || status == "MERGING") return "running";
  if (status == "ERROR" || status == "CORRUPT" || status == "ORPHAN") return "failed";
  return {};
}

std::string StatusOfBarman(std::string_view status) {
  if (status == "DONE") return "ok";
  if (status == "FAILED") return "failed";
  if (status == "STARTED" || status == "WAITING_FOR_WALS" || status == "EMPTY" ||
      status == "SYNCING") {
    return "running";
  }
  return {};
}

bool ParseDigits(std::string_view text, size_t pos, size_t count, int* out) {
  if (pos + count > text.size()) return false;
  int value = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (!IsDigit(text[i])) return false;
    value = value * 10 + (text[i] - '0');
  }
  *out = value;
  return true;
}

constexpr int64_t kMinute = 60;
constexpr int64_t kHour = 3600;
constexpr int64_t kDay = 86400;

int DayOfWeekNumber(std::string_view name) {
  static constexpr std::array<std::string_view, 7> kNames = {"sun", "mon", "tue", "wed",
                                                             "thu", "fri", "sat"};
  std::string lower = Lower(name.substr(0, 3));
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (lower == kNames[i]) return static_cast<int>(i);
  }
  return -1;
}

// The values a cron field (or a systemd weekday list) selects within [low, high]: "*", "5",
// "1-5", "*/2", "1,3,5", "1-10/2"; weekday names with `weekdays`. Empty when it cannot tell.
std::vector<int> FieldValues(std::string_view field, int low, int high, bool weekdays,
                             std::string_view range_separator = "-") {
  std::vector<bool> selected(static_cast<size_t>(high - low + 1), false);
  auto number = [&](std::string_view text, int* out) {
    if (weekdays) {
      int day = DayOfWeekNumber(text);
      if (day >= 0) {
        *out = day;
        return true;
      }
    }
    return ParseNumber(text, out);
  };
  for (std::string_view part : Split(field, ',')) {
    int step = 1;
    size_t slash = part.find('/');
    if (slash != std::string_view::npos) {
      if (!ParseNumber(part.substr(slash + 1), &step) || step <= 0) return {};
      part = part.substr(0, slash);
    }
    int first = low, last = high;
    if (part != "*") {
      size_t dash = part.find(range_separator);
      if (dash == std::string_view::npos) {
        if (!number(part, &first)) return {};
        last = slash == std::string_view::npos ? first : high;
      } else if (!number(part.substr(0, dash), &first) ||
                 !number(part.substr(dash + range_separator.size()), &last)) {
        return {};
      }
    }
    if (first < low || last > high || first > last) return {};
    for (int value = first; value <= last; value += step) {
      // cron's 7 is Sunday, like 0.
      const int day = weekdays && value == 7 ? 0 : value;
      selected[static_cast<size_t>(day - low)] = true;
    }
  }
  std::vector<int> values;
  for (size_t i = 0; i < selected.size(); ++i) {
    if (selected[i]) values.push_back(low + static_cast<int>(i));
  }
  return values;
}

// The longest distance between consecutive selected values on a cycle of `cycle` units.
int64_t LongestCyclicGap(const std::vector<int>& values, int cycle) {
  if (values.empty()) return 0;
  int64_t gap = values.front() + cycle - values.back();
  for (size_t i = 1; i < values.size(); ++i) {
    gap = std::max<int64_t>(gap, values[i] - values[i - 1]);
  }
  return gap;
}

int64_t CronInterval(std::string_view schedule) {
  if (schedule == "@hourly") return kHour;
  if (schedule == "@daily" || schedule == "@midnight") return kDay;
  if (schedule == "@weekly") return 7 * kDay;
  if (schedule == "@monthly") return 31 * kDay;
  if (schedule == "@yearly" || schedule == "@annually") return 366 * kDay;
  std::vector<std::string_view> fields = SplitWords(schedule);
  if (fields.size() != 5) return 0;
  std::vector<int> minutes = FieldValues(fields[0], 0, 59, false);
  std::vector<int> hours = FieldValues(fields[1], 0, 23, false);
  std::vector<int> days = FieldValues(fields[2], 1, 31, false);
  std::vector<int> months = FieldValues(fields[3], 1, 12, false);
  std::vector<int> weekdays = FieldValues(fields[4], 0, 7, true);
  if (minutes.empty() || hours.empty() || days.empty() || months.empty() || weekdays.empty()) {
    return 0;
  }
  if (months.size() < 12) return LongestCyclicGap(months, 12) * 31 * kDay;
  if (weekdays.size() < 7 && fields[4] != "*") return LongestCyclicGap(weekdays, 7) * kDay;
  if (days.size() < 31) return LongestCyclicGap(days, 31) * kDay;
  if (hours.size() < 24) return LongestCyclicGap(hours, 24) * kHour;
  return LongestCyclicGap(minutes, 60) * kMinute;
}

// A systemd time span: "6h", "1d 12h", "30min", "1w", "90" (seconds). 0 when not one.
int64_t TimeSpanSeconds(std::string_view text) {
  int64_t total = 0;
  bool any = false;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    size_t begin = i;
    while (i < text.size() && IsDigit(text[i])) ++i;
    int64_t value = 0;
    if (i == begin || i - begin > 9 || !ParseNumber(text.substr(begin, i - begin), &value)) {
      return 0;
    }
    size_t unit_begin = i;
    while (i < text.size() && text[i] >= 'a' && text[i] <= 'z') ++i;
    std::string_view unit = text.substr(unit_begin, i - unit_begin);
    int64_t scale = 0;
    if (unit.empty() || unit == "s" || unit == "sec" || unit == "second" || unit == "seconds") {
      scale = 1;
    } else if (unit == "m" || unit == "min" || unit == "minute" || unit == "minutes") {
      scale = kMinute;
    } else if (unit == "h" || unit == "hr" || unit == "hour" || unit == "hours") {
      scale = kHour;
    } else if (unit == "d" || unit == "day" || unit == "days") {
      scale = kDay;
    } else if (unit == "w" || unit == "week" || unit == "weeks") {
      scale = 7 * kDay;
    } else {
      return 0;
    }
    total += value * scale;
    any = true;
  }
  return any ? total : 0;
}

// systemd's OnCalendar: the shorthands, or "[weekdays] [date] [time]".
int64_t CalendarInterval(std::string_view spec) {
  spec = Trim(spec);
  static constexpr std::array<std::pair<std::string_view, int64_t>, 9> kShorthands = {{
      {"minutely", kMinute},
      {"hourly", kHour},
      {"daily", kDay},
      {"weekly", 7 * kDay},
      {"monthly", 31 * kDay},
      {"quarterly", 92 * kDay},
      {"semiannually", 183 * kDay},
      {"yearly", 366 * kDay},
      {"annually", 366 * kDay},
  }};
  for (const auto& [name, seconds] : kShorthands) {
    if (spec == name) return seconds;
  }
  std::vector<std::string_view> words = SplitWords(spec);
  if (words.empty()) return 0;
  size_t next = 0;
  if (DayOfWeekNumber(words[0]) >= 0) {
    std::vector<int> days = FieldValues(words[0], 0, 6, true, "..");
    if (days.empty()) return 0;
    if (days.size() < 7) return LongestCyclicGap(days, 7) * kDay;
    next = 1;
  }
  std::string_view date, time;
  for (; next < words.size(); ++next) {
    if (words[next].find('-') != std::string_view::npos) {
      date = words[next];
    } else if (words[next].find(':') != std::string_view::npos) {
      time = words[next];
    }
  }
  if (!date.empty()) {
    std::vector<std::string_view> parts = Split(date, '-');
    if (parts.size() == 3 && parts[1] != "*") return 366 * kDay;
    if (parts.size() == 3 && parts[2] != "*") {
      std::vector<int> days = FieldValues(parts[2], 1, 31, false, "..");
      return days.empty() ? 0 : LongestCyclicGap(days, 31) * kDay;
    }
  }
  if (!time.empty()) {
    std::vector<std::string_view> parts = Split(time, ':');
    if (parts[0] == "*") return kHour;
    std::vector<int> hours = FieldValues(parts[0], 0, 23, false, "..");
    return hours.empty() ? 0 : LongestCyclicGap(hours, 24) * kHour;
  }
  return date.empty() ? 0 : kDay;
}

}  // namespace

int64_t ScheduleIntervalSeconds(std::string_view schedule) {
  schedule = Trim(schedule);
  if (schedule.find('=') == std::string_view::npos) return CronInterval(schedule);
  // A timer: its first schedule that tells.
  for (std::string_view item : Split(schedule, ',')) {
    std::string_view key, value;
    if (!SplitKeyValue(item, '=', &key, &value)) continue;
    int64_t seconds = 0;
    if (key == "OnCalendar") {
      seconds = CalendarInterval(value);
    } else if (key == "OnUnitActiveSec" || key == "OnUnitInactiveSec") {
      seconds = TimeSpanSeconds(value);
    }
    if (seconds > 0) return seconds;
  }
  return 0;
}

int64_t TypicalInterval(std::vector<int64_t> completion_times) {
  completion_times.erase(std::remove(completion_times.begin(), completion_times.end(), int64_t{0}),
                         completion_times.end());
  if (completion_times.size() < 3) return 0;
  std::sort(completion_times.begin(), completion_times.end());
  std::vector<int64_t> gaps;
  for (size_t i = 1; i < completion_times.size(); ++i) {
    gaps.push_back(completion_times[i] - completion_times[i - 1]);
  }
  std::nth_element(gaps.begin(), gaps.begin() + static_cast<std::ptrdiff_t>(gaps.size() / 2),
                   gaps.end());
  return gaps[gaps.size() / 2];
}

std::vector<CronEntry> ParseCrontab(std::string_view text, bool system_format, size_t max_entries) {
  std::vector<CronEntry> entries;
  int number = 0;
  ForEachLine(text, [&](std::string_view line) {
    ++number;
    if (entries.size() >= max_entries) return;
    std::string_view rest = Trim(line, " \t\r");
    if (rest.empty() || rest[0] == '#' || IsAssignment(rest)) return;
    CronEntry entry;
    entry.line = number;
    if (rest[0] == '@') {
      entry.schedule = std::string(NextWord(&rest));
    } else {
      for (int field = 0; field < 5; ++field) {
        std::string_view word = NextWord(&rest);
        if (word.empty()) return;  // malformed: fewer than five time fields
        if (!entry.schedule.empty()) entry.schedule += ' ';
        entry.schedule += word;
      }
    }
    if (system_format) {
      entry.user = std::string(NextWord(&rest));
      if (entry.user.empty()) return;
    }
    rest = Trim(rest, " \t");
    // cron turns an unescaped '%' into a newline and feeds what follows as stdin.
    for (size_t i = 0; i < rest.size(); ++i) {
      if (rest[i] == '\\' && i + 1 < rest.size() && rest[i + 1] == '%') {
        entry.command += '%';
        ++i;
      } else if (rest[i] == '%') {
        break;
      } else {
        entry.command += rest[i];
      }
    }
    entry.command = std::string(TrimRight(entry.command, " \t"));
    if (!entry.command.empty()) entries.push_back(std::move(entry));
  });
  return entries;
}

std::vector<std::string> ShellWords(std::string_view line, size_t max_words) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  auto finish = [&] {
    if (in_word && words.size() < max_words) words.push_back(word);
    word.clear();
    in_word = false;
  };
  auto push_operator = [&](std::string op) {
    // "2>" and "1>>": the descriptor number belongs to the operator.
    if (in_word && IsAllDigits(word) && (op[0] == '>' || op[0] == '<')) {
      word.clear();
      in_word = false;
    }
    finish();
    if (words.size() < max_words) words.push_back(std::move(op));
  };
  size_t i = 0;
  while (i < line.size() && words.size() < max_words) {
    char c = line[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      finish();
      ++i;
    } else if (c == '#' && !in_word) {
      break;
    } else if (c == '\'') {
      in_word = true;
      size_t close = line.find('\'', i + 1);
      if (close == std::string_view::npos) close = line.size();
      word.append(line.substr(i + 1, close - i - 1));
      i = close + 1;
    } else if (c == '"') {
      in_word = true;
      ++i;
      while (i < line.size() && line[i] != '"') {
        if (line[i] == '\\' && i + 1 < line.size() &&
            (line[i + 1] == '"' || line[i + 1] == '\\' || line[i + 1] == '$' ||
             line[i + 1] == '`')) {
          ++i;
        }
        word += line[i++];
      }
      ++i;
    } else if (c == '\\') {
      in_word = true;
      if (i + 1 < line.size()) word += line[i + 1];
      i += 2;
    } else if (c == '$' && i + 1 < line.size() && line[i + 1] == '(') {
      // $(…) stays in its word, nested parentheses included.
      in_word = true;
      int level = 0;
      while (i < line.size()) {
        word += line[i];
        if (line[i] == '(') ++level;
        if (line[i] == ')' && --level == 0) break;
        ++i;
      }
      ++i;
    } else if (c == '`') {
      in_word = true;
      size_t close = line.find('`', i + 1);
      if (close == std::string_view::npos) close = line.size() - 1;
      word.append(line.substr(i, close - i + 1));
      i = close + 1;
    } else if (c == '|') {
      bool twice = i + 1 < line.size() && line[i + 1] == '|';
      push_operator(twice ? "||" : "|");
      i += twice ? 2 : 1;
    } else if (c == '&') {
      if (i + 1 < line.size() && line[i + 1] == '&') {
        push_operator("&&");
        i += 2;
      } else if (i + 1 < line.size() && line[i + 1] == '>') {
        bool append = i + 2 < line.size() && line[i + 2] == '>';
        push_operator(append ? ">>" : ">");
        i += append ? 3 : 2;
      } else {
        push_operator("&");
        ++i;
      }
    } else if (c == ';') {
      push_operator(";");
      ++i;
    } else if (c == '>') {
      if (i + 1 < line.size() && line[i + 1] == '>') {
        push_operator(">>");
        i += 2;
      } else if (i + 1 < line.size() && line[i + 1] == '&') {
        push_operator(">&");
        i += 2;
      } else {
        push_operator(">");
        ++i;
      }
    } else if (c == '<') {
      push_operator("<");
      ++i;
    } else {
      in_word = true;
      word += c;
      ++i;
    }
  }
  finish();
  return words;
}

std::vector<BackupCommand> FindBackupCommands(std::string_view command_line) {
  std::vector<BackupCommand> found;
  FindIn(command_line, 0, &found);
  return found;
}

std::string ScriptOf(std::string_view command_line) {
  std::vector<std::string> words = ShellWords(command_line, 64);
  size_t end = 0;
  while (end < words.size() && !IsOperator(words[end])) ++end;
  std::string nested;
  size_t program = SkipWrappers(words, 0, end, &nested);
  if (!nested.empty()) return ScriptOf(nested.substr(0, 4096));
  if (program >= end) return {};
  const std::string& path = words[program];
  if (path.empty() || path[0] != '/' || path.find("$") != std::string::npos) return {};
  if (Recognise(BaseName(path), {}, "")) return {};
  // run-parts DIR runs the scripts of a directory: they are jobs of their own.
  if (BaseName(path) == "run-parts") return {};
  return path;
}

CatalogBackup ParsePgProbackupControl(std::string_view text) {
  CatalogBackup out;
  ForEachLine(text, [&](std::string_view line) {
    std::string_view key, value;
    if (line.empty() || line[0] == '#' || !SplitKeyValue(line, '=', &key, &value)) return;
    value = Trim(value, " \t'");
    if (key == "status") {
      out.status = StatusOfPgProbackup(value);
    } else if (key == "start-time") {
      out.start_time = ParseTimestampWithOffset(value).value_or(0);
    } else if (key == "end-time") {
      out.end_time = ParseTimestampWithOffset(value).value_or(0);
    }
  });
  return out;
}

CatalogBackup ParseBarmanBackupInfo(std::string_view text) {
  CatalogBackup out;
  ForEachLine(text, [&](std::string_view line) {
    std::string_view key, value;
    if (line.empty() || line[0] == '#' || !SplitKeyValue(line, '=', &key, &value)) return;
    if (key == "status") {
      out.status = StatusOfBarman(value);
    } else if (key == "begin_time") {
      out.start_time = ParseTimestampWithOffset(value).value_or(0);
    } else if (key == "end_time") {
      out.end_time = ParseTimestampWithOffset(value).value_or(0);
    } else if (key == "error" && value != "None") {
      out.error = std::string(value.substr(0, 512));
    }
  });
  return out;
}

int64_t NewestPgBackrestBackup(std::string_view text) {
  constexpr std::string_view kStop = "\"backup-timestamp-stop\":";
  int64_t newest = 0;
  bool in_current = false;
  ForEachLine(text, [&](std::string_view line) {
    line = Trim(line, " \t");
    if (!line.empty() && line[0] == '[') {
      in_current = line == "[backup:current]";
      return;
    }
    if (!in_current) return;
    size_t at = line.find(kStop);
    if (at == std::string_view::npos) return;
    size_t begin = at + kStop.size();
    size_t end = begin;
    while (end < line.size() && IsDigit(line[end]) && end - begin < 18) ++end;
    int64_t stop = 0;
    if (ParseNumber(line.substr(begin, end - begin), &stop)) newest = std::max(newest, stop);
  });
  return newest;
}

std::optional<int64_t> ParseTimestampWithOffset(std::string_view text) {
  text = Trim(text, " \t'\"");
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!ParseDigits(text, 0, 4, &year) || text.size() < 19 || text[4] != '-' ||
      !ParseDigits(text, 5, 2, &month) || text[7] != '-' || !ParseDigits(text, 8, 2, &day) ||
      (text[10] != ' ' && text[10] != 'T') || !ParseDigits(text, 11, 2, &hour) || text[13] != ':' ||
      !ParseDigits(text, 14, 2, &minute) || text[16] != ':' || !ParseDigits(text, 17, 2, &second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  size_t i = 19;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && IsDigit(text[i])) ++i;
  }
  int64_t offset_s = 0;
  if (i < text.size() && (text[i] == 'Z' || text[i] == 'z')) {
    ++i;
  } else if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    int sign = text[i] == '-' ? -1 : 1;
    int offset_hours = 0, offset_minutes = 0;
    if (!ParseDigits(text, i + 1, 2, &offset_hours)) return std::nullopt;
    i += 3;
    if (i < text.size() && text[i] == ':') ++i;
    if (i < text.size()) {
      if (!ParseDigits(text, i, 2, &offset_minutes)) return std::nullopt;
      i += 2;
    }
    if (offset_hours > 15 || offset_minutes > 59) return std::nullopt;
    offset_s = sign * (offset_hours * 3600 + offset_minutes * 60);
  }
  if (i != text.size()) return std::nullopt;
  return MsFromUtc(year, month, day, hour, minute, second) / 1000 - offset_s;
}

TimerUnit ParseTimerUnit(std::string_view text) {
  TimerUnit out;
  bool in_timer = false;
  ForEachLine(text, [&](std::string_view line) {
    line = Trim(line, " \t");
    if (!line.empty() && line[0] == '[') {
      in_timer = line == "[Timer]";
      return;
    }
    std::string_view key, value;
    if (!in_timer || !SplitKeyValue(line, '=', &key, &value)) return;
    if (key == "Unit") {
      out.unit = std::string(value);
    } else if ((key == "OnCalendar" || key == "OnBootSec" || key == "OnStartupSec" ||
                key == "OnActiveSec" || key == "OnUnitActiveSec" || key == "OnUnitInactiveSec") &&
               !value.empty() && out.schedule.size() < 512) {
      AppendJoined(&out.schedule, std::string(key) + "=" + std::string(value), ", ");
    }
  });
  return out;
}

std::vector<std::string> ParseExecStart(std::string_view text) {
  std::vector<std::string> commands;
  bool in_service = false;
  auto handle = [&](std::string_view line) {
    line = Trim(line, " \t");
    if (!line.empty() && line[0] == '[') {
      in_service = line == "[Service]";
      return;
    }
    std::string_view key, value;
    if (!in_service || !SplitKeyValue(line, '=', &key, &value) || key != "ExecStart") return;
    if (value.empty()) {
      commands.clear();  // "ExecStart=" resets the list (drop-ins)
      return;
    }
    while (!value.empty() && std::string_view("-@:+!").find(value[0]) != std::string_view::npos) {
      value.remove_prefix(1);
    }
    if (commands.size() < 64) commands.emplace_back(value.substr(0, 8192));
  };
  ForEachLogicalLine(text, [&](std::string_view line, int) { handle(line); });
  return commands;
}

std::vector<UnitRunState> ParseSystemctlShow(std::string_view text) {
  std::vector<UnitRunState> units;
  UnitRunState current;
  bool any = false;
  auto flush = [&] {
    if (any && !current.id.empty()) units.push_back(std::move(current));
    current = UnitRunState{};
    any = false;
  };
  ForEachLine(text, [&](std::string_view line) {
    std::string_view key, value;
    if (Trim(line).empty()) {
      flush();
      return;
    }
    if (!SplitKeyValue(line, '=', &key, &value)) return;
    any = true;
    if (key == "Id") {
      current.id = std::string(value);
    } else if (key == "Result") {
      current.result = std::string(value);
    } else if (key == "ActiveState") {
      current.active_state = std::string(value);
    } else if (key == "ExecMainStatus") {
      (void)ParseNumber(value, &current.exec_main_status);
    } else if (key == "ExecMainStartTimestampMonotonic") {
      (void)ParseNumber(value, &current.start_monotonic_us);
    } else if (key == "ExecMainExitTimestampMonotonic") {
      (void)ParseNumber(value, &current.exit_monotonic_us);
    }
  });
  flush();
  return units;
}

PostgresConninfo ParsePostgresConninfo(std::string_view text) {
  PostgresConninfo out;
  text = Trim(text, " \t");
  if (StartsWith(text, "postgresql://") || StartsWith(text, "postgres://")) {
    out.is_conninfo = true;
    std::string_view rest = text.substr(text.find("://") + 3);
    std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
    if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
      authority = authority.substr(at + 1);
    }
    // host:port, [v6]:port; several hosts "h1:5432,h2:5433": the first.
    authority = authority.substr(0, authority.find(','));
    size_t colon = authority.rfind(':');
    size_t bracket = authority.rfind(']');
    if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
      (void)ParseNumber(authority.substr(colon + 1), &out.port);
    }
    size_t slash = rest.find('/');
    if (slash != std::string_view::npos) {
      std::string_view path = rest.substr(slash + 1);
      out.dbname = std::string(path.substr(0, path.find('?')));
    }
    return out;
  }
  if (text.find('=') == std::string_view::npos) return out;
  out.is_conninfo = true;
  for (std::string_view word : SplitWords(text)) {
    std::string_view key, value;
    if (!SplitKeyValue(word, '=', &key, &value)) continue;
    value = Trim(value, "'\"");
    if (key == "dbname") out.dbname = std::string(value);
    if (key == "port") (void)ParseNumber(value.substr(0, value.find(',')), &out.port);
  }
  return out;
}

std::string IniSectionValue(std::string_view text, std::string_view section, std::string_view key) {
  std::string found;
  bool inside = false;
  ForEachLine(text, [&](std::string_view line) {
    line = Trim(line, " \t");
    if (line.empty() || line[0] == '#' || line[0] == ';') return;
    if (line[0] == '[') {
      size_t close = line.find(']');
      inside = close != std::string_view::npos && Trim(line.substr(1, close - 1), " \t") == section;
      return;
    }
    std::string_view name, value;
    if (inside && SplitKeyValue(line, '=', &name, &value) && name == key) {
      found = std::string(Trim(value, " \t\"'"));
    }
  });
  return found;
}

std::string IniValue(std::string_view text, std::string_view key) {
  std::string found;
  bool done = false;
  ForEachLine(text, [&](std::string_view line) {
    if (done) return;
    line = Trim(line, " \t");
    if (line.empty() || line[0] == '#' || line[0] == ';' || line[0] == '[') return;
    std::string_view name, value;
    if (SplitKeyValue(line, '=', &name, &value) && name == key) {
      found = std::string(Trim(value, " \t\"'"));
      done = true;
    }
  });
  return found;
}

std::string LocalDestinationDirectory(std::string_view destination) {
  if (destination.empty() || destination[0] != '/') return {};
  size_t generated = destination.find_first_of("$`%*?[{");
  if (generated == std::string_view::npos) {
    std::string_view whole = TrimRight(destination, "/");
    return std::string(whole.empty() ? "/" : whole);
  }
  std::string_view fixed = destination.substr(0, generated);
  size_t slash = fixed.find_last_of('/');
  std::string_view directory = fixed.substr(0, slash);
  return std::string(directory.empty() ? "/" : directory);
}

}  // namespace dozor::agent
