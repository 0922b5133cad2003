#include "collectors/parsers/repository_parsers.hpp"

#include <array>

#include "collectors/parsers/text.hpp"

namespace dozor::agent {
namespace repository_parsing {
namespace {

constexpr std::string_view kLineBlanks = " \t\r";

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string LowerCopy(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = Lower(c);
  return out;
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

bool EndsWithDomain(std::string_view host, std::string_view domain) {
  if (host == domain) return true;
  return host.size() > domain.size() && host.substr(host.size() - domain.size()) == domain &&
         host[host.size() - domain.size() - 1] == '.';
}

constexpr std::array<std::string_view, 13> kOfficialDomains = {
    "debian.org",        "ubuntu.com", "centos.org",  "rockylinux.org", "almalinux.org",
    "fedoraproject.org", "redhat.com", "oracle.com",  "astralinux.ru",  "red-soft.ru",
    "altlinux.org",      "basealt.ru", "opensuse.org"};

// Mirrors (mirror.yandex.ru, mirrors.kernel.org, a company's own) publish a distribution under
// its name: /debian, /ubuntu, /centos, ...
constexpr std::array<std::string_view, 14> kDistributionPaths = {
    "debian",       "debian-security", "ubuntu", "ubuntu-ports", "centos",
    "centos-vault", "centos-stream",   "rocky",  "rocky-linux",  "almalinux",
    "fedora",       "astra",           "redos",  "opensuse"};

// "[options] " at the start of a one-line source, brackets and all.
std::string_view SkipOptions(std::string_view rest) {
  if (rest.empty() || rest.front() != '[') return rest;
  size_t close = rest.find(']');
  if (close == std::string_view::npos) return {};
  return Trim(rest.substr(close + 1), kLineBlanks);
}

// The next blank-separated word of *rest; a cdrom:[...] URI is one word whatever it holds.
std::string_view NextWord(std::string_view* rest) {
  *rest = Trim(*rest, kLineBlanks);
  size_t end = 0;
  if (rest->substr(0, 7) == "cdrom:[") {
    size_t close = rest->find(']');
    end = close == std::string_view::npos ? rest->size() : close;
  }
  while (end < rest->size() && (*rest)[end] != ' ' && (*rest)[end] != '\t') ++end;
  std::string_view word = rest->substr(0, end);
  rest->remove_prefix(end);
  return word;
}

std::string JoinWords(std::string_view text) {
  std::string out;
  ForEachWord(text, IsWhitespace, [&](std::string_view word) {
    AppendJoined(&out, word, " ");
    return out.size() < 4096;
  });
  return out;
}

// The value of a deb822 field line "Name: value" when its name (case-insensitive) is `name`.
bool FieldValue(std::string_view line, std::string_view name, std::string_view* value) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  if (!EqualsIgnoringCase(Trim(line.substr(0, colon), kLineBlanks), name)) return false;
  *value = Trim(line.substr(colon + 1), kLineBlanks);
  return true;
}

bool IsFalseWord(std::string_view value) {
  std::string lower = LowerCopy(Trim(value, kLineBlanks));
  return lower == "0" || lower == "no" || lower == "false" || lower == "off";
}

}  // namespace
}  // namespace repository_parsing

bool IsOfficialRepositoryUri(std::string_view uri) {
  // Block scope: in a unity build a namespace-wide directive would reach the next file.
  using namespace repository_parsing;
  uri = Trim(uri, kLineBlanks);
  std::string lower = LowerCopy(uri);
  std::string_view text = lower;
  if (text.substr(0, 6) == "cdrom:") return true;  // the distribution's own install media
  // EPEL is served from fedoraproject.org but is an add-on, not the distribution.
  if (text.find("epel") != std::string_view::npos) return false;
  // apt's transport wrappers: tor+https://, mirror+https://, mirror+file:
  for (std::string_view prefix : {"tor+", "mirror+"}) {
    if (text.substr(0, prefix.size()) == prefix) text.remove_prefix(prefix.size());
  }
  size_t scheme = text.find("://");
  if (scheme == std::string_view::npos) return false;  // file:/srv/repo and the like: local
  std::string_view rest = text.substr(scheme + 3);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) authority.remove_prefix(at + 1);
  std::string_view host = authority.substr(0, authority.find(':'));
  while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty()) return false;
  for (std::string_view domain : kOfficialDomains) {
    if (EndsWithDomain(host, domain)) return true;
  }
  std::string_view first_segment = path.substr(0, path.find('/'));
  for (std::string_view name : kDistributionPaths) {
    if (first_segment == name) return true;
  }
  return false;
}

std::vector<dozor::v1::PackageRepository> ParseAptSourcesList(std::string_view text,
                                                              std::string_view file) {
  using namespace repository_parsing;
  std::vector<dozor::v1::PackageRepository> out;
  ForEachLine(text, [&](std::string_view line) {
    if (out.size() >= kMaxRepositoriesPerFile) return;
    line = Trim(line.substr(0, line.find('#')), kLineBlanks);
    std::string_view rest = line;
    std::string_view kind = NextWord(&rest);
    if (kind != "deb" && kind != "deb-src") return;
    rest = SkipOptions(Trim(rest, kLineBlanks));
    std::string_view uri = NextWord(&rest);
    std::string_view suite = NextWord(&rest);
    if (uri.empty() || suite.empty()) return;
    auto& repository = out.emplace_back();
    repository.set_manager("apt");
    repository.set_file(std::string(file));
    repository.set_kind(std::string(kind));
    repository.set_uri(std::string(uri));
    repository.set_suite(std::string(suite));
    if (suite.back() != '/') repository.set_components(JoinWords(rest));
    repository.set_enabled(true);
    repository.set_official(IsOfficialRepositoryUri(uri));
  });
  return out;
}

