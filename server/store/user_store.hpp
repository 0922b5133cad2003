// People: user accounts, engineers assigned to organisations, client notes and login sessions.
// Passwords arrive here already hashed (argon2id strings, http/password.hpp); session ids as
// SHA-256 hex. Nothing in this area ever holds a plaintext secret.
//
// Thread-safety: every method may be called from any thread (see store/store.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/access.hpp"
#include "dozor/common/result.hpp"

namespace dozor::server {

struct User {
  int64_t id = 0;
  std::string login;
  std::string display_name;
  std::string email;
  std::string telegram_chat_id;
  std::string language = "ru";  // "ru" or "en"
  std::string time_zone = "Europe/Moscow";
  // "22:00-07:00" in time_zone: alerts that are not urgent wait until they end; empty: none.
  std::string quiet_hours;
  // A client contact who asked for the monthly report by e-mail (engineers assigned to the
  // organisation get it anyway).
  bool monthly_report = false;
  UserRole role = UserRole::kEngineer;
  std::optional<int64_t> org_id;  // role kClient only
  bool enabled = true;
  bool has_password = false;
  std::optional<int64_t> password_changed_at_ms;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

struct NewUser {
  std::string login;
  std::string display_name;
  std::string email;
  std::string telegram_chat_id;
  std::string language = "ru";
  std::string time_zone = "Europe/Moscow";
  UserRole role = UserRole::kEngineer;
  std::optional<int64_t> org_id;
  std::optional<std::string> password_hash;
};

// Fields left nullopt stay as they are.
struct UserPatch {
  std::optional<std::string> display_name;
  std::optional<std::string> email;
  std::optional<std::string> telegram_chat_id;
  std::optional<std::string> language;
  std::optional<std::string> time_zone;
  std::optional<std::string> quiet_hours;  // "" clears them
  std::optional<bool> monthly_report;
  std::optional<bool> enabled;
  // Between admin and engineer only: a client account belongs to one organisation and stays a
  // client account (the store refuses a change to or from kClient).
  std::optional<UserRole> role;
};

enum class AssignmentKind { kPrimary, kBackup };
std::string_view ToString(AssignmentKind kind);
std::optional<AssignmentKind> ParseAssignmentKind(std::string_view text);

struct Assignment {
  int64_t org_id = 0;
  int64_t user_id = 0;
  AssignmentKind kind = AssignmentKind::kPrimary;
  std::string specialty;
  int64_t created_at_ms = 0;
  // Joined for listings.
  std::string login;
  std::string display_name;
  std::string email;
  bool enabled = true;
};

struct NoteVersion {
  int64_t id = 0;
  int64_t org_id = 0;
  std::string body;
  std::optional<int64_t> author_user_id;
  std::string author;
  int64_t created_at_ms = 0;
};

enum class SessionKind { kBrowser, kCli };
std::string_view ToString(SessionKind kind);

struct Session {
  int64_t id = 0;
  int64_t user_id = 0;
  SessionKind kind = SessionKind::kBrowser;
  std::string csrf_token;
  std::string source;
  int64_t created_at_ms = 0;
  int64_t last_seen_at_ms = 0;
  int64_t expires_at_ms = 0;  // absolute
};

struct NewSession {
  std::string session_hash;  // SHA-256 hex of the opaque id
  int64_t user_id = 0;
  SessionKind kind = SessionKind::kBrowser;
  std::string csrf_token;
  std::string source;
  int64_t now_ms = 0;
  int64_t expires_at_ms = 0;
};

inline constexpr size_t kMaxUserFieldBytes = 200;   // display names, specialties
inline constexpr size_t kMaxNoteBytes = 64 * 1024;  // one client note version

// The checks every backend makes before touching the database (kInvalidArgument, naming the
// field): a value's size, a new account, a profile change.
[[nodiscard]] Status CheckUserField(std::string_view value, std::string_view what,
                                    size_t max_bytes);
[[nodiscard]] Status CheckNewUser(const NewUser& user);
[[nodiscard]] Status CheckUserPatch(const UserPatch& patch);

class UserStore {
 public:
  virtual ~UserStore() = default;

