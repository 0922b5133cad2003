// The PostgreSQL backend's people area (store/user_store.hpp): accounts, engineers assigned to
// organisations (with the organisations' engineer-name cache), client notes and login sessions.
#pragma once

#include "store/postgres/pg_context.hpp"
#include "store/user_store.hpp"

namespace dozor::server {

class PgUserStore final : public UserStore {
 public:
  explicit PgUserStore(PgContext& context) : context_(context) {}

  Result<User> CreateUser(const NewUser& user, int64_t now_ms) override;
  Result<User> GetUser(int64_t id) override;
  Result<User> FindUserByLogin(std::string_view login) override;
  Result<std::vector<User>> ListUsers() override;
  Result<User> UpdateUser(int64_t id, const UserPatch& patch, int64_t now_ms) override;
  Result<std::pair<User, std::string>> PasswordOf(std::string_view login) override;
  Result<int64_t> SetPasswordHash(int64_t user_id, std::string_view password_hash, int64_t now_ms,
                                  std::optional<int64_t> keep_session_id,
                                  bool revoke_api_tokens) override;

  Result<Assignment> AssignEngineer(int64_t org_id, int64_t user_id, AssignmentKind kind,
                                    std::string_view specialty, int64_t now_ms) override;
  Status UnassignEngineer(int64_t org_id, int64_t user_id) override;
  Result<std::vector<Assignment>> ListAssignments(std::optional<int64_t> org_id) override;
  Result<std::vector<int64_t>> AssignedOrgIds(int64_t user_id) override;

  Result<NoteVersion> SaveOrgNote(int64_t org_id, std::string_view body,
                                  std::optional<int64_t> author_user_id, std::string_view author,
                                  int64_t now_ms) override;
  Result<std::vector<NoteVersion>> ListOrgNotes(int64_t org_id, int limit) override;

  Result<Session> CreateSession(const NewSession& session) override;
  Result<std::pair<Session, User>> AuthenticateSession(std::string_view session_hash,
                                                       int64_t now_ms, int64_t idle_ms) override;
  Status DeleteSession(int64_t session_id) override;
  Result<std::vector<Session>> ListUserSessions(int64_t user_id, int64_t now_ms,
                                                int64_t idle_ms) override;
  Status EndUserSession(int64_t user_id, int64_t session_id) override;
  Result<int64_t> PruneSessions(int64_t now_ms, int64_t idle_ms) override;

 private:
  PgContext& context_;
};

}  // namespace dozor::server