std::vector<dozor::v1::PackageRepository> ParseAptDeb822Sources(std::string_view text,
                                                                std::string_view file) {
  using namespace repository_parsing;
  std::vector<dozor::v1::PackageRepository> out;
  std::string types, uris, suites, components;
  bool enabled = true;
  bool in_stanza = false;
  auto flush = [&] {
    if (in_stanza && !uris.empty() && !suites.empty()) {
      // Only the deb types: anything else in Types is not an APT archive this parser knows.
      std::string kinds;
      for (std::string_view type : {"deb", "deb-src"}) {
        if (ContainsWord(types, type)) AppendJoined(&kinds, type, " ");
      }
      if (!kinds.empty()) {
        ForEachWord(uris, IsWhitespace, [&](std::string_view uri) {
          if (out.size() >= kMaxRepositoriesPerFile) return false;
          auto& repository = out.emplace_back();
          repository.set_manager("apt");
          repository.set_file(std::string(file));
          repository.set_kind(kinds);
          repository.set_uri(std::string(uri));
          repository.set_suite(suites);
          if (suites.back() != '/') repository.set_components(components);
          repository.set_enabled(enabled);
          repository.set_official(IsOfficialRepositoryUri(uri));
          return true;
        });
      }
    }
    types.clear();
    uris.clear();
    suites.clear();
    components.clear();
    enabled = true;
    in_stanza = false;
  };
  ForEachLine(text, [&](std::string_view line) {
    if (Trim(line, kLineBlanks).empty()) {
      flush();
      return;
    }
    if (line.front() == '#') return;
    if (line.front() == ' ' || line.front() == '\t') return;  // continuation (Signed-By key)
    in_stanza = true;
    std::string_view value;
    if (FieldValue(line, "types", &value)) {
      types = JoinWords(value);
    } else if (FieldValue(line, "uris", &value)) {
      uris = JoinWords(value);
    } else if (FieldValue(line, "suites", &value)) {
      suites = JoinWords(value);
    } else if (FieldValue(line, "components", &value)) {
      components = JoinWords(value);
    } else if (FieldValue(line, "enabled", &value)) {
      enabled = !IsFalseWord(value);
    }
  });
  flush();
  return out;
}

std::vector<dozor::v1::PackageRepository> ParseYumRepo(std::string_view text,
                                                       std::string_view file) {
  using namespace repository_parsing;
  std::vector<dozor::v1::PackageRepository> out;
  std::string id, name, baseurl, mirrorlist;
  bool enabled = true;
  bool in_section = false;
  bool in_baseurl = false;  // baseurl may list more URLs on indented lines below it
  auto flush = [&] {
    std::string uri = !baseurl.empty() ? baseurl : mirrorlist;
    if (in_section && enabled && !uri.empty() && id != "main" &&
        out.size() < kMaxRepositoriesPerFile) {
      auto& repository = out.emplace_back();
      repository.set_manager("yum");
      repository.set_file(std::string(file));
      repository.set_name(id);
      repository.set_uri(uri);
      repository.set_enabled(true);
      repository.set_official(IsOfficialRepositoryUri(uri));
      if (!name.empty() && name != id) repository.set_suite(name);
    }
    id.clear();
    name.clear();
    baseurl.clear();
    mirrorlist.clear();
    enabled = true;
    in_section = false;
    in_baseurl = false;
  };
  auto first_url = [](std::string_view value) {
    std::string_view word;
    ForEachWord(
        value, [](char c) { return IsWhitespace(c) || c == ','; },
        [&](std::string_view w) {
          word = w;
          return false;
        });
    return std::string(word);
  };
  ForEachLine(text, [&](std::string_view raw) {
    std::string_view line = Trim(raw, kLineBlanks);
    if (line.empty() || line.front() == '#' || line.front() == ';') {
      in_baseurl = in_baseurl && !line.empty();
      return;
    }
    if (line.front() == '[') {
      flush();
      size_t close = line.find(']');
      if (close == std::string_view::npos) return;
      id = std::string(Trim(line.substr(1, close - 1), kLineBlanks));
      in_section = !id.empty();
      return;
    }
    if ((raw.front() == ' ' || raw.front() == '\t') && in_baseurl) {
      if (baseurl.empty()) baseurl = first_url(line);
      return;
    }
    in_baseurl = false;
    std::string_view key, value;
    if (!SplitKeyValue(line, '=', &key, &value, kLineBlanks)) return;
    std::string lower_key = LowerCopy(key);
    if (lower_key == "name") {
      name = std::string(value.substr(0, 512));
    } else if (lower_key == "baseurl") {
      baseurl = first_url(value);
      in_baseurl = true;
    } else if (lower_key == "mirrorlist" || lower_key == "metalink") {
      if (mirrorlist.empty()) mirrorlist = first_url(value);
    } else if (lower_key == "enabled") {
      enabled = !IsFalseWord(value);
    }
  });
  flush();
  return out;
}

}  // namespace dozor::agent
