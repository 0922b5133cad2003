// The query parameters every paged list of the management API shares: ?limit=, ?cursor= and
// ?sort= (a whitelist per list, "-field" for descending), and the opaque cursor itself: the
// base64url of {"s": sort, "k": [sort key...], "i": id} of the last row of the page before. A
// cursor only continues the sort it was made for; anything else is a 400, never a 500.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dozor/common/result.hpp"
#include "http/api_types.hpp"
#include "store/list_page.hpp"

namespace dozor::server::http {

inline constexpr int64_t kDefaultPageLimit = 100;
inline constexpr int64_t kMaxPageLimit = 1000;
inline constexpr size_t kMaxCursorChars = 2048;
inline constexpr size_t kMaxListItems = 32;
inline constexpr size_t kMaxFilterBytes = 200;

struct SortChoice {
  size_t index = 0;  // into the list's sort names
  SortDirection direction = SortDirection::kAscending;
  std::string spelling;  // "name" or "-name": what a cursor is bound to
};

// Parses ?sort= against `names` (the list's whitelist); `fallback` (one of `names`, maybe with
// "-") when absent or empty. kInvalidArgument naming the allowed values otherwise.
Result<SortChoice> ParseSort(const ApiRequest& request, const std::vector<std::string_view>& names,
                             std::string_view fallback);

std::string EncodeCursor(std::string_view sort, const PagePosition& position);
// kInvalidArgument for anything EncodeCursor did not make for this sort (too long, not
// base64url, not the JSON shape, another sort).
Result<PagePosition> DecodeCursor(std::string_view cursor, std::string_view sort);

// ?limit= (1..kMaxPageLimit, default kDefaultPageLimit) and ?cursor= for `sort`.
Result<PageRequest> ParsePageRequest(const ApiRequest& request, const SortChoice& sort);

// A text filter ?key=: trimmed, nullopt when absent or blank, kInvalidArgument over max_bytes.
Result<std::optional<std::string>> QueryText(const ApiRequest& request, std::string_view key,
                                             size_t max_bytes = kMaxFilterBytes);

// A comma list filter "a, b,c" -> {"a", "b", "c"}: items trimmed, blank ones dropped (so an empty
// text is an empty list). kInvalidArgument naming `key` beyond max_items items or for an item
// over max_bytes.
Result<std::vector<std::string>> SplitQueryList(std::string_view text, std::string_view key,
                                                size_t max_items = kMaxListItems,
                                                size_t max_bytes = kMaxFilterBytes);
// SplitQueryList of ?key= (empty when absent).
Result<std::vector<std::string>> QueryList(const ApiRequest& request, std::string_view key,
                                           size_t max_items = kMaxListItems,
                                           size_t max_bytes = kMaxFilterBytes);

// The query of the newest-first logs (audit log, security events), paged by row id rather than
// by cursor: ?limit= (1..max_limit, default_limit), ?before= (the page after this id),
// ?since_ms= and ?until_ms= (unix ms; 0 or absent: unbounded).
struct IdPagedLogQuery {
  int64_t limit = kDefaultPageLimit;
  std::optional<int64_t> before_id;
  std::optional<int64_t> since_ms;
  std::optional<int64_t> until_ms;
};
Result<IdPagedLogQuery> ParseIdPagedLogQuery(const ApiRequest& request,
                                             int64_t default_limit = kDefaultPageLimit,
                                             int64_t max_limit = kMaxPageLimit);
// The "next_before" value of such a page: the id of its last row when the page is full (there
// may be older rows), null otherwise.
nlohmann::json NextBeforeJson(size_t rows, int64_t limit, std::optional<int64_t> last_id);

// The "next_cursor" value of a page: the cursor of its last row, or null on the last page.
nlohmann::json NextCursorJson(const std::optional<PagePosition>& next, const SortChoice& sort);

}  // namespace dozor::server::http
