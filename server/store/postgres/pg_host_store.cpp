#include "store/postgres/pg_host_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "domain/inventory_diff.hpp"
#include "dozor/common/text.hpp"
#include "dozor/contract/codec.hpp"
#include "store/collector_status_batch.hpp"
#include "store/postgres/pg_inventory_rows.hpp"
#include "store/postgres/pg_store_internal.hpp"
#include "store/report_screening.hpp"
#include "store/rule_window_batch.hpp"

namespace dozor::server {

using namespace pg_store_internal;  // NOLINT(google-build-using-namespace)

struct PgHostStore::Batch {
  std::vector<IncomingReport>& reports;
  std::vector<std::string> encoded;  // serialized health samples, by report
  std::vector<bool> unencodable;
  std::vector<CommitResult> results;
  std::vector<CommittedHost> committed;
};

namespace {

constexpr int kMaxListLimit = 10000;

int ClampListLimit(int limit) {
  return limit <= 0 || limit > kMaxListLimit ? kMaxListLimit : limit;
}

struct LockedAgent {
  int64_t pk = 0;
  int64_t org_id = 0;
  uint64_t last_seq = 0;
  bool revoked = false;
};

// What a batch changes on an agents row: written once per agent per batch.
struct AgentTouch {
  int64_t org_id = 0;
  bool inventory = false;
  bool health = false;
  int64_t newest_collected_at = INT64_MIN;
  int64_t clock_offset_ms = 0;
  int64_t newest_health_at = 0;
  int64_t last_seen = 0;
  uint64_t last_seq = 0;
  uint64_t dropped = 0;
  std::string agent_version;
  int64_t last_inventory_at = 0;
};

// The last row of each key, in the order the rows came: ON CONFLICT DO UPDATE may not touch a
// row twice in one statement, and INSERT OR REPLACE row by row kept the last. Keys may repeat
// anywhere (an agent listing one mount twice in a sample), not only next to each other.
template <typename Row, typename Key>
std::vector<const Row*> LastPerKey(const std::vector<Row>& rows, Key&& key) {
  std::map<decltype(key(rows.front())), size_t> last;
  for (size_t i = 0; i < rows.size(); ++i) {
    last[key(rows[i])] = i;
  }
  std::vector<const Row*> out;
  out.reserve(last.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    if (last.at(key(rows[i])) == i) {
      out.push_back(&rows[i]);
    }
  }
  return out;
}

Status WriteRuleWindows(pg::Connection& db, RuleWindowBatch& windows,
                        const std::unordered_map<int64_t, int64_t>& org_of) {
  if (windows.empty()) {
    return OkStatus();
  }
  {
    auto rows = LastPerKey(windows.SortedHosts(),
                           [](const HostWindowRow& r) { return std::make_pair(r.agent, r.at); });
    pg::ArrayLiteral org, agent, at, cpu, iowait, l1, l5, l15, mem_total, mem_avail, mem_pct,
        swap_total, swap_pct, procs, offset;
    for (const HostWindowRow* r : rows) {
      org.Add(org_of.at(r->agent));
      agent.Add(r->agent);
      at.Add(r->at);
      cpu.Add(r->cpu_pct);
      iowait.Add(r->iowait_pct);
      l1.Add(r->load1);
      l5.Add(r->load5);
      l15.Add(r->load15);
      mem_total.Add(r->mem_total_bytes);
      mem_avail.Add(r->mem_available_bytes);
      mem_pct.Add(r->mem_used_pct);
      swap_total.Add(r->swap_total_bytes);
      swap_pct.Add(r->swap_used_pct);
      procs.Add(r->process_count);
      offset.Add(r->clock_offset_ms);
    }
    DOZOR_RETURN_IF_ERROR(db.Run(
        "INSERT INTO rule_health_host(org_id, agent, at, cpu_pct, iowait_pct, load1, load5, "
        "load15, mem_total_bytes, mem_available_bytes, mem_used_pct, swap_total_bytes, "
        "swap_used_pct, process_count, clock_offset_ms) SELECT * FROM unnest($1::bigint[], "
        "$2::bigint[], $3::bigint[], $4::float8[], $5::float8[], $6::float8[], $7::float8[], "
        "$8::float8[], $9::bigint[], $10::bigint[], $11::float8[], $12::bigint[], $13::float8[], "
        "$14::bigint[], $15::bigint[]) ON CONFLICT (org_id, agent, at) DO UPDATE SET "
        "cpu_pct = excluded.cpu_pct, iowait_pct = excluded.iowait_pct, load1 = excluded.load1, "
        "load5 = excluded.load5, load15 = excluded.load15, mem_total_bytes = "
        "excluded.mem_total_bytes, mem_available_bytes = excluded.mem_available_bytes, "
        "mem_used_pct = excluded.mem_used_pct, swap_total_bytes = excluded.swap_total_bytes, "
        "swap_used_pct = excluded.swap_used_pct, process_count = excluded.process_count, "
        "clock_offset_ms = excluded.clock_offset_ms",
        pg::Params(org, agent, at, cpu, iowait, l1, l5, l15, mem_total, mem_avail, mem_pct,
                   swap_total, swap_pct, procs, offset)));
  }
  {
    auto rows = LastPerKey(windows.SortedFilesystems(), [](const FsWindowRow& r) {
      return std::make_tuple(r.agent, r.at, r.mount);
    });
    pg::ArrayLiteral org, agent, mount, at, device, fs_type, total, avail, used, inodes, inodes_pct;
    for (const FsWindowRow* r : rows) {
      org.Add(org_of.at(r->agent));
      agent.Add(r->agent);
      mount.Add(r->mount);
      at.Add(r->at);
      device.Add(r->device);
      fs_type.Add(r->fs_type);
      total.Add(r->total_bytes);
      avail.Add(r->avail_bytes);
      used.Add(r->used_pct);
      inodes.Add(r->inodes_total);
      inodes_pct.Add(r->inodes_used_pct);
    }
    if (!rows.empty()) {
      DOZOR_RETURN_IF_ERROR(db.Run(
          "INSERT INTO rule_health_fs(org_id, agent, mount, at, device, fs_type, total_bytes, "
          "avail_bytes, used_pct, inodes_total, inodes_used_pct) SELECT * FROM unnest("
          "$1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[], "
          "$7::bigint[], $8::bigint[], $9::float8[], $10::bigint[], $11::float8[]) "
          "ON CONFLICT (org_id, agent, at, mount) DO UPDATE SET device = excluded.device, "
          "fs_type = excluded.fs_type, total_bytes = excluded.total_bytes, avail_bytes = "
          "excluded.avail_bytes, used_pct = excluded.used_pct, inodes_total = "
          "excluded.inodes_total, inodes_used_pct = excluded.inodes_used_pct",
          pg::Params(org, agent, mount, at, device, fs_type, total, avail, used, inodes,
                     inodes_pct)));
    }
  }
  {
    auto rows = LastPerKey(windows.SortedNics(), [](const NicWindowRow& r) {
      return std::make_tuple(r.agent, r.at, r.interface);
    });
    pg::ArrayLiteral org, agent, iface, at, rx_err, tx_err, rx_drop, tx_drop;
    for (const NicWindowRow* r : rows) {
      org.Add(org_of.at(r->agent));
      agent.Add(r->agent);
      iface.Add(r->interface);
      at.Add(r->at);
      rx_err.Add(r->rx_errors);
      tx_err.Add(r->tx_errors);
      rx_drop.Add(r->rx_dropped);
      tx_drop.Add(r->tx_dropped);
    }
    if (!rows.empty()) {
      DOZOR_RETURN_IF_ERROR(db.Run(
          "INSERT INTO rule_health_nic(org_id, agent, interface, at, rx_errors, tx_errors, "
          "rx_dropped, tx_dropped) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], "
          "$4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[]) "
          "ON CONFLICT (org_id, agent, at, interface) DO UPDATE SET rx_errors = "
          "excluded.rx_errors, tx_errors = excluded.tx_errors, rx_dropped = excluded.rx_dropped, "
          "tx_dropped = excluded.tx_dropped",
          pg::Params(org, agent, iface, at, rx_err, tx_err, rx_drop, tx_drop)));
    }
  }
  {
    const auto& points = windows.CoalescedTrend();  // one per (agent, mount, hour) already
    pg::ArrayLiteral org, agent, mount, hour, at, total, avail;
    for (const FsTrendPoint& p : points) {
      org.Add(org_of.at(p.agent));
      agent.Add(p.agent);
      mount.Add(p.mount);
      hour.Add(p.hour);
      at.Add(p.at);
      total.Add(p.total_bytes);
      avail.Add(p.avail_bytes);
    }
    if (!points.empty()) {
      DOZOR_RETURN_IF_ERROR(db.Run(
          "INSERT INTO rule_fs_trend(org_id, agent, mount, hour, at, total_bytes, avail_bytes) "
          "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], "
          "$5::bigint[], $6::bigint[], $7::bigint[]) ON CONFLICT (org_id, agent, mount, hour) "
          "DO UPDATE SET at = excluded.at, total_bytes = excluded.total_bytes, avail_bytes = "
          "excluded.avail_bytes WHERE excluded.at >= rule_fs_trend.at",
          pg::Params(org, agent, mount, hour, at, total, avail)));
    }
  }
  return OkStatus();
}

// The inventory report's writes: the change log against the stored inventory, the stored
// inventory itself. (The normalised host_* rows: pg_inventory_rows.hpp.)
Status ApplyInventory(pg::Connection& db, const LockedAgent& agent, const std::string& agent_id,
                      const dozor::v1::Report& report) {
  const dozor::v1::Inventory& inv = report.inventory();
  const int64_t at = report.collected_at_ms();
  DOZOR_ASSIGN_OR_RETURN(pg::Rows stored,
                         db.Query("SELECT inventory FROM host_inventory_blob WHERE org_id = $1 "
                                  "AND agent = $2",
                                  pg::Params(agent.org_id, agent.pk)));
  std::vector<InventoryChange> changes;
  dozor::v1::Inventory previous;
  if (!stored.empty() && DecodeCompressed(stored.Bytes(0, 0), &previous).ok()) {
    changes = DiffInventories(previous, inv, at, agent_id);
  } else {
    if (!stored.empty()) {
      spdlog::warn("store: previous inventory of {} does not decode; starting a new baseline",
                   EscapeControlText(agent_id));
    }
    changes.push_back(FirstInventoryChange(at, agent_id));
  }
  CapInventoryChanges(changes);
  if (!changes.empty()) {
    pg::ArrayLiteral when, category, action, subject, old_value, new_value;
    for (const InventoryChange& c : changes) {
      when.Add(c.at_ms);
      category.Add(c.category);
      action.Add(c.action);
      subject.Add(c.subject);
      old_value.Add(c.old_value);
      new_value.Add(c.new_value);
    }
    // WITH ORDINALITY keeps the diff's order in the ids, as row-by-row inserts did.
    DOZOR_RETURN_IF_ERROR(db.Run(
        "INSERT INTO inventory_changes(org_id, agent, at, category, action, subject, old_value, "
        "new_value) SELECT $1, $2, c.at, c.category, c.action, c.subject, c.old_value, "
        "c.new_value FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], "
        "$8::text[]) WITH ORDINALITY AS c(at, category, action, subject, old_value, new_value, n) "
        "ORDER BY c.n",
        pg::Params(agent.org_id, agent.pk, when, category, action, subject, old_value, new_value)));
  }
  std::string blob = EncodeCompressed(inv);
  if (blob.empty()) {
    return MakeError(ErrorCode::kInternal, "could not encode the inventory of " + agent_id);
  }
  pg::Params blob_params(agent.org_id, agent.pk, at);
  blob_params.AddBytes(blob);
  DOZOR_RETURN_IF_ERROR(db.Run(
      "INSERT INTO host_inventory_blob(org_id, agent, collected_at, inventory) VALUES ($1, $2, "
      "$3, $4) ON CONFLICT (org_id, agent) DO UPDATE SET collected_at = excluded.collected_at, "
      "inventory = excluded.inventory",
      blob_params));
  return OkStatus();
}

}  // namespace

// ------------------------------------------------------------------ ingest

Result<std::vector<CommitResult>> PgHostStore::CommitReports(std::vector<IncomingReport>& batch) {
  Batch state{
      batch, std::vector<std::string>(batch.size()), std::vector<bool>(batch.size()), {}, {}};
  std::vector<int64_t> sample_times;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].report.has_health()) {
      state.unencodable[i] = !batch[i].report.health().SerializeToString(&state.encoded[i]);
      sample_times.push_back(batch[i].report.collected_at_ms());
    }
  }
  // Partition DDL in its own short transaction, before the batch's: never inside it.
  DOZOR_RETURN_IF_ERROR(partitions_.EnsureFor(sample_times, context_.clock.NowMs()));
  Status written = pg::InTransaction(
      context_.pool, [&](pg::Connection& db) -> Status { return WriteBatch(db, state); });
  if (!written.ok()) {
    if (batch.size() == 1 || !IsReportFault(written.error())) {
      return written.error();
    }
    // One report the database refuses must not fail the reports of every other agent batched
    // with it: commit them one by one, so only it is rejected.
    DOZOR_RETURN_IF_ERROR(CommitOneByOne(state));
  }
  if (!state.committed.empty()) {
    NotifyCommitted(state.committed);
  }
  return std::move(state.results);
}

