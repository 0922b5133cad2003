#include "domain/inventory_diff.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "domain/version_compare.hpp"

namespace dozor::server {
namespace {

class ChangeList {
 public:
  ChangeList(int64_t at_ms, std::string_view agent_id) : at_ms_(at_ms), agent_id_(agent_id) {}

  void Add(std::string_view category, std::string_view action, std::string subject,
           std::string old_value, std::string new_value) {
    InventoryChange change;
    change.agent_id = agent_id_;
    change.at_ms = at_ms_;
    change.category = std::string(category);
    change.action = std::string(action);
    change.subject = std::move(subject);
    change.old_value = std::move(old_value);
    change.new_value = std::move(new_value);
    changes_.push_back(std::move(change));
  }

  void Field(std::string_view category, std::string subject, const std::string& old_value,
             const std::string& new_value) {
    if (old_value != new_value) {
      Add(category, "changed", std::move(subject), old_value, new_value);
    }
  }

  std::vector<InventoryChange> Take() { return std::move(changes_); }

 private:
  int64_t at_ms_;
  std::string agent_id_;
  std::vector<InventoryChange> changes_;
};

// Walks two keyed maps in order and reports keys only in one side, and pairs present in both.
template <typename Value, typename OnRemoved, typename OnAdded, typename OnBoth>
void DiffMaps(const std::map<std::string, Value>& before, const std::map<std::string, Value>& after,
              OnRemoved on_removed, OnAdded on_added, OnBoth on_both) {
  auto b = before.begin();
  auto a = after.begin();
  while (b != before.end() || a != after.end()) {
    if (a == after.end() || (b != before.end() && b->first < a->first)) {
      on_removed(b->first, b->second);
      ++b;
    } else if (b == before.end() || a->first < b->first) {
      on_added(a->first, a->second);
      ++a;
    } else {
      on_both(a->first, b->second, a->second);
      ++b;
      ++a;
    }
  }
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) {
      out += ", ";
    }
    out += item;
  }
  return out;
}

// Keys only in one side are removed/added (with their detail); what a key in both maps to is not
// compared.
void DiffMembers(ChangeList& changes, std::string_view category,
                 const std::map<std::string, std::string>& before,
                 const std::map<std::string, std::string>& after) {
  DiffMaps(
      before, after,
      [&](const std::string& key, const std::string& detail) {
        changes.Add(category, "removed", key, detail, "");
      },
      [&](const std::string& key, const std::string& detail) {
        changes.Add(category, "added", key, "", detail);
      },
      [](const std::string&, const std::string&, const std::string&) {});
}

// Only keys in both sides: "changed" when what they map to differs.
void DiffShared(ChangeList& changes, std::string_view category,
                const std::map<std::string, std::string>& before,
                const std::map<std::string, std::string>& after) {
  DiffMaps(
      before, after, [](const std::string&, const std::string&) {},
      [](const std::string&, const std::string&) {},
      [&](const std::string& key, const std::string& was, const std::string& now) {
        changes.Field(category, key, was, now);
      });
}

// Both: removed/added keys and changed details, in key order.
void DiffKeyed(ChangeList& changes, std::string_view category,
               const std::map<std::string, std::string>& before,
               const std::map<std::string, std::string>& after) {
  DiffMaps(
      before, after,
      [&](const std::string& key, const std::string& detail) {
        changes.Add(category, "removed", key, detail, "");
      },
      [&](const std::string& key, const std::string& detail) {
        changes.Add(category, "added", key, "", detail);
      },
      [&](const std::string& key, const std::string& was, const std::string& now) {
        changes.Field(category, key, was, now);
      });
}

// A tri-state field (1 yes, 0 no, -1 unknown) as a change only when both sides are known: a
// source that could not answer this time is not a change of the machine.
void TriState(ChangeList& changes, std::string_view category, std::string subject, int32_t was,
              int32_t now) {
  if (was < 0 || now < 0) return;
  changes.Field(category, std::move(subject), was != 0 ? "on" : "off", now != 0 ? "on" : "off");
}

