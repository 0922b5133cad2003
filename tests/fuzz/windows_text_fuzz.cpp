// Fuzz target: the agent's parsers of what a Windows machine gives (agent/collectors/parsers/
// windows_parsers.hpp) and the CIM value readers over arbitrary JSON. A user of the client PC
// writes much of it (their ibases.v8i, program names in the registry, nethasp.ini), so each must
// answer a value or an error for arbitrary bytes. The first input byte picks the parser, the rest
// is its input.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "collectors/parsers/windows_parsers.hpp"
#include "collectors/windows_model/cim_values.hpp"

namespace {

using namespace dozor::agent;  // NOLINT(google-build-using-namespace)

void ParseAs(uint8_t which, std::string_view text) {
  switch (which % 10) {
    case 0: {
      size_t skipped = 0;
      (void)ParseRegExport(text, &skipped);
      break;
    }
    case 1:
      (void)ParseInfobaseList(text);
      (void)ParseOneCConnectionString(text);
      break;
    case 2:
      (void)ParseNethaspIni(text);
      break;
    case 3:
      (void)ParseRagentCommandLine(text);
      (void)OneCVersionFromPath(text);
      (void)IsNetworkPath(text, "ZY");
      break;
    case 4:
      (void)ParseCimDateTime(text);
      (void)ParseIso8601Utc(text);
      break;
    case 5:
      (void)ParseWmiObjectPath(text);
      break;
    case 6: {
      const std::vector<uint8_t> page(text.begin(), text.end());
      (void)ParseAtaSmartPage(page);
      break;
    }
    case 7:
      (void)Utf16LeBytesToUtf8(text, text.size() % 2 == 0);
      break;
    case 8: {
      uint32_t state = 0;
      for (size_t i = 0; i < text.size() && i < 4; ++i) {
        state = (state << 8) | static_cast<uint8_t>(text[i]);
      }
      (void)DecodeSecurityCenterState(state);
      break;
    }
    case 9: {
      // One CIM instance as JSON: every reader over every property.
      auto instance = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (instance.is_discarded() || !instance.is_object()) break;
      for (const auto& [name, value] : instance.items()) {
        (void)windows::CimText(instance, name);
        (void)windows::CimUnsigned(instance, name);
        (void)windows::CimSigned(instance, name);
        (void)windows::CimBool(instance, name);
        (void)windows::CimTexts(instance, name);
        (void)windows::CimNumbers(instance, name);
        (void)windows::CimTime(instance, name);
      }
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  ParseAs(data[0], std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  return 0;
}