  // kAlreadyExists for a login taken (case-insensitively); kInvalidArgument for a client without
  // an existing organisation or another role with one.
  virtual Result<User> CreateUser(const NewUser& user, int64_t now_ms) = 0;
  virtual Result<User> GetUser(int64_t id) = 0;
  // By login, case-insensitively. kNotFound if none.
  virtual Result<User> FindUserByLogin(std::string_view login) = 0;
  virtual Result<std::vector<User>> ListUsers() = 0;
  // Disabling a user also ends its sessions.
  virtual Result<User> UpdateUser(int64_t id, const UserPatch& patch, int64_t now_ms) = 0;
  // The argon2id string of an enabled user's password, for login. kNotFound if the login is
  // unknown; kPermissionDenied if disabled or without a password. The user comes with it.
  virtual Result<std::pair<User, std::string>> PasswordOf(std::string_view login) = 0;
  // Sets the password hash and ends every session of the user except `keep_session_id`; with
  // revoke_api_tokens (an admin reset: the account may be in someone else's hands) also revokes
  // every live API token the user owns, in the same transaction. Returns how many were revoked.
  virtual Result<int64_t> SetPasswordHash(int64_t user_id, std::string_view password_hash,
                                          int64_t now_ms, std::optional<int64_t> keep_session_id,
                                          bool revoke_api_tokens) = 0;

  // Assigns (or re-assigns with a new kind/specialty) an engineer to an organisation.
  // kInvalidArgument if the user is not an engineer or admin.
  virtual Result<Assignment> AssignEngineer(int64_t org_id, int64_t user_id, AssignmentKind kind,
                                            std::string_view specialty, int64_t now_ms) = 0;
  // kNotFound if the user is not assigned there.
  virtual Status UnassignEngineer(int64_t org_id, int64_t user_id) = 0;
  virtual Result<std::vector<Assignment>> ListAssignments(std::optional<int64_t> org_id) = 0;
  // The organisations a user is assigned to, sorted.
  virtual Result<std::vector<int64_t>> AssignedOrgIds(int64_t user_id) = 0;

  // Keeps the newest kMaxNoteVersions versions of each organisation's notes (older ones go as
  // new ones come), so a client that saves in a loop cannot grow the database without bound.
  static constexpr int kMaxNoteVersions = 500;
  virtual Result<NoteVersion> SaveOrgNote(int64_t org_id, std::string_view body,
                                          std::optional<int64_t> author_user_id,
                                          std::string_view author, int64_t now_ms) = 0;
  // Newest first; the first is the current text.
  virtual Result<std::vector<NoteVersion>> ListOrgNotes(int64_t org_id, int limit) = 0;

  virtual Result<Session> CreateSession(const NewSession& session) = 0;
  // A live session and its enabled user: kPermissionDenied if unknown, past its absolute expiry,
  // idle longer than idle_ms, or its user disabled. Marks it seen (at most once a minute).
  virtual Result<std::pair<Session, User>> AuthenticateSession(std::string_view session_hash,
                                                               int64_t now_ms, int64_t idle_ms) = 0;
  virtual Status DeleteSession(int64_t session_id) = 0;
  // One user's live sessions (not past their absolute expiry, not idle longer than idle_ms: the
  // ones AuthenticateSession would still accept), newest first.
  virtual Result<std::vector<Session>> ListUserSessions(int64_t user_id, int64_t now_ms,
                                                        int64_t idle_ms) = 0;
  // Ends one session of one user; kNotFound when the user has no session with that id (another
  // user's session included, so ids of others' sessions cannot be probed).
  virtual Status EndUserSession(int64_t user_id, int64_t session_id) = 0;
  // Deletes sessions past their absolute expiry or idle longer than idle_ms; the count.
  virtual Result<int64_t> PruneSessions(int64_t now_ms, int64_t idle_ms) = 0;
};

}  // namespace dozor::server