void DiffPackages(const dozor::v1::Software& before, const dozor::v1::Software& after,
                  ChangeList& changes) {
  // A multiarch library (libc6:amd64 + libc6:i386) is two packages with one name.
  std::map<std::string, int> arches_per_name;
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto* software : {&before, &after}) {
    for (const auto& package : software->packages()) {
      if (seen.emplace(package.name(), package.architecture()).second) {
        ++arches_per_name[package.name()];
      }
    }
  }
  auto index = [&](const dozor::v1::Software& software) {
    std::map<std::string, const dozor::v1::Package*> out;
    for (const auto& package : software.packages()) {
      std::string key = package.name();
      if (arches_per_name[package.name()] > 1 && !package.architecture().empty()) {
        key += ":" + package.architecture();
      }
      out.emplace(std::move(key), &package);
    }
    return out;
  };
  auto old_packages = index(before);
  auto new_packages = index(after);
  DiffMaps(
      old_packages, new_packages,
      [&](const std::string& key, const dozor::v1::Package* p) {
        changes.Add("package", "removed", key, p->version(), "");
      },
      [&](const std::string& key, const dozor::v1::Package* p) {
        changes.Add("package", "added", key, "", p->version());
      },
      [&](const std::string& key, const dozor::v1::Package* was, const dozor::v1::Package* now) {
        // Put on or taken off hold (apt-mark hold): from now on upgrades skip it, or no longer.
        if (was->held() != now->held()) {
          changes.Add("package", "changed", key + " hold", was->held() ? "held" : "not held",
                      now->held() ? "held" : "not held");
        }
        if (was->version() == now->version()) {
          return;
        }
        int order = CompareDebianVersions(was->version(), now->version());
        const char* action = order < 0 ? "upgraded" : (order > 0 ? "downgraded" : "changed");
        changes.Add("package", action, key, was->version(), now->version());
      });
}

// Package repositories: one added (a third party the machine now installs from), removed, or
// switched on/off or between official and third-party.
void DiffRepositories(const dozor::v1::Software& before, const dozor::v1::Software& after,
                      ChangeList& changes) {
  auto repositories = [](const dozor::v1::Software& software) {
    std::map<std::string, std::string> out;
    for (const auto& repository : software.repositories()) {
      std::string key = "repository " + repository.manager() + " ";
      key += repository.name().empty() ? repository.kind() : repository.name();
      key += " " + repository.uri();
      if (!repository.suite().empty()) key += " " + repository.suite();
      std::string detail = repository.components();
      detail += detail.empty() ? "" : " ";
      detail += repository.official() ? "(official)" : "(third-party)";
      if (!repository.enabled()) detail += " disabled";
      out.emplace(std::move(key), std::move(detail));
    }
    return out;
  };
  DiffKeyed(changes, "repository", repositories(before), repositories(after));
}

void DiffApplications(const dozor::v1::Software& before, const dozor::v1::Software& after,
                      ChangeList& changes) {
  auto index = [](const dozor::v1::Software& software) {
    std::map<std::string, std::string> out;
    for (const auto& app : software.applications()) {
      std::string key = app.name() + " " + app.version();
      if (!app.architecture().empty()) {
        key += " (" + app.architecture() + ")";
      }
      std::string detail = app.kind();
      if (!app.path().empty()) {
        detail += detail.empty() ? app.path() : " " + app.path();
      }
      out.emplace(std::move(key), std::move(detail));
    }
    return out;
  };
  DiffMaps(
      index(before), index(after),
      [&](const std::string& key, const std::string& detail) {
        changes.Add("application", "removed", key, detail, "");
      },
      [&](const std::string& key, const std::string& detail) {
        changes.Add("application", "added", key, "", detail);
      },
      [](const std::string&, const std::string&, const std::string&) {});
}

void DiffServices(const dozor::v1::Software& before, const dozor::v1::Software& after,
                  ChangeList& changes) {
  auto index = [](const dozor::v1::Software& software) {
    std::map<std::string, std::string> out;
    for (const auto& service : software.services()) {
      out.emplace(service.name(),
                  service.active_state() + "/" + service.sub_state() + " " + service.enabled());
    }
    return out;
  };
  DiffMaps(
      index(before), index(after),
      [&](const std::string& name, const std::string& state) {
        changes.Add("service", "removed", name, state, "");
      },
      [&](const std::string& name, const std::string& state) {
        changes.Add("service", "added", name, "", state);
      },
      [&](const std::string& name, const std::string& was, const std::string& now) {
        changes.Field("service", name, was, now);
      });
}

