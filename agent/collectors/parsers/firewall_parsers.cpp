#include "collectors/parsers/firewall_parsers.hpp"

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>

#include "collectors/parsers/text.hpp"

namespace dozor::agent {
namespace {
namespace firewall_parse {

constexpr size_t kMaxGroupElements = 4096;
constexpr int kMaxJumpDepth = 16;

// A word of a rule, or an anonymous set `{ a, b }` as its elements.
struct Item {
  std::string word;
  bool group = false;
  std::vector<std::string> elements;
};

// A statement of nft's language: its items up to the line end or ';', and whether a block
// `{` follows (table, chain, set).
struct Statement {
  int line = 0;
  std::vector<Item> items;
  bool opens_block = false;
};

bool IsAny(std::string_view source) {
  return source == "0.0.0.0/0" || source == "::/0" || source == "::0/0" || source == "0/0";
}

std::string Unquote(std::string_view word) {
  if (word.size() >= 2 && word.front() == '"' && word.back() == '"') {
    return std::string(word.substr(1, word.size() - 2));
  }
  return std::string(word);
}

// Service names a saved configuration may use instead of numbers (nft prints numbers).
int ServicePort(std::string_view name) {
  static const std::pair<std::string_view, int> kServices[] = {
      {"ssh", 22},     {"http", 80},       {"https", 443},          {"postgresql", 5432},
      {"mysql", 3306}, {"ms-sql-s", 1433}, {"domain", 53},          {"smtp", 25},
      {"ftp", 21},     {"rdp", 3389},      {"ms-wbt-server", 3389}, {"redis", 6379}};
  for (const auto& [service, port] : kServices) {
    if (service == name) return port;
  }
  return -1;
}

// "5432", "1560-1591" (nft), "1560:1591" (iptables), "ssh"; false when not a port or range.
bool ParsePortRange(std::string_view text, FirewallPortRange* out) {
  text = Trim(text);
  size_t dash = text.find_first_of("-:");
  uint32_t first = 0;
  uint32_t last = 0;
  if (dash == std::string_view::npos) {
    if (!ParseNumber(text, &first)) {
      const int port = ServicePort(text);
      if (port < 0) return false;
      first = static_cast<uint32_t>(port);
    }
    last = first;
  } else {
    std::string_view low = text.substr(0, dash);
    std::string_view high = text.substr(dash + 1);
    if (low.empty()) low = "0";
    if (high.empty()) high = "65535";
    if (!ParseNumber(low, &first) || !ParseNumber(high, &last)) return false;
  }
  if (first > 65535 || last > 65535 || last < first) return false;
  *out = {first, last};
  return true;
}

void AddPorts(const std::vector<std::string>& values, FirewallRule* rule) {
  for (const auto& value : values) {
    FirewallPortRange range;
    if (ParsePortRange(value, &range)) {
      rule->dports.push_back(range);
    } else if (rule->unknown.empty()) {
      rule->unknown = "port " + value;
    }
  }
}

std::string JoinList(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

// ---------------------------------------------------------------- nft

class NftTokenizer {
 public:
  explicit NftTokenizer(std::string_view text) : text_(text) {}

  // The next statement; false at the end. A lone '}' comes back as a statement of one word "}".
  bool Next(Statement* out) {
    *out = Statement{};
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '\n') {
        ++line_;
        ++pos_;
        if (!out->items.empty()) return true;
        continue;
      }
      if (c == ';') {
        ++pos_;
        if (!out->items.empty()) return true;
        continue;
      }
      if (c == ' ' || c == '\t' || c == '\r' || c == '\\') {
        ++pos_;
        continue;
      }
      if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
        continue;
      }
      if (out->items.empty()) out->line = line_;
      if (c == '}') {
        if (!out->items.empty()) return true;  // "chain x { ... rule }" on one line
        ++pos_;
        out->items.push_back(Item{"}", false, {}});
        return true;
      }
      if (c == '{') {
        ++pos_;
        if (StartsBlock(*out)) {
          out->opens_block = true;
          return true;
        }
        Item group;
        group.group = true;
        ReadGroup(&group.elements);
        out->items.push_back(std::move(group));
        continue;
      }
      out->items.push_back(Item{ReadWord(), false, {}});
    }
    return !out->items.empty();
  }

