// SqliteStore, people area (user_store.hpp) and the audit log (audit_log_store.hpp). These run at
// the rate people act, not agents report, so statements are prepared per call.
#include <algorithm>
#include <mutex>

#include "domain/user_profile.hpp"
#include "dozor/common/crypto.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"
#include "store/sqlite/statement_helpers.hpp"
#include "store/sqlite/store_rows.hpp"

namespace dozor::server {

using namespace sqlite_store_internal;  // NOLINT(google-build-using-namespace)

namespace {

constexpr const char* kUserColumns =
    "SELECT id, login, display_name, email, telegram_chat_id, language, time_zone, role, org_id, "
    "enabled, password_hash IS NOT NULL, password_changed_at, created_at, updated_at, quiet_hours, "
    "monthly_report FROM users ";

User ReadUser(const sqlite::Statement& s) {
  User user;
  user.id = s.Int(0);
  user.login = s.Text(1);
  user.display_name = s.Text(2);
  user.email = s.Text(3);
  user.telegram_chat_id = s.Text(4);
  user.language = s.Text(5);
  user.time_zone = s.Text(6);
  // The table's CHECK keeps other words out; an unknown one reads as the least privileged role.
  user.role = ParseUserRole(s.Text(7)).value_or(UserRole::kClient);
  user.org_id = OptionalInt(s, 8);
  user.enabled = s.Int(9) != 0;
  user.has_password = s.Int(10) != 0;
  user.password_changed_at_ms = OptionalInt(s, 11);
  user.created_at_ms = s.Int(12);
  user.updated_at_ms = s.Int(13);
  user.quiet_hours = s.Text(14);
  user.monthly_report = s.Int(15) != 0;
  return user;
}

constexpr const char* kAssignmentColumns =
    "SELECT a.org_id, a.user_id, a.kind, a.specialty, a.created_at, u.login, u.display_name, "
    "u.email, u.enabled FROM org_assignments a JOIN users u ON u.id = a.user_id ";

Assignment ReadAssignment(const sqlite::Statement& s) {
  Assignment a;
  a.org_id = s.Int(0);
  a.user_id = s.Int(1);
  a.kind = ParseAssignmentKind(s.Text(2)).value_or(AssignmentKind::kBackup);
  a.specialty = s.Text(3);
  a.created_at_ms = s.Int(4);
  a.login = s.Text(5);
  a.display_name = s.Text(6);
  a.email = s.Text(7);
  a.enabled = s.Int(8) != 0;
  return a;
}

constexpr const char* kSessionColumns =
    "SELECT id, user_id, kind, csrf_token, source, created_at, last_seen_at, expires_at "
    "FROM sessions ";

Session ReadSession(const sqlite::Statement& s) {
  Session session;
  session.id = s.Int(0);
  session.user_id = s.Int(1);
  session.kind = s.Text(2) == "cli" ? SessionKind::kCli : SessionKind::kBrowser;
  session.csrf_token = s.Text(3);
  session.source = s.Text(4);
  session.created_at_ms = s.Int(5);
  session.last_seen_at_ms = s.Int(6);
  session.expires_at_ms = s.Int(7);
  return session;
}

// Sessions are marked seen at most this often: a dashboard polling every few seconds must not
// turn every read into a write.
constexpr int64_t kSeenResolutionMs = 60'000;

}  // namespace

// ------------------------------------------------------------------ users

Result<User> SqliteStore::CreateUser(const NewUser& user, int64_t now_ms) {
  DOZOR_RETURN_IF_ERROR(CheckNewUser(user));
  int64_t id = 0;
  {
    std::lock_guard lock(write_mu_);
    if (user.org_id) {
      DOZOR_ASSIGN_OR_RETURN(auto exists,
                             writer_.Prepare("SELECT 1 FROM organizations WHERE id = ?"));
      DOZOR_ASSIGN_OR_RETURN(bool found, HasRow(BindAll(exists, *user.org_id)));
      if (!found) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "no organization with id " + std::to_string(*user.org_id));
      }
    }
    DOZOR_ASSIGN_OR_RETURN(
        auto insert,
        writer_.Prepare("INSERT INTO users(login, display_name, email, telegram_chat_id, language, "
                        "time_zone, role, org_id, password_hash, password_changed_at, created_at, "
                        "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
                        "CASE WHEN ?9 IS NULL THEN NULL ELSE ?10 END, ?10, ?10)"));
    DOZOR_RETURN_IF_ERROR(NameConflict(
        RunWith(insert, user.login, user.display_name, user.email, user.telegram_chat_id,
                user.language, user.time_zone, user.role, user.org_id, user.password_hash, now_ms),
        "user '" + user.login + "'"));
    id = writer_.LastInsertRowId();
  }
  return GetUser(id);
}

