#include "ingest/security_audit.hpp"

#include <spdlog/spdlog.h>

#include <vector>

#include "dozor/common/text.hpp"

namespace dozor::server {

SecurityAudit::SecurityAudit(SecurityEventStore& store, const Clock& clock,
                             SecurityAuditOptions options)
    : store_(store),
      clock_(clock),
      options_(options),
      flusher_(std::chrono::milliseconds(options.flush_every_ms), [this] { (void)Flush(); }) {}

SecurityAudit::~SecurityAudit() { Stop(); }

void SecurityAudit::Stop() {
  if (flusher_.Stop()) (void)Flush();
}

void SecurityAudit::Record(SecurityEventKind kind, std::string_view source,
                           std::string_view subject, std::string_view detail, Logging logging) {
  std::string escaped_source = EscapeControlText(source.substr(0, 256));
  std::lock_guard lock(mutex_);
  auto key = std::make_pair(kind, escaped_source);
  auto it = pending_.find(key);
  if (it == pending_.end() && pending_.size() >= options_.max_pending) {
    key.second = "*";
    it = pending_.find(key);
  }
  if (it != pending_.end()) {
    ++it->second.event.count;
    return;
  }
  SecurityEvent event;
  event.at_ms = clock_.NowMs();
  event.kind = kind;
  event.source = key.second;
  event.subject = EscapeControlText(subject.substr(0, 256));
  event.detail = EscapeControlText(detail.substr(0, 512));
  if (logging == Logging::kFirstOfKind) {
    spdlog::warn("security: {} from {} ({}): {}", SecurityEventKindName(kind), event.source,
                 event.subject, event.detail);
  }
  pending_.emplace(std::move(key), Pending{std::move(event), logging});
}

Status SecurityAudit::Flush() {
  std::vector<SecurityEvent> rows;
  std::vector<bool> summarise;
  {
    std::lock_guard lock(mutex_);
    rows.reserve(pending_.size());
    for (auto& [key, pending] : pending_) {
      rows.push_back(std::move(pending.event));
      summarise.push_back(pending.logging == Logging::kFirstOfKind);
    }
    pending_.clear();
  }
  if (rows.empty()) return OkStatus();
  for (size_t i = 0; i < rows.size(); ++i) {
    const SecurityEvent& row = rows[i];
    if (summarise[i] && row.count > 1) {
      spdlog::warn("security: {} more {} from {} in the last {} s", row.count - 1,
                   SecurityEventKindName(row.kind), row.source,
                   (clock_.NowMs() - row.at_ms + 999) / 1000);
    }
  }
  auto written = store_.RecordSecurityEvents(rows);
  if (!written.ok()) {
    // Logged (with the counts above), not retried: a store that cannot write is reported by every
    // other path too, and holding rows here would grow memory under the flood that caused them.
    spdlog::error("security: cannot record {} security events: {}", rows.size(),
                  written.error().ToString());
  }
  return written;
}

std::string PeerAddress(std::string_view peer) {
  // gRPC peers: "ipv4:A.B.C.D:PORT", "ipv6:[ADDR]:PORT", "unix:PATH".
  if (peer.rfind("ipv4:", 0) == 0 || peer.rfind("ipv6:", 0) == 0) {
    auto colon = peer.rfind(':');
    if (colon != std::string_view::npos && colon > 5) return std::string(peer.substr(0, colon));
  }
  return std::string(peer);
}

}  // namespace dozor::server
