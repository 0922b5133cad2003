#include "alerts/ack_link.hpp"

#include "dozor/common/crypto.hpp"

namespace dozor::server::alerts {

namespace {

constexpr size_t kTokenHexChars = 32;

std::string Signed(const AckTarget& target) {
  return "dozor alert ack\n" + std::to_string(target.event_id) + "\n" + target.kind + "\n" +
         std::to_string(target.user_id);
}

}  // namespace

std::string AckToken(std::string_view key, const AckTarget& target) {
  return HmacSha256Hex(key, Signed(target)).substr(0, kTokenHexChars);
}

bool VerifyAckToken(std::string_view key, const AckTarget& target, std::string_view token) {
  return token.size() == kTokenHexChars && ConstantTimeEquals(AckToken(key, target), token);
}

std::string AckLink(std::string_view base_url, std::string_view key, const AckTarget& target) {
  // Kinds are [a-z_] and ids digits: nothing to escape.
  return std::string(base_url) + "/alert-ack?e=" + std::to_string(target.event_id) +
         "&k=" + target.kind + "&u=" + std::to_string(target.user_id) +
         "&t=" + AckToken(key, target);
}

}  // namespace dozor::server::alerts