Status PgHostStore::CommitOneByOne(Batch& batch) {
  std::vector<CommitResult> results;
  std::vector<CommittedHost> committed;
  for (size_t i = 0; i < batch.reports.size(); ++i) {
    std::vector<IncomingReport> one;
    one.push_back(std::move(batch.reports[i]));
    Batch single{one, {batch.encoded[i]}, {batch.unencodable[i]}, {}, {}};
    Status status = pg::InTransaction(
        context_.pool, [&](pg::Connection& db) -> Status { return WriteBatch(db, single); });
    batch.reports[i] = std::move(one[0]);
    if (status.ok()) {
      results.push_back(std::move(single.results[0]));
      committed.insert(committed.end(), single.committed.begin(), single.committed.end());
      continue;
    }
    if (!IsReportFault(status.error())) {
      return status.error();
    }
    spdlog::warn("store: report {} of agent {} refused by the database: {}",
                 batch.reports[i].report.seq(), EscapeControlText(batch.reports[i].agent_id),
                 status.error().ToString());
    CommitResult rejected;
    rejected.seq = batch.reports[i].report.seq();
    rejected.outcome = CommitOutcome::kRejected;
    rejected.reason = "the store refused it: " + status.error().message;
    results.push_back(std::move(rejected));
  }
  batch.results = std::move(results);
  batch.committed = std::move(committed);
  return OkStatus();
}

