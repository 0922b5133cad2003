#include "store/alert_store.hpp"

#include "domain/enum_spelling.hpp"

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

}  // namespace dozor::server
