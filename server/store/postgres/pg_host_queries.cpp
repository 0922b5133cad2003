// PgHostStore, the queries over hosts: summaries, pages, search, inventory and the estate summary
// for the report. They read the normalised rows of migration 006 (host_os, host_addresses, ...)
// with the same meaning as on SQLite; text orders are byte orders (COLLATE "C"), as SQLite's.
#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>

#include "dozor/contract/codec.hpp"
#include "store/postgres/pg_host_store.hpp"
#include "store/postgres/pg_store_internal.hpp"

namespace dozor::server {

using namespace pg_store_internal;  // NOLINT(google-build-using-namespace)

namespace {

constexpr int kMaxHostSearchLimit = 1000;

constexpr const char* kHostnameSql = "coalesce(nullif(h.hostname, ''), a.hostname)";

// Column 0 is the agent pk; the rest map onto HostSummary (ReadHostRow).
const std::string kHostColumns = std::string("SELECT a.id, a.agent_id, a.org_id, o.name, ") +
                                 kHostnameSql +
                                 ", coalesce(h.pretty_name, ''), coalesce(h.family, ''), "
                                 "a.agent_version, a.enrolled_at, a.last_seen, "
                                 "a.last_inventory_at, a.revoked_at IS NOT NULL, "
                                 "a.dropped_health_total, a.source, coalesce(h.role, ''), "
                                 "coalesce(h.duties, '') FROM agents a JOIN organizations o ON "
                                 "o.id = a.org_id LEFT JOIN host_os h ON h.org_id = a.org_id AND "
                                 "h.agent = a.id ";

HostSummary ReadHostRow(const pg::Rows& rows, int row) {
  HostSummary host;
  host.agent_id = rows.Text(row, 1);
  host.org_id = rows.Int(row, 2);
  host.org_name = rows.Text(row, 3);
  host.hostname = rows.Text(row, 4);
  host.os_pretty_name = rows.Text(row, 5);
  host.os_family = rows.Text(row, 6);
  host.agent_version = rows.Text(row, 7);
  host.enrolled_at_ms = rows.Int(row, 8);
  host.last_seen_ms = rows.Int(row, 9);
  host.last_inventory_ms = rows.Int(row, 10);
  host.revoked = rows.Bool(row, 11);
  host.dropped_health_samples = static_cast<uint64_t>(rows.Int(row, 12));
  host.source = rows.Text(row, 13);
  host.role = ParseHostRole(rows.Text(row, 14));
  host.duties = ParseHostDuties(rows.Text(row, 15));
  return host;
}

// "{1,2,3}" for "= ANY($n::bigint[])"; nullopt for nullopt (bound as NULL: every organisation).
std::optional<std::string> IdArray(const std::optional<std::vector<int64_t>>& ids) {
  if (!ids) {
    return std::nullopt;
  }
  pg::ArrayLiteral array;
  for (int64_t id : *ids) {
    array.Add(id);
  }
  return array.str();
}

// Non-loopback addresses of the given hosts ((org id, pk) pairs), in inventory order, by pk.
Result<std::unordered_map<int64_t, std::vector<std::string>>> AddressesOf(
    pg::Connection& db, const std::vector<std::pair<int64_t, int64_t>>& keys) {
  std::unordered_map<int64_t, std::vector<std::string>> out;
  if (keys.empty()) {
    return out;
  }
  pg::ArrayLiteral orgs;
  pg::ArrayLiteral pks;
  for (const auto& [org_id, pk] : keys) {
    orgs.Add(org_id);
    pks.Add(pk);
  }
  // Joined on (org_id, agent): the primary key's leading columns.
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db.Query("SELECT ad.agent, ad.address FROM unnest($1::bigint[], $2::bigint[]) AS k(org_id, "
               "agent) JOIN host_addresses ad ON ad.org_id = k.org_id AND ad.agent = k.agent "
               "WHERE ad.loopback = 0 ORDER BY ad.agent, ad.ordinal",
               pg::Params(orgs, pks)));
  for (int row = 0; row < rows.size(); ++row) {
    out[rows.Int(row, 0)].push_back(rows.Text(row, 1));
  }
  return out;
}

Result<std::vector<HostSummary>> ReadHosts(pg::Connection& db, const std::string& sql,
                                           const pg::Params& params, size_t limit = SIZE_MAX,
                                           std::vector<int64_t>* pks_out = nullptr) {
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db.Query(sql, params));
  std::vector<HostSummary> hosts;
  std::vector<int64_t> pks;
  std::vector<std::pair<int64_t, int64_t>> keys;
  for (int row = 0; row < rows.size() && hosts.size() < limit; ++row) {
    pks.push_back(rows.Int(row, 0));
    hosts.push_back(ReadHostRow(rows, row));
    keys.emplace_back(hosts.back().org_id, pks.back());
  }
  DOZOR_ASSIGN_OR_RETURN(auto addresses, AddressesOf(db, keys));
  for (size_t i = 0; i < hosts.size(); ++i) {
    auto found = addresses.find(pks[i]);
    if (found != addresses.end()) {
      hosts[i].addresses = std::move(found->second);
    }
  }
  if (pks_out != nullptr) {
    *pks_out = std::move(pks);
  }
  return hosts;
}

