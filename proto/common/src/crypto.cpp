#include "dozor/common/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "dozor/common/base64.hpp"

namespace dozor {
namespace {

std::string ToHex(const unsigned char* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0x0f];
  }
  return out;
}

constexpr size_t kGcmKeyBytes = 32;
constexpr size_t kGcmNonceBytes = 12;
constexpr size_t kGcmTagBytes = 16;

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* Bytes(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

}  // namespace

Result<std::string> RandomHex(size_t bytes) {
  std::vector<unsigned char> buffer(bytes);
  if (RAND_bytes(buffer.data(), static_cast<int>(buffer.size())) != 1) {
    return MakeError(ErrorCode::kInternal, "the OS random generator failed");
  }
  return ToHex(buffer.data(), buffer.size());
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  return ToHex(digest, size);
}

std::string HmacSha256Hex(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &size);
  return ToHex(digest, size);
}

std::string HexEncode(std::string_view bytes) { return ToHex(Bytes(bytes), bytes.size()); }

Result<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return MakeError(ErrorCode::kInvalidArgument, "hex text has an odd number of characters");
  }
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    const int high = HexValue(hex[2 * i]);
    const int low = HexValue(hex[2 * i + 1]);
    if (high < 0 || low < 0) {
      return MakeError(ErrorCode::kInvalidArgument, "not a hex character");
    }
    out[i] = static_cast<char>((high << 4) | low);
  }
  return out;
}

Result<std::string> HkdfSha256(std::string_view key_material, std::string_view salt,
                               std::string_view info, size_t length) {
  if (length == 0 || length > 255 * 32) {
    return MakeError(ErrorCode::kInvalidArgument, "HKDF-SHA256 output must be 1..8160 bytes");
  }
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> context(
      EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr), EVP_PKEY_CTX_free);
  std::string out(length, '\0');
  size_t out_length = length;
  // OpenSSL takes the key and info lengths as int; an empty salt means RFC 5869's zero salt.
  if (context == nullptr || EVP_PKEY_derive_init(context.get()) != 1 ||
      EVP_PKEY_CTX_set_hkdf_md(context.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_salt(context.get(), Bytes(salt), static_cast<int>(salt.size())) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_key(context.get(), Bytes(key_material),
                                 static_cast<int>(key_material.size())) != 1 ||
      EVP_PKEY_CTX_add1_hkdf_info(context.get(), Bytes(info), static_cast<int>(info.size())) != 1 ||
      EVP_PKEY_derive(context.get(), reinterpret_cast<unsigned char*>(out.data()), &out_length) !=
          1 ||
      out_length != length) {
    return MakeError(ErrorCode::kInternal, "HKDF-SHA256 failed");
  }
  return out;
}

Result<std::string> SealAes256Gcm(std::string_view key, std::string_view plaintext,
                                  std::string_view associated) {
  if (key.size() != kGcmKeyBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "an AES-256-GCM key is 32 bytes");
  }
  std::string out(kGcmNonceBytes + plaintext.size() + kGcmTagBytes, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  auto* ciphertext = nonce + kGcmNonceBytes;
  auto* tag = ciphertext + plaintext.size();
  if (RAND_bytes(nonce, static_cast<int>(kGcmNonceBytes)) != 1) {
    return MakeError(ErrorCode::kInternal, "the OS random generator failed");
  }
  CipherContext context(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int written = 0;
  int final_written = 0;
  if (context == nullptr ||
      EVP_EncryptInit_ex(context.get(), EVP_aes_256_gcm(), nullptr, Bytes(key), nonce) != 1 ||
      EVP_EncryptUpdate(context.get(), nullptr, &written, Bytes(associated),
                        static_cast<int>(associated.size())) != 1 ||
      EVP_EncryptUpdate(context.get(), ciphertext, &written, Bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(context.get(), ciphertext + written, &final_written) != 1 ||
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kGcmTagBytes),
                          tag) != 1) {
    return MakeError(ErrorCode::kInternal, "AES-256-GCM encryption failed");
  }
  return out;
}

Result<std::string> OpenAes256Gcm(std::string_view key, std::string_view sealed,
                                  std::string_view associated) {
  if (key.size() != kGcmKeyBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "an AES-256-GCM key is 32 bytes");
  }
  if (sealed.size() < kGcmNonceBytes + kGcmTagBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "too short for AES-256-GCM nonce and tag");
  }
  const std::string_view nonce = sealed.substr(0, kGcmNonceBytes);
  const std::string_view ciphertext =
      sealed.substr(kGcmNonceBytes, sealed.size() - kGcmNonceBytes - kGcmTagBytes);
  std::string tag(sealed.substr(sealed.size() - kGcmTagBytes));
  std::string out(ciphertext.size(), '\0');
  CipherContext context(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int written = 0;
  int final_written = 0;
  if (context == nullptr ||
      EVP_DecryptInit_ex(context.get(), EVP_aes_256_gcm(), nullptr, Bytes(key), Bytes(nonce)) !=
          1 ||
      EVP_DecryptUpdate(context.get(), nullptr, &written, Bytes(associated),
                        static_cast<int>(associated.size())) != 1 ||
      EVP_DecryptUpdate(context.get(), reinterpret_cast<unsigned char*>(out.data()), &written,
                        Bytes(ciphertext), static_cast<int>(ciphertext.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kGcmTagBytes),
                          tag.data()) != 1) {
    return MakeError(ErrorCode::kInternal, "AES-256-GCM decryption failed");
  }
  // The tag is checked here: nothing decrypted is returned unless it verifies.
  if (EVP_DecryptFinal_ex(context.get(), reinterpret_cast<unsigned char*>(out.data()) + written,
                          &final_written) != 1) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "AES-256-GCM tag does not verify (another key, another owner, or altered)");
  }
  return out;
}

