// Which reports of an ingest batch a backend stores: the screening every backend applies before
// writing, so "duplicate", "revoked" and the other refusals mean the same on SQLite and
// PostgreSQL. Pure.
#pragma once

#include <cstdint>
#include <optional>

#include "dozor/v1/agent.pb.h"
#include "store/host_store.hpp"

namespace dozor::server {

// Why a report is not stored (outcome and reason filled in), or nullopt when it should be.
// `known`/`revoked`/`last_seq` describe the agent as the committing transaction sees it;
// `unencodable`: its health sample could not be serialized.
std::optional<CommitResult> ScreenReport(const dozor::v1::Report& report, bool known, bool revoked,
                                         uint64_t last_seq, bool unencodable);

// A database refusal caused by the report's own values (a constraint, a value too big, text the
// database cannot hold), as opposed to a fault of the environment (disk full, I/O, connection):
// such a batch is retried report by report so only the offending one is rejected.
inline bool IsReportFault(const Error& error) {
  return error.code == ErrorCode::kAlreadyExists || error.code == ErrorCode::kInvalidArgument;
}

}  // namespace dozor::server
