#include "collectors/windows_model/sources.hpp"

#include "collectors/parsers/text.hpp"
#include "collectors/windows_model/cim_values.hpp"

namespace dozor::agent::windows {

namespace {

// Object paths compare by class and keys (any case, any order, any server prefix); other text
// without regard to ASCII case.
bool SameCimText(std::string_view a, std::string_view b) {
  if (Lower(a) == Lower(b)) return true;
  auto path_a = ParseWmiObjectPath(a);
  auto path_b = ParseWmiObjectPath(b);
  if (!path_a.ok() || !path_b.ok() || Lower(path_a->class_name) != Lower(path_b->class_name) ||
      path_a->keys.size() != path_b->keys.size()) {
    return false;
  }
  for (const auto& [key, value] : path_a->keys) {
    auto other = path_b->keys.find(key);
    if (other == path_b->keys.end() || Lower(other->second) != Lower(value)) return false;
  }
  return true;
}

}  // namespace

bool MeetsConditions(const CimInstance& instance, const std::vector<CimCondition>& conditions) {
  for (const auto& condition : conditions) {
    if (const bool* wanted = std::get_if<bool>(&condition.value)) {
      if (CimBool(instance, condition.property) != *wanted) return false;
    } else if (!instance.is_object() || !instance.contains(condition.property) ||
               !SameCimText(CimText(instance, condition.property),
                            std::get<std::string>(condition.value))) {
      return false;
    }
  }
  return true;
}

const RegValue* RegistryValues::Find(std::string_view name) const {
  const std::string wanted = Lower(name);
  for (const auto& [value_name, value] : values) {
    if (Lower(value_name) == wanted) return &value;
  }
  return nullptr;
}

std::string RegistryValues::Text(std::string_view name) const {
  const RegValue* value = Find(name);
  if (!value) return {};
  switch (value->type) {
    case RegValue::Type::kString:
    case RegValue::Type::kExpandString:
      return Trimmed(value->text);
    case RegValue::Type::kDword:
    case RegValue::Type::kQword:
      return std::to_string(value->number);
    case RegValue::Type::kMultiString:
      return value->strings.empty() ? std::string() : value->strings.front();
    default:
      return {};
  }
}

std::optional<uint64_t> RegistryValues::Number(std::string_view name) const {
  const RegValue* value = Find(name);
  if (!value) return std::nullopt;
  if (value->type == RegValue::Type::kDword || value->type == RegValue::Type::kQword) {
    return value->number;
  }
  uint64_t number = 0;
  if ((value->type == RegValue::Type::kString || value->type == RegValue::Type::kExpandString) &&
      ParseNumber(Trim(value->text), &number)) {
    return number;
  }
  return std::nullopt;
}

}  // namespace dozor::agent::windows