 private:
  // `table inet filter {`, `chain input {`, `set x {`, `map m {` ... open a block; an anonymous
  // set follows a match instead (`tcp dport {`, `elements = {`).
  static bool StartsBlock(const Statement& statement) {
    if (statement.items.empty()) return false;
    const std::string& first = statement.items.front().word;
    static const std::set<std::string_view> kBlocks = {
        "table", "chain", "set",     "map",      "flowtable", "counter", "quota",
        "ct",    "limit", "secmark", "synproxy", "add",       "create"};
    if (statement.items.size() < 2 || !kBlocks.count(first)) return false;
    // `ct state { established, related }` is a match: "ct helper x {" blocks have 3 words.
    if (first == "ct" || first == "counter" || first == "limit" || first == "quota") {
      return statement.items.size() == 3 && statement.items[1].word != "state";
    }
    return true;
  }

  std::string ReadWord(bool in_group = false) {
    std::string word;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '"') {
        size_t end = text_.find('"', pos_ + 1);
        size_t newline = text_.find('\n', pos_ + 1);
        if (end == std::string_view::npos || (newline != std::string_view::npos && newline < end)) {
          end = newline == std::string_view::npos ? text_.size() : newline;
          word.append(text_.substr(pos_, end - pos_));
          pos_ = end;
          return word;
        }
        word.append(text_.substr(pos_, end + 1 - pos_));
        pos_ = end + 1;
        continue;
      }
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' || c == '{' || c == '}' ||
          (in_group && c == ',')) {
        break;
      }
      word.push_back(c);
      ++pos_;
    }
    if (word.empty()) ++pos_;  // a stray ','
    return word;
  }

  // Elements up to the matching '}', newlines included; nested braces are flattened.
  void ReadGroup(std::vector<std::string>* elements) {
    int depth = 1;
    while (pos_ < text_.size() && depth > 0) {
      const char c = text_[pos_];
      if (c == '\n') ++line_;
      if (c == '{') {
        ++depth;
        ++pos_;
      } else if (c == '}') {
        --depth;
        ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == ';' ||
                 c == '\\') {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else {
        std::string word = ReadWord(true);
        if (!word.empty() && elements->size() < kMaxGroupElements) {
          elements->push_back(std::move(word));
        }
      }
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
};

struct NftSet {
  std::vector<std::string> elements;
  bool dynamic = false;  // filled at run time (flags dynamic, timeouts, no elements listed)
};

class NftParser {
 public:
  NftParser(std::string_view text, size_t max_rules) : tokens_(text), max_rules_(max_rules) {
    ruleset_.backend = "nftables";
  }

  FirewallRuleset Parse() {
    Statement statement;
    while (tokens_.Next(&statement)) {
      const auto& items = statement.items;
      if (statement.opens_block) {
        if (items.size() >= 2 && items[0].word == "table") {
          std::string family = items.size() >= 3 ? items[1].word : "ip";
          std::string name = items.size() >= 3 ? items[2].word : items[1].word;
          ParseTable(family, name);
        } else {
          SkipBlock();
        }
      }
      // flush ruleset, include, define, stray '}': nothing to keep.
    }
    return std::move(ruleset_);
  }

 private:
  void SkipBlock() {
    int depth = 1;
    Statement statement;
    while (depth > 0 && tokens_.Next(&statement)) {
      if (statement.opens_block) ++depth;
      if (statement.items.size() == 1 && statement.items[0].word == "}") --depth;
    }
  }

  void ParseTable(const std::string& family, const std::string& name) {
    int family_number = -1;
    if (family == "inet") family_number = 0;
    if (family == "ip") family_number = 4;
    if (family == "ip6") family_number = 6;
    const std::string key = family + " " + name;
    std::map<std::string, NftSet> sets;
    std::vector<std::pair<FirewallChain, std::vector<std::vector<Item>>>> chains;
    Statement statement;
    while (tokens_.Next(&statement)) {
      const auto& items = statement.items;
      if (items.size() == 1 && items[0].word == "}") break;
      if (!statement.opens_block) continue;
      if (items[0].word == "chain" && items.size() >= 2) {
        FirewallChain chain;
        chain.name = items[1].word;
        chain.family = family_number;
        chains.emplace_back(std::move(chain), std::vector<std::vector<Item>>());
        ParseChain(&chains.back().first, &chains.back().second);
      } else if ((items[0].word == "set" || items[0].word == "map") && items.size() >= 2) {
        ParseSet(&sets[items[1].word]);
      } else {
        SkipBlock();
      }
    }
    if (family_number < 0) return;  // arp, bridge, netdev: not the host's input path
    auto& table = ruleset_.tables[key];
    for (auto& [chain, raw_rules] : chains) {
      for (size_t i = 0; i < raw_rules.size(); ++i) {
        chain.rules[i] = ReadRule(raw_rules[i], chain.rules[i].line, sets);
        if (chain.input_hook) ++ruleset_.input_rules;
      }
      table[chain.name] = std::move(chain);
    }
  }

  void ParseSet(NftSet* set) {
    Statement statement;
    bool has_elements = false;
    while (tokens_.Next(&statement)) {
      auto& items = statement.items;
      if (items.size() == 1 && items[0].word == "}") break;
      if (statement.opens_block) {
        SkipBlock();
        continue;
      }
      const std::string& first = items[0].word;
      if (first == "flags") {
        for (const auto& item : items) {
          if (item.word.find("dynamic") != std::string::npos) set->dynamic = true;
        }
      } else if (first == "timeout" || first == "gc-interval") {
        set->dynamic = true;
      } else if (first == "elements") {
        has_elements = true;
        for (auto& item : items) {
          if (item.group) {
            for (auto& element : item.elements) {
              // `10.0.0.20 timeout 1h expires 5m`: only the addresses count.
              if (element == "timeout" || element == "expires") set->dynamic = true;
              set->elements.push_back(std::move(element));
            }
          }
        }
      }
    }
    if (!has_elements) set->dynamic = true;
  }

  void ParseChain(FirewallChain* chain, std::vector<std::vector<Item>>* raw_rules) {
    Statement statement;
    while (tokens_.Next(&statement)) {
      auto& items = statement.items;
      if (items.size() == 1 && items[0].word == "}") break;
      if (statement.opens_block) {
        SkipBlock();
        continue;
      }
      const std::string& first = items[0].word;
      if (first == "type") {
        // type filter hook input priority filter; (policy comes as its own statement)
        bool filter = items.size() >= 2 && items[1].word == "filter";
        for (size_t i = 0; i + 1 < items.size(); ++i) {
          if (items[i].word == "hook" && items[i + 1].word == "input" && filter) {
            chain->input_hook = true;
            if (chain->policy.empty()) chain->policy = "accept";
          }
        }
        continue;
      }
      if (first == "policy" && items.size() >= 2) {
        chain->policy = Lower(items[1].word) == "drop" ? "drop" : "accept";
        continue;
      }
      if (first == "comment" || first == "devices" || first == "device") continue;
      if (total_rules_ >= max_rules_) {
        ruleset_.truncated = true;
        continue;
      }
      ++total_rules_;
      FirewallRule placeholder;
      placeholder.line = statement.line;
      chain->rules.push_back(placeholder);
      raw_rules->push_back(std::move(items));
    }
  }

  // The values of a match: a group, a named set, or one word. Sets that cannot be resolved make
  // the rule unknown.
  static std::vector<std::string> Values(const Item& item,
                                         const std::map<std::string, NftSet>& sets,
                                         FirewallRule* rule) {
    if (item.group) return item.elements;
    if (!item.word.empty() && item.word[0] == '@') {
      auto it = sets.find(item.word.substr(1));
      if (it == sets.end() || it->second.dynamic) {
        if (rule->unknown.empty()) rule->unknown = "set " + item.word;
        return {};
      }
      return it->second.elements;
    }
    if (!item.word.empty() && item.word[0] == '$') {
      if (rule->unknown.empty()) rule->unknown = "variable " + item.word;
      return {};
    }
    return {item.word};
  }

  static FirewallRule ReadRule(const std::vector<Item>& items, int line,
                               const std::map<std::string, NftSet>& sets) {
    FirewallRule rule;
    rule.line = line;
    auto unknown = [&](const std::string& what) {
      if (rule.unknown.empty()) rule.unknown = what;
    };
    auto word = [&](size_t i) -> std::string { return i < items.size() ? items[i].word : ""; };
    for (size_t k = 0; k < items.size(); ++k) {
      // A verdict map decides per value: not followed, except `ct state vmap` (read below).
      if (items[k].word == "vmap" &&
          !(k >= 2 && items[k - 1].word == "state" && items[k - 2].word == "ct")) {
        rule.unknown = "verdict map";
        rule.verdict = "other";
        return rule;
      }
    }
    size_t i = 0;
    // The value after a field, past an explicit "==": "!=" and other operators are not read.
    auto value_at = [&](size_t* at) -> const Item* {
      if (*at < items.size() && items[*at].word == "==") ++*at;
      if (*at >= items.size()) return nullptr;
      const std::string& op = items[*at].word;
      if (op == "!=" || op == "<" || op == ">" || op == "<=" || op == ">=" || op == "&" ||
          op == "|") {
        unknown("operator " + op);
        ++*at;
        return *at < items.size() ? &items[*at] : nullptr;
      }
      return &items[*at];
    };
    while (i < items.size()) {
      const Item& item = items[i];
      if (item.group) {
        unknown("set without a field");
        ++i;
        continue;
      }
      const std::string& w = item.word;
      if (w == "ct") {
        const std::string key = word(i + 1);
        size_t at = i + 2;
        const Item* value = value_at(&at);
        if (key == "state" && value != nullptr && value->word == "vmap" && at + 1 < items.size()) {
          // ct state vmap { established : accept, invalid : drop }: new connections pass on
          // unless the map names them.
          ++at;
          value = &items[at];
          if (!value->group) unknown("ct state vmap");
        }
        if (key == "state" && value != nullptr) {
          std::vector<std::string> states = value->elements;
          if (!value->group) {
            for (auto part : Split(value->word, ',')) states.emplace_back(part);
          }
          bool new_ones = false;
          for (const auto& state : states) {
            if (state == "new" || state == "untracked") new_ones = true;
          }
          if (!new_ones && rule.unknown.rfind("operator", 0) != 0) {
            rule.not_for_new_connections = true;
          }
        } else if (key == "status" && value != nullptr && value->word == "dnat") {
          // Port-forwarded connections (firewalld accepts them early): not a connection from
          // the network to the host's own listening port.
          rule.not_for_new_connections = true;
        } else if (key != "state") {
          unknown("ct " + key);
        }
        i = at + 1;
        continue;
      }
      if (w == "iif" || w == "iifname" ||
          ((w == "meta") && (word(i + 1) == "iif" || word(i + 1) == "iifname"))) {
        size_t at = w == "meta" ? i + 2 : i + 1;
        bool negated = at < items.size() && items[at].word == "!=";
        if (negated) ++at;
        const std::string name = at < items.size() ? Unquote(items[at].word) : "";
        if (!negated && name == "lo") {
          rule.not_for_new_connections = true;
        } else if (!negated) {
          rule.interface_limited = true;
        }
        i = at + 1;
        continue;
      }
      if (w == "oif" || w == "oifname") {
        i += 2;
        continue;
      }
      if (w == "ip" || w == "ip6") {
        const std::string field = word(i + 1);
        size_t at = i + 2;
        const Item* value = value_at(&at);
        rule.family = w == "ip" ? 4 : 6;
        if (field == "saddr" && value != nullptr) {
          for (auto& source : Values(*value, sets, &rule)) rule.sources.push_back(source);
        } else if ((field == "protocol" || field == "nexthdr") && value != nullptr) {
          rule.protocol = value->group ? "" : value->word;
          if (value->group) unknown("protocol set");
        } else if (field != "daddr") {
          unknown(w + " " + field);
        }
        i = at + 1;
        continue;
      }
      if (w == "tcp" || w == "udp" || w == "sctp" || w == "udplite" || w == "th") {
        const std::string field = word(i + 1);
        size_t at = i + 2;
        if (field == "dport" || field == "sport") {
          const Item* value = value_at(&at);
          if (w != "th") rule.protocol = w;
          if (field == "dport" && value != nullptr) AddPorts(Values(*value, sets, &rule), &rule);
          i = at + 1;
        } else {
          if (w != "th") rule.protocol = w;
          unknown(w + " " + field);
          i += 2;
        }
        continue;
      }
      if (w == "meta") {
        const std::string key = word(i + 1);
        size_t at = i + 2;
        if (word(at) == "set") {  // meta mark set 1, meta nftrace set 1: no match
          i = at + 2;
          continue;
        }
        const Item* value = value_at(&at);
        if (key == "l4proto" && value != nullptr) {
          if (value->group) {
            bool tcp = std::find(value->elements.begin(), value->elements.end(), "tcp") !=
                       value->elements.end();
            rule.protocol = tcp ? "" : "other";
          } else {
            rule.protocol = value->word;
          }
        } else if (key == "nfproto" && value != nullptr) {
          if (value->word == "ipv4") rule.family = 4;
          if (value->word == "ipv6") rule.family = 6;
        } else {
          unknown("meta " + key);
        }
        i = at + 1;
        continue;
      }
      if (w == "counter") {
        ++i;
        while (word(i) == "packets" || word(i) == "bytes") i += 2;
        continue;
      }
      if (w == "log") {
        ++i;
        static const std::set<std::string_view> kLogOptions = {
            "prefix", "level", "flags", "group", "snaplen", "queue-threshold"};
        while (i < items.size() && kLogOptions.count(items[i].word)) i += 2;
        continue;
      }
      if (w == "limit") {
        i += 2;  // limit rate
        if (word(i) == "over") {
          unknown("limit rate over");
          ++i;
        }
        ++i;  // 10/second
        if (word(i) == "burst") i += 3;
        continue;
      }
      if (w == "comment") {
        i += 2;
        continue;
      }
      if (w == "accept") {
        rule.verdict = "accept";
        break;
      }
      if (w == "drop" || w == "reject") {
        rule.verdict = "drop";
        break;
      }
      if (w == "jump" || w == "goto") {
        rule.verdict = w;
        rule.target = word(i + 1);
        break;
      }
      if (w == "return") {
        rule.verdict = "return";
        break;
      }
      if (w == "continue") {
        break;
      }
      if (w == "queue" || w == "vmap" || w == "notrack" || w == "xt" || w == "dnat" ||
          w == "redirect" || w == "masquerade" || w == "snat" || w == "tproxy") {
        unknown(w);
        rule.verdict = "other";
        break;
      }
      unknown(w);
      ++i;
    }
    return rule;
  }

  NftTokenizer tokens_;
  size_t max_rules_;
  size_t total_rules_ = 0;
  FirewallRuleset ruleset_;
};

// ---------------------------------------------------------------- iptables-save

// Words of an iptables-save line; "quoted strings" (comments, log prefixes) stay one word.
std::vector<std::string> IptablesWords(std::string_view line) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    if (i >= line.size()) break;
    std::string word;
    if (line[i] == '"') {
      size_t end = line.find('"', i + 1);
      while (end != std::string_view::npos && line[end - 1] == '\\') end = line.find('"', end + 1);
      if (end == std::string_view::npos) end = line.size() - 1;
      word = std::string(line.substr(i, end + 1 - i));
      i = end + 1;
    } else {
      while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
        word.push_back(line[i++]);
      }
    }
    words.push_back(std::move(word));
  }
  return words;
}

