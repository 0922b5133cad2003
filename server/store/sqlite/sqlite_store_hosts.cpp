// SqliteStore, hosts area: queries over hosts, inventory, changes and health (both tiers).
#include "store/sqlite/sqlite_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "store/health_block_codec.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"
#include "store/sqlite/statement_helpers.hpp"
#include "store/sqlite/store_rows.hpp"

namespace dozor::server {

// The helpers and statements the backend's files share.
using namespace sqlite_store_internal;  // NOLINT(google-build-using-namespace)

namespace {

// The `wanted` newest raw samples of an agent since `since_ms` (undecodable ones skipped).
Result<std::vector<BlockSample>> ReadRecentRawSamples(ReaderStatements& r, int64_t pk,
                                                      std::string_view agent_id, int64_t since_ms,
                                                      size_t wanted) {
  std::vector<BlockSample> samples;
  auto& s = BindAll(r.health, pk, since_ms, static_cast<int64_t>(wanted));
  DOZOR_RETURN_IF_ERROR(ForEachRow(s, [&](const sqlite::Statement& row) {
    BlockSample item;
    item.seq = static_cast<uint64_t>(row.Int(0));
    item.collected_at_ms = row.Int(1);
    auto decoded = DecodeRawSample(row.Blob(2), row.Int(3), &item.sample);
    if (!decoded.ok()) {
      // One damaged sample should not hide the rest of the history.
      spdlog::warn("store: health sample {} of {}: {}", item.seq, agent_id,
                   decoded.error().ToString());
      return;
    }
    samples.push_back(std::move(item));
  }));
  return samples;
}

// Adds compacted samples since `since_ms` to `candidates`, reading blocks newest first until
// every further block is older than the oldest of the `wanted` newest candidates found so far.
// Raw rows and blocks may overlap in time (samples that arrived late for an already compacted
// hour), hence the merge rather than a concat.
Status MergeBlockSamples(ReaderStatements& r, int64_t pk, std::string_view agent_id,
                         int64_t since_ms, size_t wanted, std::vector<BlockSample>& candidates) {
  auto& b = BindAll(r.health_blocks, pk, since_ms);
  return ForEachRow(b, [&](const sqlite::Statement& row) {
    if (candidates.size() >= wanted) {
      std::nth_element(candidates.begin(), candidates.begin() + static_cast<ptrdiff_t>(wanted - 1),
                       candidates.end(), NewerFirst);
      candidates.resize(wanted);
      if (row.Int(0) < candidates.back().collected_at_ms) {
        return false;
      }
    }
    std::vector<BlockSample> block;
    auto decoded = DecodeHealthBlock(row.Blob(1), &block);
    if (!decoded.ok()) {
      spdlog::warn("store: health block ending at {} of {}: {}", row.Int(0), agent_id,
                   decoded.error().ToString());
      return true;
    }
    for (auto& item : block) {
      if (item.collected_at_ms >= since_ms) {
        candidates.push_back(std::move(item));
      }
    }
    return true;
  });
}

}  // namespace

// ------------------------------------------------------------------ queries

Result<std::vector<HostSummary>> SqliteStore::ListHosts(std::optional<int64_t> org_id) {
  ReaderLease reader = AcquireReader();
  sqlite::ReadTransaction txn(reader->db);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  std::vector<HostSummary> hosts;
  std::unordered_map<int64_t, size_t> index_by_pk;
  DOZOR_RETURN_IF_ERROR(ForEachRow(BindAll(reader->rs.host_list, org_id), [&](const auto& s) {
    index_by_pk[s.Int(0)] = hosts.size();
    hosts.push_back(ReadHost(s));
  }));
  DOZOR_RETURN_IF_ERROR(ForEachRow(BindAll(reader->rs.addresses_all, org_id), [&](const auto& s) {
    auto it = index_by_pk.find(s.Int(0));
    if (it != index_by_pk.end()) {
      hosts[it->second].addresses.push_back(s.Text(1));
    }
  }));
  return hosts;
}

Result<HostSummary> SqliteStore::ReadHostOn(ReaderSlot& reader, std::string_view agent_id,
                                            int64_t* pk) {
  auto read_host = [&](const sqlite::Statement& s) {
    *pk = s.Int(0);
    return ReadHost(s);
  };
  DOZOR_ASSIGN_OR_RETURN(HostSummary host, ReadOne(BindAll(reader.rs.host_one, agent_id), read_host,
                                                   [&] { return UnknownAgent(agent_id); }));
  DOZOR_ASSIGN_OR_RETURN(host.addresses, ReadAll(BindAll(reader.rs.addresses_one, *pk),
                                                 [](const auto& s) { return s.Text(0); }));
  return host;
}

Result<HostSummary> SqliteStore::GetHost(std::string_view agent_id) {
  ReaderLease reader = AcquireReader();
  sqlite::ReadTransaction txn(reader->db);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  int64_t pk = 0;
  return ReadHostOn(*reader, agent_id, &pk);
}

Result<HostInventory> SqliteStore::GetInventory(std::string_view agent_id) {
  ReaderLease reader = AcquireReader();
  sqlite::ReadTransaction txn(reader->db);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  HostInventory result;
  int64_t pk = 0;
  DOZOR_ASSIGN_OR_RETURN(result.host, ReadHostOn(*reader, agent_id, &pk));
  DOZOR_ASSIGN_OR_RETURN(auto blob, ReadOptional(BindAll(reader->rs.blob_get, pk),
                                                 [](const auto& s) { return s.Blob(0); }));
  if (blob) {
    auto decoded = DecodeCompressed(*blob, &result.inventory);
    if (!decoded.ok()) {
      return decoded.error().Wrap("inventory of " + std::string(agent_id));
    }
  }
  DOZOR_ASSIGN_OR_RETURN(result.collectors,
                         ReadAll(BindAll(reader->rs.collectors, pk), ReadCollectorStatus));
  return result;
}

Result<int64_t> SqliteStore::AgentPkOn(ReaderSlot& reader, std::string_view agent_id) {
  return ReadOne(
      BindAll(reader.rs.agent_pk, agent_id), [](const auto& s) { return s.Int(0); },
      [&] { return UnknownAgent(agent_id); });
}

Result<std::vector<InventoryChange>> SqliteStore::ListChanges(std::string_view agent_id,
                                                              int64_t since_ms, int limit) {
  ReaderLease reader = AcquireReader();
  sqlite::ReadTransaction txn(reader->db);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(int64_t pk, AgentPkOn(*reader, agent_id));
  return ReadAll(BindAll(reader->rs.changes, pk, since_ms, ClampLimit(limit)),
                 [&](const sqlite::Statement& s) { return ReadInventoryChange(s, agent_id); });
}

Result<std::vector<HealthRecord>> SqliteStore::ListHealth(std::string_view agent_id,
                                                          int64_t since_ms, int limit) {
  ReaderLease reader = AcquireReader();
  sqlite::ReadTransaction txn(reader->db);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(int64_t pk, AgentPkOn(*reader, agent_id));
  const size_t wanted = static_cast<size_t>(ClampLimit(limit));
  DOZOR_ASSIGN_OR_RETURN(std::vector<BlockSample> candidates,
                         ReadRecentRawSamples(reader->rs, pk, agent_id, since_ms, wanted));
  DOZOR_RETURN_IF_ERROR(MergeBlockSamples(reader->rs, pk, agent_id, since_ms, wanted, candidates));
  std::sort(candidates.begin(), candidates.end(), NewerFirst);
  if (candidates.size() > wanted) {
    candidates.resize(wanted);
  }
  std::vector<HealthRecord> out;
  out.reserve(candidates.size());
  for (auto& item : candidates) {
    out.push_back(HealthRecord{item.seq, item.collected_at_ms, std::move(item.sample)});
  }
  return out;
}

Status SqliteStore::VisitHealth(std::string_view agent_id, int64_t from_ms, int64_t to_ms,
                                const HealthSampleVisitor& visit) {
  ReaderLease reader = AcquireReader();
  sqlite::ReadTransaction txn(reader->db);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(int64_t pk, AgentPkOn(*reader, agent_id));
  if (from_ms >= to_ms) {
    return OkStatus();
  }
  auto in_range = [&](int64_t at) { return at >= from_ms && at < to_ms; };
  // A block holds samples of one hour bucket, so those that can hold the range start in
  // [bucket of from_ms, to_ms): one range of the primary key (agent, start_at).
  DOZOR_ASSIGN_OR_RETURN(sqlite::Statement * blocks,
                         reader->Cached("SELECT start_at, data FROM health_blocks "
                                        "WHERE agent = ?1 AND start_at >= ?2 AND start_at < ?3 "
                                        "AND end_at >= ?4 ORDER BY start_at"));
  DOZOR_RETURN_IF_ERROR(
      ForEachRow(BindAll(*blocks, pk, BucketStart(from_ms), to_ms, from_ms),
                 [&](const sqlite::Statement& row) {
                   auto visited = VisitHealthBlock(row.Blob(1), [&](const BlockSample& item) {
                     if (in_range(item.collected_at_ms)) {
                       visit(item.collected_at_ms, item.sample);
                     }
                   });
                   if (!visited.ok()) {
                     // One damaged block should not hide the rest of the history.
                     spdlog::warn("store: health block starting at {} of {}: {}", row.Int(0),
                                  agent_id, visited.error().ToString());
                   }
                 }));
  DOZOR_ASSIGN_OR_RETURN(sqlite::Statement * rows,
                         reader->Cached("SELECT seq, collected_at, sample, encoding "
                                        "FROM health_samples WHERE agent = ?1 "
                                        "AND collected_at >= ?2 AND collected_at < ?3"));
  dozor::v1::HealthSample sample;
  return ForEachRow(BindAll(*rows, pk, from_ms, to_ms), [&](const sqlite::Statement& row) {
    auto decoded = DecodeRawSample(row.Blob(2), row.Int(3), &sample);
    if (!decoded.ok()) {
      spdlog::warn("store: health sample {} of {}: {}", row.Int(0), agent_id,
                   decoded.error().ToString());
      return;
    }
    visit(row.Int(1), sample);
  });
}

Result<std::vector<HostLifetime>> SqliteStore::ListHostLifetimes(int64_t org_id) {
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(sqlite::Statement * select,
                         reader->Cached("SELECT agent_id, enrolled_at, revoked_at FROM agents "
                                        "WHERE org_id = ? ORDER BY enrolled_at, id"));
  return ReadAll(BindAll(*select, org_id), [](const sqlite::Statement& s) {
    return HostLifetime{s.Text(0), s.Int(1), OptionalInt(s, 2)};
  });
}

}  // namespace dozor::server