Status PgHostStore::WriteBatch(pg::Connection& db, Batch& batch) {
  // A retried transaction starts over.
  batch.results.clear();
  batch.committed.clear();
  std::set<std::string> ids;
  for (const IncomingReport& item : batch.reports) {
    ids.insert(item.agent_id);
  }
  pg::ArrayLiteral id_array;
  for (const std::string& id : ids) {
    id_array.Add(id);
  }
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows locked,
      db.Query("SELECT id, agent_id, org_id, last_seq, revoked_at IS NOT NULL FROM agents "
               "WHERE agent_id = ANY($1::text[]) ORDER BY org_id, id FOR UPDATE",
               pg::Params(id_array)));
  std::unordered_map<std::string, LockedAgent> agents;
  std::unordered_map<int64_t, int64_t> org_of;
  for (int row = 0; row < locked.size(); ++row) {
    LockedAgent agent{locked.Int(row, 0), locked.Int(row, 2),
                      static_cast<uint64_t>(locked.Int(row, 3)), locked.Bool(row, 4)};
    org_of[agent.pk] = agent.org_id;
    agents.emplace(locked.Text(row, 1), agent);
  }

  RuleWindowBatch windows;
  CollectorStatusBatch collectors;
  pg::ArrayLiteral sample_org, sample_agent, sample_at, sample_seq;
  pg::ByteaArray sample_bytes;
  std::map<int64_t, AgentTouch> touched;  // by pk: agents rows updated in key order
  for (size_t i = 0; i < batch.reports.size(); ++i) {
    const IncomingReport& item = batch.reports[i];
    const dozor::v1::Report& report = item.report;
    auto found = agents.find(item.agent_id);
    LockedAgent* agent = found == agents.end() ? nullptr : &found->second;
    auto screened = ScreenReport(report, agent != nullptr, agent != nullptr && agent->revoked,
                                 agent != nullptr ? agent->last_seq : 0, batch.unencodable[i]);
    if (screened) {
      batch.results.push_back(std::move(*screened));
      continue;
    }
    const int64_t clock_offset_ms = item.received_at_ms - report.collected_at_ms();
    if (report.has_health()) {
      sample_org.Add(agent->org_id);
      sample_agent.Add(agent->pk);
      sample_at.Add(report.collected_at_ms());
      sample_seq.Add(static_cast<int64_t>(report.seq()));
      sample_bytes.Add(batch.encoded[i]);
      windows.Add(agent->pk, report.collected_at_ms(), clock_offset_ms, report.health());
    } else {
      DOZOR_RETURN_IF_ERROR(ApplyInventory(db, *agent, item.agent_id, report));
      DOZOR_RETURN_IF_ERROR(ReplacePgHostRows(db, agent->org_id, agent->pk, report.inventory(),
                                              report.collected_at_ms()));
    }
    for (const dozor::v1::CollectorStatus& status : report.collectors()) {
      collectors.Add(agent->pk, report.collected_at_ms(), status);
    }
    agent->last_seq = report.seq();
    AgentTouch& touch = touched[agent->pk];
    touch.org_id = agent->org_id;
    (report.has_health() ? touch.health : touch.inventory) = true;
    if (report.has_health()) {
      // The latest sample the agent produced (reports arrive in seq order), not the largest
      // timestamp: a clock that ran ahead and was corrected must not pin the "latest" views.
      touch.newest_health_at = report.collected_at_ms();
    }
    if (report.collected_at_ms() >= touch.newest_collected_at) {
      touch.newest_collected_at = report.collected_at_ms();
      touch.clock_offset_ms = clock_offset_ms;
    }
    touch.last_seen = std::max(touch.last_seen, item.received_at_ms);
    touch.last_seq = report.seq();
    touch.dropped = std::max(touch.dropped, report.dropped_health_samples());
    if (!report.agent_version().empty()) {
      touch.agent_version = report.agent_version();
    }
    if (report.has_inventory()) {
      touch.last_inventory_at = report.collected_at_ms();
    }
    CommitResult result;
    result.seq = report.seq();
    batch.results.push_back(std::move(result));
  }
  if (sample_agent.size() > 0) {
    DOZOR_RETURN_IF_ERROR(
        db.Run("INSERT INTO health_samples(org_id, agent, collected_at, seq, sample) "
               "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], "
               "$5::bytea[])",
               pg::Params(sample_org, sample_agent, sample_at, sample_seq, sample_bytes)));
  }
  DOZOR_RETURN_IF_ERROR(WriteRuleWindows(db, windows, org_of));
  const auto& statuses = collectors.Latest();
  if (!statuses.empty()) {
    pg::ArrayLiteral org, agent, name, ok, error, duration, at;
    for (const CollectorStatusRow& c : statuses) {
      org.Add(org_of.at(c.agent));
      agent.Add(c.agent);
      name.Add(c.status->name());
      ok.Add(int64_t{c.status->ok() ? 1 : 0});
      error.Add(c.status->error());
      duration.Add(static_cast<int64_t>(c.status->duration_ms()));
      at.Add(c.at);
    }
    DOZOR_RETURN_IF_ERROR(db.Run(
        "INSERT INTO host_collectors(org_id, agent, name, ok, error, duration_ms, at) "
        "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], "
        "$6::bigint[], $7::bigint[]) ON CONFLICT (org_id, agent, name) DO UPDATE SET ok = "
        "excluded.ok, error = excluded.error, duration_ms = excluded.duration_ms, at = "
        "excluded.at",
        pg::Params(org, agent, name, ok, error, duration, at)));
  }
  if (!touched.empty()) {
    // Once per agent per batch, all agents in one statement.
    pg::ArrayLiteral org, pk, last_seen, last_seq, dropped, version, last_inventory, offset,
        health_at;
    for (const auto& [agent_pk, touch] : touched) {
      org.Add(touch.org_id);
      pk.Add(agent_pk);
      last_seen.Add(touch.last_seen);
      last_seq.Add(static_cast<int64_t>(touch.last_seq));
      dropped.Add(static_cast<int64_t>(std::min<uint64_t>(touch.dropped, INT64_MAX)));
      version.Add(touch.agent_version);
      last_inventory.Add(touch.last_inventory_at);
      offset.Add(touch.clock_offset_ms);
      health_at.Add(touch.newest_health_at);
    }
    DOZOR_RETURN_IF_ERROR(db.Run(
        "UPDATE agents a SET last_seen = greatest(a.last_seen, u.last_seen), last_seq = "
        "greatest(a.last_seq, u.last_seq), dropped_health_total = greatest("
        "a.dropped_health_total, u.dropped), agent_version = CASE WHEN u.version = '' THEN "
        "a.agent_version ELSE u.version END, last_inventory_at = CASE WHEN u.last_inventory > 0 "
        "THEN u.last_inventory ELSE a.last_inventory_at END, clock_offset_ms = u.clock_offset, "
        "last_health_at = CASE WHEN u.health_at > 0 THEN u.health_at ELSE a.last_health_at END "
        "FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], "
        "$6::text[], $7::bigint[], $8::bigint[], $9::bigint[]) AS u(org_id, id, last_seen, "
        "last_seq, dropped, version, last_inventory, clock_offset, health_at) "
        "WHERE a.org_id = u.org_id AND a.id = u.id",
        pg::Params(org, pk, last_seen, last_seq, dropped, version, last_inventory, offset,
                   health_at)));
  }
  batch.committed.reserve(touched.size());
  for (const auto& [agent_pk, touch] : touched) {
    batch.committed.push_back(CommittedHost{agent_pk, touch.org_id, touch.inventory, touch.health});
  }
  return OkStatus();
}