Result<User> SqliteStore::GetUser(int64_t id) {
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(auto select,
                         reader->db.Prepare(std::string(kUserColumns) + "WHERE id = ?"));
  return ReadOne(BindAll(select, id), ReadUser, [&] {
    return MakeError(ErrorCode::kNotFound, "no user with id " + std::to_string(id));
  });
}

Result<User> SqliteStore::FindUserByLogin(std::string_view login) {
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(auto select,
                         reader->db.Prepare(std::string(kUserColumns) + "WHERE login = ?"));
  return ReadOne(BindAll(select, login), ReadUser, [&] {
    return MakeError(ErrorCode::kNotFound, "no user '" + std::string(login) + "'");
  });
}

Result<std::vector<User>> SqliteStore::ListUsers() {
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(auto select,
                         reader->db.Prepare(std::string(kUserColumns) + "ORDER BY id"));
  return ReadAll(select, ReadUser);
}

Result<User> SqliteStore::UpdateUser(int64_t id, const UserPatch& patch, int64_t now_ms) {
  DOZOR_RETURN_IF_ERROR(CheckUserPatch(patch));
  {
    std::lock_guard lock(write_mu_);
    sqlite::Transaction txn(writer_);
    DOZOR_RETURN_IF_ERROR(txn.Begin());
    std::optional<std::string> role;
    if (patch.role) {
      DOZOR_ASSIGN_OR_RETURN(auto current, writer_.Prepare("SELECT role FROM users WHERE id = ?"));
      DOZOR_ASSIGN_OR_RETURN(
          auto was, ReadOptional(BindAll(current, id), [](const auto& s) { return s.Text(0); }));
      if (!was) {
        return MakeError(ErrorCode::kNotFound, "no user with id " + std::to_string(id));
      }
      if (*patch.role == UserRole::kClient || *was == ToString(UserRole::kClient)) {
        return MakeError(ErrorCode::kFailedPrecondition,
                         "a client account belongs to one organisation and cannot change role; "
                         "create a new account instead");
      }
      role = std::string(ToString(*patch.role));
    }
    DOZOR_ASSIGN_OR_RETURN(
        auto update,
        writer_.Prepare("UPDATE users SET display_name = coalesce(?2, display_name), "
                        "email = coalesce(?3, email), "
                        "telegram_chat_id = coalesce(?4, telegram_chat_id), "
                        "language = coalesce(?5, language), time_zone = coalesce(?6, time_zone), "
                        "enabled = coalesce(?7, enabled), role = coalesce(?9, role), "
                        "quiet_hours = coalesce(?10, quiet_hours), "
                        "monthly_report = coalesce(?11, monthly_report), "
                        "updated_at = ?8 WHERE id = ?1"));
    DOZOR_RETURN_IF_ERROR(RunWith(
        update, id, patch.display_name, patch.email, patch.telegram_chat_id, patch.language,
        patch.time_zone, patch.enabled, now_ms, role, patch.quiet_hours, patch.monthly_report));
    if (writer_.Changes() == 0) {
      return MakeError(ErrorCode::kNotFound, "no user with id " + std::to_string(id));
    }
    if (patch.enabled && !*patch.enabled) {
      DOZOR_ASSIGN_OR_RETURN(auto end, writer_.Prepare("DELETE FROM sessions WHERE user_id = ?"));
      DOZOR_RETURN_IF_ERROR(RunWith(end, id));
    }
    if (patch.display_name) {
      DOZOR_RETURN_IF_ERROR(RefreshOrgEngineerNamesLocked(std::nullopt, id));
    }
    DOZOR_RETURN_IF_ERROR(txn.Commit());
  }
  return GetUser(id);
}