// HostStatusOf (domain/host_status.hpp) over the agents table, given the placeholders of the
// "online since" and "overdue before" bounds.
std::string HostStatusSql(HostStatus status, const std::string& online_since,
                          const std::string& overdue_before) {
  const std::string online = "(a.last_seen > 0 AND a.last_seen >= " + online_since + ")";
  switch (status) {
    case HostStatus::kOnline:
      return "(a.revoked_at IS NULL AND a.source = 'agent' AND " + online + ")";
    case HostStatus::kOffline:
      return "(a.revoked_at IS NULL AND a.source = 'agent' AND NOT " + online +
             " AND a.last_seen > " + overdue_before + ")";
    case HostStatus::kOverdue:
      return "(a.revoked_at IS NULL AND a.source = 'agent' AND NOT " + online +
             " AND a.last_seen <= " + overdue_before + ")";
    case HostStatus::kImported:
      return "(a.revoked_at IS NULL AND a.source <> 'agent')";
    case HostStatus::kRevoked:
      break;
  }
  return "a.revoked_at IS NOT NULL";
}

}  // namespace

Result<std::vector<HostSummary>> PgHostStore::ListHosts(std::optional<int64_t> org_id) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  return ReadHosts(*db,
                   kHostColumns +
                       "WHERE ($1::bigint IS NULL OR a.org_id = $1) ORDER BY o.name "
                       "COLLATE \"C\", " +
                       kHostnameSql + " COLLATE \"C\", a.agent_id COLLATE \"C\"",
                   pg::Params(org_id));
}

Result<HostSummary> PgHostStore::GetHost(std::string_view agent_id) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(
      auto hosts, ReadHosts(*db, kHostColumns + "WHERE a.agent_id = $1", pg::Params(agent_id)));
  if (hosts.empty()) {
    return MakeError(ErrorCode::kNotFound, "unknown agent '" + std::string(agent_id) + "'");
  }
  return std::move(hosts.front());
}

