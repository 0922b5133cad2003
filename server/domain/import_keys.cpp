#include "domain/import_keys.hpp"

#include "dozor/common/crypto.hpp"

namespace dozor::server {
namespace {

constexpr std::string_view kWrapVersion = "v1";
constexpr std::string_view kWrapLabel = "dozor import key wrap v1";
constexpr std::string_view kKeyIdLabel = "dozor import key id v1";
constexpr size_t kKeyIdBytes = 8;

std::string Associated(const ImportKeyOwner& owner) {
  return "dozor import key|org=" + std::to_string(owner.org_id) +
         "|token=" + std::to_string(owner.token_id);
}

}  // namespace

Result<ImportKeyWrapper> ImportKeyWrapper::FromServerKey(std::string_view server_key) {
  if (server_key.size() != kImportWrappingKeyBytes) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "the import wrapping key must be " + std::to_string(kImportWrappingKeyBytes) + " bytes");
  }
  // Two keys from one secret: the one that encrypts, and a public name for it.
  DOZOR_ASSIGN_OR_RETURN(std::string wrapping_key,
                         HkdfSha256(server_key, "", kWrapLabel, kImportWrappingKeyBytes));
  DOZOR_ASSIGN_OR_RETURN(std::string key_id, HkdfSha256(server_key, "", kKeyIdLabel, kKeyIdBytes));
  return ImportKeyWrapper(std::move(wrapping_key), HexEncode(key_id));
}

Result<std::string> ImportKeyWrapper::Wrap(const ImportKeyOwner& owner,
                                           std::string_view import_key) const {
  DOZOR_ASSIGN_OR_RETURN(std::string sealed,
                         SealAes256Gcm(wrapping_key_, import_key, Associated(owner)));
  return std::string(kWrapVersion) + ":" + key_id_ + ":" + HexEncode(sealed);
}

std::string_view ImportKeyWrapper::KeyIdOf(std::string_view wrapped) {
  const size_t first = wrapped.find(':');
  const size_t second = first == std::string_view::npos ? first : wrapped.find(':', first + 1);
  if (second == std::string_view::npos || wrapped.substr(0, first) != kWrapVersion) {
    return {};
  }
  return wrapped.substr(first + 1, second - first - 1);
}

Result<std::string> ImportKeyWrapper::Unwrap(const ImportKeyOwner& owner,
                                             std::string_view wrapped) const {
  const std::string_view key_id = KeyIdOf(wrapped);
  if (key_id.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "not a wrapped import key");
  }
  // "v1:" + key id + ":" precede the sealed bytes.
  const size_t sealed_at = kWrapVersion.size() + 1 + key_id.size() + 1;
  if (key_id != key_id_) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "the import key of enrollment token " + std::to_string(owner.token_id) +
                         " was wrapped with another server import key (key " +
                         std::string(key_id.substr(0, 2 * kKeyIdBytes)) + ", this server has " +
                         key_id_ +
                         "): the server's import-wrap.key was replaced or lost since the token "
                         "was issued");
  }
  auto sealed = HexDecode(wrapped.substr(sealed_at));
  if (!sealed.ok()) {
    return MakeError(ErrorCode::kInvalidArgument, "not a wrapped import key");
  }
  auto opened = OpenAes256Gcm(wrapping_key_, *sealed, Associated(owner));
  if (!opened.ok()) {
    return MakeError(opened.error().code == ErrorCode::kPermissionDenied
                         ? ErrorCode::kPermissionDenied
                         : ErrorCode::kInvalidArgument,
                     "the import key of enrollment token " + std::to_string(owner.token_id) +
                         " does not unwrap: " + opened.error().message);
  }
  return opened;
}

Result<int64_t> FindImportSigner(const SnapshotEnvelope& envelope,
                                 const std::vector<ImportSignerCandidate>& candidates,
                                 const ImportKeyWrapper* wrapper) {
  if (wrapper == nullptr) {
    return MakeError(ErrorCode::kUnavailable,
                     "imports are not available: the server runs without its import key");
  }
  std::optional<int64_t> signer;
  std::vector<std::string> unchecked;  // why a candidate could not be checked, for the operator
  for (const auto& candidate : candidates) {
    if (!candidate.wrapped_import_key) {
      unchecked.push_back("enrollment token " + candidate.hint +
                          "… was issued before signed imports, so the server holds no import key "
                          "for it");
      continue;
    }
    auto key =
        wrapper->Unwrap({candidate.org_id, candidate.token_id}, *candidate.wrapped_import_key);
    if (!key.ok()) {
      unchecked.push_back(key.error().message);
      continue;
    }
    if (SnapshotSignedBy(envelope, *key) && !signer) {
      signer = candidate.token_id;
    }
  }
  if (signer) {
    return *signer;
  }
  std::string message =
      "no enrollment token of this organisation matches the file (collected with another "
      "organisation's token, a revoked token, or the file was altered)";
  if (!unchecked.empty()) {
    message += "; ";
    for (size_t i = 0; i < unchecked.size(); ++i) {
      message += (i == 0 ? "" : "; ") + unchecked[i];
    }
    message +=
        ". Issue a new enrollment token for the organisation (dozorctl token create --org ORG) "
        "and collect the machine again with it";
  }
  return MakeError(ErrorCode::kPermissionDenied, message);
}

}  // namespace dozor::server
