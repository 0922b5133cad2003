// Server HTTP unit tests: one host rule (disk-space-low over health_fs) with its texts in both
// languages, for the tests that need findings and their rule's words.
#pragma once

namespace dozor::testing {

inline constexpr char kDiskSpaceLowRuleToml[] = R"(id = "disk-space-low"
scope = "host"
category = "hardware"
severity = "high"
contracts = ["technical", "complex"]
effort = "1h"
title.en = "Filesystem almost full"
title.ru = "Файловая система почти заполнена"
why.en = "Services stop when the disk is full."
why.ru = "Службы останавливаются, когда диск заполнен."
remediation.en = "Free space or grow the filesystem."
remediation.ru = "Освободите место."
condition = '''
SELECT host_id, mount, used_pct FROM health_fs WHERE used_pct > :fire_pct
'''
[params]
fire_pct = 90
)";

}  // namespace dozor::testing