void DiffOs(const dozor::v1::OperatingSystem& before, const dozor::v1::OperatingSystem& after,
            ChangeList& changes) {
  changes.Field("os", "os.pretty_name", before.pretty_name(), after.pretty_name());
  changes.Field("os", "os.version_id", before.version_id(), after.version_id());
  changes.Field("os", "os.kernel", before.kernel(), after.kernel());
  changes.Field("os", "os.hostname", before.hostname(), after.hostname());
  changes.Field("os", "os.timezone", before.timezone(), after.timezone());
  // Windows: edition (an upgrade Home -> Pro), build (every cumulative update), activation,
  // joining or leaving a domain, the machine's role.
  changes.Field("os", "os.edition", before.edition(), after.edition());
  changes.Field("os", "os.build", before.build(), after.build());
  if (before.activation() != "unknown" && after.activation() != "unknown") {
    changes.Field("os", "os.activation", before.activation(), after.activation());
  }
  changes.Field("os", "os.domain", before.domain(), after.domain());
  changes.Field("os", "os.workgroup", before.workgroup(), after.workgroup());
  changes.Field("os", "os.product_type", before.product_type(), after.product_type());
}

bool ListsSystemAccounts(const dozor::v1::OperatingSystem& os) {
  return std::any_of(os.users().begin(), os.users().end(),
                     [](const auto& user) { return user.kind() == "system"; });
}

void DiffUsers(const dozor::v1::OperatingSystem& before, const dozor::v1::OperatingSystem& after,
               ChangeList& changes) {
  // Agents before 023 listed only accounts with a login shell: the first report of a newer one
  // adds the system accounts that were always there, which is not a change.
  const bool learned_system_accounts = !ListsSystemAccounts(before) && ListsSystemAccounts(after);
  // Linux agents said no account was disabled until they read shells and /etc/shadow: the first
  // report that says so disables nothing. (A host with no disabled account at all before then
  // would have its first one missed: every Linux host has nologin service accounts, and Windows
  // has Guest disabled from installation.)
  const auto says_disabled = [](const dozor::v1::OperatingSystem& os) {
    return std::any_of(os.users().begin(), os.users().end(),
                       [](const auto& user) { return user.disabled(); });
  };
  const bool learned_disabled = !says_disabled(before) && says_disabled(after);
  // "administrator", "user", "administrator, disabled": locking out an admin is a change.
  auto index = [&](const dozor::v1::OperatingSystem& os) {
    std::map<std::string, std::string> out;
    for (const auto& user : os.users()) {
      if (user.kind() == "system" && learned_system_accounts) continue;
      std::string role = user.administrator() ? "administrator" : "user";
      if (user.disabled() && !learned_disabled) role += ", disabled";
      out.emplace(user.name(), std::move(role));
    }
    return out;
  };
  DiffMaps(
      index(before), index(after),
      [&](const std::string& name, const std::string& role) {
        changes.Add("user", "removed", name, role, "");
      },
      [&](const std::string& name, const std::string& role) {
        changes.Add("user", "added", name, "", role);
      },
      [&](const std::string& name, const std::string& was, const std::string& now) {
        changes.Field("user", name, was, now);
      });
}

