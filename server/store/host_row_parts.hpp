// The parts of an inventory whose normalised host_* rows a backend can keep when a new inventory
// repeats them. A host's inventory arrives every few hours and mostly repeats itself; a server
// with 45,000 packages rewrote all of them each time while holding the single writer. Comparing
// part by part, outside the writer, lets the commit rewrite only what changed (usually the
// processes and listeners), so one big host no longer stalls every other agent's acks.
#pragma once

#include <cstdint>

#include "dozor/v1/agent.pb.h"

namespace dozor::server {

enum class HostRowPart : uint8_t {
  kAlways,    // written every time: the OS row (role and duties read the whole inventory), notes
  kAccounts,  // os.users, os.groups
  kHardware,  // hardware (its "could not read" notes are kAlways)
  kNetwork,   // network
  kPackages,  // software.packages: the one list in the tens of thousands on a real host
  kSoftware,  // the rest of software: processes, services, databases, 1C, ...
  kSecurity,  // security, and whether the agent reported it at all
};

// A set of parts, one bit each (kAlways is in every set).
using HostRowParts = uint32_t;

constexpr HostRowParts Bit(HostRowPart part) { return HostRowParts{1} << static_cast<int>(part); }
inline constexpr HostRowParts kAllHostRowParts = ~HostRowParts{0};

// The parts whose rows `next` writes differently from `previous` (kAlways always included).
// Exact on the messages' contents: equal parts serialise to equal bytes, since the inventory has
// no map fields.
HostRowParts ChangedHostRowParts(const dozor::v1::Inventory& previous,
                                 const dozor::v1::Inventory& next);

}  // namespace dozor::server
