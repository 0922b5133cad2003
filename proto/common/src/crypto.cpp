#include "dozor/common/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <memory>
#include <vector>

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

Result<std::string> CertificateSha256Hex(std::string_view pem) {
  if (pem.size() > (1 << 20)) {
    return MakeError(ErrorCode::kInvalidArgument, "certificate file is larger than 1 MiB");
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) {
    return MakeError(ErrorCode::kInternal, "out of memory reading a certificate");
  }
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) {
    return MakeError(ErrorCode::kInvalidArgument, "no PEM certificate found");
  }
  unsigned char* der = nullptr;
  const int length = i2d_X509(cert.get(), &der);
  if (length <= 0 || der == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument, "certificate cannot be encoded");
  }
  std::string encoded(reinterpret_cast<const char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return Sha256Hex(encoded);
}

}  // namespace dozor
