#include "store/alert_store.hpp"

#include <algorithm>
#include <string>

#include "domain/enum_spelling.hpp"
#include "domain/local_time.hpp"

namespace dozor::server {

namespace {

constexpr enum_spelling::Table<AlertChannel, 3> kChannels = {{{AlertChannel::kEmail, "email"},
                                                              {AlertChannel::kTelegram, "telegram"},
                                                              {AlertChannel::kWebhook, "webhook"}}};
constexpr enum_spelling::Table<DeliveryState, 4> kDeliveryStates = {
    {{DeliveryState::kPending, "pending"},
     {DeliveryState::kSent, "sent"},
     {DeliveryState::kFailed, "failed"},
     {DeliveryState::kCancelled, "cancelled"}}};
constexpr enum_spelling::Table<AfterHours, 3> kAfterHours = {
    {{AfterHours::kAll, "all"}, {AfterHours::kUrgent, "urgent"}, {AfterHours::kNone, "none"}}};

}  // namespace

std::string_view ToString(AlertChannel channel) { return enum_spelling::Spell(kChannels, channel); }
std::optional<AlertChannel> ParseAlertChannel(std::string_view text) {
  return enum_spelling::Lookup(kChannels, text);
}
std::string_view ToString(DeliveryState state) {
  return enum_spelling::Spell(kDeliveryStates, state);
}
std::optional<DeliveryState> ParseDeliveryState(std::string_view text) {
  return enum_spelling::Lookup(kDeliveryStates, text);
}

std::string_view ToString(AfterHours policy) { return enum_spelling::Spell(kAfterHours, policy); }
std::optional<AfterHours> ParseAfterHours(std::string_view text) {
  return enum_spelling::Lookup(kAfterHours, text);
}

Status CheckOrgAlertSettings(const OrgAlertSettings& settings) {
  const auto invalid = [](const std::string& what) {
    return MakeError(ErrorCode::kInvalidArgument, what);
  };
  DOZOR_RETURN_IF_ERROR(CheckKnownTimeZone(settings.time_zone));
  if (settings.work_days < 0 || settings.work_days > 0x7F) {
    return invalid("work_days must be a set of weekdays");
  }
  if (settings.work_days == 0 && settings.after_hours != AfterHours::kAll) {
    return invalid("with no working days, after_hours must be all (or nothing would ever go)");
  }
  if (settings.work_start_minute < 0 || settings.work_end_minute > 1440 ||
      settings.work_start_minute >= settings.work_end_minute) {
    return invalid("working hours must start before they end, within one day (09:00-18:00)");
  }
  if (settings.server_grace_minutes < 0 || settings.server_grace_minutes > 1440) {
    return invalid("server_grace_minutes must be 0-1440");
  }
  if (settings.rule_overrides.size() > static_cast<size_t>(kMaxAlertRuleOverrides)) {
    return invalid("at most " + std::to_string(kMaxAlertRuleOverrides) + " rule overrides");
  }
  for (const auto& override_rule : settings.rule_overrides) {
    if (override_rule.rule_id.empty() || override_rule.rule_id.size() > 128) {
      return invalid("a rule override needs a rule id of 1-128 bytes");
    }
  }
  return OkStatus();
}

Status CheckMaintenanceWindow(const MaintenanceWindow& window) {
  const auto invalid = [](const std::string& what) {
    return MakeError(ErrorCode::kInvalidArgument, what);
  };
  const bool one_off = window.starts_at_ms.has_value() || window.ends_at_ms.has_value();
  if (one_off) {
    if (!window.starts_at_ms || !window.ends_at_ms || *window.ends_at_ms <= *window.starts_at_ms) {
      return invalid("a one-off maintenance window needs a start before its end");
    }
    if (window.weekdays != 0) {
      return invalid("a maintenance window is either one-off (start, end) or weekly, not both");
    }
  } else {
    if (window.weekdays <= 0 || window.weekdays > 0x7F) {
      return invalid("a weekly maintenance window needs its weekdays");
    }
    if (window.start_minute < 0 || window.start_minute >= 1440) {
      return invalid("a weekly maintenance window starts at 00:00-23:59");
    }
    if (window.duration_minutes <= 0 || window.duration_minutes > 7 * 1440) {
      return invalid("a weekly maintenance window lasts 1 minute to 7 days");
    }
  }
  if (window.reason.size() > kMaxMaintenanceReasonBytes) {
    return invalid("reason must be at most " + std::to_string(kMaxMaintenanceReasonBytes) +
                   " bytes");
  }
  if (window.agent_id.size() > 128) return invalid("agent_id is too long");
  return OkStatus();
}

namespace {

// The length of the well-formed UTF-8 sequence at text[i], 0 if there is none (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF).
size_t AlertErrorUtf8SequenceAt(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = 2; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  return length;
}

}  // namespace

std::string KeptDeliveryError(std::string_view error) {
  // What a remote server answered may be anything: kept as one line of valid UTF-8 (PostgreSQL
  // refuses text that is not), cut at a character.
  std::string kept;
  kept.reserve(std::min(error.size(), kMaxDeliveryErrorBytes));
  size_t i = 0;
  while (i < error.size()) {
    const size_t length = AlertErrorUtf8SequenceAt(error, i);
    if (length == 0) {
      if (kept.size() + 1 > kMaxDeliveryErrorBytes) break;
      kept += '?';
      ++i;
      continue;
    }
    if (kept.size() + length > kMaxDeliveryErrorBytes) break;
    const char c = error[i];
    if (length == 1 && (c == '\n' || c == '\r' || c == '\0')) {
      kept += c == '\0' ? '?' : ' ';
    } else {
      kept.append(error.substr(i, length));
    }
    i += length;
  }
  return kept;
}

}  // namespace dozor::server
