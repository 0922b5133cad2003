"""Inventory depth end to end (issue 14: what the peer inventories see that Dozor missed): a real
agent reads the debian-server fixture and streams it to a real server. The inventory carries the
held package (dpkg "hold"), the APT sources with official and third-party ones told apart, the
CPU's identity, swap and the filesystems with their capacity; `dozorctl host show` says
"Virtual machine: no" rather than "unknown"; the rule third-party-repository lists the enabled
third-party repository (apt.postgresql.org, not the switched-off Docker source); when the client
removes that source and holds openssh-server, the finding resolves and the change log names both.
"""
import json
import os
import shutil
from harness import check, log, run_test, start_fixture_estate, wait_for_inventory, wait_until

FIXTURES = os.environ.get("DOZOR_FIXTURES_DIR",
                          os.path.join(os.path.dirname(__file__), "..", "fixtures"))
ORG = "ООО «Глубина»"


def findings(server, *args):
    return [f for f in server.ctl("findings", "list", "--org", ORG, *args)["findings"]
            if f["rule_id"] == "third-party-repository"]


def body(workdir, procs):
    root = os.path.join(workdir, "machine")
    shutil.copytree(os.path.join(FIXTURES, "hosts", "debian-server"), root, symlinks=True)

    server, _, agent_id = start_fixture_estate(workdir, procs, ORG, root)

    # 1. The new facts reach the stored inventory.
    inv = wait_for_inventory(server, agent_id,
                             lambda inv: inv if (inv.get("software") or {}).get("repositories") else None,
                             "inventory with repositories")
    repositories = inv["software"]["repositories"]
    third_party = sorted(r["uri"] for r in repositories if not r.get("official"))
    check(third_party == ["https://apt.postgresql.org/pub/repos/apt",
                          "https://download.docker.com/linux/debian"],
          f"third-party repositories told apart from Debian's (and its Yandex mirror): {repositories}")
    held = [p["name"] for p in inv["software"]["packages"] if p.get("held")]
    check(held == ["samba"], f"the held package: {held}")
    cpu = inv["hardware"]["cpu"]
    check(cpu.get("vendor") == "GenuineIntel" and cpu.get("family") == 6 and cpu.get("microcode") == "0x5003604",
          f"the CPU's identity: {cpu}")
    check(int(inv["hardware"].get("swap_total_bytes", 0)) == 8388604 * 1024, "swap total")
    volumes = {v["mount_point"]: v for v in inv["hardware"].get("volumes", [])}
    check("/" in volumes and int(volumes["/"].get("size_bytes", 0)) > 0
          and volumes.get("/mnt/nas", {}).get("kind") == "network",
          f"filesystems with capacity in the inventory: {sorted(volumes)}")

    text = server.ctl("host", "show", agent_id, json_out=False).stdout
    vm = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Virtual machine:")]
    check(vm == ["no"], f"a physical server reads 'Virtual machine: no', not 'unknown': {vm}")
    text = server.ctl("--lang", "ru", "host", "inventory", agent_id, json_out=False).stdout
    check("Репозитории пакетов" in text and "сторонний" in text and "apt.postgresql.org" in text
          and "Зафиксированные пакеты" in text and "samba" in text and "Файловые системы" in text,
          f"dozorctl host inventory lists repositories, held packages and filesystems: {text[-3000:]}")

    # 2. The info finding names the enabled third-party repository only.
    items = wait_until(lambda: findings(server) or None, 90, "third-party-repository finding")
    evidence = json.dumps(items[0]["evidence"], ensure_ascii=False)
    check(items[0]["severity"] == "info", f"an info-level listing, not a scare: {items[0]['severity']}")
    check("apt.postgresql.org" in evidence and "docker" not in evidence,
          f"the switched-off Docker source is not listed: {evidence}")

    # 3. The client removes the PostgreSQL source and holds openssh-server.
    os.remove(os.path.join(root, "etc/apt/sources.list.d/pgdg.list"))
    status_path = os.path.join(root, "var/lib/dpkg/status")
    with open(status_path) as f:
        status = f.read()
    stanza = status.index("Package: openssh-server\n")
    line = status.index("Status: install ok installed", stanza)
    status = status[:line] + "Status: hold ok installed" + status[line + len("Status: install ok installed"):]
    with open(status_path, "w") as f:
        f.write(status)
    server.ctl("host", "collect", agent_id)
    wait_until(lambda: all(f["state"] == "resolved" for f in findings(server, "--state", "all")), 90,
               "third-party-repository resolved")
    changes = server.ctl("host", "changes", agent_id)["changes"]
    removed = [c for c in changes if c["category"] == "repository" and c["action"] == "removed"]
    check(any("apt.postgresql.org" in c["subject"] for c in removed), f"the change log names the source: {changes}")
    hold = [c for c in changes if c["category"] == "package" and c["subject"] == "openssh-server hold"]
    check(len(hold) == 1 and hold[0]["new_value"] == "held", f"the change log names the hold: {hold}")
    log(f"{len(repositories)} repositories, {len(volumes)} filesystems; finding opened and resolved")


if __name__ == "__main__":
    run_test(body)
