#include "core/config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <system_error>
#include <vector>

#include "dozor/common/files.hpp"
#include "dozor/common/path_text.hpp"
#include "transport/server_addresses.hpp"

namespace dozor::agent {
namespace {

enum class ValueKind { kString, kBool, kInteger, kByteSize, kNumber };

// One accepted key: where it lives, what it holds, and how it lands in AgentConfig.
struct KeySpec {
  std::string_view section;
  std::string_view key;
  ValueKind kind = ValueKind::kString;
  int64_t min = 0;
  int64_t max = 0;
  std::function<void(AgentConfig&, const std::string&)> set_string;
  std::function<void(AgentConfig&, bool)> set_bool;
  std::function<void(AgentConfig&, int64_t)> set_integer;
  std::function<void(AgentConfig&, double)> set_number;
};

const std::vector<KeySpec>& KeySpecs() {
  static const std::vector<KeySpec> specs = [] {
    std::vector<KeySpec> out;
    auto add_string = [&](std::string_view section, std::string_view key,
                          std::function<void(AgentConfig&, const std::string&)> set) {
      KeySpec spec;
      spec.section = section;
      spec.key = key;
      spec.kind = ValueKind::kString;
      spec.set_string = std::move(set);
      out.push_back(std::move(spec));
    };
    auto add_bool = [&](std::string_view section, std::string_view key,
                        std::function<void(AgentConfig&, bool)> set) {
      KeySpec spec;
      spec.section = section;
      spec.key = key;
      spec.kind = ValueKind::kBool;
      spec.set_bool = std::move(set);
      out.push_back(std::move(spec));
    };
    auto add_integer = [&](std::string_view section, std::string_view key, ValueKind kind,
                           int64_t min, int64_t max,
                           std::function<void(AgentConfig&, int64_t)> set) {
      KeySpec spec;
      spec.section = section;
      spec.key = key;
      spec.kind = kind;
      spec.min = min;
      spec.max = max;
      spec.set_integer = std::move(set);
      out.push_back(std::move(spec));
    };
    add_string("server", "address",
               [](AgentConfig& c, const std::string& v) { c.server_address = v; });
    add_string("server", "ca_file",
               [](AgentConfig& c, const std::string& v) { c.tls_ca_file = PathFromUtf8(v); });
    add_bool("server", "insecure", [](AgentConfig& c, bool v) { c.insecure = v; });
    add_bool("server", "allow_plaintext_remote",
             [](AgentConfig& c, bool v) { c.allow_plaintext_remote = v; });
    add_string("server", "server_name",
               [](AgentConfig& c, const std::string& v) { c.tls_server_name = v; });
    add_string("agent", "state_dir",
               [](AgentConfig& c, const std::string& v) { c.state_dir = PathFromUtf8(v); });
    add_string("agent", "root",
               [](AgentConfig& c, const std::string& v) { c.root = PathFromUtf8(v); });
    add_string("agent", "log_level", [](AgentConfig& c, const std::string& v) { c.log_level = v; });
    add_integer("intervals", "health_seconds", ValueKind::kInteger, kMinHealthIntervalSeconds,
                kMaxHealthIntervalSeconds,
                [](AgentConfig& c, int64_t v) { c.health_interval_seconds = static_cast<int>(v); });
    add_integer("intervals", "inventory_seconds", ValueKind::kInteger, kMinInventoryIntervalSeconds,
                kMaxInventoryIntervalSeconds, [](AgentConfig& c, int64_t v) {
                  c.inventory_interval_seconds = static_cast<int>(v);
                });
    add_integer("spool", "max_bytes", ValueKind::kByteSize, static_cast<int64_t>(kMinSpoolMaxBytes),
                static_cast<int64_t>(kMaxSpoolMaxBytes),
                [](AgentConfig& c, int64_t v) { c.spool_max_bytes = static_cast<uint64_t>(v); });
    add_bool("collectors", "smart", [](AgentConfig& c, bool v) { c.collect_smart = v; });
    add_integer("collectors", "timeout_seconds", ValueKind::kInteger, kMinCollectorTimeoutSeconds,
                kMaxCollectorTimeoutSeconds, [](AgentConfig& c, int64_t v) {
                  c.collector_timeout_seconds = static_cast<int>(v);
                });
    add_integer("limits", "max_rss_mb", ValueKind::kInteger, kMinMaxRssMb, kMaxMaxRssMb,
                [](AgentConfig& c, int64_t v) { c.max_rss_mb = static_cast<int>(v); });
    {
      KeySpec spec;
      spec.section = "limits";
      spec.key = "max_cpu_percent";
      spec.kind = ValueKind::kNumber;
      spec.set_number = [](AgentConfig& c, double v) { c.max_cpu_percent = v; };
      out.push_back(std::move(spec));
    }
    return out;
  }();
  return specs;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> previous(b.size() + 1);
  std::vector<size_t> current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) {
    previous[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitute =
          previous[j - 1] + (std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                                     std::tolower(static_cast<unsigned char>(b[j - 1]))
                                 ? 0
                                 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitute});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

// The closest of `candidates` to `word`; "" when nothing is plausibly a typo of it.
std::string Closest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (const auto& candidate : candidates) {
    const size_t distance = EditDistance(word, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  const size_t tolerance = std::max<size_t>(2, std::max(word.size(), best.size()) / 2);
  return best_distance <= tolerance ? best : std::string();
}

std::vector<std::string> AllFullKeys() {
  std::vector<std::string> out;
  for (const auto& spec : KeySpecs()) {
    out.push_back(std::string(spec.section) + "." + std::string(spec.key));
  }
  return out;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) {
      out += ", ";
    }
    out += item;
  }
  return out;
}

const char* TypeName(toml::node_type type) {
  switch (type) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

std::string FormatBytes(int64_t bytes) {
  if (bytes % (1ll << 30) == 0) {
    return std::to_string(bytes >> 30) + "GiB";
  }
  if (bytes % (1ll << 20) == 0) {
    return std::to_string(bytes >> 20) + "MiB";
  }
  return std::to_string(bytes);
}

std::string FormatNumber(double number) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", number);
  return text;
}

class FileParser {
 public:
  explicit FileParser(const std::filesystem::path& path) : path_(PathToUtf8(path)) {}