void DiffHardware(const dozor::v1::Hardware& before, const dozor::v1::Hardware& after,
                  ChangeList& changes) {
  changes.Field("hardware", "hardware.cpu_model", before.cpu().model(), after.cpu().model());
  if (before.memory_total_bytes() != after.memory_total_bytes()) {
    changes.Add("hardware", "changed", "hardware.memory_total_bytes",
                std::to_string(before.memory_total_bytes()),
                std::to_string(after.memory_total_bytes()));
  }
  changes.Field("hardware", "hardware.bios_version", before.dmi().bios_version(),
                after.dmi().bios_version());
  changes.Field("hardware", "hardware.bios_date", before.dmi().bios_date(),
                after.dmi().bios_date());
  // Kernel names (sda, sdb) move between boots; serial + model identify the physical disk.
  auto index = [](const dozor::v1::Hardware& hardware) {
    std::map<std::string, std::string> out;
    for (const auto& disk : hardware.disks()) {
      out.emplace("disk " + disk.model() + " " + disk.serial(),
                  disk.name() + " " + std::to_string(disk.size_bytes()) + " bytes");
    }
    return out;
  };
  auto disks_before = index(before);
  const auto disks_after = index(after);
  // A disk whose serial the agent learns (a newer agent reads virtio's /sys/block/X/serial) is
  // the same disk: same model, kernel name and size, serial "" before. Logging it as removed and
  // added would read as a disk swap (and warn that a 1C licence bound to it may break).
  for (const auto& disk : after.disks()) {
    const std::string unknown = "disk " + disk.model() + " ";
    auto learned = disks_before.find(unknown);
    if (disk.serial().empty() || learned == disks_before.end() || disks_after.count(unknown) != 0 ||
        learned->second != disk.name() + " " + std::to_string(disk.size_bytes()) + " bytes") {
      continue;
    }
    disks_before.emplace(unknown + disk.serial(), learned->second);
    disks_before.erase(learned);
  }
  DiffMembers(changes, "hardware", disks_before, disks_after);
  // Memory modules by slot and serial (a module moved to another slot is a change too).
  auto modules = [](const dozor::v1::Hardware& hardware) {
    std::map<std::string, std::string> out;
    for (const auto& module : hardware.memory_modules()) {
      out.emplace("memory " + module.slot() + " " + module.serial(),
                  std::to_string(module.size_bytes()) + " bytes " + module.manufacturer() + " " +
                      module.part_number());
    }
    return out;
  };
  DiffKeyed(changes, "hardware", modules(before), modules(after));
  // Volumes (drive letters, network drives) and their encryption; free space is health, not
  // inventory, so it is not compared.
  auto volumes = [](const dozor::v1::Hardware& hardware) {
    std::map<std::string, std::string> out;
    for (const auto& volume : hardware.volumes()) {
      std::string detail;
      for (const std::string& part : {volume.kind(), volume.file_system(), volume.remote_path()}) {
        if (part.empty()) continue;
        detail += (detail.empty() ? "" : " ") + part;
      }
      out.emplace("volume " + volume.mount_point(), detail);
    }
    return out;
  };
  DiffKeyed(changes, "hardware", volumes(before), volumes(after));
  auto encryption = [](const dozor::v1::Hardware& hardware) {
    std::map<std::string, std::string> out;
    for (const auto& volume : hardware.volumes()) {
      if (!volume.encryption().empty() && volume.encryption() != "unknown") {
        out.emplace("volume " + volume.mount_point() + " encryption", volume.encryption());
      }
    }
    return out;
  };
  DiffShared(changes, "hardware", encryption(before), encryption(after));
}

void DiffNetwork(const dozor::v1::Network& before, const dozor::v1::Network& after,
                 ChangeList& changes) {
  auto interfaces = [](const dozor::v1::Network& network) {
    std::map<std::string, std::string> out;
    for (const auto& iface : network.interfaces()) {
      out.emplace(iface.name(), iface.mac());
    }
    return out;
  };
  auto addresses = [](const dozor::v1::Network& network) {
    std::map<std::string, std::string> out;
    for (const auto& iface : network.interfaces()) {
      for (const auto& address : iface.addresses()) {
        std::string value = address.address() + "/" + std::to_string(address.prefix());
        out.emplace(iface.name() + " " + value, value);
      }
    }
    return out;
  };
  DiffMaps(
      interfaces(before), interfaces(after),
      [&](const std::string& name, const std::string& mac) {
        changes.Add("network", "removed", name, mac, "");
      },
      [&](const std::string& name, const std::string& mac) {
        changes.Add("network", "added", name, "", mac);
      },
      [&](const std::string& name, const std::string& was, const std::string& now) {
        changes.Field("network", name + " mac", was, now);
      });
  DiffMembers(changes, "network", addresses(before), addresses(after));
  // Resolver order matters, so DNS servers compare as an ordered list.
  std::vector<std::string> old_dns(before.dns_servers().begin(), before.dns_servers().end());
  std::vector<std::string> new_dns(after.dns_servers().begin(), after.dns_servers().end());
  changes.Field("network", "network.dns_servers", Join(old_dns), Join(new_dns));
  auto gateways = [](const dozor::v1::Network& network) {
    std::vector<std::string> out;
    for (const auto& gateway : network.gateways()) {
      out.push_back(gateway.interface().empty()
                        ? gateway.address()
                        : gateway.address() + " via " + gateway.interface());
    }
    std::sort(out.begin(), out.end());
    return Join(out);
  };
  changes.Field("network", "network.gateways", gateways(before), gateways(after));
}

