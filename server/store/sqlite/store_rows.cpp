#include "store/sqlite/store_rows.hpp"

#include <string>

namespace dozor::server {

std::optional<int64_t> OptionalInt(const sqlite::Statement& s, int column) {
  if (s.IsNull(column)) {
    return std::nullopt;
  }
  return s.Int(column);
}

Organization ReadOrganization(const sqlite::Statement& s) {
  Organization org;
  org.id = s.Int(0);
  org.name = s.Text(1);
  org.contract_status = ParseContractPhase(s.Text(2)).value_or(ContractPhase::kProspect);
  org.contract_type = ParseContractType(s.Text(3)).value_or(ContractType::kComplex);
  org.engineer = s.Text(4);
  org.created_at_ms = s.Int(5);
  org.host_count = s.Int(6);
  org.declared_hosts = OptionalInt(s, 7);
  return org;
}

EnrollmentToken ReadEnrollmentToken(const sqlite::Statement& s) {
  EnrollmentToken token;
  token.id = s.Int(0);
  token.org_id = s.Int(1);
  token.org_name = s.Text(2);
  token.label = s.Text(3);
  token.hint = s.Text(4);
  token.created_at_ms = s.Int(5);
  token.expires_at_ms = OptionalInt(s, 6);
  token.revoked_at_ms = OptionalInt(s, 7);
  token.uses = s.Int(8);
  token.max_uses = OptionalInt(s, 9);
  token.signs_imports = s.Int(10) != 0;
  return token;
}

ApiToken ReadApiToken(const sqlite::Statement& s) {
  ApiToken token;
  token.id = s.Int(0);
  token.name = s.Text(1);
  // An unknown role (a newer binary's, say) reads as the least privileged one.
  token.role = ParseApiRole(s.Text(2)).value_or(ApiRole::kViewer);
  token.hint = s.Text(3);
  token.created_at_ms = s.Int(4);
  token.revoked_at_ms = OptionalInt(s, 5);
  token.expires_at_ms = OptionalInt(s, 6);
  token.user_id = OptionalInt(s, 7);
  return token;
}

HostSummary ReadHost(const sqlite::Statement& s) {
  HostSummary host;
  host.agent_id = s.Text(1);
  host.org_id = s.Int(2);
  host.org_name = s.Text(3);
  host.hostname = s.Text(4);
  host.os_pretty_name = s.Text(5);
  host.os_family = s.Text(6);
  host.agent_version = s.Text(7);
  host.enrolled_at_ms = s.Int(8);
  host.last_seen_ms = s.Int(9);
  host.last_inventory_ms = s.Int(10);
  host.revoked = s.Int(11) != 0;
  host.dropped_health_samples = static_cast<uint64_t>(s.Int(12));
  host.source = s.Text(13);
  host.role = ParseHostRole(s.Text(14));
  host.duties = ParseHostDuties(s.Text(15));
  return host;
}

AgentCredential ReadAgentCredential(const sqlite::Statement& s) {
  AgentCredential credential;
  credential.agent_id = s.Text(0);
  credential.org_id = s.Int(1);
  credential.secret_hash = s.Text(2);
  credential.revoked = s.Int(3) != 0;
  credential.last_committed_seq = static_cast<uint64_t>(s.Int(4));
  return credential;
}

InventoryChange ReadInventoryChange(const sqlite::Statement& s, std::string_view agent_id) {
  InventoryChange change;
  change.id = s.Int(0);
  change.agent_id = std::string(agent_id);
  change.at_ms = s.Int(1);
  change.category = s.Text(2);
  change.action = s.Text(3);
  change.subject = s.Text(4);
  change.old_value = s.Text(5);
  change.new_value = s.Text(6);
  return change;
}

dozor::v1::CollectorStatus ReadCollectorStatus(const sqlite::Statement& s) {
  dozor::v1::CollectorStatus status;
  status.set_name(s.Text(0));
  status.set_ok(s.Int(1) != 0);
  status.set_error(s.Text(2));
  status.set_duration_ms(static_cast<uint32_t>(s.Int(3)));
  return status;
}

}  // namespace dozor::server