  Error At(const toml::source_region& where, const std::string& message) const {
    std::string location = path_;
    if (where.begin.line > 0) {
      location += ":" + std::to_string(where.begin.line);
    }
    return MakeError(ErrorCode::kInvalidArgument, location + ": " + message);
  }

  Status Apply(const toml::table& root, AgentConfig* config) const {
    std::vector<std::string> sections;
    for (const auto& spec : KeySpecs()) {
      if (std::find(sections.begin(), sections.end(), spec.section) == sections.end()) {
        sections.emplace_back(spec.section);
      }
    }
    for (const auto& [section_key, section_node] : root) {
      const std::string section_name(section_key.str());
      if (std::find(sections.begin(), sections.end(), section_name) == sections.end()) {
        std::vector<std::string> candidates = sections;
        for (const auto& full : AllFullKeys()) {
          candidates.push_back(full);
        }
        const std::string guess = Closest(section_name, candidates);
        return At(section_key.source(),
                  "unknown key '" + section_name + "'" +
                      (guess.empty() ? " (known sections: " + Join(sections) + ")"
                                     : "; did you mean '" + guess + "'?"));
      }
      const toml::table* table = section_node.as_table();
      if (table == nullptr) {
        return At(section_node.source(), "'" + section_name + "' must be a table ([" +
                                             section_name + "]), got " +
                                             TypeName(section_node.type()));
      }
      for (const auto& [key, node] : *table) {
        DOZOR_RETURN_IF_ERROR(ApplyKey(section_name, key, node, config));
      }
    }
    return OkStatus();
  }