Result<std::pair<User, std::string>> SqliteStore::PasswordOf(std::string_view login) {
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(auto select,
                         reader->db.Prepare(std::string(kUserColumns) + "WHERE login = ?"));
  DOZOR_ASSIGN_OR_RETURN(User user, ReadOne(BindAll(select, login), ReadUser, [&] {
                           return MakeError(ErrorCode::kNotFound,
                                            "no user '" + std::string(login) + "'");
                         }));
  if (!user.enabled) {
    return MakeError(ErrorCode::kPermissionDenied, "the account is disabled");
  }
  DOZOR_ASSIGN_OR_RETURN(auto hash_select,
                         reader->db.Prepare("SELECT coalesce(password_hash, '') FROM users "
                                            "WHERE id = ?"));
  DOZOR_ASSIGN_OR_RETURN(auto hash, ReadOptional(BindAll(hash_select, user.id),
                                                 [](const auto& s) { return s.Text(0); }));
  if (!hash || hash->empty()) {
    return MakeError(ErrorCode::kPermissionDenied, "the account has no password yet");
  }
  return std::make_pair(std::move(user), std::move(*hash));
}

Result<int64_t> SqliteStore::SetPasswordHash(int64_t user_id, std::string_view password_hash,
                                             int64_t now_ms, std::optional<int64_t> keep_session_id,
                                             bool revoke_api_tokens) {
  std::lock_guard lock(write_mu_);
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(
      auto update, writer_.Prepare("UPDATE users SET password_hash = ?2, "
                                   "password_changed_at = ?3, updated_at = ?3 WHERE id = ?1"));
  DOZOR_RETURN_IF_ERROR(RunWith(update, user_id, password_hash, now_ms));
  if (writer_.Changes() == 0) {
    return MakeError(ErrorCode::kNotFound, "no user with id " + std::to_string(user_id));
  }
  // A new password ends every other session: whoever knew the old one is logged out.
  DOZOR_ASSIGN_OR_RETURN(auto end, writer_.Prepare("DELETE FROM sessions WHERE user_id = ?1 AND "
                                                   "(?2 IS NULL OR id <> ?2)"));
  DOZOR_RETURN_IF_ERROR(RunWith(end, user_id, keep_session_id));
  int64_t revoked = 0;
  if (revoke_api_tokens) {
    DOZOR_ASSIGN_OR_RETURN(auto revoke,
                           writer_.Prepare("UPDATE api_tokens SET revoked_at = ?2 "
                                           "WHERE user_id = ?1 AND revoked_at IS NULL"));
    DOZOR_RETURN_IF_ERROR(RunWith(revoke, user_id, now_ms));
    revoked = writer_.Changes();
  }
  DOZOR_RETURN_IF_ERROR(txn.Commit());
  return revoked;
}

// ------------------------------------------------------------------ assignments

Status SqliteStore::RefreshOrgEngineerNamesLocked(std::optional<int64_t> org_id,
                                                  std::optional<int64_t> user_id) {
  // organizations.engineer is kept as the primary engineers' display names for the reports and the
  // rule facts that read it; the assignments are the truth.
  DOZOR_ASSIGN_OR_RETURN(
      auto refresh,
      writer_.Prepare(
          "UPDATE organizations SET engineer = coalesce((SELECT group_concat(name, ', ') FROM "
          "(SELECT u.display_name AS name FROM org_assignments a JOIN users u ON u.id = a.user_id "
          "WHERE a.org_id = organizations.id AND a.kind = 'primary' ORDER BY a.created_at, u.id)),"
          " '') WHERE (?1 IS NULL OR id = ?1) AND (?2 IS NULL OR id IN (SELECT org_id FROM "
          "org_assignments WHERE user_id = ?2))"));
  return RunWith(refresh, org_id, user_id);
}

Result<Assignment> SqliteStore::AssignEngineer(int64_t org_id, int64_t user_id, AssignmentKind kind,
                                               std::string_view specialty, int64_t now_ms) {
  DOZOR_RETURN_IF_ERROR(CheckUserField(specialty, "specialty", kMaxUserFieldBytes));
  std::lock_guard lock(write_mu_);
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_RETURN_IF_ERROR(AssignEngineerLocked(org_id, user_id, kind, specialty, now_ms));
  DOZOR_RETURN_IF_ERROR(RefreshOrgEngineerNamesLocked(org_id, std::nullopt));
  DOZOR_ASSIGN_OR_RETURN(auto select, writer_.Prepare(std::string(kAssignmentColumns) +
                                                      "WHERE a.org_id = ? AND a.user_id = ?"));
  DOZOR_ASSIGN_OR_RETURN(auto assignment,
                         ReadOne(BindAll(select, org_id, user_id), ReadAssignment, [] {
                           return MakeError(ErrorCode::kInternal, "assignment vanished");
                         }));
  DOZOR_RETURN_IF_ERROR(txn.Commit());
  return assignment;
}

