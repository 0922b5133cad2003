// Keyset pages of a sorted list (organisations, hosts, findings): a page starts after the sort
// key and id of the last row of the page before, so pages stay stable while rows are added and
// cost the same deep in the list as at its start (no OFFSET).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace dozor::server {

enum class SortDirection { kAscending, kDescending };

// One component of a sort key as the store compares it.
using SortKeyValue = std::variant<int64_t, std::string>;

// Where a page ends: the sort key of its last row, then that row's id (the tie-breaker).
struct PagePosition {
  std::vector<SortKeyValue> key;
  int64_t id = 0;
};

struct PageRequest {
  int limit = 100;
  // Rows strictly after this position in the sort order; nullopt = from the start. A position
  // whose key does not have the sort's shape (count and types) is kInvalidArgument.
  std::optional<PagePosition> after;
};

template <typename Row>
struct Page {
  std::vector<Row> rows;
  // The position of the last row when more rows follow; nullopt on the last page.
  std::optional<PagePosition> next;
};

}  // namespace dozor::server