FirewallRule ReadIptablesRule(const std::vector<std::string>& words, size_t start, int line,
                              const std::map<std::string, FirewallChain>& chains) {
  FirewallRule rule;
  rule.line = line;
  rule.family = 4;
  auto unknown = [&](const std::string& what) {
    if (rule.unknown.empty()) rule.unknown = what;
  };
  static const std::set<std::string_view> kKnownModules = {
      "tcp", "udp", "multiport", "comment", "conntrack", "state", "limit", "icmp", "addrtype"};
  bool negate = false;
  size_t i = start;
  auto next = [&]() -> std::string { return i + 1 < words.size() ? words[i + 1] : ""; };
  while (i < words.size()) {
    const std::string& w = words[i];
    if (w == "!") {
      negate = true;
      ++i;
      continue;
    }
    const bool negated = negate;
    negate = false;
    if (w == "-s" || w == "--source" || w == "--src") {
      if (negated) unknown("! -s");
      const std::string value = next();
      for (auto part : Split(value, ',')) rule.sources.emplace_back(part);
      i += 2;
    } else if (w == "-d" || w == "--destination" || w == "--dst" || w == "-o" ||
               w == "--out-interface" || w == "--sport" || w == "--source-port" ||
               w == "--sports" || w == "--source-ports" || w == "--comment" || w == "--limit" ||
               w == "--limit-burst" || w == "--icmp-type" || w == "--log-prefix" ||
               w == "--log-level" || w == "--reject-with" || w == "--dst-type" ||
               w == "--nflog-prefix" || w == "--nflog-group") {
      if (negated && (w == "--dst-type")) unknown("! " + w);
      if (w == "--dst-type" && !negated && (next() == "BROADCAST" || next() == "MULTICAST")) {
        // A TCP connection is unicast to a local address: never matched (ufw's after rules).
        rule.not_for_new_connections = true;
      } else if (w == "--dst-type" && next() != "LOCAL") {
        unknown(w + " " + next());
      }
      i += 2;
    } else if (w == "-p" || w == "--protocol") {
      std::string protocol = Lower(next());
      if (protocol == "6") protocol = "tcp";
      if (protocol == "all" || protocol == "0") protocol.clear();
      if (negated) {
        // ! -p tcp: anything but TCP, never a TCP port.
        rule.protocol = protocol == "tcp" ? "other" : "";
      } else {
        rule.protocol = protocol;
      }
      i += 2;
    } else if (w == "-i" || w == "--in-interface") {
      const std::string name = next();
      if (!negated && name == "lo") rule.not_for_new_connections = true;
      if (!negated && name != "lo") rule.interface_limited = true;
      i += 2;
    } else if (w == "-m" || w == "--match") {
      if (!kKnownModules.count(next())) unknown("-m " + next());
      i += 2;
    } else if (w == "--dport" || w == "--destination-port" || w == "--dports" ||
               w == "--destination-ports") {
      if (negated) unknown("! " + w);
      const std::string value = next();
      std::vector<std::string> values;
      for (auto part : Split(value, ',')) values.emplace_back(part);
      AddPorts(values, &rule);
      i += 2;
    } else if (w == "--ctstate" || w == "--state") {
      bool new_ones = false;
      const std::string value = next();
      for (auto state : Split(value, ',')) {
        if (state == "NEW" || state == "UNTRACKED") new_ones = true;
      }
      if (negated) {
        unknown("! " + w);
      } else if (!new_ones) {
        rule.not_for_new_connections = true;
      }
      i += 2;
    } else if (w == "--syn") {
      ++i;
    } else if (w == "--tcp-flags") {
      i += 3;
    } else if (w == "-j" || w == "--jump" || w == "-g" || w == "--goto") {
      const std::string target = next();
      if (target == "ACCEPT") {
        rule.verdict = "accept";
      } else if (target == "DROP" || target == "REJECT") {
        rule.verdict = "drop";
      } else if (target == "RETURN") {
        rule.verdict = "return";
      } else if (chains.count(target)) {
        rule.verdict = (w == "-g" || w == "--goto") ? "goto" : "jump";
        rule.target = target;
      } else if (target == "LOG" || target == "NFLOG" || target == "ULOG" || target == "MARK" ||
                 target == "CONNMARK" || target == "TCPMSS" || target == "CT") {
        rule.verdict.clear();  // does not decide; the rule falls through
      } else {
        rule.verdict = "other";
        unknown("-j " + target);
      }
      i += 2;
    } else if (w == "-c" || w == "--set-counters") {
      i += 3;
    } else if (w.rfind("--", 0) == 0) {
      unknown(w);
      ++i;
      while (i < words.size() && !words[i].empty() && words[i][0] != '-' && words[i] != "!") ++i;
    } else {
      unknown(w);
      ++i;
    }
  }
  return rule;
}

