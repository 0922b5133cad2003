// The signed one-time acknowledgement link in an alert message: whoever holds the message can
// acknowledge that alert with one click, without logging in, and nothing else. The link names the
// alert by the feed event it came from and its kind (the alert's row does not exist yet when its
// messages are rendered), and the recipient, signed with the server's key (HMAC-SHA256, 128 bits
// kept). It works once (an acknowledged alert stays acknowledged) and for kAckLinkValidMs.
//
// The link opens a page with a button; only the button's POST acknowledges, so a mail scanner or a
// chat's link preview that fetches the URL acknowledges nothing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dozor::server::alerts {

inline constexpr int64_t kAckLinkValidMs = 7LL * 24 * 3600 * 1000;
inline constexpr size_t kAckKeyBytes = 32;

struct AckTarget {
  int64_t event_id = 0;
  std::string kind;
  int64_t user_id = 0;  // the recipient the link was sent to: the acknowledgement is theirs
};

// 32 hex characters.
std::string AckToken(std::string_view key, const AckTarget& target);
// Constant-time.
bool VerifyAckToken(std::string_view key, const AckTarget& target, std::string_view token);
// "{base}/alert-ack?e=..&k=..&u=..&t=.." (base without a trailing slash).
std::string AckLink(std::string_view base_url, std::string_view key, const AckTarget& target);

}  // namespace dozor::server::alerts