Result<HostInventory> PgHostStore::GetInventory(std::string_view agent_id) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  // One snapshot for the host, its inventory and its collectors.
  DOZOR_RETURN_IF_ERROR(db->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  auto read = [&]() -> Result<HostInventory> {
    HostInventory result;
    std::vector<int64_t> pks;
    DOZOR_ASSIGN_OR_RETURN(auto hosts, ReadHosts(*db, kHostColumns + "WHERE a.agent_id = $1",
                                                 pg::Params(agent_id), SIZE_MAX, &pks));
    if (hosts.empty()) {
      return MakeError(ErrorCode::kNotFound, "unknown agent '" + std::string(agent_id) + "'");
    }
    result.host = std::move(hosts.front());
    const int64_t org_id = result.host.org_id;
    DOZOR_ASSIGN_OR_RETURN(pg::Rows blob, db->Query("SELECT inventory FROM host_inventory_blob "
                                                    "WHERE org_id = $1 AND agent = $2",
                                                    pg::Params(org_id, pks.front())));
    if (!blob.empty()) {
      auto decoded = DecodeCompressed(blob.Bytes(0, 0), &result.inventory);
      if (!decoded.ok()) {
        return decoded.error().Wrap("inventory of " + std::string(agent_id));
      }
    }
    DOZOR_ASSIGN_OR_RETURN(pg::Rows collectors,
                           db->Query("SELECT name, ok, error, duration_ms FROM "
                                     "host_collectors WHERE org_id = $1 AND agent = $2 ORDER BY "
                                     "name COLLATE \"C\"",
                                     pg::Params(org_id, pks.front())));
    for (int row = 0; row < collectors.size(); ++row) {
      dozor::v1::CollectorStatus status;
      status.set_name(collectors.Text(row, 0));
      status.set_ok(collectors.Bool(row, 1));
      status.set_error(collectors.Text(row, 2));
      status.set_duration_ms(static_cast<uint32_t>(collectors.Int(row, 3)));
      result.collectors.push_back(std::move(status));
    }
    return result;
  };
  auto result = read();
  (void)db->Exec(result.ok() ? "COMMIT" : "ROLLBACK");
  return result;
}