 private:
  Status ApplyKey(const std::string& section, const toml::key& key, const toml::node& node,
                  AgentConfig* config) const {
    const std::string name(key.str());
    const std::string full = section + "." + name;
    const KeySpec* spec = nullptr;
    std::vector<std::string> section_keys;
    for (const auto& candidate : KeySpecs()) {
      if (candidate.section == section) {
        section_keys.emplace_back(candidate.key);
        if (candidate.key == name) {
          spec = &candidate;
        }
      }
    }
    if (spec == nullptr) {
      // A key put in the wrong section is a likely mistake: look in every section.
      std::string guess = Closest(name, section_keys);
      guess = guess.empty() ? Closest(full, AllFullKeys()) : section + "." + guess;
      if (guess.empty()) {
        for (const auto& candidate : KeySpecs()) {
          if (candidate.key == name) {
            guess = std::string(candidate.section) + "." + name;
          }
        }
      }
      return At(key.source(), "unknown key '" + full + "'" +
                                  (guess.empty() ? " (known keys in [" + section +
                                                       "]: " + Join(section_keys) + ")"
                                                 : "; did you mean '" + guess + "'?"));
    }
    auto wrong_type = [&](const char* expected) {
      return At(node.source(), full + " must be " + expected + ", got " + TypeName(node.type()));
    };
    switch (spec->kind) {
      case ValueKind::kString: {
        const auto* value = node.as_string();
        if (value == nullptr) {
          return wrong_type("a string");
        }
        DOZOR_RETURN_IF_ERROR(CheckString(*spec, full, node, value->get()));
        spec->set_string(*config, value->get());
        return OkStatus();
      }
      case ValueKind::kBool: {
        const auto* value = node.as_boolean();
        if (value == nullptr) {
          return wrong_type("true or false");
        }
        spec->set_bool(*config, value->get());
        return OkStatus();
      }
      case ValueKind::kInteger: {
        const auto* value = node.as_integer();
        if (value == nullptr) {
          return wrong_type("an integer");
        }
        if (value->get() < spec->min || value->get() > spec->max) {
          return At(node.source(), full + " = " + std::to_string(value->get()) +
                                       " is out of range (expected " + std::to_string(spec->min) +
                                       ".." + std::to_string(spec->max) + ")");
        }
        spec->set_integer(*config, value->get());
        return OkStatus();
      }
      case ValueKind::kNumber: {
        double number = 0;
        if (const auto* integer = node.as_integer()) {
          number = static_cast<double>(integer->get());
        } else if (const auto* floating = node.as_floating_point()) {
          number = floating->get();
        } else {
          return wrong_type("a number");
        }
        // Only max_cpu_percent is a plain number so far.
        if (!(number >= kMinMaxCpuPercent && number <= kMaxMaxCpuPercent)) {
          return At(node.source(), full + " = " + FormatNumber(number) +
                                       " is out of range (expected " +
                                       FormatNumber(kMinMaxCpuPercent) + ".." +
                                       FormatNumber(kMaxMaxCpuPercent) + ")");
        }
        spec->set_number(*config, number);
        return OkStatus();
      }
      case ValueKind::kByteSize: {
        const std::string range = "expected " + FormatBytes(spec->min) + ".." +
                                  FormatBytes(spec->max) + ", i.e. " + std::to_string(spec->min) +
                                  ".." + std::to_string(spec->max) + " bytes";
        int64_t bytes = 0;
        std::string shown;
        if (const auto* integer = node.as_integer()) {
          bytes = integer->get();
          shown = std::to_string(bytes);
        } else if (const auto* text = node.as_string()) {
          auto parsed = ParseByteSize(text->get());
          if (!parsed.ok()) {
            return At(node.source(), full + ": " + parsed.error().message + " (" + range + ")");
          }
          bytes = *parsed > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                      ? std::numeric_limits<int64_t>::max()
                      : static_cast<int64_t>(*parsed);
          shown = "\"" + text->get() + "\"";
        } else {
          return wrong_type("an integer or a size string like \"64MiB\"");
        }
        if (bytes < spec->min || bytes > spec->max) {
          return At(node.source(), full + " = " + shown + " is out of range (" + range + ")");
        }
        spec->set_integer(*config, bytes);
        return OkStatus();
      }
    }
    return OkStatus();
  }