Status PgHostStore::WriteReportsIn(pg::Connection& db, std::vector<IncomingReport>& reports,
                                   std::vector<std::string> encoded,
                                   std::vector<CommitResult>* results,
                                   std::vector<CommittedHost>* committed) {
  Batch batch{reports, std::move(encoded), std::vector<bool>(reports.size(), false), {}, {}};
  DOZOR_RETURN_IF_ERROR(WriteBatch(db, batch));
  *results = std::move(batch.results);
  *committed = std::move(batch.committed);
  return OkStatus();
}

void PgHostStore::SetCommitObserver(CommitObserver observer) {
  std::lock_guard lock(observer_mu_);
  observer_ = std::move(observer);
}

void PgHostStore::NotifyCommitted(const std::vector<CommittedHost>& hosts) {
  CommitObserver observer;
  {
    std::lock_guard lock(observer_mu_);
    observer = observer_;
  }
  if (!observer) {
    return;
  }
  try {
    observer(hosts);
  } catch (const std::exception& e) {
    // The batch is committed and will be acked; a failing observer only costs an evaluation.
    spdlog::error("store: commit observer threw: {}", e.what());
  } catch (...) {
    spdlog::error("store: commit observer threw");
  }
}

// ------------------------------------------------------------------ reads by agent

Result<std::pair<int64_t, int64_t>> PgHostStore::HostKeyOf(pg::Connection& db,
                                                           std::string_view agent_id) {
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db.Query("SELECT org_id, id FROM agents WHERE agent_id = "
                                                 "$1",
                                                 pg::Params(agent_id)));
  if (rows.empty()) {
    return MakeError(ErrorCode::kNotFound, "unknown agent '" + std::string(agent_id) + "'");
  }
  return std::make_pair(rows.Int(0, 0), rows.Int(0, 1));
}

