// dozorctl output for organisations and their contracts (org ...).
#include <string>

#include "ctl/format.hpp"
#include "ctl/format_internal.hpp"

namespace dozor::ctl {

std::string RenderOrgList(const nlohmann::json& reply, Lang lang) {
  Table table({"ID", "NAME", "STATUS", "TYPE", "ENGINEER", "HOSTS", "CREATED"}, lang);
  table.AlignRight(0);
  table.AlignRight(5);
  for (const auto& org : Array(reply, "organizations")) {
    table.AddRow({std::to_string(JsonI64(At(org, "id"))), JsonStr(org, "name"),
                  JsonStr(org, "contract_status"), JsonStr(org, "contract_type"),
                  OrDash(JsonStr(org, "engineer")), std::to_string(JsonI64(At(org, "host_count"))),
                  TimeField(org, "created_at_ms")});
  }
  return table.Render();
}

std::string RenderOrg(const nlohmann::json& org, Lang lang) {
  KeyValues kv(lang);
  kv.Add("ID", std::to_string(JsonI64(At(org, "id"))));
  kv.Add("Name", JsonStr(org, "name"));
  kv.Add("Contract status", JsonStr(org, "contract_status"));
  kv.Add("Contract type", JsonStr(org, "contract_type"));
  kv.Add("Engineer", OrDash(JsonStr(org, "engineer")));
  kv.Add("Hosts", std::to_string(JsonI64(At(org, "host_count"))));
  {
    const auto& declared = At(org, "declared_hosts");
    kv.Add("Declared machines",
           declared.is_number_integer() ? std::to_string(declared.get<int64_t>()) : "—");
  }
  kv.Add("Created", TimeField(org, "created_at_ms"));
  return kv.Render();
}

namespace {

std::string SnapshotLine(const nlohmann::json& snapshot) {
  if (!snapshot.is_object()) {
    return "none";
  }
  std::string out = TimeField(snapshot, "at_ms") + " by " + OrDash(JsonStr(snapshot, "actor")) +
                    ", " + std::to_string(JsonI64(At(snapshot, "finding_count"))) + " findings";
  std::string counts;
  for (const char* severity : {"critical", "high", "medium", "low", "info"}) {
    const int64_t count = JsonI64(At(At(snapshot, "by_severity"), severity));
    if (count > 0) {
      counts += (counts.empty() ? "" : ", ") + std::to_string(count) + " " + severity;
    }
  }
  return counts.empty() ? out : out + " (" + counts + ")";
}

}  // namespace

std::string RenderContract(const nlohmann::json& contract, Lang lang) {
  KeyValues kv(lang);
  kv.Add("Organisation", JsonStr(contract, "org"));
  kv.Add("Contract status", JsonStr(contract, "status"));
  kv.Add("Contract type", JsonStr(contract, "type"));
  kv.Add("First audit", SnapshotLine(At(contract, "first_audit")));
  kv.Add("Signing baseline", SnapshotLine(At(contract, "signing")));
  std::string out = kv.Render();
  out += Section("History", lang);
  Table events({"TIME", "FROM", "TO", "BY"}, lang);
  for (const auto& event : Array(contract, "events")) {
    events.AddRow({TimeField(event, "at_ms"), OrDash(JsonStr(event, "from_status")),
                   JsonStr(event, "to_status"), OrDash(JsonStr(event, "actor"))});
  }
  if (events.rows() == 0) {
    return out + "  no contract moves yet\n";
  }
  return out + events.Render();
}

std::string RenderSnapshot(const nlohmann::json& snapshot, Lang /*lang*/) {
  return "Recorded " + JsonStr(snapshot, "kind") + " snapshot: " + SnapshotLine(snapshot) + "\n";
}

}  // namespace dozor::ctl
