// Reading a CIM instance's properties whatever form they come in: COM gives CIM_UINT64 as a
// decimal string and datetimes as DMTF strings, PowerShell captures give numbers and sometimes
// "/Date(...)/"; a property may be absent or null on one machine and present on the next. Every
// helper answers "unknown" (empty, nullopt, 0) rather than failing, so one odd value never loses
// the rest of an instance.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/windows_model/sources.hpp"

namespace dozor::agent::windows {

// A string property trimmed; a number or boolean as text; "" when absent or null.
[[nodiscard]] std::string CimText(const CimInstance& instance, std::string_view name);
// An integer property (a JSON number, or a string of decimal digits); nullopt otherwise.
[[nodiscard]] std::optional<uint64_t> CimUnsigned(const CimInstance& instance,
                                                  std::string_view name);
[[nodiscard]] std::optional<int64_t> CimSigned(const CimInstance& instance, std::string_view name);
// A boolean (true/false, 1/0, "True"/"False"); nullopt otherwise.
[[nodiscard]] std::optional<bool> CimBool(const CimInstance& instance, std::string_view name);
// An array of strings (a single string counts as a list of one); empty items dropped.
[[nodiscard]] std::vector<std::string> CimTexts(const CimInstance& instance, std::string_view name);
// An array of integers (uint8[] and uint16[] properties).
[[nodiscard]] std::vector<int64_t> CimNumbers(const CimInstance& instance, std::string_view name);
// A datetime as Unix seconds; 0 when absent or unreadable.
[[nodiscard]] int64_t CimTime(const CimInstance& instance, std::string_view name);

// -1 / 0 / 1 for an optional boolean (the proto's tri-state fields).
[[nodiscard]] inline int32_t TriState(std::optional<bool> value) {
  return value ? (*value ? 1 : 0) : -1;
}

}  // namespace dozor::agent::windows