Result<int64_t> PgHostStore::HostPk(std::string_view agent_id) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(auto key, HostKeyOf(*db, agent_id));
  return key.second;
}

Result<std::vector<std::pair<int64_t, int64_t>>> PgHostStore::ListLiveHostKeys() {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db->Query("SELECT id, org_id FROM agents WHERE revoked_at "
                                                  "IS NULL ORDER BY id"));
  std::vector<std::pair<int64_t, int64_t>> out;
  out.reserve(static_cast<size_t>(rows.size()));
  for (int row = 0; row < rows.size(); ++row) {
    out.emplace_back(rows.Int(row, 0), rows.Int(row, 1));
  }
  return out;
}

Result<std::vector<HostLifetime>> PgHostStore::ListHostLifetimes(int64_t org_id) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows,
                         db->Query("SELECT agent_id, enrolled_at, revoked_at FROM agents WHERE "
                                   "org_id = $1 ORDER BY enrolled_at, id",
                                   pg::Params(org_id)));
  std::vector<HostLifetime> out;
  for (int row = 0; row < rows.size(); ++row) {
    out.push_back(HostLifetime{rows.Text(row, 0), rows.Int(row, 1), rows.OptionalInt(row, 2)});
  }
  return out;
}

Result<std::vector<InventoryChange>> PgHostStore::ListChanges(std::string_view agent_id,
                                                              int64_t since_ms, int limit) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(auto key, HostKeyOf(*db, agent_id));
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db->Query("SELECT id, at, category, action, subject, old_value, new_value FROM "
                "inventory_changes WHERE org_id = $1 AND agent = $2 AND at >= $3 ORDER BY at "
                "DESC, id DESC LIMIT $4",
                pg::Params(key.first, key.second, since_ms, ClampListLimit(limit))));
  std::vector<InventoryChange> out;
  out.reserve(static_cast<size_t>(rows.size()));
  for (int row = 0; row < rows.size(); ++row) {
    InventoryChange change;
    change.id = rows.Int(row, 0);
    change.agent_id = std::string(agent_id);
    change.at_ms = rows.Int(row, 1);
    change.category = rows.Text(row, 2);
    change.action = rows.Text(row, 3);
    change.subject = rows.Text(row, 4);
    change.old_value = rows.Text(row, 5);
    change.new_value = rows.Text(row, 6);
    out.push_back(std::move(change));
  }
  return out;
}

