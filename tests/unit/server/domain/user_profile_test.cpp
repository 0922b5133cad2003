#include "domain/user_profile.hpp"

#include <doctest/doctest.h>

namespace dozor::server {
namespace {

TEST_CASE("e-mail addresses: one @, a dotted domain, nothing that splits a header") {
  for (const char* good : {"", "ivan@example.ru", "i.petrov+dozor@mail.example.com"}) {
    CHECK_MESSAGE(CheckEmail(good).ok(), good);
  }
  for (const char* bad : {"ivan", "@example.ru", "ivan@", "ivan@localhost", "ivan@@example.ru",
                          "a@b@example.ru", "ivan @example.ru", "ivan@example.ru\r\nBcc: x@y.z",
                          "ivan@example..ru", "ivan@.ru", "ivan@example.ru.", "a,b@example.ru"}) {
    CHECK_MESSAGE(!CheckEmail(bad).ok(), bad);
  }
  CHECK(!CheckEmail(std::string(190, 'a') + "@example.ru").ok());
}

TEST_CASE("Telegram chat ids: numbers (groups negative) or @channel names") {
  for (const char* good : {"", "123456789", "-1001234567890", "@dozor_alerts"}) {
    CHECK_MESSAGE(CheckTelegramChatId(good).ok(), good);
  }
  for (const char* bad :
       {"-", "12a", "@abc", "@has space", "@dozor-alerts", "1234567890123456789012", "+7123"}) {
    CHECK_MESSAGE(!CheckTelegramChatId(bad).ok(), bad);
  }
}

TEST_CASE("time zones: IANA names by shape") {
  for (const char* good : {"", "UTC", "Europe/Moscow", "America/Argentina/Salta", "Etc/GMT-3",
                           "America/Port-au-Prince", "Asia/Ust-Nera"}) {
    CHECK_MESSAGE(CheckTimeZone(good).ok(), good);
  }
  for (const char* bad : {"/Europe/Moscow", "Europe/", "Europe//Moscow", "../etc/passwd",
                          "Europe/../../etc", "+03:00", "Europe/Moscow time", "3/Moscow"}) {
    CHECK_MESSAGE(!CheckTimeZone(bad).ok(), bad);
  }
  CHECK(CheckTimeZone("Europe/Moscow").ok());
  CHECK(CheckTimeZone("Europe/Moscow").ok());
}

TEST_CASE("languages: ru and en") {
  CHECK(CheckLanguage("ru").ok());
  CHECK(CheckLanguage("en").ok());
  CHECK(!CheckLanguage("").ok());
  CHECK(!CheckLanguage("de").ok());
}

}  // namespace
}  // namespace dozor::server
