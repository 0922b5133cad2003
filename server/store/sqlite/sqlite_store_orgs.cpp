// SqliteStore, organisations area: organisations (contract moves and audit snapshots are in
// sqlite_store_findings.cpp, which owns the statements they share with findings).
#include "store/sqlite/sqlite_store.hpp"

#include <mutex>
#include <string>

#include "store/sqlite/sqlite_store_internal.hpp"
#include "store/sqlite/statement_helpers.hpp"
#include "store/sqlite/store_rows.hpp"

namespace dozor::server {

// The helpers and statements the backend's files share.
using namespace sqlite_store_internal;  // NOLINT(google-build-using-namespace)

// ------------------------------------------------------------------ organisations

Result<Organization> SqliteStore::CreateOrganization(const Organization& org) {
  if (org.name.empty() || org.name.size() > kMaxNameLength) {
    return MakeError(ErrorCode::kInvalidArgument, "organization name must be 1-200 characters");
  }
  int64_t id = 0;
  {
    std::lock_guard lock(write_mu_);
    sqlite::Transaction txn(writer_);
    DOZOR_RETURN_IF_ERROR(txn.Begin());
    const int64_t now_ms = org.created_at_ms != 0 ? org.created_at_ms : clock_->NowMs();
    DOZOR_RETURN_IF_ERROR(NameConflict(RunWith(ws_->org_insert, org.name, org.contract_status,
                                               org.contract_type, std::string(), now_ms),
                                       "organization '" + org.name + "'"));
    id = writer_.LastInsertRowId();
    if (org.declared_hosts) {
      DOZOR_RETURN_IF_ERROR(RunWith(ws_->org_declared_hosts, id, org.declared_hosts));
    }
    if (!org.engineer.empty()) {
      DOZOR_RETURN_IF_ERROR(LinkLegacyEngineerLocked(id, org.engineer, now_ms));
    }
    DOZOR_RETURN_IF_ERROR(txn.Commit());
  }
  return FindOrganization(std::to_string(id));
}

Result<std::vector<Organization>> SqliteStore::ListOrganizations() {
  ReaderLease reader = AcquireReader();
  return ReadAll(reader->rs.org_list, ReadOrganization);
}

Result<Organization> SqliteStore::FindOrganization(std::string_view key) {
  ReaderLease reader = AcquireReader();
  if (IsAllDigits(key)) {
    auto id = static_cast<int64_t>(std::stoll(std::string(key)));
    DOZOR_ASSIGN_OR_RETURN(auto by_id,
                           ReadOptional(BindAll(reader->rs.org_by_id, id), ReadOrganization));
    if (by_id) {
      return std::move(*by_id);
    }
  }
  return ReadOne(BindAll(reader->rs.org_by_name, key), ReadOrganization, [&] {
    return MakeError(ErrorCode::kNotFound, "no organization '" + std::string(key) + "'");
  });
}

Result<Organization> SqliteStore::UpdateOrganization(int64_t id, const OrganizationPatch& patch) {
  if (patch.engineer && patch.engineer->size() > kMaxNameLength) {
    return MakeError(ErrorCode::kInvalidArgument, "engineer must be at most 200 characters");
  }
  if (patch.declared_hosts && *patch.declared_hosts &&
      (**patch.declared_hosts < 0 || **patch.declared_hosts > kMaxDeclaredHosts)) {
    return MakeError(ErrorCode::kInvalidArgument, "declared_hosts must be 0-1000000");
  }
  {
    std::lock_guard lock(write_mu_);
    sqlite::Transaction txn(writer_);
    DOZOR_RETURN_IF_ERROR(txn.Begin());
    // Checks the contract move and records its event and snapshots (sqlite_store_findings.cpp).
    DOZOR_RETURN_IF_ERROR(ContractMoveLocked(id, patch, clock_->NowMs()));
    DOZOR_RETURN_IF_ERROR(RunWith(ws_->org_update, id, patch.contract_status, patch.contract_type,
                                  std::optional<std::string>()));
    if (writer_.Changes() == 0) {
      return MakeError(ErrorCode::kNotFound, "no organization with id " + std::to_string(id));
    }
    if (patch.declared_hosts) {
      DOZOR_RETURN_IF_ERROR(RunWith(ws_->org_declared_hosts, id, *patch.declared_hosts));
    }
    if (patch.engineer) {
      DOZOR_RETURN_IF_ERROR(LinkLegacyEngineerLocked(id, *patch.engineer, clock_->NowMs()));
    }
    DOZOR_RETURN_IF_ERROR(txn.Commit());
  }
  return FindOrganization(std::to_string(id));
}

}  // namespace dozor::server
