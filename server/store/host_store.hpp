// What agents report about hosts: committing report batches (inventory replaces the host's
// current inventory and appends to its change log; health samples accumulate), the commit
// observer, and the queries over hosts, inventory, changes, health and the estate summary.
//
// Thread-safety: every method may be called from any thread (see store/store.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "domain/host_role.hpp"
#include "domain/host_status.hpp"
#include "domain/inventory_diff.hpp"
#include "dozor/common/result.hpp"
#include "dozor/v1/agent.pb.h"
#include "store/list_page.hpp"

namespace dozor::server {

struct HostSummary {
  std::string agent_id;
  int64_t org_id = 0;
  std::string org_name;
  std::string hostname;
  std::string os_pretty_name;
  std::string os_family;
  std::vector<std::string> addresses;  // non-loopback IPs from the latest inventory
  std::string agent_version;
  int64_t enrolled_at_ms = 0;
  int64_t last_seen_ms = 0;       // last committed report (0 never)
  int64_t last_inventory_ms = 0;  // collected_at of the latest inventory (0 none)
  bool revoked = false;
  uint64_t dropped_health_samples = 0;  // total the agent reported dropping from its spool
  // "agent": a running dozor-agent; "import": a one-shot snapshot loaded with dozorctl import.
  std::string source = "agent";
  // From the latest inventory (domain/host_role.hpp); none before one.
  std::optional<HostRole> role;
  HostDuties duties;
};

struct HostInventory {
  HostSummary host;
  dozor::v1::Inventory inventory;
  std::vector<dozor::v1::CollectorStatus> collectors;  // from the latest inventory report
};

// When a host belonged to its organisation: from its enrollment (or import) until its revocation.
struct HostLifetime {
  std::string agent_id;
  int64_t enrolled_at_ms = 0;
  std::optional<int64_t> revoked_at_ms;
};

// A stored health sample handed to a VisitHealth caller; valid only during the call.
using HealthSampleVisitor =
    std::function<void(int64_t collected_at_ms, const dozor::v1::HealthSample& sample)>;

struct HealthRecord {
  uint64_t seq = 0;
  int64_t collected_at_ms = 0;
  dozor::v1::HealthSample sample;
};

enum class HostSort { kOrg, kHostname, kLastSeen };

// A page of hosts for the list route; every filter is optional.
struct HostQuery {
  std::optional<int64_t> org_id;
  // Only hosts of these organisations (the caller's scope); nullopt = every organisation.
  std::optional<std::vector<int64_t>> visible_org_ids;
  // Substring of the hostname or agent id (case-insensitive for ASCII letters).
  std::optional<std::string> text;
  std::optional<std::string> os_family;  // exact: "debian", "rhel", "windows", ...
  // Hosts whose status at `status_bounds` (domain/host_status.hpp) is any of these; empty: any.
  // Live connections are not the store's to know: a connected agent that has not reported within
  // the offline threshold is offline here.
  std::vector<HostStatus> statuses;
  HostStatusBounds status_bounds;
  HostSort sort = HostSort::kOrg;
  SortDirection direction = SortDirection::kAscending;
  PageRequest page;
};

// What made a host match a search, e.g. {"mac", "52:54:00:12:34:56"} or {"package",
// "openssl=3.0.17-1~deb12u2"}.
struct HostMatch {
  std::string field;  // hostname, agent_id, ip, mac, system_serial, disk_serial, package
  std::string value;  // the stored value that matched
};

struct HostSearchHit {
  HostSummary host;
  std::vector<HostMatch> matches;
};

// A search over the hosts' identities and current inventory. How the text is read (a MAC in any
// spelling, "name=version") is decided by domain/host_search_term.hpp before the store runs.
struct HostSearchQuery {
  std::string text;                // hostname/agent id substring, IP prefix, serial (exact)
  std::optional<std::string> mac;  // normalised "aa:bb:cc:dd:ee:ff", when the text is a MAC
  std::string package_name;        // exact package name (empty: no package search)
  std::optional<std::string> package_version;  // exact version with the name
  std::optional<int64_t> org_id;
  std::optional<std::vector<int64_t>> visible_org_ids;
  int limit = 50;  // hosts
};

struct HostSearchResult {
  std::vector<HostSearchHit> hits;  // by hostname, then agent id
  bool truncated = false;           // more hosts matched than `limit`
};

// One report from an authenticated agent, already validated by ingest.
// A backend's work on one report done before its writer is free (HostStore::PrepareReport):
// opaque to the caller, which only hands it back with the report.
struct PreparedReport {
  virtual ~PreparedReport() = default;
};

struct IncomingReport {
  std::string agent_id;
  int64_t received_at_ms = 0;
  dozor::v1::Report report;
  size_t wire_bytes = 0;  // its size as received (the writer's memory and fairness budgets)
  // HostStore::PrepareReport's result when the caller ran it; else the commit does that work.
  std::shared_ptr<const PreparedReport> prepared;
};

enum class CommitOutcome { kStored, kDuplicate, kRejected };

struct CommitResult {
  uint64_t seq = 0;
  CommitOutcome outcome = CommitOutcome::kStored;
  std::string reason;  // for kRejected
};

struct EstateHost {
  std::string agent_id;
  std::string hostname;
  std::string os_pretty_name;
  std::string os_family;
  std::string os_id;
  std::string os_version_id;
  std::optional<HostRole> role;  // none before the first inventory
  HostDuties duties;             // from the latest inventory, none before one
  std::string cpu_model;
  int64_t cpu_cores = 0;
  int64_t memory_bytes = 0;
  std::string system_vendor;
  std::string system_model;
  std::string bios_date;
  bool virtual_machine = false;
  int64_t disk_bytes = 0;
  int64_t last_seen_ms = 0;
  int64_t last_inventory_ms = 0;
  std::string agent_version;
  std::vector<std::string> addresses;
  int64_t package_count = 0;
  bool smartctl_available = false;  // the agent could read SMART data on this host
  int64_t disk_count = 0;           // non-removable disks in the inventory
  // What the audit could not see on this host: (part, why) for each inventory part the agent
  // could not read ("hardware", "software", ...) and ("collector:<name>", its error) for each
  // collector whose last run failed.
  std::vector<std::pair<std::string, std::string>> gaps;
};

struct ApplicationCount {
  std::string name;
  std::string version;
  std::string kind;
  int64_t hosts = 0;
};

struct EstateSummary {
  std::vector<EstateHost> hosts;
  std::vector<ApplicationCount> applications;
  // (package name, number of live hosts with it installed) for the names asked.
  std::vector<std::pair<std::string, int64_t>> package_hosts;
};

// One agent touched by a committed CommitReports batch.
struct CommittedHost {
  int64_t host_pk = 0;
  int64_t org_id = 0;
  bool inventory = false;  // an inventory report was stored
  bool health = false;     // a health report was stored
};

using CommitObserver = std::function<void(const std::vector<CommittedHost>&)>;

class HostStore {
 public:
  virtual ~HostStore() = default;

