// Makes every text field of a message valid before it leaves the agent. Text read from a machine
// (dpkg fields, process names, mount points, hostnames) is not guaranteed UTF-8, and protobuf
// refuses to parse a `string` field that is not: such a report could be spooled but never read
// back, so one Latin-1 byte or one oddly named process silenced a host. Pure; any thread.
#pragma once

#include <google/protobuf/message.h>

#include <cstddef>

namespace dozor {

// Rewrites, in place and recursively, every string field (not bytes) whose value is not valid
// UTF-8 or holds a NUL, with EscapeInvalidUtf8 (dozor/common/text.hpp: "\xNN" per bad byte,
// recoverable). Returns how many values were rewritten.
size_t RepairInvalidText(google::protobuf::Message* message);

}  // namespace dozor