  Status CheckString(const KeySpec& spec, const std::string& full, const toml::node& node,
                     const std::string& value) const {
    if (spec.key == "address") {
      auto valid = ValidateServerAddress(value);
      if (!valid.ok()) {
        return At(node.source(), full + ": " + valid.error().message);
      }
    } else if (spec.key == "log_level") {
      if (!IsValidLogLevel(value)) {
        return At(node.source(), full + " = \"" + value +
                                     "\" is not a log level (expected trace, debug, info, warn, "
                                     "error)");
      }
    } else if ((spec.key == "state_dir" || spec.key == "root") && value.empty()) {
      return At(node.source(), full + " must not be empty");
    }
    return OkStatus();
  }

  std::string path_;
};

// toml++ quotes the offending character verbatim, which may be a newline.
std::string OneLine(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r' || c == '\t') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

bool IsHostnameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == '_';
}

}  // namespace

bool IsValidLogLevel(std::string_view level) {
  static constexpr std::array<std::string_view, 5> kLevels = {"trace", "debug", "info", "warn",
                                                              "error"};
  return std::find(kLevels.begin(), kLevels.end(), level) != kLevels.end();
}

namespace {

Status ValidateOneServerAddress(std::string_view address) {
  auto invalid = [&](const std::string& why) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "server address \"" + std::string(address) + "\" " + why +
            " (expected HOST:PORT, e.g. dozor.example.com:7443 or [2001:db8::1]:7443)");
  };
  if (address.empty()) {
    return invalid("is empty");
  }
  std::string_view host;
  std::string_view port;
  if (address.front() == '[') {
    const size_t close = address.find(']');
    if (close == std::string_view::npos) {
      return invalid("has no closing ']'");
    }
    host = address.substr(1, close - 1);
    if (host.empty()) {
      return invalid("has an empty IPv6 address");
    }
    for (char c : host) {
      if (std::isxdigit(static_cast<unsigned char>(c)) == 0 && c != ':' && c != '.') {
        return invalid("has an invalid IPv6 address");
      }
    }
    if (host.find(':') == std::string_view::npos) {
      return invalid("has brackets around something that is not an IPv6 address");
    }
    if (close + 1 >= address.size() || address[close + 1] != ':') {
      return invalid("has no port");
    }
    port = address.substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) {
      return invalid("has no port");
    }
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return invalid("looks like an IPv6 address without brackets; write it as [ADDRESS]:PORT");
    }
    if (host.empty()) {
      return invalid("has no host");
    }
    if (!std::all_of(host.begin(), host.end(), IsHostnameChar)) {
      return invalid("has an invalid host name");
    }
  }
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return invalid("has an invalid port");
  }
  const int port_number = std::stoi(std::string(port));
  if (port_number < 1 || port_number > 65535) {
    return invalid("has a port outside 1..65535");
  }
  return OkStatus();
}

}  // namespace

Status ValidateServerAddress(std::string_view addresses) {
  const std::vector<std::string> list = SplitServerAddresses(addresses);
  if (list.empty()) {
    return ValidateOneServerAddress("");
  }
  // A stray comma ("a:1,,b:2", "a:1,") would silently drop a replica: refuse it.
  size_t commas = 0;
  for (char c : addresses) commas += c == ',' ? 1 : 0;
  if (commas + 1 != list.size()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "server address list \"" + std::string(addresses) +
                         "\" has an empty entry (expected HOST:PORT[,HOST:PORT...])");
  }
  for (const std::string& address : list) {
    DOZOR_RETURN_IF_ERROR(ValidateOneServerAddress(address));
  }
  return OkStatus();
}