  // Commits a batch of reports in one transaction, then returns one result per report in input
  // order. A report whose seq is at or below the agent's last committed seq is kDuplicate and not
  // stored. Inventory reports replace the host's current inventory and append to its change log.
  // On error nothing of the batch is committed and no report may be acked.
  virtual Result<std::vector<CommitResult>> CommitReports(std::vector<IncomingReport>& batch) = 0;
  // The part of committing `report` that needs no writer, for a caller with a thread to spare
  // (the ingest writer's preparer): CommitReports then only checks it still holds, and writes.
  // Any thread, concurrently with commits. nullptr: nothing to prepare, or it could not be (the
  // commit then does the work itself and reports any error). Backends without such work keep
  // this default.
  virtual std::shared_ptr<const PreparedReport> PrepareReport(const IncomingReport& report) {
    (void)report;
    return nullptr;
  }
  // Called after each committed CommitReports batch that stored at least one report, on the
  // committing thread and outside the store's locks; must be cheap (enqueue only). Set it before
  // ingest starts; an empty function removes it.
  virtual void SetCommitObserver(CommitObserver observer) = 0;

  virtual Result<std::vector<HostSummary>> ListHosts(std::optional<int64_t> org_id) = 0;
  // One keyset page in the query's order (org: (org name, hostname, pk); hostname: (hostname,
  // pk); last_seen: (last_seen, pk)).
  virtual Result<Page<HostSummary>> QueryHosts(const HostQuery& query) = 0;
  virtual Result<HostSearchResult> SearchHosts(const HostSearchQuery& query) = 0;
  virtual Result<HostSummary> GetHost(std::string_view agent_id) = 0;
  virtual Result<HostInventory> GetInventory(std::string_view agent_id) = 0;
  virtual Result<std::vector<InventoryChange>> ListChanges(std::string_view agent_id,
                                                           int64_t since_ms, int limit) = 0;
  // Newest first.
  virtual Result<std::vector<HealthRecord>> ListHealth(std::string_view agent_id, int64_t since_ms,
                                                       int limit) = 0;
  // Calls `visit` for every stored health sample of the agent collected in [from_ms, to_ms): the
  // compacted hourly blocks, one decoded at a time, then the recent rows, all in one read
  // transaction (compaction moving samples meanwhile neither hides nor repeats one). Not in time
  // order across the two; memory stays at one block whatever the range. Undecodable blocks and
  // rows are skipped and logged, as ListHealth does. kNotFound for an unknown agent.
  virtual Status VisitHealth(std::string_view agent_id, int64_t from_ms, int64_t to_ms,
                             const HealthSampleVisitor& visit) = 0;
  // Every host the organisation has had, revoked ones included, in enrollment order.
  virtual Result<std::vector<HostLifetime>> ListHostLifetimes(int64_t org_id) = 0;
  // Estate summary for the report (live, non-revoked hosts of the org).
  virtual Result<EstateSummary> GetEstateSummary(int64_t org_id,
                                                 const std::vector<std::string>& package_names) = 0;
  // Live (non-revoked) hosts: (host pk, org id).
  virtual Result<std::vector<std::pair<int64_t, int64_t>>> ListLiveHostKeys() = 0;
  // agents.id for a public agent id; kNotFound.
  virtual Result<int64_t> HostPk(std::string_view agent_id) = 0;
  // Deletes health samples collected before `cutoff_ms`; returns how many.
  virtual Result<int64_t> PruneHealth(int64_t cutoff_ms) = 0;
  // Change-log retention: deletes changes older than cutoff_ms and, per host, all but the newest
  // max_rows_per_host. Returns the number of rows deleted.
  virtual Result<int64_t> PruneInventoryChanges(int64_t cutoff_ms, int64_t max_rows_per_host) = 0;
};

}  // namespace dozor::server