Status ValidateCertificateAndKey(std::string_view cert_pem, std::string_view key_pem) {
  BIO* cert_bio = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  X509* cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
  BIO_free(cert_bio);
  if (cert == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument, "not a PEM certificate");
  }
  BIO* key_bio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  BIO_free(key_bio);
  if (key == nullptr) {
    X509_free(cert);
    return MakeError(ErrorCode::kInvalidArgument, "not a PEM private key (or it is encrypted)");
  }
  bool matches = X509_check_private_key(cert, key) == 1;
  EVP_PKEY_free(key);
  X509_free(cert);
  if (!matches) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the private key does not belong to the certificate");
  }
  return OkStatus();
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

namespace {

constexpr size_t kMaxCertificateBytes = 1 << 20;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

// The first certificate of a PEM text (what follows it is ignored).
Result<X509Ptr> ParseFirstCertificate(std::string_view pem) {
  if (pem.size() > kMaxCertificateBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "certificate file is larger than 1 MiB");
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) {
    return MakeError(ErrorCode::kInternal, "out of memory reading a certificate");
  }
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) {
    return MakeError(ErrorCode::kInvalidArgument, "no PEM certificate found");
  }
  return cert;
}

// The raw SHA-256 of a DER encoding from an i2d_* call (which allocated `der`; freed here).
Result<std::string> Sha256OfDer(int length, unsigned char* der) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  const bool ok =
      length > 0 && der != nullptr &&
      EVP_Digest(der, static_cast<size_t>(length), digest, &size, EVP_sha256(), nullptr) == 1;
  OPENSSL_free(der);
  if (!ok) {
    return MakeError(ErrorCode::kInvalidArgument, "certificate cannot be encoded");
  }
  return std::string(reinterpret_cast<const char*>(digest), size);
}

}  // namespace

Result<std::string> CertificateSha256Hex(std::string_view pem) {
  DOZOR_ASSIGN_OR_RETURN(auto cert, ParseFirstCertificate(pem));
  unsigned char* der = nullptr;
  const int length = i2d_X509(cert.get(), &der);
  DOZOR_ASSIGN_OR_RETURN(auto digest, Sha256OfDer(length, der));
  return HexEncode(digest);
}

Result<std::string> PublicKeyPin(std::string_view pem) {
  DOZOR_ASSIGN_OR_RETURN(auto cert, ParseFirstCertificate(pem));
  unsigned char* der = nullptr;
  const int length = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert.get()), &der);
  DOZOR_ASSIGN_OR_RETURN(auto digest, Sha256OfDer(length, der));
  return "sha256//" + Base64Encode(digest);
}

Status VerifyIssuedBy(std::string_view cert_chain_pem, std::string_view ca_pem) {
  DOZOR_ASSIGN_OR_RETURN(auto ca, ParseFirstCertificate(ca_pem));
  if (cert_chain_pem.size() > kMaxCertificateBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "certificate file is larger than 1 MiB");
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(cert_chain_pem.data(), static_cast<int>(cert_chain_pem.size())), BIO_free);
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> chain(
      sk_X509_new_null(), [](STACK_OF(X509) * certs) { sk_X509_pop_free(certs, X509_free); });
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      X509_STORE_CTX_free);
  if (!bio || !store || !chain || !ctx || X509_STORE_add_cert(store.get(), ca.get()) != 1) {
    return MakeError(ErrorCode::kInternal, "out of memory verifying a certificate");
  }
  X509Ptr leaf(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!leaf) {
    return MakeError(ErrorCode::kInvalidArgument, "no PEM certificate found");
  }
  while (X509* extra = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    sk_X509_push(chain.get(), extra);
  }
  if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), chain.get()) != 1) {
    return MakeError(ErrorCode::kInternal, "cannot set up certificate verification");
  }
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_NO_CHECK_TIME | X509_V_FLAG_PARTIAL_CHAIN);
  if (X509_verify_cert(ctx.get()) != 1) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string("certificate does not chain to the CA: ") +
                         X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));
  }
  return OkStatus();
}

}  // namespace dozor
