#include "platform/host.hpp"

#include <windows.h>

#include <string_view>

#include "dozor/common/text.hpp"
#include "platform/windows/wide_text.hpp"

namespace dozor::agent::platform {
namespace {

constexpr wchar_t kCryptographyKey[] = L"SOFTWARE\\Microsoft\\Cryptography";
constexpr char kMachineGuidName[] = "HKLM\\SOFTWARE\\Microsoft\\Cryptography\\MachineGuid";

class RegistryKey {
 public:
  RegistryKey() = default;
  ~RegistryKey() {
    if (key_ != nullptr) {
      ::RegCloseKey(key_);
    }
  }
  RegistryKey(const RegistryKey&) = delete;
  RegistryKey& operator=(const RegistryKey&) = delete;
  [[nodiscard]] HKEY get() const { return key_; }
  [[nodiscard]] HKEY* Put() { return &key_; }

 private:
  HKEY key_ = nullptr;
};

}  // namespace

std::string Hostname() {
  // The DNS host name ("pc-buh-01"), not the NetBIOS name, which is upper-cased and cut at 15
  // characters; the same name `hostname` prints on Linux.
  DWORD size = 0;
  ::GetComputerNameExW(ComputerNameDnsHostname, nullptr, &size);
  if (size == 0) {
    return {};
  }
  std::wstring name(size, L'\0');
  if (!::GetComputerNameExW(ComputerNameDnsHostname, name.data(), &size)) {
    return {};
  }
  name.resize(size);  // on success `size` excludes the terminating NUL
  return Narrow(name);
}

Result<std::string> ReadMachineId(const std::filesystem::path& root) {
  if (root != std::filesystem::path("/")) {
    // A capture (collect --root) holds registry exports, not a registry to ask; its MachineGuid,
    // when captured, reaches the inventory through the os part instead.
    return MakeError(ErrorCode::kNotFound, "a fixture tree has no live machine id");
  }
  // The 64-bit view: a 32-bit build of the agent would otherwise read WOW6432Node, which has no
  // MachineGuid.
  RegistryKey key;
  LSTATUS status = ::RegOpenKeyExW(HKEY_LOCAL_MACHINE, kCryptographyKey, 0,
                                   KEY_QUERY_VALUE | KEY_WOW64_64KEY, key.Put());
  if (status != ERROR_SUCCESS) {
    return Win32Error(kMachineGuidName, static_cast<DWORD>(status));
  }
  // A GUID is 36 characters; room for anything up to kMaxMachineIdLength and more, so that a
  // longer value is recognised as too long rather than failing the read.
  wchar_t value[kMaxMachineIdLength * 2 + 1] = {};
  DWORD size = sizeof(value);
  status = ::RegGetValueW(key.get(), nullptr, L"MachineGuid", RRF_RT_REG_SZ, nullptr, value, &size);
  if (status == ERROR_MORE_DATA) {
    return MakeError(ErrorCode::kDataLoss, std::string(kMachineGuidName) + ": not a machine id");
  }
  if (status != ERROR_SUCCESS) {
    return Win32Error(kMachineGuidName, static_cast<DWORD>(status));
  }
  const std::string text = Narrow(value);  // RRF_RT_REG_SZ guarantees the terminating NUL
  const std::string id(Trim(text));
  if (id.empty() || id.size() > kMaxMachineIdLength) {
    return MakeError(ErrorCode::kDataLoss, std::string(kMachineGuidName) + ": not a machine id");
  }
  return id;
}

}  // namespace dozor::agent::platform
