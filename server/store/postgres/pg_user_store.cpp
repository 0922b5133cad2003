#include "store/postgres/pg_user_store.hpp"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "domain/user_profile.hpp"
#include "store/postgres/pg_store_internal.hpp"

namespace dozor::server {

using namespace pg_store_internal;  // NOLINT(google-build-using-namespace)

// How the organisations' engineer-name cache (organizations.engineer) stays right when replicas
// write at once: a transaction that changes what the cache shows locks the user row first (the
// renamed one, or FOR SHARE the one being assigned), then the organisation rows (FOR NO KEY
// UPDATE, in id order), and only then recomputes the names. READ COMMITTED gives each statement
// a fresh snapshot, so the recomputation, running after those locks, sees every committed rename
// and assignment of the organisation; a competing one waits for this transaction and recomputes
// after it. The fixed order (user, then organisations by id) keeps these from deadlocking.

namespace {

constexpr const char* kPgUserSelectList =
    "SELECT id, login, display_name, email, telegram_chat_id, language, time_zone, role, org_id, "
    "enabled, password_hash IS NOT NULL, password_changed_at, created_at, updated_at, "
    "quiet_hours, monthly_report";
const std::string kPgUserColumns = std::string(kPgUserSelectList) + " FROM users ";
constexpr int kPgUserColumnCount = 16;

User ReadPgUser(const pg::Rows& rows, int row, int first = 0) {
  User user;
  user.id = rows.Int(row, first + 0);
  user.login = rows.Text(row, first + 1);
  user.display_name = rows.Text(row, first + 2);
  user.email = rows.Text(row, first + 3);
  user.telegram_chat_id = rows.Text(row, first + 4);
  user.language = rows.Text(row, first + 5);
  user.time_zone = rows.Text(row, first + 6);
  // The table's CHECK keeps other words out; an unknown one reads as the least privileged role.
  user.role = ParseUserRole(rows.Text(row, first + 7)).value_or(UserRole::kClient);
  user.org_id = rows.OptionalInt(row, first + 8);
  user.enabled = rows.Bool(row, first + 9);
  user.has_password = rows.Bool(row, first + 10);
  user.password_changed_at_ms = rows.OptionalInt(row, first + 11);
  user.created_at_ms = rows.Int(row, first + 12);
  user.updated_at_ms = rows.Int(row, first + 13);
  user.quiet_hours = rows.Text(row, first + 14);
  user.monthly_report = rows.Bool(row, first + 15);
  return user;
}

constexpr const char* kPgAssignmentColumns =
    "SELECT a.org_id, a.user_id, a.kind, a.specialty, a.created_at, u.login, u.display_name, "
    "u.email, u.enabled FROM org_assignments a JOIN users u ON u.id = a.user_id ";

Assignment ReadPgAssignment(const pg::Rows& rows, int row) {
  Assignment a;
  a.org_id = rows.Int(row, 0);
  a.user_id = rows.Int(row, 1);
  a.kind = ParseAssignmentKind(rows.Text(row, 2)).value_or(AssignmentKind::kBackup);
  a.specialty = rows.Text(row, 3);
  a.created_at_ms = rows.Int(row, 4);
  a.login = rows.Text(row, 5);
  a.display_name = rows.Text(row, 6);
  a.email = rows.Text(row, 7);
  a.enabled = rows.Bool(row, 8);
  return a;
}

constexpr const char* kPgSessionColumns =
    "SELECT s.id, s.user_id, s.kind, s.csrf_token, s.source, s.created_at, s.last_seen_at, "
    "s.expires_at ";
constexpr int kPgSessionColumnCount = 8;

Session ReadPgSession(const pg::Rows& rows, int row) {
  Session session;
  session.id = rows.Int(row, 0);
  session.user_id = rows.Int(row, 1);
  session.kind = rows.Text(row, 2) == "cli" ? SessionKind::kCli : SessionKind::kBrowser;
  session.csrf_token = rows.Text(row, 3);
  session.source = rows.Text(row, 4);
  session.created_at_ms = rows.Int(row, 5);
  session.last_seen_at_ms = rows.Int(row, 6);
  session.expires_at_ms = rows.Int(row, 7);
  return session;
}

// Sessions are marked seen at most this often: a dashboard polling every few seconds must not
// turn every read into a write.
constexpr int64_t kPgSessionSeenResolutionMs = 60'000;
constexpr int kPgMaxNoteListLimit = 1000;

Result<User> PgGetUserOn(pg::Connection& db, int64_t id) {
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db.Query(kPgUserColumns + "WHERE id = $1", pg::Params(id)));
  if (rows.empty()) {
    return MakeError(ErrorCode::kNotFound, "no user with id " + std::to_string(id));
  }
  return ReadPgUser(rows, 0);
}

// Locks (in id order) every organisation `user_id` is assigned to, then recomputes their
// engineer names: after a rename, see the locking note above.
Status PgRefreshNamesOfUser(pg::Connection& db, int64_t user_id) {
  DOZOR_RETURN_IF_ERROR(
      db.Query("SELECT id FROM organizations WHERE id IN (SELECT org_id FROM org_assignments WHERE "
               "user_id = $1) ORDER BY id FOR NO KEY UPDATE",
               pg::Params(user_id)));
  return RefreshOrgEngineerNames(db, std::nullopt, user_id);
}

}  // namespace

