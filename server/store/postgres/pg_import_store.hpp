// The PostgreSQL backend's imports area (store/import_store.hpp): one-shot snapshot files loaded
// into an organisation. An imported machine becomes an ordinary host (agents.source = 'import')
// whose reports go through the hosts area's writer in the import's own transaction.
#pragma once

#include "store/import_store.hpp"
#include "store/postgres/pg_context.hpp"
#include "store/postgres/pg_host_store.hpp"

namespace dozor::server {

class PgImportStore final : public ImportStore {
 public:
  PgImportStore(PgContext& context, PgHostStore& hosts) : context_(context), hosts_(hosts) {}

  Result<std::vector<EnrollmentTokenKey>> FindEnrollmentTokensByHint(
      int64_t org_id, std::string_view hint) override;
  Status SaveTokenImportKey(int64_t token_id, std::string_view wrapped_key,
                            int64_t now_ms) override;
  Result<std::vector<StoredImportKey>> ListImportKeys() override;
  Status ReplaceImportKeys(const std::vector<ImportKeyReplacement>& replacements) override;
  Result<ImportResult> ImportSnapshot(const SnapshotImport& import) override;
  Result<std::vector<ImportRecord>> ListImports(int64_t org_id, int limit) override;

 private:
  PgContext& context_;
  PgHostStore& hosts_;
};

}  // namespace dozor::server