// Health reads see raw rows and compacted blocks in one snapshot: a sample moving into a block
// meanwhile is read once, from one or the other (pg_health_blocks.hpp).
namespace {
template <typename Body>
auto InHealthSnapshot(pg::Connection& db, Body&& body) -> decltype(body()) {
  DOZOR_RETURN_IF_ERROR(db.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  auto result = body();
  Status ended = db.Exec(result.ok() ? "COMMIT" : "ROLLBACK");
  if (result.ok() && !ended.ok()) {
    return ended.error();
  }
  return result;
}
}  // namespace

Result<std::vector<HealthRecord>> PgHostStore::ListHealth(std::string_view agent_id,
                                                          int64_t since_ms, int limit) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(auto key, HostKeyOf(*db, agent_id));
  DOZOR_ASSIGN_OR_RETURN(std::vector<BlockSample> samples, InHealthSnapshot(*db, [&] {
                           return PgHealthBlocks::Newest(*db, key.first, key.second, since_ms,
                                                         ClampListLimit(limit));
                         }));
  std::vector<HealthRecord> out;
  out.reserve(samples.size());
  for (BlockSample& item : samples) {
    HealthRecord record;
    record.seq = item.seq;
    record.collected_at_ms = item.collected_at_ms;
    record.sample = std::move(item.sample);
    out.push_back(std::move(record));
  }
  return out;
}

