#include "http/list_paging.hpp"

#include <algorithm>
#include <limits>

#include "dozor/common/base64.hpp"
#include "dozor/common/text.hpp"

namespace dozor::server::http {

namespace {

constexpr size_t kMaxCursorKeys = 4;
constexpr size_t kMaxCursorTextBytes = 512;

Error BadCursor() {
  return Error{ErrorCode::kInvalidArgument,
               "query parameter 'cursor' is not a cursor of this list and sort order (use the "
               "next_cursor of the previous page, with the same sort)"};
}

std::string Base64UrlEncode(std::string_view bytes) {
  std::string text = Base64Encode(bytes);
  while (!text.empty() && text.back() == '=') {
    text.pop_back();
  }
  for (char& c : text) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return text;
}

Result<std::string> Base64UrlDecode(std::string_view text) {
  std::string standard;
  standard.reserve(text.size() + 3);
  for (const char c : text) {
    const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (plain) {
      standard += c;
    } else if (c == '-') {
      standard += '+';
    } else if (c == '_') {
      standard += '/';
    } else {
      return BadCursor();
    }
  }
  while (standard.size() % 4 != 0) {
    standard += '=';
  }
  auto decoded = Base64Decode(standard);
  if (!decoded.ok()) {
    return BadCursor();
  }
  return std::move(decoded).value();
}

std::optional<int64_t> JsonInt64(const nlohmann::json& value) {
  if (value.is_number_unsigned()) {
    const auto u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return std::nullopt;
    }
    return static_cast<int64_t>(u);
  }
  if (value.is_number_integer()) {
    return value.get<int64_t>();
  }
  return std::nullopt;
}

}  // namespace

Result<SortChoice> ParseSort(const ApiRequest& request, const std::vector<std::string_view>& names,
                             std::string_view fallback) {
  std::string_view text = fallback;
  if (const auto it = request.query.find("sort");
      it != request.query.end() && !it->second.empty()) {
    text = it->second;
  }
  SortChoice choice;
  choice.spelling = std::string(text);
  if (!text.empty() && text.front() == '-') {
    choice.direction = SortDirection::kDescending;
    text.remove_prefix(1);
  }
  const auto found = std::find(names.begin(), names.end(), text);
  if (found == names.end()) {
    std::string allowed;
    for (const auto name : names) {
      allowed += (allowed.empty() ? "" : ", ") + std::string(name);
    }
    return MakeError(ErrorCode::kInvalidArgument,
                     "query parameter 'sort' takes " + allowed + " (\"-\" before one: descending)");
  }
  choice.index = static_cast<size_t>(found - names.begin());
  return choice;
}

