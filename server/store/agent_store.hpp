// Enrollment and agents: enrollment tokens, enrolling an agent with one, agent credentials and
// revocation.
//
// Thread-safety: every method may be called from any thread (see store/store.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dozor/common/result.hpp"

namespace dozor::server {

struct EnrollmentToken {
  int64_t id = 0;
  int64_t org_id = 0;
  std::string org_name;
  std::string label;
  std::string hint;  // first characters of the token, for recognising it in listings
  int64_t created_at_ms = 0;
  std::optional<int64_t> expires_at_ms;
  std::optional<int64_t> revoked_at_ms;
  int64_t uses = 0;
  std::optional<int64_t> max_uses;  // unset: unlimited (tokens issued before limits existed)
  // Whether the server holds the token's import key, so that files a prospect collects with it
  // (dozor-agent collect --token) can be imported: not for tokens issued before signed imports.
  bool signs_imports = false;
};

struct NewEnrollmentToken {
  int64_t org_id = 0;
  std::string token_hash;  // Sha256Hex of the plaintext token; the plaintext is never stored
  std::string hint;
  std::string label;
  std::optional<int64_t> expires_at_ms;
  std::optional<int64_t> max_uses;  // unset: unlimited; otherwise > 0
};

struct NewAgent {
  std::string agent_id;     // public identifier, random
  std::string secret_hash;  // Sha256Hex of the agent secret
  std::string hostname;
  std::string machine_id;
  std::string agent_version;
  std::string os;
};

struct EnrolledAgent {
  std::string agent_id;
  int64_t org_id = 0;
  std::string org_name;
};

struct AgentCredential {
  std::string agent_id;
  int64_t org_id = 0;
  std::string secret_hash;
  bool revoked = false;
  uint64_t last_committed_seq = 0;
};

class AgentStore {
 public:
  virtual ~AgentStore() = default;

  // Enrollment tokens.
  virtual Result<EnrollmentToken> CreateEnrollmentToken(const NewEnrollmentToken& token) = 0;
  virtual Result<std::vector<EnrollmentToken>> ListEnrollmentTokens(
      std::optional<int64_t> org_id) = 0;
  // One token by id, revoked or not; kNotFound if none.
  virtual Result<EnrollmentToken> GetEnrollmentToken(int64_t token_id) = 0;
  virtual Status RevokeEnrollmentToken(int64_t token_id, int64_t now_ms) = 0;
  // Atomically checks the token (exists, not revoked, not expired at now_ms, used fewer than
  // max_uses times), counts its use and creates the agent. kPermissionDenied (with a reason) for
  // a bad token.
  virtual Result<EnrolledAgent> EnrollAgent(std::string_view token_hash, const NewAgent& agent,
                                            int64_t now_ms) = 0;
  virtual Result<AgentCredential> GetAgentCredential(std::string_view agent_id) = 0;
  virtual Status RevokeAgent(std::string_view agent_id, int64_t now_ms) = 0;
};

}  // namespace dozor::server
