"""The host firewall of a firewalld machine end to end (issue 14): a real agent reads a Rocky Linux
PostgreSQL + 1C server fixture (tests/fixtures/hosts/rpm-server with firewalld-db-server over it)
where, as on a packaged install, the agent cannot list the live ruleset (canned `nft` and
`iptables-save` fail) and firewalld.service is enabled. The verdicts come from firewalld's
permanent zones: PostgreSQL, listening on all addresses, is admitted only from the 1C server
(a zone bound to source 10.0.0.20) over IPv4 and rejected over IPv6, so database-exposed stays
silent; once the administrator adds the postgresql service to the public default zone, the port
is open to any address and database-exposed fires, naming the firewall's verdict.
"""
import json
import os
import shutil
from harness import by_rule, check, log, run_test, start_fixture_estate, wait_for_inventory, wait_until, write_file

FIXTURES = os.environ.get("DOZOR_FIXTURES_DIR",
                          os.path.join(os.path.dirname(__file__), "..", "fixtures"))
ORG = "ООО «Стена»"
PUBLIC_ZONE = "etc/firewalld/zones/public.xml"


def findings(server, *args):
    return server.ctl("findings", "list", "--org", ORG, *args)["findings"]


def body(workdir, procs):
    root = os.path.join(workdir, "machine")
    shutil.copytree(os.path.join(FIXTURES, "hosts", "rpm-server"), root, symlinks=True)
    shutil.copytree(os.path.join(FIXTURES, "hosts", "firewalld-db-server"), root, symlinks=True,
                    dirs_exist_ok=True)
    # PostgreSQL (5432 = 0x1538) listens on every IPv4 and IPv6 address.
    with open(os.path.join(root, "proc/net/tcp"), "a") as f:
        f.write("   9: 00000000:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000"
                "    26        0 20099 1 0000000000000000 100 0 0 10 0\n")

    server, _, agent_id = start_fixture_estate(workdir, procs, ORG, root)

    # 1. The inventory: firewalld's verdicts from the permanent configuration.
    def with_firewall(inv):
        firewall = inv.get("security", {}).get("host_firewall") or {}
        return inv if firewall.get("ports") else None
    inv = wait_for_inventory(server, agent_id, with_firewall, "inventory with the host firewall")
    firewall = inv["security"]["host_firewall"]
    check(firewall["backend"] == "firewalld" and firewall["input_policy"] == "drop",
          f"firewalld's zones: {firewall}")
    check(firewall["status"].startswith("saved firewalld zone public (permanent configuration")
          and "runtime-only changes are not visible" in firewall["status"],
          f"the status says where the verdicts come from: {firewall['status']}")
    verdicts = {(int(p["family"]), int(p["port"])): p for p in firewall["ports"]}
    check(verdicts[(4, 5432)]["verdict"] == "restricted"
          and verdicts[(4, 5432)]["sources"] == "10.0.0.20",
          f"PostgreSQL only from the 1C server: {verdicts.get((4, 5432))}")
    check(verdicts[(6, 5432)]["verdict"] == "closed", f"no IPv6 zone admits it: {verdicts.get((6, 5432))}")
    check(verdicts[(4, 22)]["verdict"] == "open" and verdicts[(4, 6379)]["verdict"] == "restricted"
          and verdicts[(4, 6379)]["sources"] == "10.0.5.0/24"
          and verdicts[(4, 3306)]["verdict"] == "closed",
          f"ssh for all, Redis by a rich rule, the rest rejected: {firewall['ports']}")

    # 2. No finding for the database port while firewalld restricts it, no missing firewall.
    def rules_evaluated():
        items = findings(server)
        return items if items else None
    items = wait_until(rules_evaluated, 90, "the first findings")
    check(not by_rule(items, "database-exposed") and not by_rule(items, "firewall-absent"),
          f"firewalld restricts PostgreSQL: {[(f['rule_id'], f.get('evidence')) for f in items]}")

    # 3. The administrator admits postgresql in the default zone: open to any address, exposed.
    zone_path = os.path.join(root, PUBLIC_ZONE)
    with open(zone_path) as f:
        zone = f.read()
    write_file(zone_path, zone.replace('<service name="ssh"/>',
                                       '<service name="ssh"/>\n  <service name="postgresql"/>'))
    server.ctl("host", "collect", agent_id)
    exposed = wait_until(lambda: by_rule(findings(server), "database-exposed"), 90,
                         "database-exposed once the default zone admits PostgreSQL")
    evidence = json.dumps(exposed[0]["evidence"], ensure_ascii=False)
    check("5432" in evidence and "open to any address" in evidence,
          f"the evidence names the firewall's verdict: {evidence}")
    log("firewalld verdicts reported; database-exposed silent while restricted, fired once open")


if __name__ == "__main__":
    run_test(body)