Status SqliteStore::AssignEngineerLocked(int64_t org_id, int64_t user_id, AssignmentKind kind,
                                         std::string_view specialty, int64_t now_ms) {
  DOZOR_ASSIGN_OR_RETURN(auto org, writer_.Prepare("SELECT 1 FROM organizations WHERE id = ?"));
  DOZOR_ASSIGN_OR_RETURN(bool org_found, HasRow(BindAll(org, org_id)));
  if (!org_found) {
    return MakeError(ErrorCode::kNotFound, "no organization with id " + std::to_string(org_id));
  }
  DOZOR_ASSIGN_OR_RETURN(auto role, writer_.Prepare("SELECT role FROM users WHERE id = ?"));
  DOZOR_ASSIGN_OR_RETURN(auto user_role, ReadOptional(BindAll(role, user_id),
                                                      [](const auto& s) { return s.Text(0); }));
  if (!user_role) {
    return MakeError(ErrorCode::kNotFound, "no user with id " + std::to_string(user_id));
  }
  if (*user_role == "client") {
    return MakeError(ErrorCode::kInvalidArgument,
                     "a client user cannot be assigned as an engineer; assign an engineer");
  }
  DOZOR_ASSIGN_OR_RETURN(
      auto upsert,
      writer_.Prepare("INSERT INTO org_assignments(org_id, user_id, kind, specialty, created_at) "
                      "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(org_id, user_id) DO UPDATE SET "
                      "kind = excluded.kind, specialty = excluded.specialty"));
  return RunWith(upsert, org_id, user_id, kind, specialty, now_ms);
}

Status SqliteStore::LinkLegacyEngineerLocked(int64_t org_id, std::string_view name,
                                             int64_t now_ms) {
  DOZOR_ASSIGN_OR_RETURN(auto clear, writer_.Prepare("DELETE FROM org_assignments WHERE org_id = ? "
                                                     "AND kind = 'primary'"));
  DOZOR_RETURN_IF_ERROR(RunWith(clear, org_id));
  if (!name.empty()) {
    // The old free-text field: an existing engineer or admin by login or display name, otherwise
    // a new engineer account without a password (an admin sets one), like migration 008 makes.
    // Display names are not unique and anyone edits their own, so a display name is taken only
    // when exactly one account bears it: copying a colleague's name must not win their client.
    DOZOR_ASSIGN_OR_RETURN(
        auto by_login,
        writer_.Prepare("SELECT id FROM users WHERE role <> 'client' AND login = ?1"));
    DOZOR_ASSIGN_OR_RETURN(
        auto found, ReadOptional(BindAll(by_login, name), [](const auto& s) { return s.Int(0); }));
    if (!found) {
      DOZOR_ASSIGN_OR_RETURN(auto by_name,
                             writer_.Prepare("SELECT id FROM users WHERE role <> 'client' AND "
                                             "display_name = ?1 ORDER BY id LIMIT 2"));
      BindAll(by_name, name);
      std::vector<int64_t> named;
      while (true) {
        DOZOR_ASSIGN_OR_RETURN(bool row, by_name.Step());
        if (!row) break;
        named.push_back(by_name.Int(0));
      }
      if (named.size() > 1) {
        return MakeError(ErrorCode::kFailedPrecondition,
                         "several accounts are named '" + std::string(name) +
                             "'; assign by login (PUT /api/v1/orgs/{org}/engineers/{login})");
      }
      if (!named.empty()) found = named.front();
    }
    int64_t user_id = 0;
    if (found) {
      user_id = *found;
    } else {
      DOZOR_ASSIGN_OR_RETURN(auto next,
                             writer_.Prepare("SELECT coalesce(max(id), 0) + 1 FROM users"));
      DOZOR_ASSIGN_OR_RETURN(auto number,
                             ReadOptional(next, [](const auto& s) { return s.Int(0); }));
      std::string login = "engineer-" + std::to_string(number.value_or(1));
      DOZOR_ASSIGN_OR_RETURN(auto taken, writer_.Prepare("SELECT 1 FROM users WHERE login = ?"));
      DOZOR_ASSIGN_OR_RETURN(bool is_taken, HasRow(BindAll(taken, login)));
      if (is_taken) {
        DOZOR_ASSIGN_OR_RETURN(std::string suffix, RandomHex(4));
        login += "-" + suffix;
      }
      DOZOR_ASSIGN_OR_RETURN(
          auto insert, writer_.Prepare("INSERT INTO users(login, display_name, role, created_at, "
                                       "updated_at) VALUES (?, ?, 'engineer', ?, ?)"));
      DOZOR_RETURN_IF_ERROR(RunWith(insert, login, name, now_ms, now_ms));
      user_id = writer_.LastInsertRowId();
    }
    DOZOR_RETURN_IF_ERROR(
        AssignEngineerLocked(org_id, user_id, AssignmentKind::kPrimary, "", now_ms));
  }
  return RefreshOrgEngineerNamesLocked(org_id, std::nullopt);
}