// ------------------------------------------------------------------ users

Result<User> PgUserStore::CreateUser(const NewUser& user, int64_t now_ms) {
  DOZOR_RETURN_IF_ERROR(CheckNewUser(user));
  return pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Result<User> {
    if (user.org_id) {
      DOZOR_ASSIGN_OR_RETURN(pg::Rows org, db.Query("SELECT 1 FROM organizations WHERE id = $1 "
                                                    "FOR KEY SHARE",
                                                    pg::Params(*user.org_id)));
      if (org.empty()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "no organization with id " + std::to_string(*user.org_id));
      }
    }
    // Two replicas creating one login at once: the unique index on lower(login) lets one in and
    // gives the other a unique violation, reported as the login being taken.
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows inserted,
        NameConflict(
            db.Query("INSERT INTO users(login, display_name, email, telegram_chat_id, language, "
                     "time_zone, role, org_id, password_hash, password_changed_at, created_at, "
                     "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text, "
                     "CASE WHEN $9::text IS NULL THEN NULL ELSE $10::bigint END, $10, $10) "
                     "RETURNING id",
                     pg::Params(user.login, user.display_name, user.email, user.telegram_chat_id,
                                user.language, user.time_zone, user.role, user.org_id,
                                user.password_hash, now_ms)),
            "user '" + user.login + "'"));
    return PgGetUserOn(db, inserted.Int(0, 0));
  });
}

Result<User> PgUserStore::GetUser(int64_t id) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  return PgGetUserOn(*db, id);
}

Result<User> PgUserStore::FindUserByLogin(std::string_view login) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  // lower(login): the form the unique index holds, so the lookup uses it.
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db->Query(kPgUserColumns + "WHERE lower(login) = lower($1)",
                                                  pg::Params(login)));
  if (rows.empty()) {
    return MakeError(ErrorCode::kNotFound, "no user '" + std::string(login) + "'");
  }
  return ReadPgUser(rows, 0);
}

Result<std::vector<User>> PgUserStore::ListUsers() {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db->Query(kPgUserColumns + "ORDER BY id"));
  std::vector<User> users;
  users.reserve(static_cast<size_t>(rows.size()));
  for (int row = 0; row < rows.size(); ++row) {
    users.push_back(ReadPgUser(rows, row));
  }
  return users;
}

Result<User> PgUserStore::UpdateUser(int64_t id, const UserPatch& patch, int64_t now_ms) {
  DOZOR_RETURN_IF_ERROR(CheckUserPatch(patch));
  return pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Result<User> {
    std::optional<std::string> role;
    if (patch.role) {
      // Locked: the role is decided on the row this transaction then writes.
      DOZOR_ASSIGN_OR_RETURN(
          pg::Rows current,
          db.Query("SELECT role FROM users WHERE id = $1 FOR NO KEY UPDATE", pg::Params(id)));
      if (current.empty()) {
        return MakeError(ErrorCode::kNotFound, "no user with id " + std::to_string(id));
      }
      if (*patch.role == UserRole::kClient || current.Text(0, 0) == ToString(UserRole::kClient)) {
        return MakeError(ErrorCode::kFailedPrecondition,
                         "a client account belongs to one organisation and cannot change role; "
                         "create a new account instead");
      }
      role = std::string(ToString(*patch.role));
    }
    DOZOR_ASSIGN_OR_RETURN(
        int64_t changed,
        db.Run("UPDATE users SET display_name = coalesce($2::text, display_name), "
               "email = coalesce($3::text, email), "
               "telegram_chat_id = coalesce($4::text, telegram_chat_id), "
               "language = coalesce($5::text, language), "
               "time_zone = coalesce($6::text, time_zone), "
               "enabled = coalesce($7::boolean, enabled), role = coalesce($9::text, role), "
               "quiet_hours = coalesce($10::text, quiet_hours), "
               "monthly_report = coalesce($11::boolean, monthly_report), "
               "updated_at = $8 WHERE id = $1",
               pg::Params(id, patch.display_name, patch.email, patch.telegram_chat_id,
                          patch.language, patch.time_zone, patch.enabled, now_ms, role,
                          patch.quiet_hours, patch.monthly_report)));
    if (changed == 0) {
      return MakeError(ErrorCode::kNotFound, "no user with id " + std::to_string(id));
    }
    if (patch.enabled && !*patch.enabled) {
      DOZOR_RETURN_IF_ERROR(db.Run("DELETE FROM sessions WHERE user_id = $1", pg::Params(id)));
    }
    if (patch.display_name) {
      DOZOR_RETURN_IF_ERROR(PgRefreshNamesOfUser(db, id));
    }
    return PgGetUserOn(db, id);
  });
}

