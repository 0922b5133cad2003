// What an account's profile fields may hold. Pure, so every store backend and every caller (API,
// dozorctl, a future import of users) refuses the same values with the same words. Empty means
// "not set" for every optional field.
#pragma once

#include <string_view>

#include "dozor/common/result.hpp"

namespace dozor::server {

// "ru" or "en": the languages the product speaks.
Status CheckLanguage(std::string_view language);
// One address: local@domain, the domain with a dot, no spaces or control characters, at most 200
// bytes. Alerts go there, so a typo caught now is an alert not lost later.
Status CheckEmail(std::string_view email);
// A Telegram chat id: an integer (negative for groups) or a public @channel name (5-32 letters,
// digits, underscores).
Status CheckTelegramChatId(std::string_view chat_id);
// An IANA time zone name as tzdata spells it: "UTC", "Europe/Moscow", "America/Argentina/Salta",
// "Etc/GMT-3". Checked by shape, not against the installed tzdata, so one server's missing
// package never makes a valid zone invalid.
Status CheckTimeZone(std::string_view time_zone);
// Quiet hours: "22:00-07:00" (across midnight allowed) or empty.
Status CheckQuietHours(std::string_view quiet_hours);

}  // namespace dozor::server