// ---------------------------------------------------------------- judging

enum class Outcome { kFallThrough, kReturn, kOpen, kDropped, kUnknown };

struct Walk {
  const std::map<std::string, FirewallChain>* chains;
  int family;
  uint32_t port;
  std::vector<std::string> sources;  // accepted so far from listed sources only
  std::string reason;
};

bool PortMatches(const FirewallRule& rule, uint32_t port) {
  if (rule.dports.empty()) return true;
  for (const auto& range : rule.dports) {
    if (port >= range.first && port <= range.last) return true;
  }
  return false;
}

bool MayApply(const FirewallRule& rule, int family, uint32_t port) {
  if (rule.not_for_new_connections) return false;
  if (rule.family != 0 && rule.family != family) return false;
  if (!rule.protocol.empty() && rule.protocol != "tcp") return false;
  // An unreadable port list may hold the port; a readable one that misses it does not apply.
  if (!rule.dports.empty() && !PortMatches(rule, port)) return false;
  return true;
}

bool AnySource(const std::vector<std::string>& sources) {
  return sources.empty() ||
         std::any_of(sources.begin(), sources.end(), [](const std::string& s) { return IsAny(s); });
}

Outcome WalkChain(const FirewallChain& chain, const std::string& where, int depth, Walk* walk) {
  for (const FirewallRule& rule : chain.rules) {
    if (!MayApply(rule, walk->family, walk->port)) continue;
    const std::string at = where + " line " + std::to_string(rule.line);
    if (!rule.unknown.empty()) {
      if (rule.verdict == "drop" || rule.verdict.empty() || rule.verdict == "return") continue;
      walk->reason = at + ": cannot read " + rule.unknown;
      return Outcome::kUnknown;
    }
    if (rule.verdict == "accept") {
      if (AnySource(rule.sources)) {
        walk->reason = at + ": accepted from anywhere";
        return Outcome::kOpen;
      }
      for (const auto& source : rule.sources) walk->sources.push_back(source);
      continue;
    }
    if (rule.verdict == "drop") {
      if (!AnySource(rule.sources) || rule.interface_limited) continue;
      walk->reason = at + ": dropped";
      return Outcome::kDropped;
    }
    if (rule.verdict == "return") {
      if (!AnySource(rule.sources) || rule.interface_limited) {
        walk->reason = at + ": returns for some sources";
        return Outcome::kUnknown;
      }
      return Outcome::kReturn;
    }
    if (rule.verdict == "jump" || rule.verdict == "goto") {
      auto target = walk->chains->find(rule.target);
      if (target == walk->chains->end() || depth >= kMaxJumpDepth) {
        walk->reason = at + ": " + rule.verdict + " to " + rule.target + " not followed";
        return Outcome::kUnknown;
      }
      if (!AnySource(rule.sources) || rule.interface_limited) {
        // Only some packets enter the chain (these sources, that interface): whatever it accepts
        // it accepts from them, a drop there closes nothing for the others.
        Walk inner{walk->chains, walk->family, walk->port, {}, {}};
        Outcome outcome = WalkChain(target->second, where + " > " + rule.target, depth + 1, &inner);
        if (outcome == Outcome::kUnknown) {
          walk->reason = inner.reason;
          return outcome;
        }
        if (outcome == Outcome::kOpen && AnySource(rule.sources)) {
          walk->reason = inner.reason;
          return outcome;
        }
        if (outcome == Outcome::kOpen) {
          for (const auto& source : rule.sources) walk->sources.push_back(source);
        } else {
          for (const auto& source : inner.sources) walk->sources.push_back(source);
        }
        continue;
      }
      Outcome outcome = WalkChain(target->second, where + " > " + rule.target, depth + 1, walk);
      if (outcome == Outcome::kOpen || outcome == Outcome::kDropped ||
          outcome == Outcome::kUnknown) {
        return outcome;
      }
      if (rule.verdict == "goto") return Outcome::kReturn;
      continue;
    }
    if (rule.verdict == "other") {
      walk->reason = at + ": verdict not followed";
      return Outcome::kUnknown;
    }
    // No verdict (counter, log): the packet goes on.
  }
  return Outcome::kFallThrough;
}

