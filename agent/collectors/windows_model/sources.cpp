#include "collectors/windows_model/sources.hpp"

#include "collectors/parsers/text.hpp"

namespace dozor::agent::windows {

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
