#include "domain/user_profile.hpp"

#include <string>

#include "domain/local_time.hpp"

namespace dozor::server {
namespace {

bool IsAsciiAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

Status Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

}  // namespace

Status CheckLanguage(std::string_view language) {
  if (language != "ru" && language != "en") {
    return Invalid("language must be 'ru' or 'en'");
  }
  return OkStatus();
}

Status CheckEmail(std::string_view email) {
  if (email.empty()) return OkStatus();
  constexpr char kShape[] = "email must look like name@example.com";
  if (email.size() > 200) return Invalid("email must be at most 200 bytes");
  for (const char c : email) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == ',' || c == ';' || c == '<' || c == '>') {
      return Invalid(kShape);
    }
  }
  const size_t at = email.find('@');
  if (at == std::string_view::npos || at == 0 ||
      email.find('@', at + 1) != std::string_view::npos) {
    return Invalid(kShape);
  }
  const std::string_view domain = email.substr(at + 1);
  const size_t dot = domain.find('.');
  if (dot == std::string_view::npos || dot == 0 || domain.back() == '.' ||
      domain.find("..") != std::string_view::npos) {
    return Invalid(kShape);
  }
  return OkStatus();
}

Status CheckTelegramChatId(std::string_view chat_id) {
  if (chat_id.empty()) return OkStatus();
  if (chat_id.front() == '@') {
    const std::string_view name = chat_id.substr(1);
    bool ok = name.size() >= 5 && name.size() <= 32;
    for (const char c : name) ok = ok && (IsAsciiAlnum(c) || c == '_');
    if (ok) return OkStatus();
  } else {
    const std::string_view digits = chat_id.front() == '-' ? chat_id.substr(1) : chat_id;
    bool ok = !digits.empty() && digits.size() <= 19;
    for (const char c : digits) ok = ok && c >= '0' && c <= '9';
    if (ok) return OkStatus();
  }
  return Invalid("telegram_chat_id must be a number (negative for a group) or @channel_name");
}

Status CheckQuietHours(std::string_view quiet_hours) {
  if (quiet_hours.empty()) return OkStatus();
  DOZOR_RETURN_IF_ERROR(ParseDailyHours(quiet_hours));
  return OkStatus();
}

Status CheckTimeZone(std::string_view time_zone) {
  if (time_zone.empty()) return OkStatus();
  constexpr char kShape[] = "time_zone must be an IANA time zone name such as Europe/Moscow or UTC";
  if (time_zone.size() > 64) return Invalid(kShape);
  size_t start = 0;
  while (start <= time_zone.size()) {
    const size_t slash = time_zone.find('/', start);
    const std::string_view part =
        time_zone.substr(start, slash == std::string_view::npos ? time_zone.npos : slash - start);
    // Every part starts with a letter (no "", ".", ".." and no leading sign), then letters, digits,
    // _ + - (Etc/GMT+3, America/Port-au-Prince).
    if (part.empty() || !IsAsciiAlnum(part.front()) ||
        (part.front() >= '0' && part.front() <= '9')) {
      return Invalid(kShape);
    }
    for (const char c : part) {
      if (!IsAsciiAlnum(c) && c != '_' && c != '+' && c != '-') return Invalid(kShape);
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return OkStatus();
}

}  // namespace dozor::server
