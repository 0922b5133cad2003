#include "store/sqlite/keyset_query.hpp"

#include <nlohmann/json.hpp>

namespace dozor::server {

namespace {

std::string Tuple(const KeysetOrder& order) {
  std::string out = "(";
  for (const auto& key : order.keys) {
    out += key.sql + ", ";
  }
  return out + order.id_sql + ")";
}

}  // namespace

std::string WhereOf(std::initializer_list<OptionalPredicate> predicates) {
  std::string where;
  for (const auto& predicate : predicates) {
    if (predicate.present) {
      where += where.empty() ? " WHERE " : " AND ";
      where += predicate.sql;
    }
  }
  return where.empty() ? " WHERE 1" : where;
}

std::optional<std::string> IdJsonArray(const std::optional<std::vector<int64_t>>& ids) {
  if (!ids) {
    return std::nullopt;
  }
  std::string out = "[";
  for (const int64_t id : *ids) {
    out += (out.size() > 1 ? "," : "") + std::to_string(id);
  }
  return out + "]";
}

std::string TextJsonArray(const std::vector<std::string>& texts) {
  return nlohmann::json(texts).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string KeysetSelect(const KeysetOrder& order) {
  std::string out;
  for (const auto& key : order.keys) {
    out += ", " + key.sql;
  }
  return out + ", " + order.id_sql;
}

int KeysetParamCount(const KeysetOrder& order) { return static_cast<int>(order.keys.size()) + 1; }

std::string KeysetAfter(const KeysetOrder& order, int first_param) {
  std::string params = "(";
  for (int i = 0; i < KeysetParamCount(order); ++i) {
    params += (i == 0 ? "?" : ", ?") + std::to_string(first_param + i);
  }
  params += ")";
  const char* op = order.direction == SortDirection::kAscending ? " > " : " < ";
  return " AND " + Tuple(order) + op + params;
}

std::string KeysetOrderBy(const KeysetOrder& order, int limit_param) {
  const char* dir = order.direction == SortDirection::kAscending ? " ASC" : " DESC";
  std::string out = " ORDER BY ";
  for (const auto& key : order.keys) {
    out += key.sql + dir + ", ";
  }
  return out + order.id_sql + dir + " LIMIT ?" + std::to_string(limit_param);
}

Status CheckPosition(const KeysetOrder& order, const PagePosition& position) {
  if (position.key.size() != order.keys.size()) {
    return MakeError(ErrorCode::kInvalidArgument, "cursor does not fit this sort order");
  }
  for (size_t i = 0; i < order.keys.size(); ++i) {
    if (std::holds_alternative<std::string>(position.key[i]) != order.keys[i].text) {
      return MakeError(ErrorCode::kInvalidArgument, "cursor does not fit this sort order");
    }
  }
  return OkStatus();
}

void BindPosition(sqlite::Statement& s, const PagePosition& position, int first_param) {
  int index = first_param;
  for (const auto& value : position.key) {
    if (const auto* text = std::get_if<std::string>(&value)) {
      s.Bind(index++, *text);
    } else {
      s.Bind(index++, std::get<int64_t>(value));
    }
  }
  s.Bind(index, position.id);
}

PagePosition ReadPosition(const sqlite::Statement& s, const KeysetOrder& order, int first_column) {
  PagePosition position;
  int column = first_column;
  for (const auto& key : order.keys) {
    if (key.text) {
      position.key.emplace_back(s.Text(column++));
    } else {
      position.key.emplace_back(s.Int(column++));
    }
  }
  position.id = s.Int(column);
  return position;
}

}  // namespace dozor::server
