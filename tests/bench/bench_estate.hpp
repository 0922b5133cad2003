// A synthetic estate for the server benchmarks, written through the same store calls ingest and
// the rule evaluator use (Store::CommitReports, then the default rule pack and
// FindingStore::ApplyEvaluation), never by INSERTs into the tables: what the benchmarks read is
// laid out exactly as a real server's database.
//
// Hosts are plausible Debian/Rocky servers (inventory with `packages` packages and ~115 systemd
// units, 24 hourly plus `samples` one-minute health samples); weak spots (`Flaw`) make the
// default rules fire, so the estate carries realistic findings and evidence.
#pragma once

#include <bitset>
#include <cstdint>
#include <string>

#include "dozor/common/result.hpp"
#include "dozor/v1/agent.pb.h"
#include "rules/rule_engine.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace dozor::bench {

// One weak spot each; the default pack has one or two rules per flaw.
enum class Flaw {
  kOldOs = 1,
  kLongUptime,
  kClockUnsynced,
  kRebootPending,
  kSmallRam,
  kOldBios,
  kSmartFailed,
  kSingleDns,
  kTelnet,
  kNoBackup,
  kOldOneCClient,  // only on hosts that run the 1C client
  kCpuSaturated,
  kDiskFilling,
};
inline constexpr int kFlawKinds = 13;
using Flaws = std::bitset<kFlawKinds + 1>;

struct EstateShape {
  int hosts = 10000;
  int org_size = 50;
  int packages = 400;
  int samples = 30;  // one a minute: the default 30-minute rule window
  // One extra organisation of this many hosts, "ООО «Большой клиент»", for the audit report;
  // 0 = none.
  int report_org_hosts = 500;
  // 0: one host in eight carries one flaw (a typical estate); N > 0: every host carries N
  // distinct flaws (a neglected estate, ~N findings per host).
  int flaws_per_host = 0;
};

// Organisations are named "client-0", "client-1", ... and hosts "host-<index>" (agent id
// "bench-<index>"), in order.
Flaws FlawsOf(int host_index, const EstateShape& shape);
dozor::v1::Inventory MakeInventory(int host_index, int packages, const Flaws& flaws,
                                   bool one_c_server, bool one_c_client);
dozor::v1::HealthSample MakeSample(const Flaws& flaws, int minute);

// Creates the organisations, enrolls the hosts and commits their reports in batches of ~200, as
// ingest does, with collection times before `now_ms`. Progress goes to stderr.
[[nodiscard]] Status GenerateEstate(server::SqliteStore& store, const EstateShape& shape,
                                    int64_t now_ms);

// Writes what one evaluation of the pack found into the findings, as the server's evaluator does.
[[nodiscard]] Status ApplyResults(server::FindingStore& findings,
                                  const server::rules::RulePack& pack,
                                  const std::vector<server::rules::EvaluationResult>& results,
                                  int64_t at_ms);

}  // namespace dozor::bench
