// Who may read or write a file on Windows: its access list (DACL). A secret is owner-only when no
// allow entry gives one of the broad groups (everyone, every signed-in or interactive user, the
// local Users or Guests) its data or the right to change the list.
#include "platform/file_access.hpp"

#include <windows.h>

#include <aclapi.h>
#include <sddl.h>

#include <array>
#include <string>
#include <vector>

#include "platform/windows/wide_text.hpp"

namespace dozor::agent::platform {
namespace {

struct BroadGroup {
  WELL_KNOWN_SID_TYPE type;
  // English names: the localised ones ("ВСТРОЕННЫЕ\Пользователи") differ per machine, and the
  // description is read on the server.
  const char* name;
};
constexpr std::array<BroadGroup, 5> kBroadGroups = {{
    {WinWorldSid, "Everyone"},                                       // S-1-1-0
    {WinAuthenticatedUserSid, "NT AUTHORITY\\Authenticated Users"},  // S-1-5-11
    {WinBuiltinUsersSid, "BUILTIN\\Users"},                          // S-1-5-32-545
    {WinInteractiveSid, "NT AUTHORITY\\INTERACTIVE"},                // S-1-5-4
    {WinBuiltinGuestsSid, "BUILTIN\\Guests"},                        // S-1-5-32-546
}};

// What reading the secret takes, and what writing it (or rewriting the list, or taking the
// file over, which lead to both) takes.
constexpr ACCESS_MASK kReadRights = FILE_READ_DATA;
constexpr ACCESS_MASK kWriteRights = FILE_WRITE_DATA | FILE_APPEND_DATA | WRITE_DAC | WRITE_OWNER;

class LocalMemory {
 public:
  LocalMemory() = default;
  ~LocalMemory() {
    if (memory_ != nullptr) {
      ::LocalFree(memory_);
    }
  }
  LocalMemory(const LocalMemory&) = delete;
  LocalMemory& operator=(const LocalMemory&) = delete;
  [[nodiscard]] PSECURITY_DESCRIPTOR* Put() { return &memory_; }