Status SqliteStore::UnassignEngineer(int64_t org_id, int64_t user_id) {
  std::lock_guard lock(write_mu_);
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(auto remove,
                         writer_.Prepare("DELETE FROM org_assignments WHERE org_id = ? "
                                         "AND user_id = ?"));
  DOZOR_RETURN_IF_ERROR(RunWith(remove, org_id, user_id));
  if (writer_.Changes() == 0) {
    return MakeError(ErrorCode::kNotFound, "user " + std::to_string(user_id) +
                                               " is not assigned to organization " +
                                               std::to_string(org_id));
  }
  DOZOR_RETURN_IF_ERROR(RefreshOrgEngineerNamesLocked(org_id, std::nullopt));
  return txn.Commit();
}

Result<std::vector<Assignment>> SqliteStore::ListAssignments(std::optional<int64_t> org_id) {
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(
      auto select, reader->db.Prepare(std::string(kAssignmentColumns) +
                                      "WHERE (?1 IS NULL OR a.org_id = ?1) ORDER BY a.org_id, "
                                      "a.kind = 'backup', a.created_at, a.user_id"));
  return ReadAll(BindAll(select, org_id), ReadAssignment);
}

Result<std::vector<int64_t>> SqliteStore::AssignedOrgIds(int64_t user_id) {
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(auto select, reader->db.Prepare("SELECT org_id FROM org_assignments WHERE "
                                                         "user_id = ? ORDER BY org_id"));
  return ReadAll(BindAll(select, user_id), [](const auto& s) { return s.Int(0); });
}

// ------------------------------------------------------------------ client notes

Result<NoteVersion> SqliteStore::SaveOrgNote(int64_t org_id, std::string_view body,
                                             std::optional<int64_t> author_user_id,
                                             std::string_view author, int64_t now_ms) {
  DOZOR_RETURN_IF_ERROR(CheckUserField(body, "note", kMaxNoteBytes));
  int64_t id = 0;
  {
    std::lock_guard lock(write_mu_);
    DOZOR_ASSIGN_OR_RETURN(auto org, writer_.Prepare("SELECT 1 FROM organizations WHERE id = ?"));
    DOZOR_ASSIGN_OR_RETURN(bool found, HasRow(BindAll(org, org_id)));
    if (!found) {
      return MakeError(ErrorCode::kNotFound, "no organization with id " + std::to_string(org_id));
    }
    DOZOR_ASSIGN_OR_RETURN(
        auto insert, writer_.Prepare("INSERT INTO org_note_versions(org_id, body, author_user_id, "
                                     "author, created_at) VALUES (?, ?, ?, ?, ?)"));
    DOZOR_RETURN_IF_ERROR(RunWith(insert, org_id, body, author_user_id, author, now_ms));
    id = writer_.LastInsertRowId();
    DOZOR_ASSIGN_OR_RETURN(
        auto trim, writer_.Prepare("DELETE FROM org_note_versions WHERE org_id = ?1 AND id <= "
                                   "(SELECT id FROM org_note_versions WHERE org_id = ?1 "
                                   "ORDER BY id DESC LIMIT 1 OFFSET ?2)"));
    DOZOR_RETURN_IF_ERROR(RunWith(trim, org_id, static_cast<int64_t>(kMaxNoteVersions)));
  }
  NoteVersion note;
  note.id = id;
  note.org_id = org_id;
  note.body = std::string(body);
  note.author_user_id = author_user_id;
  note.author = std::string(author);
  note.created_at_ms = now_ms;
  return note;
}

