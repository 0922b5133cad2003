// The Linux host firewall (Security.host_firewall): the live netfilter ruleset (`nft list
// ruleset`, else `iptables-save`), or, when the agent may not read it (listing the ruleset needs
// CAP_NET_ADMIN), the saved ruleset the active firewall service loaded at boot
// (/etc/nftables.conf, /etc/iptables/rules.v4, /etc/sysconfig/iptables), judged for every
// listening TCP port and the usual database ports. Canned output on fixture roots:
// dozor-fixture/commands/nft-list-ruleset.txt, iptables-save.txt (command_util.hpp).
#pragma once

#include "collectors/collector.hpp"

namespace dozor::agent {

Status CollectHostFirewall(const CollectContext& ctx, dozor::v1::Security* out);

}  // namespace dozor::agent