 private:
  PSECURITY_DESCRIPTOR memory_ = nullptr;
};

struct GroupAccess {
  std::array<BYTE, SECURITY_MAX_SID_SIZE> sid{};
  bool sid_valid = false;
  ACCESS_MASK denied = 0;   // denied by entries before the allowing ones
  ACCESS_MASK allowed = 0;  // allowed and not denied before
};

// Generic rights in an entry (GENERIC_READ ...) as the file rights they stand for.
ACCESS_MASK FileRights(ACCESS_MASK mask) {
  GENERIC_MAPPING mapping = {FILE_GENERIC_READ, FILE_GENERIC_WRITE, FILE_GENERIC_EXECUTE,
                             FILE_ALL_ACCESS};
  ::MapGenericMask(&mask, &mapping);
  return mask;
}

// Walks the list in order, as Windows evaluates it: an entry denying a group a right before the
// entry allowing it takes that right away. Entries for other principals are not resolved (a deny
// for Everyone does not cancel an allow for Users here), which errs on the side of "not
// owner-only".
void Evaluate(PACL dacl, std::array<GroupAccess, kBroadGroups.size()>* groups) {
  ACL_SIZE_INFORMATION info = {};
  if (!::GetAclInformation(dacl, &info, sizeof(info), AclSizeInformation)) {
    return;
  }
  for (DWORD index = 0; index < info.AceCount; ++index) {
    void* entry = nullptr;
    if (!::GetAce(dacl, index, &entry)) {
      continue;
    }
    const auto* header = static_cast<const ACE_HEADER*>(entry);
    if ((header->AceFlags & INHERIT_ONLY_ACE) != 0) {
      continue;  // applies to the folder's future children, not to this file
    }
    const bool allow = header->AceType == ACCESS_ALLOWED_ACE_TYPE ||
                       header->AceType == ACCESS_ALLOWED_CALLBACK_ACE_TYPE;
    const bool deny = header->AceType == ACCESS_DENIED_ACE_TYPE ||
                      header->AceType == ACCESS_DENIED_CALLBACK_ACE_TYPE;
    if (!allow && !deny) {
      continue;  // audit, label and object entries grant nothing on a file
    }
    // The allowed, denied and callback entries share this layout: header, mask, SID.
    const auto* ace = static_cast<const ACCESS_ALLOWED_ACE*>(entry);
    PSID sid = const_cast<DWORD*>(&ace->SidStart);
    const ACCESS_MASK rights = FileRights(ace->Mask);
    for (GroupAccess& group : *groups) {
      if (!group.sid_valid || !::EqualSid(sid, group.sid.data())) {
        continue;
      }
      if (deny) {
        group.denied |= rights;
      } else {
        group.allowed |= rights & ~group.denied;
      }
    }
  }
}

}  // namespace

Result<FileAccess> ReadFileAccess(const std::filesystem::path& path) {
  WIN32_FILE_ATTRIBUTE_DATA attributes = {};
  if (!::GetFileAttributesExW(path.c_str(), GetFileExInfoStandard, &attributes)) {
    const DWORD error = ::GetLastError();
    if (error == ERROR_FILE_NOT_FOUND || error == ERROR_PATH_NOT_FOUND) {
      return MakeError(ErrorCode::kNotFound, "no " + PathText(path));
    }
    return MakeError(ErrorCode::kPermissionDenied,
                     "cannot read " + PathText(path) + ": " + WindowsErrorMessage(error));
  }
  FileAccess access;
  access.regular_file =
      (attributes.dwFileAttributes & (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_DEVICE)) == 0;
  // icacls takes well-known SIDs in every language; "Administrators" is "Администраторы" on a
  // Russian Windows. *S-1-5-18 is SYSTEM, *S-1-5-32-544 the local Administrators group.
  access.make_owner_only_hint =
      "icacls \"" + PathText(path) + "\" /inheritance:r /grant:r *S-1-5-18:F *S-1-5-32-544:F";

  PACL dacl = nullptr;
  LocalMemory descriptor;
  const DWORD status =
      ::GetNamedSecurityInfoW(path.c_str(), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, nullptr,
                              nullptr, &dacl, nullptr, descriptor.Put());
  if (status != ERROR_SUCCESS) {
    return MakeError(
        ErrorCode::kPermissionDenied,
        "cannot read the access list of " + PathText(path) + ": " + WindowsErrorMessage(status));
  }
  if (dacl == nullptr) {
    // A NULL DACL is not an empty one: it lets everyone do everything.
    access.owner_only = false;
    access.description = "no access list: everyone has full access";
    return access;
  }

  std::array<GroupAccess, kBroadGroups.size()> groups;
  for (size_t i = 0; i < kBroadGroups.size(); ++i) {
    DWORD size = static_cast<DWORD>(groups[i].sid.size());
    groups[i].sid_valid =
        ::CreateWellKnownSid(kBroadGroups[i].type, nullptr, groups[i].sid.data(), &size) != FALSE;
  }
  Evaluate(dacl, &groups);

  std::vector<std::string> problems;
  for (size_t i = 0; i < kBroadGroups.size(); ++i) {
    const bool reads = (groups[i].allowed & kReadRights) != 0;
    const bool writes = (groups[i].allowed & kWriteRights) != 0;
    if (reads && writes) {
      problems.push_back(std::string("readable and writable by ") + kBroadGroups[i].name);
    } else if (reads) {
      problems.push_back(std::string("readable by ") + kBroadGroups[i].name);
    } else if (writes) {
      problems.push_back(std::string("writable by ") + kBroadGroups[i].name);
    }
  }
  access.owner_only = problems.empty();
  if (access.owner_only) {
    access.description =
        "not readable or writable by Everyone, Authenticated Users, Users, INTERACTIVE or Guests";
  } else {
    for (const std::string& problem : problems) {
      access.description += (access.description.empty() ? "" : ", ") + problem;
    }
  }
  return access;
}

namespace {

bool IsSid(PSID sid, WELL_KNOWN_SID_TYPE type) {
  return sid != nullptr && ::IsWellKnownSid(sid, type) != FALSE;
}

// This process's user (SYSTEM when the MSI runs the installer step).
bool IsProcessUser(PSID sid) {
  HANDLE token = nullptr;
  if (sid == nullptr || !::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token)) {
    return false;
  }
  std::array<BYTE, sizeof(TOKEN_USER) + SECURITY_MAX_SID_SIZE> buffer{};
  DWORD size = 0;
  const bool read = ::GetTokenInformation(token, TokenUser, buffer.data(),
                                          static_cast<DWORD>(buffer.size()), &size) != FALSE;
  ::CloseHandle(token);
  return read && ::EqualSid(reinterpret_cast<TOKEN_USER*>(buffer.data())->User.Sid, sid) != FALSE;
}

// Sets an object's access list (protected) and, with `set_owner`, its owner from SDDL
// ("O:BAD:P(...)").
Status ApplySecurity(const std::filesystem::path& path, const wchar_t* sddl, bool set_owner) {
  LocalMemory descriptor;
  if (!::ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1,
                                                              descriptor.Put(), nullptr)) {
    return MakeError(ErrorCode::kInternal,
                     "cannot build an access list: " + WindowsErrorMessage(::GetLastError()));
  }
  PSID owner = nullptr;
  PACL dacl = nullptr;
  BOOL defaulted = FALSE;
  BOOL present = FALSE;
  ::GetSecurityDescriptorOwner(*descriptor.Put(), &owner, &defaulted);
  ::GetSecurityDescriptorDacl(*descriptor.Put(), &present, &dacl, &defaulted);
  std::wstring name = path.native();
  const DWORD status =
      ::SetNamedSecurityInfoW(name.data(), SE_FILE_OBJECT,
                              (set_owner ? OWNER_SECURITY_INFORMATION : 0) |
                                  DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                              set_owner ? owner : nullptr, nullptr, dacl, nullptr);
  if (status != ERROR_SUCCESS) {
    return MakeError(
        ErrorCode::kPermissionDenied,
        "cannot set the access list of " + PathText(path) + ": " + WindowsErrorMessage(status));
  }
  return OkStatus();
}

}  // namespace

