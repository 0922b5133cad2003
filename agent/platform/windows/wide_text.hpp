// The Win32 text and error helpers (dozor/common/win32_text.hpp) under the names the agent's
// Windows platform and collectors use.
#pragma once

#include "dozor/common/win32_text.hpp"

namespace dozor::agent::platform {

using ::dozor::ErrorCodeFromWin32;
using ::dozor::HresultText;
using ::dozor::Narrow;
using ::dozor::PathText;
using ::dozor::Widen;
using ::dozor::Win32Error;
using ::dozor::WindowsErrorMessage;

}  // namespace dozor::agent::platform