Result<uint64_t> ParseByteSize(std::string_view text) {
  auto invalid = [&] {
    return MakeError(ErrorCode::kInvalidArgument,
                     "\"" + std::string(text) +
                         "\" is not a size (use bytes or a whole number with B, KB, MB, GB, KiB, "
                         "MiB or GiB, e.g. \"64MiB\")");
  };
  size_t i = 0;
  while (i < text.size() && text[i] == ' ') {
    ++i;
  }
  uint64_t number = 0;
  const size_t digits_start = i;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (number > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      return MakeError(ErrorCode::kInvalidArgument, "\"" + std::string(text) + "\" is too large");
    }
    number = number * 10 + digit;
  }
  if (i == digits_start) {
    return invalid();
  }
  while (i < text.size() && text[i] == ' ') {
    ++i;
  }
  std::string unit;
  for (; i < text.size() && text[i] != ' '; ++i) {
    unit.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(text[i]))));
  }
  while (i < text.size() && text[i] == ' ') {
    ++i;
  }
  if (i != text.size()) {
    return invalid();
  }
  struct Unit {
    std::string_view name;
    uint64_t factor;
  };
  static constexpr std::array<Unit, 8> kUnits = {{{"", 1},
                                                  {"b", 1},
                                                  {"kb", 1000},
                                                  {"mb", 1000 * 1000},
                                                  {"gb", 1000 * 1000 * 1000},
                                                  {"kib", 1ull << 10},
                                                  {"mib", 1ull << 20},
                                                  {"gib", 1ull << 30}}};
  for (const auto& candidate : kUnits) {
    if (candidate.name == unit) {
      if (number > std::numeric_limits<uint64_t>::max() / candidate.factor) {
        return MakeError(ErrorCode::kInvalidArgument, "\"" + std::string(text) + "\" is too large");
      }
      return number * candidate.factor;
    }
  }
  return invalid();
}

Result<AgentConfig> LoadAgentConfigFile(const std::filesystem::path& path) {
  auto content = ReadFile(path, kMaxConfigFileBytes);
  if (!content.ok()) {
    return content.error().Wrap("config file");
  }
  AgentConfig config;
  FileParser parser(path);
#if TOML_EXCEPTIONS
  toml::table root;
  try {
    root = toml::parse(*content, PathToUtf8(path));
  } catch (const toml::parse_error& error) {
    return MakeError(ErrorCode::kInvalidArgument,
                     PathToUtf8(path) + ":" + std::to_string(error.source().begin.line) + ":" +
                         std::to_string(error.source().begin.column) +
                         ": TOML syntax error: " + OneLine(error.description()));
  } catch (const std::exception& error) {
    return MakeError(ErrorCode::kInvalidArgument, PathToUtf8(path) + ": " + error.what());
  }
#else
  toml::parse_result parsed = toml::parse(*content, PathToUtf8(path));
  if (!parsed) {
    const auto& error = parsed.error();
    return MakeError(ErrorCode::kInvalidArgument,
                     PathToUtf8(path) + ":" + std::to_string(error.source().begin.line) + ":" +
                         std::to_string(error.source().begin.column) +
                         ": TOML syntax error: " + OneLine(error.description()));
  }
  toml::table root = std::move(parsed).table();
#endif
  DOZOR_RETURN_IF_ERROR(parser.Apply(root, &config));
  return config;
}