Status PgHostStore::VisitHealth(std::string_view agent_id, int64_t from_ms, int64_t to_ms,
                                const HealthSampleVisitor& visit) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(auto key, HostKeyOf(*db, agent_id));
  if (from_ms >= to_ms) {
    return OkStatus();
  }
  return InHealthSnapshot(*db, [&] {
    return PgHealthBlocks::Visit(
        *db, key.first, key.second, from_ms, to_ms,
        [&](const BlockSample& item) { visit(item.collected_at_ms, item.sample); });
  });
}

// ------------------------------------------------------------------ retention

Result<int64_t> PgHostStore::PruneHealth(int64_t cutoff_ms) {
  DOZOR_ASSIGN_OR_RETURN(int64_t raw, partitions_.Prune(cutoff_ms));
  DOZOR_ASSIGN_OR_RETURN(int64_t compacted, blocks_.Prune(cutoff_ms));
  return raw + compacted;
}

Result<int64_t> PgHostStore::PruneInventoryChanges(int64_t cutoff_ms, int64_t max_rows_per_host) {
  std::vector<std::pair<int64_t, int64_t>> hosts;
  {
    DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
    DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db->Query("SELECT org_id, id FROM agents ORDER BY "
                                                    "org_id, id"));
    for (int row = 0; row < rows.size(); ++row) {
      hosts.emplace_back(rows.Int(row, 0), rows.Int(row, 1));
    }
  }
  int64_t total = 0;
  // One short statement pair per host, so ingest interleaves with a large prune.
  for (const auto& [org_id, agent] : hosts) {
    DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
    DOZOR_ASSIGN_OR_RETURN(int64_t by_age,
                           db->Run("DELETE FROM inventory_changes WHERE org_id = $1 AND agent = "
                                   "$2 AND at < $3",
                                   pg::Params(org_id, agent, cutoff_ms)));
    DOZOR_ASSIGN_OR_RETURN(
        int64_t by_count,
        db->Run("DELETE FROM inventory_changes WHERE org_id = $1 AND agent = $2 AND id <= ("
                "SELECT id FROM inventory_changes WHERE org_id = $1 AND agent = $2 ORDER BY id "
                "DESC LIMIT 1 OFFSET $3)",
                pg::Params(org_id, agent, max_rows_per_host)));
    total += by_age + by_count;
  }
  return total;
}