PortJudgement JudgeBaseChain(const std::map<std::string, FirewallChain>& chains,
                             const FirewallChain& chain, const std::string& where, int family,
                             uint32_t port) {
  Walk walk{&chains, family, port, {}, {}};
  Outcome outcome = WalkChain(chain, where, 0, &walk);
  PortJudgement judgement;
  if (outcome == Outcome::kFallThrough || outcome == Outcome::kReturn) {
    outcome = chain.policy == "drop" ? Outcome::kDropped : Outcome::kOpen;
    walk.reason = where + ": policy " + chain.policy;
  }
  switch (outcome) {
    case Outcome::kOpen:
      judgement.verdict = "open";
      break;
    case Outcome::kDropped:
      judgement.verdict = walk.sources.empty() ? "closed" : "restricted";
      break;
    default:
      judgement.verdict = "unknown";
      break;
  }
  if (judgement.verdict == "restricted") {
    std::vector<std::string> unique;
    for (const auto& source : walk.sources) {
      if (std::find(unique.begin(), unique.end(), source) == unique.end()) unique.push_back(source);
    }
    judgement.sources = JoinList(unique);
  }
  judgement.reason = walk.reason;
  return judgement;
}

int Rank(const std::string& verdict) {
  if (verdict == "closed") return 3;
  if (verdict == "unknown") return 2;
  if (verdict == "restricted") return 1;
  return 0;
}

}  // namespace firewall_parse
}  // namespace

