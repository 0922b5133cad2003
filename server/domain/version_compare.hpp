// Package version ordering, compatible with dpkg (`dpkg --compare-versions`).
#pragma once

#include <string_view>

namespace dozor::server {

// Compares two Debian-style versions "[epoch:]upstream[-revision]" the way dpkg does: numeric
// epoch first, then upstream and revision with dpkg's rules (digit runs compare numerically,
// letters sort before non-letters, '~' sorts before everything, even the end of the string).
// Returns <0, 0 or >0. Never fails: a malformed epoch counts as 0 and the text is still compared.
// Also used for rpm versions, whose ordering agrees with dpkg's for ordinary version strings.
int CompareDebianVersions(std::string_view a, std::string_view b);

}  // namespace dozor::server