Result<int64_t> PgHostStore::PruneRuleWindows(int64_t now_ms, int64_t window_ms, int64_t trend_ms) {
  // Relative to each agent's newest sample when that is older than now: an agent that stopped
  // reporting keeps its last window (as on SQLite).
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  int64_t total = 0;
  const char* const kWindows[] = {"rule_health_host", "rule_health_fs", "rule_health_nic"};
  for (const char* table : kWindows) {
    DOZOR_ASSIGN_OR_RETURN(
        int64_t deleted,
        db->Run(std::string("DELETE FROM ") + table +
                    " t USING agents a WHERE a.org_id = t.org_id AND a.id = t.agent AND t.at < "
                    "CASE WHEN a.last_health_at > 0 AND a.last_health_at < $1 THEN "
                    "a.last_health_at ELSE $1 END - $2",
                pg::Params(now_ms, window_ms)));
    total += deleted;
  }
  DOZOR_ASSIGN_OR_RETURN(
      int64_t trend,
      db->Run("DELETE FROM rule_fs_trend t USING agents a WHERE a.org_id = t.org_id AND a.id = "
              "t.agent AND t.hour < CASE WHEN a.last_health_at > 0 AND a.last_health_at < $1 "
              "THEN a.last_health_at ELSE $1 END - $2",
              pg::Params(now_ms, trend_ms)));
  return total + trend;
}

}  // namespace dozor::server