Result<bool> OwnedByAdministrators(const std::filesystem::path& path) {
  PSID owner = nullptr;
  LocalMemory descriptor;
  const DWORD status =
      ::GetNamedSecurityInfoW(path.c_str(), SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION, &owner,
                              nullptr, nullptr, nullptr, descriptor.Put());
  if (status == ERROR_FILE_NOT_FOUND || status == ERROR_PATH_NOT_FOUND) {
    return MakeError(ErrorCode::kNotFound, "no " + PathText(path));
  }
  if (status != ERROR_SUCCESS) {
    return MakeError(ErrorCode::kPermissionDenied, "cannot read the owner of " + PathText(path) +
                                                       ": " + WindowsErrorMessage(status));
  }
  return IsSid(owner, WinLocalSystemSid) || IsSid(owner, WinBuiltinAdministratorsSid) ||
         IsProcessUser(owner);
}

Status RestrictToAdministrators(const std::filesystem::path& folder) {
  // Owner Administrators; SYSTEM and Administrators full control; users may read and list (as
  // /etc/dozor on Linux: the configuration and the CA are no secrets). Protected: nothing that
  // ProgramData passes on (which lets every user create and change what they created) applies.
  constexpr const wchar_t* kFolder =
      L"O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)";
  // Files directly inside: the same, as their own list, so an explicit entry a user gave
  // themselves on a file they planted is gone.
  constexpr const wchar_t* kFile = L"O:BAD:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;0x1200a9;;;BU)";
  // Subfolders (state: identity and spool; logs): SYSTEM and Administrators only.
  constexpr const wchar_t* kPrivate = L"O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";
  DOZOR_RETURN_IF_ERROR(ApplySecurity(folder, kFolder, true));
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
    // Subfolders (state, logs) get their own list; what is inside them the agent wrote with its
    // own owner-only list (files.hpp), or they take the folder's. Not rewritten one by one: a
    // file planted inside before the installation keeps entries of its own (see
    // docs/windows-agent.md, "Not yet").
    const bool folder_entry = entry.is_directory(ec);
    DOZOR_RETURN_IF_ERROR(ApplySecurity(entry.path(), folder_entry ? kPrivate : kFile, true));
  }
  if (ec) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "cannot list " + PathText(folder) + ": " + ec.message());
  }
  return OkStatus();
}

}  // namespace dozor::agent::platform