void DiffSecurity(const dozor::v1::Security& before, const dozor::v1::Security& after,
                  ChangeList& changes) {
  // Antivirus products by name; real-time protection switched on or off.
  auto products = [](const dozor::v1::Security& security) {
    std::map<std::string, std::string> out;
    for (const auto& antivirus : security.antivirus()) {
      out.emplace("antivirus " + antivirus.name(), antivirus.source());
    }
    return out;
  };
  DiffMembers(changes, "security", products(before), products(after));
  for (const auto& now : after.antivirus()) {
    for (const auto& was : before.antivirus()) {
      if (was.name() == now.name()) {
        TriState(changes, "security", "antivirus " + now.name() + " real-time protection",
                 was.enabled(), now.enabled());
      }
    }
  }
  auto firewall = [](const dozor::v1::Security& security) {
    std::map<std::string, std::string> out;
    for (const auto& profile : security.firewall()) {
      out.emplace("firewall " + profile.name(), profile.enabled() ? "on" : "off");
    }
    return out;
  };
  DiffShared(changes, "security", firewall(before), firewall(after));
  // The Linux host firewall's verdict on a port both inventories judged: "restricted" turning
  // "open" is what an auditor wants dated.
  auto host_firewall = [](const dozor::v1::Security& security) {
    std::map<std::string, std::string> out;
    for (const auto& port : security.host_firewall().ports()) {
      std::string value = port.verdict();
      if (!port.sources().empty()) value += " (" + port.sources() + ")";
      out.emplace("host firewall " + port.protocol() + "/" + std::to_string(port.port()) + " IPv" +
                      std::to_string(port.family()),
                  std::move(value));
    }
    return out;
  };
  DiffShared(changes, "security", host_firewall(before), host_firewall(after));
  TriState(changes, "security", "remote desktop", before.remote_desktop(), after.remote_desktop());
  TriState(changes, "security", "remote desktop NLA", before.remote_desktop_nla(),
           after.remote_desktop_nla());
  TriState(changes, "security", "SMBv1", before.smb1(), after.smb1());
}

// 1C: the infobases in the users' lists (a base moved to a share, or off it) and the licence
// servers the HASP clients ask.
void DiffOneC(const dozor::v1::Software& before, const dozor::v1::Software& after,
              ChangeList& changes) {
  auto infobases = [](const dozor::v1::Software& software) {
    std::map<std::string, std::string> out;
    for (const auto& base : software.infobases()) {
      out.emplace("infobase " + base.user() + ": " + base.name(),
                  base.kind() + " " + base.location());
    }
    return out;
  };
  DiffKeyed(changes, "onec", infobases(before), infobases(after));
  auto licences = [](const dozor::v1::Software& software) {
    std::map<std::string, std::string> out;
    for (const auto& client : software.license_clients()) {
      std::vector<std::string> servers(client.servers().begin(), client.servers().end());
      out.emplace("licence client " + client.kind() + " " + client.config_path(), Join(servers));
    }
    return out;
  };
  DiffKeyed(changes, "onec", licences(before), licences(after));
}

