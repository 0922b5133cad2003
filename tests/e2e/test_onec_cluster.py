"""The 1C server cluster end to end (issue 14): a real agent reads a 1C server fixture
(tests/fixtures/hosts/onec-cluster over debian-server) whose cluster runs (ragent, rmngr, four
rphost, ras), whose `rac` answers come from canned output (no cluster administrator), whose
technological log is switched on for 30 days and holds 30 GiB, with a 1C software licence file and
nethasp.ini pointing at this host while no HASP manager runs. The server opens the findings
onec-cluster-no-admin, onec-rphost-memory-high, onec-rphost-restarts, onec-techlog-unbounded,
onec-techlog-large and onec-hasp-no-manager; `dozorctl host show` shows the cluster; a changed MAC
address opens onec-licence-hardware-changed. Then the client puts the cluster in order (an
administrator, a planned restart interval, a bounded tech log, the HASP manager running, the
licence re-activated) and every one of these findings resolves: the well-run cluster fires none.
"""
import os
import shutil
import time
from harness import check, log, run_test, start_fixture_estate, wait_for_inventory, wait_until, write_file

FIXTURES = os.environ.get("DOZOR_FIXTURES_DIR",
                          os.path.join(os.path.dirname(__file__), "..", "fixtures"))
ORG = "ООО «Кластер»"
CLUSTER_ID = "e6c8f5a2-3b1d-4c9e-9f0a-1d2c3b4a5f60"
RULES = ["onec-cluster-no-admin", "onec-rphost-memory-high", "onec-rphost-restarts",
         "onec-techlog-unbounded", "onec-techlog-large", "onec-hasp-no-manager"]
ALL_RULES = RULES + ["onec-licence-hardware-changed"]


def findings(server, *args):
    return server.ctl("findings", "list", "--org", ORG, *args)["findings"]


def open_rules(server):
    return {f["rule_id"] for f in findings(server) if f["rule_id"] in ALL_RULES}


def replace_in(path, old, new):
    with open(path) as f:
        text = f.read()
    check(old in text, f"{path} holds {old!r}")
    write_file(path, text.replace(old, new))


def body(workdir, procs):
    now = int(time.time())
    root = os.path.join(workdir, "machine")
    shutil.copytree(os.path.join(FIXTURES, "hosts", "debian-server"), root, symlinks=True)
    shutil.copytree(os.path.join(FIXTURES, "hosts", "onec-cluster"), root, symlinks=True,
                    dirs_exist_ok=True)
    # The machine booted two days ago: the server agent started with it, three working processes
    # restarted within the last hour and a half (their start ticks are fixed in the fixture).
    write_file(os.path.join(root, "proc/stat"),
               f"cpu  100 0 100 1000 0 0 0 0 0 0\ncpu0 100 0 100 1000 0 0 0 0 0 0\nbtime {now - 172800}\n")
    # 30 GiB of technological log (sparse: no real disk used).
    big = os.path.join(root, "var/log/1c/techlog/rphost_3004/26120505.log")
    os.makedirs(os.path.dirname(big), exist_ok=True)
    with open(big, "wb") as f:
        f.truncate(30 << 30)

    server, _, agent_id = start_fixture_estate(workdir, procs, ORG, root)

    # 1. The cluster reaches the inventory.
    agents = wait_for_inventory(server, agent_id,
                                lambda inv: inv.get("software", {}).get("onec_server_agents"),
                                "inventory with the 1C cluster")
    check(len(agents) == 1 and agents[0]["version"] == "8.3.24.1467"
          and len(agents[0]["processes"]) == 5 and int(agents[0].get("restarted_workers", 0)) == 3,
          f"one agent with rmngr and four rphost, three restarted: {agents}")
    clusters = agents[0].get("clusters") or []
    check(len(clusters) == 1 and clusters[0]["id"] == CLUSTER_ID
          and int(clusters[0].get("admin_configured", 0)) == 0 and int(clusters[0].get("infobase_count", 0)) == 2,
          f"rac's cluster, without an administrator, with two infobases: {clusters}")
    text = server.ctl("--lang", "ru", "host", "show", agent_id, json_out=False).stdout
    check("Кластер 1С" in text and "Главный кластер" in text and "не задан" in text
          and "rphost" in text and "40.0 GiB" in text and "1560" in text,
          f"dozorctl host show shows the cluster: {text[:3000]}")

    # 2. The findings of a neglected cluster.
    wait_until(lambda: set(RULES) <= open_rules(server), 120, f"findings {RULES}")
    items = {f["rule_id"]: f for f in findings(server)}
    check("Главный кластер" in str(items["onec-cluster-no-admin"]["evidence"]),
          f"the cluster is named: {items['onec-cluster-no-admin']['evidence']}")
    check("3004" in str(items["onec-rphost-memory-high"]["evidence"]),
          f"the 40 GiB rphost is named: {items['onec-rphost-memory-high']['evidence']}")
    check("onec-licence-hardware-changed" not in items, "no hardware change yet")

    # 3. The network card's MAC address changes (the VM moved): the licence warning.
    write_file(os.path.join(root, "sys/class/net/eth0/address"), "52:54:00:aa:bb:cc\n")
    server.ctl("host", "collect", agent_id)
    wait_until(lambda: "onec-licence-hardware-changed" in open_rules(server), 90,
               "onec-licence-hardware-changed")

    # 4. The client puts the cluster in order.
    base = os.path.join(root, "dozor-fixture/commands")
    write_file(os.path.join(base, f"rac-cluster-admin-list-{CLUSTER_ID}.exit"), "255\n")
    replace_in(os.path.join(base, "rac-cluster-list.txt"), "lifetime-limit                : 0",
               "lifetime-limit                : 86400")
    replace_in(os.path.join(root, "opt/1cv8/conf/logcfg.xml"), 'history="720"', 'history="48"')
    os.remove(big)
    stat = os.path.join(root, "proc/3004/stat")
    replace_in(stat, " 10485760 ", " 786432 ")
    os.makedirs(os.path.join(root, "proc/3020"))
    write_file(os.path.join(root, "proc/3020/cmdline"), "/usr/sbin/aksusbd\0")
    write_file(os.path.join(root, "proc/3020/stat"),
               "3020 (aksusbd) S 1 3020 3020 0 -1 4194560 100 0 0 0 10 5 0 0 20 0 1 0 900 40960000 500 "
               "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n")
    write_file(os.path.join(root, "proc/3020/status"), "Name:\taksusbd\nUid:\t0\t0\t0\t0\n")
    write_file(os.path.join(root, "var/1C/licenses/20261205100000.lic"), "re-activated\n")
    server.ctl("host", "collect", agent_id)
    wait_until(lambda: not open_rules(server), 120, "every onec finding resolved")
    resolved = {f["rule_id"] for f in findings(server, "--state", "all") if f["state"] == "resolved"}
    check(set(ALL_RULES) <= resolved, f"all of them opened and resolved: {sorted(resolved)}")
    changes = server.ctl("host", "changes", agent_id)["changes"]
    onec = [c["subject"] for c in changes if c["category"] == "onec"]
    check(any("administrator" in s for s in onec) and any("licence file" in s for s in onec),
          f"the change log names the administrator and the new licence: {onec}")
    log(f"{len(ALL_RULES)} onec findings opened and resolved")


if __name__ == "__main__":
    run_test(body)
