// The Application event log through ReportEventW. spdlog's own win_eventlog_sink formats through
// ReportEventA unless built with wide-character support, which would show UTF-8 as the ANSI code
// page's characters (Cyrillic as "Р Сџ..."), and throws when the log cannot be opened.
#include "platform/system_log.hpp"

#include <spdlog/details/log_msg.h>
#include <spdlog/sinks/base_sink.h>

#include <mutex>
#include <string>
#include <string_view>

#include "platform/windows/wide_text.hpp"

// After the project headers: <windows.h> macros break generated protobuf headers.
#include <windows.h>

namespace dozor::agent::platform {
namespace {

// The event source (the MSI registers it under the Application log) and the event id every
// message carries. The MSI points the source's EventMessageFile at
// EventCreate.exe, whose message table says just "%1" for ids 1..1000: Event Viewer then shows the
// text alone instead of "The description for Event ID ... cannot be found".
constexpr const wchar_t* kEventSourceName = L"dozor-agent";
constexpr DWORD kEventId = 1000;

WORD EventType(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::critical:
    case spdlog::level::err:
      return EVENTLOG_ERROR_TYPE;
    case spdlog::level::warn:
      return EVENTLOG_WARNING_TYPE;
    default:
      return EVENTLOG_INFORMATION_TYPE;
  }
}

class EventLogSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  EventLogSink() : source_(::RegisterEventSourceW(nullptr, kEventSourceName)) {}
  ~EventLogSink() override {
    if (source_ != nullptr) ::DeregisterEventSource(source_);
  }
  EventLogSink(const EventLogSink&) = delete;
  EventLogSink& operator=(const EventLogSink&) = delete;

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (source_ == nullptr) return;
    // The payload alone: the event log records time, level and source itself.
    const std::wstring text = Widen(std::string_view(msg.payload.data(), msg.payload.size()));
    const wchar_t* strings[] = {text.c_str()};
    // A full or unreachable log loses the line; the log file and the exit code still have it.
    (void)::ReportEventW(source_, EventType(msg.level), 0, kEventId, nullptr, 1, 0, strings,
                         nullptr);
  }
  void flush_() override {}

 private:
  HANDLE source_;
};

}  // namespace

std::shared_ptr<spdlog::sinks::sink> MakeSystemLogSink() {
  auto sink = std::make_shared<EventLogSink>();
  sink->set_level(spdlog::level::warn);
  return sink;
}

}  // namespace dozor::agent::platform