Status ValidateAgentConfig(const AgentConfig& config) {
  auto invalid = [](const std::string& message) {
    return MakeError(ErrorCode::kInvalidArgument, message);
  };
  // Empty means "the server recorded at enrollment" (identity.json).
  if (!config.server_address.empty()) {
    DOZOR_RETURN_IF_ERROR(ValidateServerAddress(config.server_address));
  }
  if (!config.insecure && !config.tls_ca_file.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(config.tls_ca_file, ec)) {
      return invalid("CA file " + PathToUtf8(config.tls_ca_file) +
                     " does not exist or is not a file (server.ca_file / --ca); leave it empty to "
                     "use the system trust store");
    }
  }
  if (config.state_dir.empty()) {
    return invalid("state directory (agent.state_dir / --state-dir) must not be empty");
  }
  if (config.root.empty()) {
    return invalid("root (agent.root / --root) must not be empty");
  }
  {
    std::error_code ec;
    if (!std::filesystem::is_directory(config.root, ec)) {
      return invalid("root " + PathToUtf8(config.root) +
                     " (agent.root / --root) is not a directory");
    }
  }
  if (config.health_interval_seconds < kMinHealthIntervalSeconds ||
      config.health_interval_seconds > kMaxHealthIntervalSeconds) {
    return invalid("health interval " + std::to_string(config.health_interval_seconds) +
                   "s (intervals.health_seconds / --health-interval) is out of range (expected " +
                   std::to_string(kMinHealthIntervalSeconds) + ".." +
                   std::to_string(kMaxHealthIntervalSeconds) + ")");
  }
  if (config.inventory_interval_seconds < kMinInventoryIntervalSeconds ||
      config.inventory_interval_seconds > kMaxInventoryIntervalSeconds) {
    return invalid("inventory interval " + std::to_string(config.inventory_interval_seconds) +
                   "s (intervals.inventory_seconds / --inventory-interval) is out of range "
                   "(expected " +
                   std::to_string(kMinInventoryIntervalSeconds) + ".." +
                   std::to_string(kMaxInventoryIntervalSeconds) + ")");
  }
  if (config.spool_max_bytes < kMinSpoolMaxBytes || config.spool_max_bytes > kMaxSpoolMaxBytes) {
    return invalid("spool size " + std::to_string(config.spool_max_bytes) +
                   " bytes (spool.max_bytes / --spool-max-bytes) is out of range (expected "
                   "1MiB..10GiB)");
  }
  if (config.collector_timeout_seconds < kMinCollectorTimeoutSeconds ||
      config.collector_timeout_seconds > kMaxCollectorTimeoutSeconds) {
    return invalid("collector timeout " + std::to_string(config.collector_timeout_seconds) +
                   "s (collectors.timeout_seconds) is out of range (expected " +
                   std::to_string(kMinCollectorTimeoutSeconds) + ".." +
                   std::to_string(kMaxCollectorTimeoutSeconds) + ")");
  }
  if (config.max_rss_mb < kMinMaxRssMb || config.max_rss_mb > kMaxMaxRssMb) {
    return invalid("memory limit " + std::to_string(config.max_rss_mb) +
                   " MiB (limits.max_rss_mb / --max-rss-mb) is out of range (expected " +
                   std::to_string(kMinMaxRssMb) + ".." + std::to_string(kMaxMaxRssMb) + ")");
  }
  if (!(config.max_cpu_percent >= kMinMaxCpuPercent &&
        config.max_cpu_percent <= kMaxMaxCpuPercent)) {
    return invalid("CPU limit " + FormatNumber(config.max_cpu_percent) +
                   "% (limits.max_cpu_percent / --max-cpu-percent) is out of range (expected " +
                   FormatNumber(kMinMaxCpuPercent) + ".." + FormatNumber(kMaxMaxCpuPercent) + ")");
  }
  if (!IsValidLogLevel(config.log_level)) {
    return invalid("log level \"" + config.log_level +
                   "\" (agent.log_level / --log-level) is not one of trace, debug, info, warn, "
                   "error");
  }
  return OkStatus();
}

}  // namespace dozor::agent