bool ParseFirewallPortRange(std::string_view text, FirewallPortRange* out) {
  return firewall_parse::ParsePortRange(text, out);
}

FirewallRuleset ParseNftRuleset(std::string_view text, size_t max_rules) {
  return firewall_parse::NftParser(text, max_rules).Parse();
}

FirewallRuleset ParseIptablesSave(std::string_view text, size_t max_rules) {
  using namespace firewall_parse;  // NOLINT(google-build-using-namespace)
  FirewallRuleset ruleset;
  ruleset.backend = "iptables";
  std::string table;
  std::map<std::string, FirewallChain> chains;
  std::vector<std::tuple<std::string, std::vector<std::string>, size_t, int>> pending;
  size_t rules = 0;
  int line_number = 0;
  ForEachLine(text, [&](std::string_view line) {
    ++line_number;
    line = Trim(line);
    if (line.empty() || line[0] == '#') return;
    if (line[0] == '[') {  // iptables-save -c: "[packets:bytes] -A ..."
      size_t end = line.find(']');
      line = end == std::string_view::npos ? std::string_view() : Trim(line.substr(end + 1));
    }
    if (line.empty()) return;
    if (line[0] == '*') {
      table = std::string(line.substr(1));
      return;
    }
    if (table != "filter") return;
    if (line[0] == ':') {
      std::vector<std::string> words = IptablesWords(line.substr(1));
      if (words.empty()) return;
      FirewallChain chain;
      chain.name = words[0];
      chain.family = 4;
      if (chain.name == "INPUT") {
        chain.input_hook = true;
        chain.policy = words.size() >= 2 && words[1] == "DROP" ? "drop" : "accept";
      }
      chains.emplace(chain.name, std::move(chain));
      return;
    }
    std::vector<std::string> words = IptablesWords(line);
    if (words.size() >= 2 && (words[0] == "-A" || words[0] == "--append")) {
      if (rules >= max_rules) {
        ruleset.truncated = true;
        return;
      }
      ++rules;
      pending.emplace_back(words[1], std::move(words), 2, line_number);
    }
  });
  // Rules are read once every chain is declared, so a jump target is known.
  for (auto& [chain_name, words, start, line] : pending) {
    auto chain = chains.find(chain_name);
    if (chain == chains.end()) {
      chain = chains.emplace(chain_name, FirewallChain{chain_name, false, "", 4, {}}).first;
    }
    chain->second.rules.push_back(ReadIptablesRule(words, start, line, chains));
    if (chain->second.input_hook) ++ruleset.input_rules;
  }
  if (!chains.empty()) ruleset.tables["filter"] = std::move(chains);
  return ruleset;
}

