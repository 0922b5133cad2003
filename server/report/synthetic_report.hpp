// A synthetic audit report of a given size, for benchmarks (tests/bench) and renderer tests.
#pragma once

#include <string_view>

#include "report/report_model.hpp"

namespace dozor::server::report {

// `hosts` hosts (Cyrillic and Latin names, mixed OS/role/hardware) with `findings_per_host`
// active findings each (all severities and categories, 2 evidence lines), a few estate-wide and
// waived findings, applications and both progress comparisons. Deterministic.
AuditReport MakeSyntheticReport(int hosts, int findings_per_host, std::string_view lang);

}  // namespace dozor::server::report