// The 1C cluster's set-up: a cluster started or stopped, its administrator configured or
// removed, a technological log switched on or off or kept longer, a software licence or the HASP
// manager added or gone. Process ids, memory and restarts change all the time: facts, not changes.
void DiffOneCCluster(const dozor::v1::Software& before, const dozor::v1::Software& after,
                     ChangeList& changes) {
  auto clusters = [](const dozor::v1::Software& software) {
    std::map<std::string, std::string> out;
    for (const auto& agent : software.onec_server_agents()) {
      out.emplace(
          "1C server agent " + agent.version() + " port " + std::to_string(agent.agent_port()),
          std::to_string(agent.manager_port()) + " " + std::to_string(agent.range_first()) + ":" +
              std::to_string(agent.range_last()) + " " + agent.registry_path());
      for (const auto& cluster : agent.clusters()) {
        if (cluster.admin_configured() < 0) continue;
        out.emplace("1C cluster " + cluster.name() + " (" + cluster.id() + ") administrator",
                    cluster.admin_configured() > 0 ? "configured" : "none");
      }
    }
    return out;
  };
  DiffKeyed(changes, "onec", clusters(before), clusters(after));
  auto tech_logs = [](const dozor::v1::Software& software) {
    std::map<std::string, std::string> out;
    for (const auto& log : software.onec_tech_logs()) {
      out.emplace("1C tech log " + log.config_path() + " " + log.location(),
                  log.enabled() ? "on, " + std::to_string(log.history_hours()) + " h" : "off");
    }
    return out;
  };
  DiffKeyed(changes, "onec", tech_logs(before), tech_logs(after));
  auto licensing = [](const dozor::v1::Software& software) {
    std::map<std::string, std::string> out;
    for (const auto& file : software.onec_licensing().licence_files()) {
      out.emplace("1C licence file " + file, "");
    }
    for (const auto& process : software.onec_licensing().hasp_manager_processes()) {
      out.emplace("HASP licence manager " + process, "running");
    }
    return out;
  };
  DiffKeyed(changes, "onec", licensing(before), licensing(after));
}

// Backups: a job added, removed or rescheduled (a nightly pg_probackup cron line commented
// out is a change an engineer must see). Run times and results change with every run: they
// are facts for the rules, not changes.
void DiffBackups(const dozor::v1::Software& before, const dozor::v1::Software& after,
                 ChangeList& changes) {
  auto jobs = [](const dozor::v1::Software& software) {
    std::map<std::string, std::string> out;
    for (const auto& job : software.backup_jobs()) {
      std::string key = "backup " + job.tool();
      if (!job.target().empty()) key += " " + job.target();
      key += " (" + job.source() + ")";
      out.emplace(std::move(key), job.schedule().empty()
                                      ? job.destination()
                                      : job.schedule() + " " + job.destination());
    }
    return out;
  };
  DiffKeyed(changes, "backup", jobs(before), jobs(after));
}

// Storage arrays and UPSes: an array degraded, a member failed or replaced, a pool's health
// changing, a UPS no longer watched. The progress of a resync or scrub and a UPS's momentary
// status change with every run: they are facts for the rules, not changes.
void DiffStorageAndPower(const dozor::v1::Hardware& before, const dozor::v1::Hardware& after,
                         ChangeList& changes) {
  auto arrays = [](const dozor::v1::Hardware& hardware) {
    std::map<std::string, std::string> out;
    for (const auto& array : hardware.storage_arrays()) {
      std::string value =
          array.level().empty() ? array.state() : array.level() + " " + array.state();
      if (array.degraded()) value += ", degraded";
      std::string members;
      for (const auto& member : array.members()) {
        if (!members.empty()) members += ", ";
        members += member.device() + " " + member.state();
      }
      if (!members.empty()) value += " (" + members + ")";
      out.emplace("array " + array.kind() + " " + array.name(), std::move(value));
    }
    return out;
  };
  DiffKeyed(changes, "hardware", arrays(before), arrays(after));
  auto upses = [](const dozor::v1::Hardware& hardware) {
    std::map<std::string, std::string> out;
    for (const auto& ups : hardware.power().ups()) {
      std::string value = ups.monitored() ? "monitored" : "not monitored";
      if (!ups.model().empty()) value = ups.model() + ", " + value;
      out.emplace("ups " + ups.daemon() + " " + ups.name(), std::move(value));
    }
    return out;
  };
  DiffKeyed(changes, "hardware", upses(before), upses(after));
}

