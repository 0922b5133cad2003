#include "http/list_paging.hpp"

#include <doctest/doctest.h>

#include "dozor/common/base64.hpp"

namespace dozor::server::http {
namespace {

ApiRequest WithQuery(std::map<std::string, std::string, std::less<>> query) {
  ApiRequest request;
  request.method = "GET";
  request.path = "/api/v1/findings";
  request.query = std::move(query);
  return request;
}

const std::vector<std::string_view> kNames = {"severity", "opened", "host"};

TEST_CASE("sort takes a whitelisted field, '-' for descending, and a fallback") {
  auto fallback = ParseSort(WithQuery({}), kNames, "severity");
  REQUIRE(fallback.ok());
  CHECK(fallback->index == 0);
  CHECK(fallback->direction == SortDirection::kAscending);
  CHECK(fallback->spelling == "severity");
  auto descending = ParseSort(WithQuery({{"sort", "-host"}}), kNames, "severity");
  REQUIRE(descending.ok());
  CHECK(descending->index == 2);
  CHECK(descending->direction == SortDirection::kDescending);
  CHECK(descending->spelling == "-host");
  for (const char* bad : {"hostname", "--host", "-", "host;DROP TABLE findings", "HOST"}) {
    INFO(bad);
    auto refused = ParseSort(WithQuery({{"sort", bad}}), kNames, "severity");
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::kInvalidArgument);
    CHECK(refused.error().message.find("severity, opened, host") != std::string::npos);
  }
}

TEST_CASE("a cursor round-trips its sort key and id, texts and integers alike") {
  PagePosition position{{int64_t{2}, int64_t{-1'700'000'000'000}, std::string("Сервер \"1\"")},
                        987654321};
  const std::string cursor = EncodeCursor("-severity", position);
  CHECK(cursor.find_first_not_of(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
        std::string::npos);
  auto decoded = DecodeCursor(cursor, "-severity");
  REQUIRE(decoded.ok());
  CHECK(decoded->id == 987654321);
  REQUIRE(decoded->key.size() == 3);
  CHECK(std::get<int64_t>(decoded->key[0]) == 2);
  CHECK(std::get<int64_t>(decoded->key[1]) == -1'700'000'000'000);
  CHECK(std::get<std::string>(decoded->key[2]) == "Сервер \"1\"");
}

TEST_CASE("a cursor of another sort, tampered or garbage is refused as invalid") {
  const std::string cursor = EncodeCursor("opened", PagePosition{{int64_t{5}}, 7});
  CHECK(DecodeCursor(cursor, "-opened").error().code == ErrorCode::kInvalidArgument);
  CHECK(DecodeCursor(cursor, "severity").error().code == ErrorCode::kInvalidArgument);
  std::string flipped = cursor;
  flipped[flipped.size() / 2] = flipped[flipped.size() / 2] == 'A' ? 'B' : 'A';
  auto tampered = DecodeCursor(flipped, "opened");
  // Either unreadable or a different, still well-formed position: never a crash.
  if (!tampered.ok()) CHECK(tampered.error().code == ErrorCode::kInvalidArgument);

  auto url = [](const std::string& json) {
    std::string text = Base64Encode(json);
    for (char& c : text) {
      if (c == '+') c = '-';
      if (c == '/') c = '_';
    }
    while (!text.empty() && text.back() == '=') text.pop_back();
    return text;
  };
  const std::string too_long(kMaxCursorChars + 1, 'A');
  for (const std::string& bad :
       {std::string(""), std::string("!!!"), std::string("a b"), too_long, std::string("A"),
        url("not json"), url("[]"), url(R"({"s":"opened","k":[5]})"),
        url(R"({"s":"opened","k":[5],"i":"7"})"), url(R"({"s":"opened","k":[5.5],"i":7})"),
        url(R"({"s":"opened","k":[null],"i":7})"), url(R"({"s":"opened","k":[[1]],"i":7})"),
        url(R"({"s":"opened","k":5,"i":7})"), url(R"({"s":"opened","k":[1,2,3,4,5],"i":7})"),
        url(R"({"s":"opened","k":[5],"i":18446744073709551615})"),
        url(R"({"s":"opened","k":[5],"i":7,"x":1})"), url(R"({"s":1,"k":[5],"i":7})"),
        url(R"({"s":"opened","k":[")" + std::string(600, 'x') + R"("],"i":7})")}) {
    INFO(bad.substr(0, 80));
    auto refused = DecodeCursor(bad, "opened");
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::kInvalidArgument);
  }
}

TEST_CASE("limit defaults to 100 and takes 1..1000, the cursor rides along") {
  SortChoice sort;
  sort.spelling = "opened";
  auto fallback = ParsePageRequest(WithQuery({}), sort);
  REQUIRE(fallback.ok());
  CHECK(fallback->limit == kDefaultPageLimit);
  CHECK_FALSE(fallback->after.has_value());
  for (const char* bad : {"0", "1001", "-1", "ten", "1e3"}) {
    INFO(bad);
    auto refused = ParsePageRequest(WithQuery({{"limit", bad}}), sort);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().message.find("1..1000") != std::string::npos);
  }
  const std::string cursor = EncodeCursor("opened", PagePosition{{int64_t{5}}, 7});
  auto next = ParsePageRequest(WithQuery({{"limit", "1000"}, {"cursor", cursor}}), sort);
  REQUIRE(next.ok());
  CHECK(next->limit == 1000);
  REQUIRE(next->after.has_value());
  CHECK(next->after->id == 7);
  CHECK(NextCursorJson(std::nullopt, sort).is_null());
  CHECK(NextCursorJson(PagePosition{{int64_t{5}}, 7}, sort) == cursor);
}

TEST_CASE("the newest-first logs page by id: limit, before, since and until, checked") {
  auto defaults = ParseIdPagedLogQuery(WithQuery({}));
  REQUIRE(defaults.ok());
  CHECK(defaults->limit == kDefaultPageLimit);
  CHECK_FALSE(defaults->before_id.has_value());
  CHECK_FALSE(defaults->since_ms.has_value());
  CHECK_FALSE(defaults->until_ms.has_value());
  auto given = ParseIdPagedLogQuery(
      WithQuery({{"limit", "5"}, {"before", "42"}, {"since_ms", "1000"}, {"until_ms", "0"}}));
  REQUIRE(given.ok());
  CHECK(given->limit == 5);
  CHECK(given->before_id == 42);
  CHECK(given->since_ms == 1000);
  CHECK_FALSE(given->until_ms.has_value());  // 0 is "unbounded", as absent
  for (const auto& [key, bad] :
       std::vector<std::pair<std::string, std::string>>{{"limit", "0"},
                                                        {"limit", "1001"},
                                                        {"before", "-1"},
                                                        {"since_ms", "x"},
                                                        {"until_ms", "99999999999999999999"}}) {
    INFO(key << "=" << bad);
    auto refused = ParseIdPagedLogQuery(WithQuery({{key, bad}}));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::kInvalidArgument);
    CHECK(refused.error().message.find(key) != std::string::npos);
  }
}

TEST_CASE("next_before is the last id of a full page and null on a short or empty one") {
  CHECK(NextBeforeJson(3, 3, 17) == nlohmann::json(17));
  CHECK(NextBeforeJson(2, 3, 17).is_null());
  CHECK(NextBeforeJson(0, 3, std::nullopt).is_null());
}

}  // namespace
}  // namespace dozor::server::http
