// SqliteStore, list pages and search: organisations and hosts a keyset page at a time with
// their filters, and the host search over identities and current inventory. (The findings page
// lives with the findings in sqlite_store_findings.cpp.)
#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "store/sqlite/keyset_query.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"
#include "store/sqlite/statement_helpers.hpp"
#include "store/sqlite/store_rows.hpp"

namespace dozor::server {

using namespace sqlite_store_internal;  // NOLINT(google-build-using-namespace)

namespace {

constexpr int kMaxPageLimit = 1000;
constexpr int kMaxSearchLimit = 1000;
constexpr const char* kHostnameSql = "coalesce(nullif(h.hostname, ''), a.hostname)";

int PageLimit(const PageRequest& page) {
  return page.limit <= 0 || page.limit > kMaxPageLimit ? kMaxPageLimit : page.limit;
}

KeysetOrder OrgOrder(OrgSort sort, SortDirection direction) {
  switch (sort) {
    case OrgSort::kCreated:
      return {{{"o.created_at", false}}, "o.id", direction};
    case OrgSort::kName:
      break;
  }
  return {{{"o.name", true}}, "o.id", direction};
}

KeysetOrder HostOrder(HostSort sort, SortDirection direction) {
  switch (sort) {
    case HostSort::kHostname:
      return {{{kHostnameSql, true}}, "a.id", direction};
    case HostSort::kLastSeen:
      return {{{"a.last_seen", false}}, "a.id", direction};
    case HostSort::kOrg:
      break;
  }
  return {{{"o.name", true}, {kHostnameSql, true}}, "a.id", direction};
}

// Filters with fixed parameter numbers; the keyset condition and LIMIT follow them.
constexpr int kOrgFilterParams = 4;
constexpr const char* kOrgFilters =
    "WHERE (?1 IS NULL OR instr(dozor_fold(o.name), dozor_fold(?1)) > 0) "
    "AND (?2 IS NULL OR o.contract_status = ?2) AND (?3 IS NULL OR o.contract_type = ?3) "
    "AND (?4 IS NULL OR instr(?4, ',' || o.id || ',') > 0)";

constexpr int kHostFilterParams = 6;
constexpr HostStatus kHostStatuses[] = {HostStatus::kOnline, HostStatus::kOffline,
                                        HostStatus::kOverdue, HostStatus::kImported,
                                        HostStatus::kRevoked};

// HostStatusOf (domain/host_status.hpp) over the agents table: ?5 online since, ?6 overdue before.
const char* HostStatusSql(HostStatus status) {
  switch (status) {
    case HostStatus::kOnline:
      return "(a.revoked_at IS NULL AND a.source = 'agent' AND a.last_seen > 0 "
             "AND a.last_seen >= ?5)";
    case HostStatus::kOffline:
      return "(a.revoked_at IS NULL AND a.source = 'agent' "
             "AND NOT (a.last_seen > 0 AND a.last_seen >= ?5) AND a.last_seen > ?6)";
    case HostStatus::kOverdue:
      return "(a.revoked_at IS NULL AND a.source = 'agent' "
             "AND NOT (a.last_seen > 0 AND a.last_seen >= ?5) AND a.last_seen <= ?6)";
    case HostStatus::kImported:
      return "(a.revoked_at IS NULL AND a.source <> 'agent')";
    case HostStatus::kRevoked:
      break;
  }
  return "a.revoked_at IS NOT NULL";
}

// "(s1 OR s2 ...)" of the statuses asked for, always in kHostStatuses order: one SQL text (and
// one cached statement) per set, however the caller listed it.
std::string HostStatusesSql(const std::vector<HostStatus>& statuses) {
  std::string sql;
  for (const HostStatus status : kHostStatuses) {
    if (std::find(statuses.begin(), statuses.end(), status) != statuses.end()) {
      sql += (sql.empty() ? "(" : " OR ") + std::string(HostStatusSql(status));
    }
  }
  return sql.empty() ? sql : sql + ")";
}

std::string HostFilters(const HostQuery& query) {
  const std::string statuses = HostStatusesSql(query.statuses);
  return WhereOf(
      {{query.org_id.has_value(), "a.org_id = ?1"},
       {query.visible_org_ids.has_value(), "a.org_id IN (SELECT value FROM json_each(?2))"},
       {query.text.has_value(),
        "(instr(dozor_fold(coalesce(nullif(h.hostname, ''), a.hostname)), dozor_fold(?3)) > 0 "
        "OR instr(dozor_fold(a.agent_id), dozor_fold(?3)) > 0)"},
       {query.os_family.has_value(), "coalesce(h.family, '') = ?4"},
       {!statuses.empty(), statuses.c_str()}});
}

std::string PageSql(std::string_view select, std::string_view from, std::string_view filters,
                    int filter_params, const KeysetOrder& order, bool after) {
  std::string sql =
      std::string(select) + KeysetSelect(order) + std::string(from) + std::string(filters);
  int next_param = filter_params + 1;
  if (after) {
    sql += KeysetAfter(order, next_param);
    next_param += KeysetParamCount(order);
  }
  return sql + KeysetOrderBy(order, next_param);
}

// Binds the keyset position (if any) and LIMIT page+1 after the filters' parameters.
void BindPage(sqlite::Statement& s, const KeysetOrder& order, const PageRequest& page,
              int filter_params) {
  int next_param = filter_params + 1;
  if (page.after) {
    BindPosition(s, *page.after, next_param);
    next_param += KeysetParamCount(order);
  }
  s.Bind(next_param, static_cast<int64_t>(PageLimit(page)) + 1);
}

struct SearchRow {
  int64_t pk = 0;
  std::string agent_id;
  std::string hostname;
  HostMatch match;
};

// Every search statement selects (pk, agent id, hostname, field, value) of hosts within
// ?8 (organisation) and ?9 (visible organisations).
constexpr const char* kSearchSelect =
    "SELECT a.id, a.agent_id, coalesce(nullif(h.hostname, ''), a.hostname), ";
constexpr const char* kSearchScope =
    " AND (?8 IS NULL OR a.org_id = ?8) AND (?9 IS NULL OR instr(?9, ',' || a.org_id || ',') > 0)";

std::string SearchSql(std::string_view field_value, std::string_view from, std::string_view where) {
  return std::string(kSearchSelect) + std::string(field_value) + std::string(from) +
         " JOIN organizations o ON o.id = a.org_id LEFT JOIN host_os h ON h.agent = a.id WHERE " +
         std::string(where) + kSearchScope;
}

// ?1 text, ?2 lower-case MAC, ?3 package name, ?4 package version, ?5 whether the text can be
// an address; unused parameters stay NULL.
const std::vector<std::string>& SearchStatements() {
  static const std::vector<std::string> statements = {
      SearchSql("'hostname', coalesce(nullif(h.hostname, ''), a.hostname)", " FROM agents a",
                "?1 <> '' AND instr(dozor_fold(coalesce(nullif(h.hostname, ''), a.hostname)), "
                "dozor_fold(?1)) > 0"),
      SearchSql("'agent_id', a.agent_id", " FROM agents a",
                "?1 <> '' AND instr(dozor_fold(a.agent_id), dozor_fold(?1)) > 0"),
      SearchSql("'ip', ad.address", " FROM host_addresses ad JOIN agents a ON a.id = ad.agent",
                "?5 = 1 AND ad.loopback = 0 AND substr(ad.address, 1, length(?1)) = ?1"),
      SearchSql("'mac', i.mac", " FROM host_interfaces i JOIN agents a ON a.id = i.agent",
                "?2 IS NOT NULL AND i.mac <> '' AND lower(replace(i.mac, '-', ':')) = ?2"),
      SearchSql("'system_serial', hw.system_serial",
                " FROM host_hardware hw JOIN agents a ON a.id = hw.agent",
                "?1 <> '' AND hw.system_serial = ?1 COLLATE NOCASE"),
      SearchSql("'disk_serial', d.serial", " FROM host_disks d JOIN agents a ON a.id = d.agent",
                "?1 <> '' AND d.serial = ?1 COLLATE NOCASE"),
      SearchSql("'package', p.name || '=' || p.version",
                " FROM host_packages p JOIN agents a ON a.id = p.agent",
                "?3 IS NOT NULL AND p.name = ?3 AND (?4 IS NULL OR p.version = ?4)"),
  };
  return statements;
}

}  // namespace

Result<Page<Organization>> SqliteStore::QueryOrganizations(const OrgQuery& query) {
  const KeysetOrder order = OrgOrder(query.sort, query.direction);
  if (query.page.after) {
    DOZOR_RETURN_IF_ERROR(CheckPosition(order, *query.page.after));
  }
  const std::string sql = PageSql(kOrgSelect, kOrgFrom, kOrgFilters, kOrgFilterParams, order,
                                  query.page.after.has_value());
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(sqlite::Statement * s, reader->Cached(sql));
  std::optional<std::string> status, type;
  if (query.contract_status) status = std::string(ToString(*query.contract_status));
  if (query.contract_type) type = std::string(ToString(*query.contract_type));
  BindAll(*s, query.name_contains, status, type, OrgIdList(query.visible_org_ids));
  BindPage(*s, order, query.page, kOrgFilterParams);
  return ReadPage(*s, order, kOrgColumnCount, PageLimit(query.page), ReadOrganization);
}

Result<Page<HostSummary>> SqliteStore::QueryHosts(const HostQuery& query) {
  const KeysetOrder order = HostOrder(query.sort, query.direction);
  if (query.page.after) {
    DOZOR_RETURN_IF_ERROR(CheckPosition(order, *query.page.after));
  }
  const std::string sql = PageSql(kHostSelect, kHostFrom, HostFilters(query), kHostFilterParams,
                                  order, query.page.after.has_value());
  ReaderLease reader = AcquireReader();
  sqlite::ReadTransaction txn(reader->db);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(sqlite::Statement * s, reader->Cached(sql));
  BindAll(*s, query.org_id, IdJsonArray(query.visible_org_ids), query.text, query.os_family,
          query.status_bounds.online_since_ms, query.status_bounds.overdue_before_ms);
  BindPage(*s, order, query.page, kHostFilterParams);
  std::vector<int64_t> pks;
  DOZOR_ASSIGN_OR_RETURN(auto page, ReadPage(*s, order, kHostColumnCount, PageLimit(query.page),
                                             [&](const sqlite::Statement& row) {
                                               pks.push_back(row.Int(0));
                                               return ReadHost(row);
                                             }));
  for (size_t i = 0; i < page.rows.size(); ++i) {
    DOZOR_ASSIGN_OR_RETURN(page.rows[i].addresses,
                           ReadAll(BindAll(reader->rs.addresses_one, pks[i]),
                                   [](const auto& row) { return row.Text(0); }));
  }
  return page;
}

Result<HostSearchResult> SqliteStore::SearchHosts(const HostSearchQuery& query) {
  const int limit =
      query.limit <= 0 || query.limit > kMaxSearchLimit ? kMaxSearchLimit : query.limit;
  const bool address_like =
      !query.text.empty() && std::all_of(query.text.begin(), query.text.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
               c == '.' || c == ':';
      });
  const std::optional<std::string> package_name =
      query.package_name.empty() ? std::nullopt : std::optional<std::string>(query.package_name);
  const std::optional<std::string> org_ids = OrgIdList(query.visible_org_ids);
  ReaderLease reader = AcquireReader();
  sqlite::ReadTransaction txn(reader->db);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  // Matches per host, hosts kept in (hostname, agent id) order.
  std::map<std::pair<std::string, std::string>, std::vector<HostMatch>> by_host;
  for (const auto& sql : SearchStatements()) {
    DOZOR_ASSIGN_OR_RETURN(sqlite::Statement * s, reader->Cached(sql));
    BindAll(*s, query.text, query.mac, package_name, query.package_version,
            static_cast<int64_t>(address_like ? 1 : 0));
    s->BindNull(6).BindNull(7);
    s->Bind(8, query.org_id);
    s->Bind(9, org_ids);
    DOZOR_RETURN_IF_ERROR(ForEachRow(*s, [&](const sqlite::Statement& row) {
      auto& matches = by_host[{row.Text(2), row.Text(1)}];
      HostMatch match{row.Text(3), row.Text(4)};
      const bool seen = std::any_of(matches.begin(), matches.end(), [&](const HostMatch& m) {
        return m.field == match.field && m.value == match.value;
      });
      if (!seen) {
        matches.push_back(std::move(match));
      }
    }));
  }
  HostSearchResult result;
  for (auto& [key, matches] : by_host) {
    if (static_cast<int>(result.hits.size()) == limit) {
      result.truncated = true;
      break;
    }
    int64_t pk = 0;
    DOZOR_ASSIGN_OR_RETURN(HostSummary host, ReadHostOn(*reader, key.second, &pk));
    result.hits.push_back(HostSearchHit{std::move(host), std::move(matches)});
  }
  return result;
}

}  // namespace dozor::server