Result<Page<HostSummary>> PgHostStore::QueryHosts(const HostQuery& query) {
  // The sort key: (org name, hostname) / hostname / last_seen, then the agent pk.
  std::vector<std::pair<std::string, bool>> keys;  // (SQL, is text)
  switch (query.sort) {
    case HostSort::kHostname:
      keys = {{std::string(kHostnameSql) + " COLLATE \"C\"", true}};
      break;
    case HostSort::kLastSeen:
      keys = {{"a.last_seen", false}};
      break;
    case HostSort::kOrg:
      keys = {{"o.name COLLATE \"C\"", true}, {std::string(kHostnameSql) + " COLLATE \"C\"", true}};
      break;
  }
  if (query.page.after) {
    const auto& key = query.page.after->key;
    bool shape_ok = key.size() == keys.size();
    for (size_t i = 0; shape_ok && i < key.size(); ++i) {
      shape_ok = keys[i].second ? std::holds_alternative<std::string>(key[i])
                                : std::holds_alternative<int64_t>(key[i]);
    }
    if (!shape_ok) {
      return MakeError(ErrorCode::kInvalidArgument, "page position does not match the sort");
    }
  }
  const int limit =
      query.page.limit <= 0 || query.page.limit > kMaxPageLimit ? kMaxPageLimit : query.page.limit;
  std::string sql = kHostColumns;
  // The key columns after the summary's, so the next position can be read back.
  sql.insert(sql.find(" FROM agents a"), [&] {
    std::string extra;
    for (const auto& [column, text] : keys) {
      extra += ", " + column;
    }
    return extra;
  }());
  pg::Params params;
  sql += "WHERE true ";
  if (query.org_id) {
    sql += "AND a.org_id = " + params.Placeholder(*query.org_id) + " ";
  }
  if (query.visible_org_ids) {
    sql += "AND a.org_id = ANY(" + params.Placeholder(*IdArray(query.visible_org_ids)) +
           "::bigint[]) ";
  }
  if (query.text) {
    const std::string text = params.Placeholder(*query.text) + "::text COLLATE \"und-x-icu\"";
    sql += "AND (strpos(lower(" + std::string(kHostnameSql) + " COLLATE \"und-x-icu\"), lower(" +
           text + ")) > 0 OR strpos(lower(a.agent_id COLLATE \"und-x-icu\"), lower(" + text +
           ")) > 0) ";
  }
  if (query.os_family) {
    sql += "AND coalesce(h.family, '') = " + params.Placeholder(*query.os_family) + " ";
  }
  constexpr HostStatus kStatuses[] = {HostStatus::kOnline, HostStatus::kOffline,
                                      HostStatus::kOverdue, HostStatus::kImported,
                                      HostStatus::kRevoked};
  std::string statuses;
  // The bounds' placeholders are made on first use: a parameter the text does not name would
  // leave PostgreSQL unable to type it.
  std::string online_since;
  std::string overdue_before;
  auto online = [&] {
    if (online_since.empty()) {
      online_since = params.Placeholder(query.status_bounds.online_since_ms) + "::bigint";
    }
    return online_since;
  };
  auto overdue = [&] {
    if (overdue_before.empty()) {
      overdue_before = params.Placeholder(query.status_bounds.overdue_before_ms) + "::bigint";
    }
    return overdue_before;
  };
  for (HostStatus status : kStatuses) {
    if (std::find(query.statuses.begin(), query.statuses.end(), status) == query.statuses.end()) {
      continue;
    }
    std::string condition;
    switch (status) {
      case HostStatus::kOnline:
        condition = HostStatusSql(status, online(), "");
        break;
      case HostStatus::kOffline:
      case HostStatus::kOverdue: {
        const std::string since = online();
        condition = HostStatusSql(status, since, overdue());
        break;
      }
      case HostStatus::kImported:
      case HostStatus::kRevoked:
        condition = HostStatusSql(status, "", "");
        break;
    }
    statuses += (statuses.empty() ? "(" : " OR ") + condition;
  }
  if (!statuses.empty()) {
    sql += "AND " + statuses + ") ";
  }
  const bool descending = query.direction == SortDirection::kDescending;
  if (query.page.after) {
    std::string left = "(";
    std::string right = "(";
    for (size_t k = 0; k < keys.size(); ++k) {
      left += keys[k].first + ", ";
      const SortKeyValue& value = query.page.after->key[k];
      right += keys[k].second
                   ? params.Placeholder(std::get<std::string>(value)) + "::text COLLATE \"C\", "
                   : params.Placeholder(std::get<int64_t>(value)) + "::bigint, ";
    }
    left += "a.id)";
    right += params.Placeholder(query.page.after->id) + "::bigint)";
    sql += "AND " + left + (descending ? " < " : " > ") + right + " ";
  }
  const char* dir = descending ? " DESC" : " ASC";
  sql += "ORDER BY ";
  for (const auto& [column, text] : keys) {
    sql += column + dir + ", ";
  }
  sql += std::string("a.id") + dir + " LIMIT " + std::to_string(limit + 1);
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db->Query(sql, params));
  Page<HostSummary> page;
  std::vector<int64_t> pks;
  std::vector<std::pair<int64_t, int64_t>> keys_of_rows;
  constexpr int kFirstKeyColumn = 16;
  for (int row = 0; row < rows.size() && row < limit; ++row) {
    pks.push_back(rows.Int(row, 0));
    page.rows.push_back(ReadHostRow(rows, row));
    keys_of_rows.emplace_back(page.rows.back().org_id, pks.back());
    if (row == limit - 1 && rows.size() > limit) {
      PagePosition next_position;
      for (size_t k = 0; k < keys.size(); ++k) {
        const int column = kFirstKeyColumn + static_cast<int>(k);
        next_position.key.push_back(keys[k].second ? SortKeyValue(rows.Text(row, column))
                                                   : SortKeyValue(rows.Int(row, column)));
      }
      next_position.id = rows.Int(row, 0);
      page.next = std::move(next_position);
    }
  }
  DOZOR_ASSIGN_OR_RETURN(auto addresses, AddressesOf(*db, keys_of_rows));
  for (size_t i = 0; i < page.rows.size(); ++i) {
    auto found = addresses.find(pks[i]);
    if (found != addresses.end()) {
      page.rows[i].addresses = std::move(found->second);
    }
  }
  return page;
}