FirewallRuleset ParseUfwRules(std::string_view rules, std::string_view default_input_policy,
                              size_t max_rules) {
  // ufw itself creates INPUT's jumps into its chains, the before chain's jump into the user chain
  // (after the administrator's before rules) and the skip-to-policy chain: added here as the
  // rules file's last table so that rule lines of the files keep their numbers.
  const std::string policy = Lower(Trim(default_input_policy, "\"' \t"));
  const bool accepts = policy == "accept";
  std::string text(rules);
  text +=
      "\n*filter\n"
      ":ufw-skip-to-policy-input - [0:0]\n"
      "-A INPUT -j ufw-before-logging-input\n"
      "-A INPUT -j ufw-before-input\n"
      "-A INPUT -j ufw-after-input\n"
      "-A INPUT -j ufw-after-logging-input\n"
      "-A ufw-before-input -j ufw-user-input\n";
  text +=
      accepts ? "-A ufw-skip-to-policy-input -j ACCEPT\n" : "-A ufw-skip-to-policy-input -j DROP\n";
  text += "COMMIT\n";
  FirewallRuleset ruleset = ParseIptablesSave(text, max_rules);
  ruleset.backend = "ufw";
  auto& input = ruleset.tables["filter"]["INPUT"];
  input.name = "INPUT";
  input.family = 4;
  input.input_hook = true;
  input.policy = accepts ? "accept" : "drop";
  ruleset.input_rules = input.rules.size();
  return ruleset;
}

