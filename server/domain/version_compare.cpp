#include "domain/version_compare.hpp"

#include <cctype>
#include <cstdint>

namespace dozor::server {
namespace {

struct ParsedVersion {
  uint64_t epoch = 0;
  std::string_view upstream;
  std::string_view revision;
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

ParsedVersion Parse(std::string_view text) {
  ParsedVersion parsed;
  size_t colon = text.find(':');
  if (colon != std::string_view::npos) {
    uint64_t epoch = 0;
    bool numeric = colon > 0;
    for (size_t i = 0; i < colon; ++i) {
      if (!IsDigit(text[i])) {
        numeric = false;
        break;
      }
      // Saturate instead of overflowing on absurd epochs.
      epoch = epoch > (UINT64_MAX - 9) / 10 ? UINT64_MAX
                                            : epoch * 10 + static_cast<uint64_t>(text[i] - '0');
    }
    parsed.epoch = numeric ? epoch : 0;
    text.remove_prefix(colon + 1);
  }
  size_t dash = text.rfind('-');
  if (dash != std::string_view::npos) {
    parsed.upstream = text.substr(0, dash);
    parsed.revision = text.substr(dash + 1);
  } else {
    parsed.upstream = text;
  }
  return parsed;
}

// dpkg's order() for the non-digit part: '~' < end/digit < letters < other characters.
int Order(char c) {
  if (IsDigit(c)) {
    return 0;
  }
  if (IsAlpha(c)) {
    return static_cast<unsigned char>(c);
  }
  if (c == '~') {
    return -1;
  }
  if (c != '\0') {
    return static_cast<unsigned char>(c) + 256;
  }
  return 0;
}

// dpkg's verrevcmp().
int CompareFragment(std::string_view a, std::string_view b) {
  size_t i = 0;
  size_t j = 0;
  auto at = [](std::string_view s, size_t k) { return k < s.size() ? s[k] : '\0'; };
  while (i < a.size() || j < b.size()) {
    int first_diff = 0;
    while ((i < a.size() && !IsDigit(a[i])) || (j < b.size() && !IsDigit(b[j]))) {
      int ac = Order(at(a, i));
      int bc = Order(at(b, j));
      if (ac != bc) {
        return ac - bc;
      }
      ++i;
      ++j;
    }
    while (at(a, i) == '0') {
      ++i;
    }
    while (at(b, j) == '0') {
      ++j;
    }
    while (IsDigit(at(a, i)) && IsDigit(at(b, j))) {
      if (first_diff == 0) {
        first_diff = a[i] - b[j];
      }
      ++i;
      ++j;
    }
    if (IsDigit(at(a, i))) {
      return 1;
    }
    if (IsDigit(at(b, j))) {
      return -1;
    }
    if (first_diff != 0) {
      return first_diff;
    }
  }
  return 0;
}

}  // namespace

int CompareDebianVersions(std::string_view a, std::string_view b) {
  ParsedVersion pa = Parse(a);
  ParsedVersion pb = Parse(b);
  if (pa.epoch != pb.epoch) {
    return pa.epoch < pb.epoch ? -1 : 1;
  }
  int upstream = CompareFragment(pa.upstream, pb.upstream);
  if (upstream != 0) {
    return upstream < 0 ? -1 : 1;
  }
  int revision = CompareFragment(pa.revision, pb.revision);
  return revision < 0 ? -1 : (revision > 0 ? 1 : 0);
}

}  // namespace dozor::server
