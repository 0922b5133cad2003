// The SQL pieces of a keyset page: the sort key columns appended to a select list, the
// "after this position" condition, ORDER BY and LIMIT, and reading the position of a row back.
// Only fixed fragments chosen by the store are spliced into SQL; positions and limits are bound.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "dozor/common/result.hpp"
#include "dozor/common/sqlite.hpp"
#include "store/list_page.hpp"
#include "store/sqlite/statement_helpers.hpp"

namespace dozor::server {

struct KeysetColumn {
  std::string sql;  // a non-NULL expression over the query's tables
  bool text = false;
};

struct KeysetOrder {
  std::vector<KeysetColumn> keys;
  std::string id_sql;  // unique integer tie-breaker, e.g. "f.id"
  SortDirection direction = SortDirection::kAscending;
};

// A filter's predicate and whether the caller gave that filter.
struct OptionalPredicate {
  bool present = false;
  const char* sql = "";
};
// " WHERE p1 AND p2" of the predicates whose filter is given (" WHERE 1" when none). Each
// combination of filters gets its own SQL so SQLite plans it with the index it can use: the
// catch-all "(?1 IS NULL OR col = ?1)" hides every index and scans the table. Parameters keep
// their numbers whether or not their predicate appears (unused ones are simply left unbound).
std::string WhereOf(std::initializer_list<OptionalPredicate> predicates);
// "[1,2,3]" for "col IN (SELECT value FROM json_each(?n))", which SQLite answers from an index
// on col (instr() over ",1,2,3," cannot use one); nullopt for nullopt.
std::optional<std::string> IdJsonArray(const std::optional<std::vector<int64_t>>& ids);
// '["a","b"]' for "col IN (SELECT value FROM json_each(?n))" over texts; bytes that are not UTF-8
// become U+FFFD (such a value matches nothing a server stored).
std::string TextJsonArray(const std::vector<std::string>& texts);

// ", k1, k2, id": appended to the select list (the columns ReadPosition reads).
std::string KeysetSelect(const KeysetOrder& order);
// " AND (k1, k2, id) > (?n, ?n+1, ?n+2)" ("<" descending), n = first_param.
std::string KeysetAfter(const KeysetOrder& order, int first_param);
// " ORDER BY k1 ASC, k2 ASC, id ASC LIMIT ?n".
std::string KeysetOrderBy(const KeysetOrder& order, int limit_param);
// Number of parameters KeysetAfter uses.
int KeysetParamCount(const KeysetOrder& order);
// kInvalidArgument when the position's key does not have the order's count and types.
Status CheckPosition(const KeysetOrder& order, const PagePosition& position);
// Binds a checked position at first_param...
void BindPosition(sqlite::Statement& s, const PagePosition& position, int first_param);
// The position of the current row; its key columns start at first_column (0-based).
PagePosition ReadPosition(const sqlite::Statement& s, const KeysetOrder& order, int first_column);

// Reads a page from a statement bound with LIMIT page_limit + 1: at most page_limit rows, and the
// position of the last when another row follows.
template <typename Read>
[[nodiscard]] auto ReadPage(sqlite::Statement& s, const KeysetOrder& order, int first_key_column,
                            int page_limit, Read&& read)
    -> Result<Page<std::invoke_result_t<Read&, const sqlite::Statement&>>> {
  Page<std::invoke_result_t<Read&, const sqlite::Statement&>> page;
  std::optional<PagePosition> last;
  DOZOR_RETURN_IF_ERROR(ForEachRow(s, [&](const sqlite::Statement& row) {
    if (static_cast<int>(page.rows.size()) >= page_limit) {
      page.next = std::move(last);
      return false;
    }
    page.rows.push_back(read(row));
    last = ReadPosition(row, order, first_key_column);
    return true;
  }));
  return page;
}

}  // namespace dozor::server