// PCI devices plugged in or removed, or bound to another driver (a controller swapped, a NIC
// added; under a bound 1C licence a hardware change). Keyed by address, the detail ids, class and
// driver: the names from pci.ids change with a pci.ids update, not with the hardware. An agent
// that reports devices for the first time (older agents had none) is not a change.
void DiffPciDevices(const dozor::v1::Hardware& before, const dozor::v1::Hardware& after,
                    ChangeList& changes) {
  if (before.pci_devices().empty()) return;
  auto devices = [](const dozor::v1::Hardware& hardware) {
    std::map<std::string, std::string> out;
    for (const auto& device : hardware.pci_devices()) {
      std::string value = device.vendor_id() + ":" + device.device_id();
      if (!device.class_name().empty()) value += " " + device.class_name();
      value += device.driver().empty() ? ", no driver" : ", driver " + device.driver();
      out.emplace("pci " + device.address(), std::move(value));
    }
    return out;
  };
  DiffKeyed(changes, "pci", devices(before), devices(after));
}

// Who holds administrative rights through a group (sudo, wheel, admin): a member added or
// removed is a security-relevant change. Other groups' memberships change with every package
// that brings a service account and are facts, not changes. Keyed "<group>: <member>".
void DiffAdminGroups(const dozor::v1::OperatingSystem& before,
                     const dozor::v1::OperatingSystem& after, ChangeList& changes) {
  if (before.groups().empty()) return;  // an agent that reports groups for the first time
  auto members = [](const dozor::v1::OperatingSystem& os) {
    std::map<std::string, std::string> out;
    for (const auto& group : os.groups()) {
      if (!group.administrator()) continue;
      for (const auto& member : group.members()) {
        out.emplace(group.name() + ": " + member, "member");
      }
      for (const auto& member : group.primary_members()) {
        out.emplace(group.name() + ": " + member, "primary group");
      }
    }
    return out;
  };
  DiffMembers(changes, "group", members(before), members(after));
}

}  // namespace

std::vector<InventoryChange> DiffInventories(const dozor::v1::Inventory& before,
                                             const dozor::v1::Inventory& after, int64_t at_ms,
                                             std::string_view agent_id) {
  ChangeList changes(at_ms, agent_id);
  DiffHardware(before.hardware(), after.hardware(), changes);
  DiffOs(before.os(), after.os(), changes);
  DiffNetwork(before.network(), after.network(), changes);
  DiffPackages(before.software(), after.software(), changes);
  DiffApplications(before.software(), after.software(), changes);
  DiffServices(before.software(), after.software(), changes);
  DiffUsers(before.os(), after.os(), changes);
  DiffSecurity(before.security(), after.security(), changes);
  DiffOneC(before.software(), after.software(), changes);
  DiffBackups(before.software(), after.software(), changes);
  DiffStorageAndPower(before.hardware(), after.hardware(), changes);
  DiffOneCCluster(before.software(), after.software(), changes);
  DiffRepositories(before.software(), after.software(), changes);
  DiffPciDevices(before.hardware(), after.hardware(), changes);
  DiffAdminGroups(before.os(), after.os(), changes);
  return changes.Take();
}

InventoryChange FirstInventoryChange(int64_t at_ms, std::string_view agent_id) {
  InventoryChange change;
  change.agent_id = std::string(agent_id);
  change.at_ms = at_ms;
  change.category = "host";
  change.action = "added";
  change.subject = "first inventory";
  return change;
}

void CapInventoryChanges(std::vector<InventoryChange>& changes, size_t max_changes) {
  if (max_changes == 0 || changes.size() <= max_changes) return;
  const size_t more = changes.size() - (max_changes - 1);
  InventoryChange summary;
  summary.agent_id = changes.front().agent_id;
  summary.at_ms = changes.front().at_ms;
  summary.category = "inventory";
  summary.action = "truncated";
  summary.subject = "changes";
  summary.new_value = std::to_string(more) + " more changes not listed (at most " +
                      std::to_string(max_changes) + " rows per inventory)";
  changes.resize(max_changes - 1);
  changes.push_back(std::move(summary));
}

}  // namespace dozor::server