Result<std::pair<User, std::string>> PgUserStore::PasswordOf(std::string_view login) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db->Query(std::string(kPgUserSelectList) +
                                                      ", coalesce(password_hash, '') FROM users "
                                                      "WHERE lower(login) = lower($1)",
                                                  pg::Params(login)));
  if (rows.empty()) {
    return MakeError(ErrorCode::kNotFound, "no user '" + std::string(login) + "'");
  }
  User user = ReadPgUser(rows, 0);
  if (!user.enabled) {
    return MakeError(ErrorCode::kPermissionDenied, "the account is disabled");
  }
  std::string hash = rows.Text(0, kPgUserColumnCount);
  if (hash.empty()) {
    return MakeError(ErrorCode::kPermissionDenied, "the account has no password yet");
  }
  return std::make_pair(std::move(user), std::move(hash));
}

Result<int64_t> PgUserStore::SetPasswordHash(int64_t user_id, std::string_view password_hash,
                                             int64_t now_ms, std::optional<int64_t> keep_session_id,
                                             bool revoke_api_tokens) {
  return pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Result<int64_t> {
    DOZOR_ASSIGN_OR_RETURN(int64_t changed,
                           db.Run("UPDATE users SET password_hash = $2, password_changed_at = $3, "
                                  "updated_at = $3 WHERE id = $1",
                                  pg::Params(user_id, password_hash, now_ms)));
    if (changed == 0) {
      return MakeError(ErrorCode::kNotFound, "no user with id " + std::to_string(user_id));
    }
    // A new password ends every other session: whoever knew the old one is logged out.
    DOZOR_RETURN_IF_ERROR(
        db.Run("DELETE FROM sessions WHERE user_id = $1 AND "
               "($2::bigint IS NULL OR id <> $2)",
               pg::Params(user_id, keep_session_id)));
    if (!revoke_api_tokens) {
      return int64_t{0};
    }
    return db.Run("UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
                  pg::Params(user_id, now_ms));
  });
}

// ------------------------------------------------------------------ assignments

Result<Assignment> PgUserStore::AssignEngineer(int64_t org_id, int64_t user_id, AssignmentKind kind,
                                               std::string_view specialty, int64_t now_ms) {
  DOZOR_RETURN_IF_ERROR(CheckUserField(specialty, "specialty", kMaxUserFieldBytes));
  return pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Result<Assignment> {
    // The user, then the organisation (see the locking note above); the checks and their order
    // of errors are AssignEngineer's.
    DOZOR_RETURN_IF_ERROR(
        db.Query("SELECT 1 FROM users WHERE id = $1 FOR SHARE", pg::Params(user_id)));
    DOZOR_RETURN_IF_ERROR(db.Query("SELECT 1 FROM organizations WHERE id = $1 FOR NO KEY UPDATE",
                                   pg::Params(org_id)));
    DOZOR_RETURN_IF_ERROR(
        pg_store_internal::AssignEngineer(db, org_id, user_id, ToString(kind), specialty, now_ms));
    DOZOR_RETURN_IF_ERROR(RefreshOrgEngineerNames(db, org_id, std::nullopt));
    DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db.Query(std::string(kPgAssignmentColumns) +
                                                       "WHERE a.org_id = $1 AND a.user_id = $2",
                                                   pg::Params(org_id, user_id)));
    if (rows.empty()) {
      return MakeError(ErrorCode::kInternal, "assignment vanished");
    }
    return ReadPgAssignment(rows, 0);
  });
}