std::string ParseUfwDefaultInputPolicy(std::string_view etc_default_ufw) {
  std::string policy;
  ForEachLine(etc_default_ufw, [&](std::string_view line) {
    std::string_view key;
    std::string_view value;
    line = Trim(line);
    if (line.empty() || line[0] == '#' || !SplitKeyValue(line, '=', &key, &value)) return;
    if (key == "DEFAULT_INPUT_POLICY") policy = Trimmed(value, "\"' \t");
  });
  return policy;
}

bool UfwEnabled(std::string_view ufw_conf) {
  bool enabled = false;
  ForEachLine(ufw_conf, [&](std::string_view line) {
    std::string_view key;
    std::string_view value;
    line = Trim(line);
    if (line.empty() || line[0] == '#' || !SplitKeyValue(line, '=', &key, &value)) return;
    if (key == "ENABLED") enabled = Lower(Trim(value, "\"' \t")) == "yes";
  });
  return enabled;
}

std::string InputPolicy(const FirewallRuleset& ruleset, int family) {
  std::string policy;
  for (const auto& [table_name, chains] : ruleset.tables) {
    for (const auto& [name, chain] : chains) {
      if (!chain.input_hook || (chain.family != 0 && chain.family != family)) continue;
      if (chain.policy == "drop") return "drop";
      policy = "accept";
    }
  }
  return policy;
}

PortJudgement JudgeTcpPort(const FirewallRuleset& ruleset, int family, uint32_t port) {
  using namespace firewall_parse;  // NOLINT(google-build-using-namespace)
  PortJudgement result;
  if (ruleset.truncated) {
    return {"unknown", "", "ruleset too large to judge"};
  }
  bool any_chain = false;
  for (const auto& [table_name, chains] : ruleset.tables) {
    for (const auto& [name, chain] : chains) {
      if (!chain.input_hook || (chain.family != 0 && chain.family != family)) continue;
      // A packet must pass every base chain of the hook: a drop in any one is final, an accept
      // only hands it on to the next.
      PortJudgement one = JudgeBaseChain(chains, chain, table_name + " " + name, family, port);
      if (!any_chain || Rank(one.verdict) > Rank(result.verdict)) result = std::move(one);
      any_chain = true;
    }
  }
  if (!any_chain) return {"open", "", "no input filtering"};
  return result;
}

}  // namespace dozor::agent