Result<HostSearchResult> PgHostStore::SearchHosts(const HostSearchQuery& query) {
  const int limit =
      query.limit <= 0 || query.limit > kMaxHostSearchLimit ? kMaxHostSearchLimit : query.limit;
  const bool address_like =
      !query.text.empty() && std::all_of(query.text.begin(), query.text.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
               c == '.' || c == ':';
      });
  // Each search selects (agent id, hostname, field, value) of hosts within the organisation and
  // the visible organisations asked for; `where` gets the statement's parameters to fill.
  using Where = std::function<std::string(pg::Params&)>;
  const std::string fold = " COLLATE \"und-x-icu\"";
  const std::string hostname = kHostnameSql;
  struct Search {
    std::string field_value;
    std::string from;
    bool applies;
    Where where;
  };
  const std::vector<Search> searches = {
      {"'hostname', " + hostname, "agents a", !query.text.empty(),
       [&](pg::Params& p) {
         return "strpos(lower(" + hostname + fold + "), lower(" + p.Placeholder(query.text) +
                "::text" + fold + ")) > 0";
       }},
      {"'agent_id', a.agent_id", "agents a", !query.text.empty(),
       [&](pg::Params& p) {
         return "strpos(lower(a.agent_id" + fold + "), lower(" + p.Placeholder(query.text) +
                "::text" + fold + ")) > 0";
       }},
      {"'ip', ad.address",
       "host_addresses ad JOIN agents a ON a.org_id = ad.org_id AND a.id = ad.agent", address_like,
       [&](pg::Params& p) {
         const std::string text = p.Placeholder(query.text) + "::text";
         return "ad.loopback = 0 AND left(ad.address, length(" + text + ")) = " + text;
       }},
      {"'mac', i.mac", "host_interfaces i JOIN agents a ON a.org_id = i.org_id AND a.id = i.agent",
       query.mac.has_value(),
       [&](pg::Params& p) {
         return "i.mac <> '' AND lower(replace(i.mac, '-', ':')) = " + p.Placeholder(*query.mac);
       }},
      {"'system_serial', hw.system_serial",
       "host_hardware hw JOIN agents a ON a.org_id = hw.org_id AND a.id = hw.agent",
       !query.text.empty(),
       [&](pg::Params& p) {
         return "lower(hw.system_serial) = lower(" + p.Placeholder(query.text) + "::text)";
       }},
      {"'disk_serial', d.serial",
       "host_disks d JOIN agents a ON a.org_id = d.org_id AND a.id = d.agent", !query.text.empty(),
       [&](pg::Params& p) {
         return "lower(d.serial) = lower(" + p.Placeholder(query.text) + "::text)";
       }},
      {"'package', p.name || '=' || p.version",
       "host_packages p JOIN agents a ON a.org_id = p.org_id AND a.id = p.agent",
       !query.package_name.empty(),
       [&](pg::Params& p) {
         std::string where = "p.name = " + p.Placeholder(query.package_name);
         if (query.package_version) {
           where += " AND p.version = " + p.Placeholder(*query.package_version);
         }
         return where;
       }},
  };
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  // Matches per host, hosts kept in (hostname, agent id) byte order.
  std::map<std::pair<std::string, std::string>, std::vector<HostMatch>> by_host;
  for (const Search& search : searches) {
    if (!search.applies) {
      continue;
    }
    pg::Params params;
    std::string sql = "SELECT a.agent_id, " + hostname + ", " + search.field_value + " FROM " +
                      search.from +
                      " LEFT JOIN host_os h ON h.org_id = a.org_id AND h.agent = a.id WHERE " +
                      search.where(params);
    if (query.org_id) {
      sql += " AND a.org_id = " + params.Placeholder(*query.org_id);
    }
    if (query.visible_org_ids) {
      sql += " AND a.org_id = ANY(" + params.Placeholder(*IdArray(query.visible_org_ids)) +
             "::bigint[])";
    }
    DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db->Query(sql, params));
    for (int row = 0; row < rows.size(); ++row) {
      auto& matches = by_host[{rows.Text(row, 1), rows.Text(row, 0)}];
      HostMatch match{rows.Text(row, 2), rows.Text(row, 3)};
      const bool seen = std::any_of(matches.begin(), matches.end(), [&](const HostMatch& m) {
        return m.field == match.field && m.value == match.value;
      });
      if (!seen) {
        matches.push_back(std::move(match));
      }
    }
  }
  HostSearchResult result;
  for (auto& [key, matches] : by_host) {
    if (static_cast<int>(result.hits.size()) == limit) {
      result.truncated = true;
      break;
    }
    DOZOR_ASSIGN_OR_RETURN(
        auto hosts, ReadHosts(*db, kHostColumns + "WHERE a.agent_id = $1", pg::Params(key.second)));
    if (hosts.empty()) {
      continue;  // revoked and removed meanwhile
    }
    result.hits.push_back(HostSearchHit{std::move(hosts.front()), std::move(matches)});
  }
  return result;
}