Status PgUserStore::UnassignEngineer(int64_t org_id, int64_t user_id) {
  return pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Status {
    DOZOR_RETURN_IF_ERROR(db.Query("SELECT 1 FROM organizations WHERE id = $1 FOR NO KEY UPDATE",
                                   pg::Params(org_id)));
    DOZOR_ASSIGN_OR_RETURN(int64_t removed,
                           db.Run("DELETE FROM org_assignments WHERE org_id = $1 AND user_id = $2",
                                  pg::Params(org_id, user_id)));
    if (removed == 0) {
      return MakeError(ErrorCode::kNotFound, "user " + std::to_string(user_id) +
                                                 " is not assigned to organization " +
                                                 std::to_string(org_id));
    }
    return RefreshOrgEngineerNames(db, org_id, std::nullopt);
  });
}

Result<std::vector<Assignment>> PgUserStore::ListAssignments(std::optional<int64_t> org_id) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows,
                         db->Query(std::string(kPgAssignmentColumns) +
                                       "WHERE ($1::bigint IS NULL OR a.org_id = $1) ORDER BY "
                                       "a.org_id, a.kind = 'backup', a.created_at, a.user_id",
                                   pg::Params(org_id)));
  std::vector<Assignment> assignments;
  assignments.reserve(static_cast<size_t>(rows.size()));
  for (int row = 0; row < rows.size(); ++row) {
    assignments.push_back(ReadPgAssignment(rows, row));
  }
  return assignments;
}

Result<std::vector<int64_t>> PgUserStore::AssignedOrgIds(int64_t user_id) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db->Query("SELECT org_id FROM org_assignments WHERE user_id = $1 ORDER BY org_id",
                pg::Params(user_id)));
  std::vector<int64_t> ids;
  ids.reserve(static_cast<size_t>(rows.size()));
  for (int row = 0; row < rows.size(); ++row) {
    ids.push_back(rows.Int(row, 0));
  }
  return ids;
}

// ------------------------------------------------------------------ client notes

Result<NoteVersion> PgUserStore::SaveOrgNote(int64_t org_id, std::string_view body,
                                             std::optional<int64_t> author_user_id,
                                             std::string_view author, int64_t now_ms) {
  DOZOR_RETURN_IF_ERROR(CheckUserField(body, "note", kMaxNoteBytes));
  DOZOR_ASSIGN_OR_RETURN(
      int64_t id, pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Result<int64_t> {
        // The organisation row locked: saves of one organisation's notes (from any replica) go
        // one after the other, so each trim sees every version and the cap holds exactly.
        DOZOR_ASSIGN_OR_RETURN(
            pg::Rows org, db.Query("SELECT 1 FROM organizations WHERE id = $1 FOR NO KEY UPDATE",
                                   pg::Params(org_id)));
        if (org.empty()) {
          return MakeError(ErrorCode::kNotFound,
                           "no organization with id " + std::to_string(org_id));
        }
        DOZOR_ASSIGN_OR_RETURN(
            pg::Rows inserted,
            db.Query("INSERT INTO org_note_versions(org_id, body, author_user_id, author, "
                     "created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                     pg::Params(org_id, body, author_user_id, author, now_ms)));
        DOZOR_RETURN_IF_ERROR(
            db.Run("DELETE FROM org_note_versions WHERE org_id = $1 AND id <= (SELECT id FROM "
                   "org_note_versions WHERE org_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
                   pg::Params(org_id, static_cast<int64_t>(kMaxNoteVersions))));
        return inserted.Int(0, 0);
      }));
  NoteVersion note;
  note.id = id;
  note.org_id = org_id;
  note.body = std::string(body);
  note.author_user_id = author_user_id;
  note.author = std::string(author);
  note.created_at_ms = now_ms;
  return note;
}

Result<std::vector<NoteVersion>> PgUserStore::ListOrgNotes(int64_t org_id, int limit) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows, db->Query("SELECT id, org_id, body, author_user_id, author, created_at FROM "
                               "org_note_versions WHERE org_id = $1 ORDER BY id DESC LIMIT $2",
                               pg::Params(org_id, std::clamp(limit, 1, kPgMaxNoteListLimit))));
  std::vector<NoteVersion> notes;
  notes.reserve(static_cast<size_t>(rows.size()));
  for (int row = 0; row < rows.size(); ++row) {
    NoteVersion note;
    note.id = rows.Int(row, 0);
    note.org_id = rows.Int(row, 1);
    note.body = rows.Text(row, 2);
    note.author_user_id = rows.OptionalInt(row, 3);
    note.author = rows.Text(row, 4);
    note.created_at_ms = rows.Int(row, 5);
    notes.push_back(std::move(note));
  }
  return notes;
}

