#include "collectors/windows_model/cim_values.hpp"

#include "collectors/parsers/text.hpp"

namespace dozor::agent::windows {
namespace {

const nlohmann::json* Property(const CimInstance& instance, std::string_view name) {
  if (!instance.is_object()) return nullptr;
  const auto it = instance.find(std::string(name));
  if (it == instance.end() || it->is_null()) return nullptr;
  return &*it;
}

template <typename T>
std::optional<T> NumberOf(const nlohmann::json& value) {
  if (value.is_number_unsigned()) {
    const auto number = value.get<uint64_t>();
    if constexpr (std::is_signed_v<T>) {
      if (number > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    }
    return static_cast<T>(number);
  }
  if (value.is_number_integer()) {
    const auto number = value.get<int64_t>();
    if (std::is_unsigned_v<T> && number < 0) return std::nullopt;
    return static_cast<T>(number);
  }
  if (value.is_number_float()) {
    const double number = value.get<double>();
    if (!(number >= (std::is_unsigned_v<T> ? 0.0 : -9.2e18) && number <= 9.2e18)) {
      return std::nullopt;
    }
    return static_cast<T>(number);
  }
  if (value.is_boolean()) return static_cast<T>(value.get<bool>() ? 1 : 0);
  if (value.is_string()) {
    T number = 0;
    if (ParseNumber(Trim(value.get_ref<const std::string&>()), &number)) return number;
  }
  return std::nullopt;
}

}  // namespace

std::string CimText(const CimInstance& instance, std::string_view name) {
  const nlohmann::json* value = Property(instance, name);
  if (!value) return {};
  if (value->is_string()) return Trimmed(value->get_ref<const std::string&>());
  if (value->is_boolean()) return value->get<bool>() ? "true" : "false";
  if (value->is_number()) return value->dump();
  return {};
}

std::optional<uint64_t> CimUnsigned(const CimInstance& instance, std::string_view name) {
  const nlohmann::json* value = Property(instance, name);
  return value ? NumberOf<uint64_t>(*value) : std::nullopt;
}

std::optional<int64_t> CimSigned(const CimInstance& instance, std::string_view name) {
  const nlohmann::json* value = Property(instance, name);
  return value ? NumberOf<int64_t>(*value) : std::nullopt;
}

std::optional<bool> CimBool(const CimInstance& instance, std::string_view name) {
  const nlohmann::json* value = Property(instance, name);
  if (!value) return std::nullopt;
  if (value->is_boolean()) return value->get<bool>();
  if (value->is_number_integer()) return value->get<int64_t>() != 0;
  if (value->is_string()) {
    const std::string text = Lower(Trim(value->get_ref<const std::string&>()));
    if (text == "true" || text == "1") return true;
    if (text == "false" || text == "0") return false;
  }
  return std::nullopt;
}

std::vector<std::string> CimTexts(const CimInstance& instance, std::string_view name) {
  std::vector<std::string> out;
  const nlohmann::json* value = Property(instance, name);
  if (!value) return out;
  auto add = [&](const nlohmann::json& item) {
    if (item.is_string()) {
      std::string text = Trimmed(item.get_ref<const std::string&>());
      if (!text.empty()) out.push_back(std::move(text));
    }
  };
  if (value->is_array()) {
    for (const auto& item : *value) add(item);
  } else {
    add(*value);
  }
  return out;
}

std::vector<int64_t> CimNumbers(const CimInstance& instance, std::string_view name) {
  std::vector<int64_t> out;
  const nlohmann::json* value = Property(instance, name);
  if (!value || !value->is_array()) return out;
  out.reserve(value->size());
  for (const auto& item : *value) {
    if (auto number = NumberOf<int64_t>(item)) out.push_back(*number);
  }
  return out;
}

int64_t CimTime(const CimInstance& instance, std::string_view name) {
  const std::string text = CimText(instance, name);
  if (text.empty()) return 0;
  auto seconds = ParseCimDateTime(text);
  return seconds.ok() ? *seconds : 0;
}

}  // namespace dozor::agent::windows