Result<EstateSummary> PgHostStore::GetEstateSummary(int64_t org_id,
                                                    const std::vector<std::string>& package_names) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_RETURN_IF_ERROR(db->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  auto read = [&]() -> Result<EstateSummary> {
    EstateSummary summary;
    std::unordered_map<int64_t, size_t> index_of;
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows hosts,
        db->Query(
            "SELECT a.id, a.agent_id, coalesce(nullif(os.hostname, ''), a.hostname), "
            "coalesce(os.pretty_name, ''), coalesce(os.family, ''), coalesce(os.os_id, ''), "
            "coalesce(os.version_id, ''), coalesce(os.role, 'server'), "
            "coalesce(hw.cpu_model, ''), coalesce(hw.cpu_cores, 0), "
            "coalesce(hw.memory_total_bytes, 0), coalesce(hw.system_vendor, ''), "
            "coalesce(hw.system_model, ''), coalesce(hw.bios_date, ''), "
            "coalesce(hw.virtual_machine, 0), "
            "(SELECT coalesce(sum(d.size_bytes), 0) FROM host_disks d WHERE d.org_id = a.org_id "
            "AND d.agent = a.id AND d.removable = 0), a.last_seen, a.last_inventory_at, "
            "a.agent_version, (SELECT count(*) FROM host_packages p WHERE p.org_id = a.org_id "
            "AND p.agent = a.id), coalesce(os.duties, ''), coalesce(hw.smartctl_available, 0), "
            "(SELECT count(*) FROM host_disks d WHERE d.org_id = a.org_id AND d.agent = a.id AND "
            "d.removable = 0) FROM agents a LEFT JOIN host_os os ON os.org_id = a.org_id AND "
            "os.agent = a.id LEFT JOIN host_hardware hw ON hw.org_id = a.org_id AND hw.agent = "
            "a.id WHERE a.org_id = $1 AND a.revoked_at IS NULL ORDER BY coalesce(nullif("
            "os.hostname, ''), a.hostname) COLLATE \"C\", a.agent_id COLLATE \"C\"",
            pg::Params(org_id)));
    std::vector<std::pair<int64_t, int64_t>> keys;
    for (int row = 0; row < hosts.size(); ++row) {
      EstateHost h;
      h.agent_id = hosts.Text(row, 1);
      h.hostname = hosts.Text(row, 2);
      h.os_pretty_name = hosts.Text(row, 3);
      h.os_family = hosts.Text(row, 4);
      h.os_id = hosts.Text(row, 5);
      h.os_version_id = hosts.Text(row, 6);
      h.role = ParseHostRole(hosts.Text(row, 7));
      h.cpu_model = hosts.Text(row, 8);
      h.cpu_cores = hosts.Int(row, 9);
      h.memory_bytes = hosts.Int(row, 10);
      h.system_vendor = hosts.Text(row, 11);
      h.system_model = hosts.Text(row, 12);
      h.bios_date = hosts.Text(row, 13);
      h.virtual_machine = hosts.Int(row, 14) != 0;
      h.disk_bytes = hosts.Int(row, 15);
      h.last_seen_ms = hosts.Int(row, 16);
      h.last_inventory_ms = hosts.Int(row, 17);
      h.agent_version = hosts.Text(row, 18);
      h.package_count = hosts.Int(row, 19);
      h.duties = ParseHostDuties(hosts.Text(row, 20));
      h.smartctl_available = hosts.Int(row, 21) != 0;
      h.disk_count = hosts.Int(row, 22);
      index_of[hosts.Int(row, 0)] = summary.hosts.size();
      keys.emplace_back(org_id, hosts.Int(row, 0));
      summary.hosts.push_back(std::move(h));
    }
    DOZOR_ASSIGN_OR_RETURN(auto addresses, AddressesOf(*db, keys));
    for (auto& [pk, list] : addresses) {
      summary.hosts[index_of.at(pk)].addresses = std::move(list);
    }
    // Bounded: a host with a runaway list of failing parts must not bloat the report.
    constexpr size_t kMaxGapsPerHost = 20;
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows gaps,
        db->Query("SELECT g.agent, g.part, g.note FROM (SELECT u.agent, u.part, u.note FROM "
                  "host_unavailable u JOIN agents a ON a.org_id = u.org_id AND a.id = u.agent "
                  "WHERE a.org_id = $1 AND a.revoked_at IS NULL UNION ALL SELECT c.agent, "
                  "'collector:' || c.name, c.error FROM host_collectors c JOIN agents a ON "
                  "a.org_id = c.org_id AND a.id = c.agent WHERE c.ok = 0 AND a.org_id = $1 AND "
                  "a.revoked_at IS NULL) AS g(agent, part, note) ORDER BY g.agent, g.part "
                  "COLLATE \"C\"",
                  pg::Params(org_id)));
    for (int row = 0; row < gaps.size(); ++row) {
      auto it = index_of.find(gaps.Int(row, 0));
      if (it != index_of.end() && summary.hosts[it->second].gaps.size() < kMaxGapsPerHost) {
        summary.hosts[it->second].gaps.emplace_back(gaps.Text(row, 1), gaps.Text(row, 2));
      }
    }
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows apps,
        db->Query("SELECT ha.name, ha.version, ha.kind, count(DISTINCT ha.agent) FROM "
                  "host_applications ha JOIN agents a ON a.org_id = ha.org_id AND a.id = "
                  "ha.agent WHERE a.org_id = $1 AND a.revoked_at IS NULL GROUP BY ha.name, "
                  "ha.version, ha.kind ORDER BY ha.name COLLATE \"C\", ha.version COLLATE \"C\", "
                  "ha.kind COLLATE \"C\"",
                  pg::Params(org_id)));
    for (int row = 0; row < apps.size(); ++row) {
      summary.applications.push_back(ApplicationCount{apps.Text(row, 0), apps.Text(row, 1),
                                                      apps.Text(row, 2), apps.Int(row, 3)});
    }
    for (const std::string& name : package_names) {
      DOZOR_ASSIGN_OR_RETURN(
          pg::Rows count,
          db->Query("SELECT count(DISTINCT p.agent) FROM host_packages p JOIN agents a ON "
                    "a.org_id = p.org_id AND a.id = p.agent WHERE p.name = $1 AND a.org_id = $2 "
                    "AND a.revoked_at IS NULL",
                    pg::Params(name, org_id)));
      summary.package_hosts.emplace_back(name, count.Int(0, 0));
    }
    return summary;
  };
  auto result = read();
  (void)db->Exec(result.ok() ? "COMMIT" : "ROLLBACK");
  return result;
}

}  // namespace dozor::server