// ------------------------------------------------------------------ sessions

Result<Session> PgUserStore::CreateSession(const NewSession& session) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows inserted,
      db->Query("INSERT INTO sessions(session_hash, user_id, kind, csrf_token, source, "
                "created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $6, $7) "
                "RETURNING id",
                pg::Params(session.session_hash, session.user_id, session.kind, session.csrf_token,
                           session.source, session.now_ms, session.expires_at_ms)));
  Session out;
  out.id = inserted.Int(0, 0);
  out.user_id = session.user_id;
  out.kind = session.kind;
  out.csrf_token = session.csrf_token;
  out.source = session.source;
  out.created_at_ms = session.now_ms;
  out.last_seen_at_ms = session.now_ms;
  out.expires_at_ms = session.expires_at_ms;
  return out;
}

Result<std::pair<Session, User>> PgUserStore::AuthenticateSession(std::string_view session_hash,
                                                                  int64_t now_ms, int64_t idle_ms) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  // The session and its user in one statement (one snapshot, one round trip).
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db->Query(std::string(kPgSessionColumns) + ", u.* FROM sessions s LEFT JOIN (" +
                    kPgUserColumns + ") u ON u.id = s.user_id WHERE s.session_hash = $1",
                pg::Params(session_hash)));
  if (rows.empty()) {
    return MakeError(ErrorCode::kPermissionDenied, "unknown or ended session; log in again");
  }
  if (rows.IsNull(0, kPgSessionColumnCount)) {
    return MakeError(ErrorCode::kPermissionDenied, "session has no user");
  }
  Session session = ReadPgSession(rows, 0);
  User user = ReadPgUser(rows, 0, kPgSessionColumnCount);
  if (now_ms >= session.expires_at_ms) {
    return MakeError(ErrorCode::kPermissionDenied, "the session has expired; log in again");
  }
  if (now_ms - session.last_seen_at_ms > idle_ms) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "the session ended after being idle; log in again");
  }
  if (!user.enabled) {
    return MakeError(ErrorCode::kPermissionDenied, "the account is disabled");
  }
  if (now_ms - session.last_seen_at_ms >= kPgSessionSeenResolutionMs) {
    // greatest(): requests of one session on several replicas at once never move it back. No row
    // means the session ended (logout, password change) since it was read: refused like one
    // that was never there.
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows seen,
        db->Query("UPDATE sessions SET last_seen_at = greatest(last_seen_at, $1) WHERE id = $2 "
                  "RETURNING last_seen_at",
                  pg::Params(now_ms, session.id)));
    if (seen.empty()) {
      return MakeError(ErrorCode::kPermissionDenied, "unknown or ended session; log in again");
    }
    session.last_seen_at_ms = seen.Int(0, 0);
  }
  return std::make_pair(std::move(session), std::move(user));
}

Status PgUserStore::DeleteSession(int64_t session_id) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_RETURN_IF_ERROR(db->Run("DELETE FROM sessions WHERE id = $1", pg::Params(session_id)));
  return OkStatus();
}

Result<std::vector<Session>> PgUserStore::ListUserSessions(int64_t user_id, int64_t now_ms,
                                                           int64_t idle_ms) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db->Query(std::string(kPgSessionColumns) +
                    "FROM sessions s WHERE s.user_id = $1 AND s.expires_at > $2 "
                    "AND s.last_seen_at >= $2::bigint - $3::bigint ORDER BY s.id DESC",
                pg::Params(user_id, now_ms, idle_ms)));
  std::vector<Session> sessions;
  sessions.reserve(static_cast<size_t>(rows.size()));
  for (int row = 0; row < rows.size(); ++row) {
    sessions.push_back(ReadPgSession(rows, row));
  }
  return sessions;
}

Status PgUserStore::EndUserSession(int64_t user_id, int64_t session_id) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(int64_t removed,
                         db->Run("DELETE FROM sessions WHERE id = $1 AND user_id = $2",
                                 pg::Params(session_id, user_id)));
  if (removed == 0) {
    return MakeError(ErrorCode::kNotFound, "no session with id " + std::to_string(session_id));
  }
  return OkStatus();
}

Result<int64_t> PgUserStore::PruneSessions(int64_t now_ms, int64_t idle_ms) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  return db->Run(
      "DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at < $1::bigint - $2::bigint",
      pg::Params(now_ms, idle_ms));
}

}  // namespace dozor::server
