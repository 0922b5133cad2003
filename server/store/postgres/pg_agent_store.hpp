// The PostgreSQL backend's enrollment and agents area (store/agent_store.hpp).
#pragma once

#include "store/agent_store.hpp"
#include "store/postgres/pg_context.hpp"

namespace dozor::server {

class PgAgentStore final : public AgentStore {
 public:
  explicit PgAgentStore(PgContext& context) : context_(context) {}

  Result<EnrollmentToken> CreateEnrollmentToken(const NewEnrollmentToken& token) override;
  Result<std::vector<EnrollmentToken>> ListEnrollmentTokens(std::optional<int64_t> org_id) override;
  Result<EnrollmentToken> GetEnrollmentToken(int64_t token_id) override;
  Status RevokeEnrollmentToken(int64_t token_id, int64_t now_ms) override;
  Result<EnrolledAgent> EnrollAgent(std::string_view token_hash, const NewAgent& agent,
                                    int64_t now_ms) override;
  Result<AgentCredential> GetAgentCredential(std::string_view agent_id) override;
  Status RevokeAgent(std::string_view agent_id, int64_t now_ms) override;

 private:
  PgContext& context_;
};

}  // namespace dozor::server