std::string EncodeCursor(std::string_view sort, const PagePosition& position) {
  nlohmann::json key = nlohmann::json::array();
  for (const auto& value : position.key) {
    if (const auto* text = std::get_if<std::string>(&value)) {
      key.push_back(*text);
    } else {
      key.push_back(std::get<int64_t>(value));
    }
  }
  const nlohmann::json cursor = {{"s", sort}, {"k", std::move(key)}, {"i", position.id}};
  // Stored names may hold any bytes; replace rather than throw on invalid UTF-8.
  return Base64UrlEncode(cursor.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

Result<PagePosition> DecodeCursor(std::string_view cursor, std::string_view sort) {
  if (cursor.empty() || cursor.size() > kMaxCursorChars) {
    return BadCursor();
  }
  DOZOR_ASSIGN_OR_RETURN(std::string bytes, Base64UrlDecode(cursor));
  const nlohmann::json parsed = nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object() || parsed.size() != 3) {
    return BadCursor();
  }
  const auto s = parsed.find("s");
  const auto k = parsed.find("k");
  const auto i = parsed.find("i");
  if (s == parsed.end() || k == parsed.end() || i == parsed.end() || !s->is_string() ||
      s->get_ref<const std::string&>() != sort || !k->is_array() || k->size() > kMaxCursorKeys) {
    return BadCursor();
  }
  PagePosition position;
  const auto id = JsonInt64(*i);
  if (!id) {
    return BadCursor();
  }
  position.id = *id;
  for (const auto& item : *k) {
    if (item.is_string() && item.get_ref<const std::string&>().size() <= kMaxCursorTextBytes) {
      position.key.emplace_back(item.get<std::string>());
    } else if (const auto number = JsonInt64(item)) {
      position.key.emplace_back(*number);
    } else {
      return BadCursor();
    }
  }
  return position;
}

Result<PageRequest> ParsePageRequest(const ApiRequest& request, const SortChoice& sort) {
  DOZOR_ASSIGN_OR_RETURN(int64_t limit,
                         QueryInt(request, "limit", kDefaultPageLimit, 1, kMaxPageLimit));
  PageRequest page;
  page.limit = static_cast<int>(limit);
  if (const auto it = request.query.find("cursor");
      it != request.query.end() && !it->second.empty()) {
    DOZOR_ASSIGN_OR_RETURN(page.after, DecodeCursor(it->second, sort.spelling));
  }
  return page;
}

Result<std::optional<std::string>> QueryText(const ApiRequest& request, std::string_view key,
                                             size_t max_bytes) {
  const auto it = request.query.find(key);
  if (it == request.query.end()) {
    return std::optional<std::string>();
  }
  std::string text = Trimmed(it->second);
  if (text.size() > max_bytes) {
    return MakeError(ErrorCode::kInvalidArgument, "query parameter '" + std::string(key) +
                                                      "' is longer than " +
                                                      std::to_string(max_bytes) + " bytes");
  }
  return text.empty() ? std::optional<std::string>() : std::optional<std::string>(text);
}

Result<std::vector<std::string>> SplitQueryList(std::string_view text, std::string_view key,
                                                size_t max_items, size_t max_bytes) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string item = Trimmed(text.substr(start, end - start));
    start = end + 1;
    if (item.empty()) {
      continue;
    }
    if (item.size() > max_bytes) {
      return MakeError(ErrorCode::kInvalidArgument, "query parameter '" + std::string(key) +
                                                        "' has an item longer than " +
                                                        std::to_string(max_bytes) + " bytes");
    }
    if (items.size() == max_items) {
      return MakeError(ErrorCode::kInvalidArgument, "query parameter '" + std::string(key) +
                                                        "' takes at most " +
                                                        std::to_string(max_items) + " items");
    }
    items.push_back(std::move(item));
  }
  return items;
}

Result<std::vector<std::string>> QueryList(const ApiRequest& request, std::string_view key,
                                           size_t max_items, size_t max_bytes) {
  const auto it = request.query.find(key);
  if (it == request.query.end()) {
    return std::vector<std::string>();
  }
  return SplitQueryList(it->second, key, max_items, max_bytes);
}

nlohmann::json NextCursorJson(const std::optional<PagePosition>& next, const SortChoice& sort) {
  return next ? nlohmann::json(EncodeCursor(sort.spelling, *next)) : nlohmann::json(nullptr);
}

Result<IdPagedLogQuery> ParseIdPagedLogQuery(const ApiRequest& request, int64_t default_limit,
                                             int64_t max_limit) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  DOZOR_ASSIGN_OR_RETURN(const int64_t limit,
                         QueryInt(request, "limit", default_limit, 1, max_limit));
  DOZOR_ASSIGN_OR_RETURN(const int64_t before, QueryInt(request, "before", 0, 0, kMax));
  DOZOR_ASSIGN_OR_RETURN(const int64_t since, QueryInt(request, "since_ms", 0, 0, kMax));
  DOZOR_ASSIGN_OR_RETURN(const int64_t until, QueryInt(request, "until_ms", 0, 0, kMax));
  IdPagedLogQuery query;
  query.limit = limit;
  if (before > 0) query.before_id = before;
  if (since > 0) query.since_ms = since;
  if (until > 0) query.until_ms = until;
  return query;
}

nlohmann::json NextBeforeJson(size_t rows, int64_t limit, std::optional<int64_t> last_id) {
  if (last_id && rows > 0 && static_cast<int64_t>(rows) == limit) {
    return *last_id;
  }
  return nullptr;
}

}  // namespace dozor::server::http