Result<std::vector<NoteVersion>> SqliteStore::ListOrgNotes(int64_t org_id, int limit) {
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(
      auto select, reader->db.Prepare("SELECT id, org_id, body, author_user_id, author, created_at "
                                      "FROM org_note_versions WHERE org_id = ? ORDER BY id DESC "
                                      "LIMIT ?"));
  return ReadAll(BindAll(select, org_id, std::clamp(limit, 1, 1000)), [](const auto& s) {
    NoteVersion note;
    note.id = s.Int(0);
    note.org_id = s.Int(1);
    note.body = s.Text(2);
    note.author_user_id = OptionalInt(s, 3);
    note.author = s.Text(4);
    note.created_at_ms = s.Int(5);
    return note;
  });
}

// ------------------------------------------------------------------ sessions

Result<Session> SqliteStore::CreateSession(const NewSession& session) {
  std::lock_guard lock(write_mu_);
  DOZOR_ASSIGN_OR_RETURN(
      auto insert,
      writer_.Prepare("INSERT INTO sessions(session_hash, user_id, kind, csrf_token, source, "
                      "created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
  DOZOR_RETURN_IF_ERROR(RunWith(insert, session.session_hash, session.user_id, session.kind,
                                session.csrf_token, session.source, session.now_ms, session.now_ms,
                                session.expires_at_ms));
  Session out;
  out.id = writer_.LastInsertRowId();
  out.user_id = session.user_id;
  out.kind = session.kind;
  out.csrf_token = session.csrf_token;
  out.source = session.source;
  out.created_at_ms = session.now_ms;
  out.last_seen_at_ms = session.now_ms;
  out.expires_at_ms = session.expires_at_ms;
  return out;
}

Result<std::pair<Session, User>> SqliteStore::AuthenticateSession(std::string_view session_hash,
                                                                  int64_t now_ms, int64_t idle_ms) {
  Session session;
  User user;
  {
    ReaderLease reader = AcquireReader();
    DOZOR_ASSIGN_OR_RETURN(
        auto select, reader->db.Prepare(std::string(kSessionColumns) + "WHERE session_hash = ?"));
    DOZOR_ASSIGN_OR_RETURN(session, ReadOne(BindAll(select, session_hash), ReadSession, [] {
                             return MakeError(ErrorCode::kPermissionDenied,
                                              "unknown or ended session; log in again");
                           }));
    DOZOR_ASSIGN_OR_RETURN(auto user_select,
                           reader->db.Prepare(std::string(kUserColumns) + "WHERE id = ?"));
    DOZOR_ASSIGN_OR_RETURN(user, ReadOne(BindAll(user_select, session.user_id), ReadUser, [] {
                             return MakeError(ErrorCode::kPermissionDenied, "session has no user");
                           }));
  }
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
  if (now_ms - session.last_seen_at_ms >= kSeenResolutionMs) {
    std::lock_guard lock(write_mu_);
    DOZOR_ASSIGN_OR_RETURN(auto seen,
                           writer_.Prepare("UPDATE sessions SET last_seen_at = ? WHERE id = ?"));
    DOZOR_RETURN_IF_ERROR(RunWith(seen, now_ms, session.id));
    session.last_seen_at_ms = now_ms;
  }
  return std::make_pair(std::move(session), std::move(user));
}

Status SqliteStore::DeleteSession(int64_t session_id) {
  std::lock_guard lock(write_mu_);
  DOZOR_ASSIGN_OR_RETURN(auto remove, writer_.Prepare("DELETE FROM sessions WHERE id = ?"));
  return RunWith(remove, session_id);
}

Result<std::vector<Session>> SqliteStore::ListUserSessions(int64_t user_id, int64_t now_ms,
                                                           int64_t idle_ms) {
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(auto select, reader->db.Prepare(std::string(kSessionColumns) +
                                                         "WHERE user_id = ?1 AND expires_at > ?2 "
                                                         "AND last_seen_at >= ?2 - ?3 "
                                                         "ORDER BY id DESC"));
  return ReadAll(BindAll(select, user_id, now_ms, idle_ms), ReadSession);
}

Status SqliteStore::EndUserSession(int64_t user_id, int64_t session_id) {
  std::lock_guard lock(write_mu_);
  DOZOR_ASSIGN_OR_RETURN(auto remove,
                         writer_.Prepare("DELETE FROM sessions WHERE id = ?1 AND user_id = ?2"));
  DOZOR_RETURN_IF_ERROR(RunWith(remove, session_id, user_id));
  if (writer_.Changes() == 0) {
    return MakeError(ErrorCode::kNotFound, "no session with id " + std::to_string(session_id));
  }
  return OkStatus();
}

Result<int64_t> SqliteStore::PruneSessions(int64_t now_ms, int64_t idle_ms) {
  std::lock_guard lock(write_mu_);
  DOZOR_ASSIGN_OR_RETURN(auto remove, writer_.Prepare("DELETE FROM sessions WHERE expires_at <= ?1 "
                                                      "OR last_seen_at < ?1 - ?2"));
  DOZOR_RETURN_IF_ERROR(RunWith(remove, now_ms, idle_ms));
  return static_cast<int64_t>(writer_.Changes());
}

// ------------------------------------------------------------------ audit log

Status SqliteStore::AppendAudit(const AuditEntry& entry) {
  std::lock_guard lock(write_mu_);
  DOZOR_ASSIGN_OR_RETURN(
      auto insert,
      writer_.Prepare(
          "INSERT INTO audit_log(at, actor_user_id, actor, via, source, action, org_id, "
          "object, status, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  return RunWith(insert, entry.at_ms, entry.actor_user_id, entry.actor, entry.via, entry.source,
                 entry.action, entry.org_id, entry.object, static_cast<int64_t>(entry.status),
                 entry.detail);
}

Result<std::vector<AuditEntry>> SqliteStore::ListAudit(const AuditFilter& filter) {
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(
      auto select, reader->db.Prepare(
                       "SELECT id, at, actor_user_id, actor, via, source, action, org_id, object, "
                       "status, detail FROM audit_log WHERE (?1 IS NULL OR at >= ?1) AND "
                       "(?2 IS NULL OR at < ?2) AND (?3 IS NULL OR actor_user_id = ?3) AND "
                       "(?4 IS NULL OR actor = ?4) AND (?5 IS NULL OR org_id = ?5) AND "
                       "(?6 IS NULL OR substr(action, 1, length(?6)) = ?6) AND "
                       "(?7 IS NULL OR id < ?7) ORDER BY id DESC LIMIT ?8"));
  return ReadAll(BindAll(select, filter.since_ms, filter.until_ms, filter.actor_user_id,
                         filter.actor, filter.org_id, filter.action_prefix, filter.before_id,
                         static_cast<int64_t>(std::clamp(filter.limit, 1, 1000))),
                 [](const sqlite::Statement& s) {
                   AuditEntry entry;
                   entry.id = s.Int(0);
                   entry.at_ms = s.Int(1);
                   entry.actor_user_id = OptionalInt(s, 2);
                   entry.actor = s.Text(3);
                   entry.via = ParseVia(s.Text(4)).value_or(Via::kApi);
                   entry.source = s.Text(5);
                   entry.action = s.Text(6);
                   entry.org_id = OptionalInt(s, 7);
                   entry.object = s.Text(8);
                   entry.status = static_cast<int>(s.Int(9));
                   entry.detail = s.Text(10);
                   return entry;
                 });
}

Result<int64_t> SqliteStore::PruneAudit(int64_t before_ms) {
  int64_t total = 0;
  while (true) {
    std::lock_guard lock(write_mu_);
    DOZOR_ASSIGN_OR_RETURN(
        auto prune, writer_.Prepare("DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log "
                                    "WHERE at < ?1 ORDER BY at LIMIT ?2)"));
    DOZOR_RETURN_IF_ERROR(RunWith(prune, before_ms, sqlite_store_internal::kPruneChunkRows));
    const int64_t deleted = writer_.Changes();
    total += deleted;
    if (deleted < sqlite_store_internal::kPruneChunkRows) return total;
  }
}

}  // namespace dozor::server
