// The one-time acknowledgement link's signature: bound to the alert's event, its kind and the
// recipient; any change is refused.
#include <doctest/doctest.h>

#include "alerts/ack_link.hpp"

namespace dozor::server::alerts {
namespace {

TEST_CASE("acknowledgement links: signed for one alert and one recipient") {
  const std::string key(32, 'k');
  const AckTarget target{812, "finding_opened", 4};
  const std::string token = AckToken(key, target);
  CHECK(token.size() == 32);
  CHECK(VerifyAckToken(key, target, token));
  CHECK_FALSE(VerifyAckToken(key, AckTarget{813, "finding_opened", 4}, token));
  CHECK_FALSE(VerifyAckToken(key, AckTarget{812, "host_offline", 4}, token));
  CHECK_FALSE(VerifyAckToken(key, AckTarget{812, "finding_opened", 5}, token));
  CHECK_FALSE(VerifyAckToken(std::string(32, 'x'), target, token));
  CHECK_FALSE(VerifyAckToken(key, target, token.substr(0, 31)));
  CHECK_FALSE(VerifyAckToken(key, target, ""));
  CHECK(AckLink("https://dozor.example", key, target) ==
        "https://dozor.example/alert-ack?e=812&k=finding_opened&u=4&t=" + token);
}

}  // namespace
}  // namespace dozor::server::alerts
