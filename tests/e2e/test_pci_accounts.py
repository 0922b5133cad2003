"""PCI devices, local groups and last logins end to end (issue 14: what the peer inventories see
that Dozor missed): a real agent reads a copy of the debian-server fixture, to which the test adds
sidorov (uid 1003, in sudo) and login records made relative to now (login_records.py: lastlog
and wtmp), and streams it to a real server.

The inventory carries the PCI devices with their drivers and pci.ids names, every local account
(the system ones marked 'system'), the groups with their members, and each account's last login
and where from (petrova's from wtmp, newer than her lastlog slot). dormant-admin-account fires for
sidorov (an admin whose last login was 200 days ago while petrova logged in yesterday) and not for
ivanov (as old a login, but a process of his is running: the account is in use), nor for root
(never logs in directly). When the client takes sidorov out of sudo and a PCI card is pulled, the
finding resolves and the change log names the group membership and the device.
"""
import os
import shutil
import sys
from harness import check, log, run_test, start_fixture_estate, wait_for_inventory, wait_until

FIXTURES = os.environ.get("DOZOR_FIXTURES_DIR",
                          os.path.join(os.path.dirname(__file__), "..", "fixtures"))
sys.path.insert(0, os.path.join(FIXTURES, "hosts", "debian-server", "dozor-fixture"))
import login_records  # noqa: E402

ORG = "ООО «Учёт»"
RULE = "dormant-admin-account"


def findings(server, *args):
    return [f for f in server.ctl("findings", "list", "--org", ORG, *args)["findings"]
            if f["rule_id"] == RULE]


def body(workdir, procs):
    root = os.path.join(workdir, "machine")
    shutil.copytree(os.path.join(FIXTURES, "hosts", "debian-server"), root, symlinks=True)
    with open(os.path.join(root, "etc/passwd"), "a") as f:
        f.write("sidorov:x:1003:1003:Pyotr Sidorov,,,:/home/sidorov:/bin/bash\n")
    group_path = os.path.join(root, "etc/group")
    with open(group_path) as f:
        group_text = f.read()
    group_text = group_text.replace("sudo:x:27:ivanov\n", "sudo:x:27:ivanov,sidorov\n") + "sidorov:x:1003:\n"
    with open(group_path, "w") as f:
        f.write(group_text)
    now = login_records.debian_server_scenario(root)

    server, _, agent_id = start_fixture_estate(workdir, procs, ORG, root)

    # 1. PCI devices, groups and last logins reach the stored inventory.
    inv = wait_for_inventory(server, agent_id,
                             lambda inv: inv if (inv.get("hardware") or {}).get("pci_devices") else None,
                             "inventory with PCI devices")
    pci = {d["address"]: d for d in inv["hardware"]["pci_devices"]}
    check(sorted(pci) == ["0000:00:00.0", "0000:00:01.1", "0000:00:02.0", "0000:00:03.0",
                          "0000:00:1f.2", "0000:01:00.0"], f"the PCI functions: {sorted(pci)}")
    sata = pci["0000:00:1f.2"]
    check(sata.get("driver") == "ahci" and sata.get("class_name") == "SATA controller"
          and sata.get("vendor_name") == "Intel Corporation"
          and "SATA Controller [AHCI mode]" in sata.get("device_name", ""),
          f"the SATA controller with its driver and pci.ids names: {sata}")
    check(pci["0000:00:03.0"].get("driver") == "virtio-pci"
          and pci["0000:00:03.0"].get("class_name") == "Ethernet controller", f"the NIC: {pci['0000:00:03.0']}")
    check(not pci["0000:01:00.0"].get("driver"), f"a device no driver claims: {pci['0000:01:00.0']}")

    users = {u["name"]: u for u in inv["os"]["users"]}
    check(users.get("daemon", {}).get("kind") == "system" and users.get("ivanov", {}).get("kind") == "user",
          f"every local account, the system ones marked: {sorted(users)}")
    petrova = users["petrova"]
    check(abs(int(petrova.get("last_login_time", 0)) - (now - login_records.DAY)) <= 1
          and petrova.get("last_login_from") == "192.0.2.10",
          f"petrova's last login from wtmp (newer than her lastlog slot): {petrova}")
    sidorov = users["sidorov"]
    check(abs(int(sidorov.get("last_login_time", 0)) - (now - 200 * login_records.DAY)) <= 1
          and sidorov.get("last_login_from") == "192.0.2.77" and sidorov.get("administrator"),
          f"sidorov's last login from lastlog: {sidorov}")
    check(not int(users["root"].get("last_login_time", 0)), f"root never logged in: {users['root']}")
    groups = {g["name"]: g for g in inv["os"]["groups"]}
    check(groups["sudo"].get("members") == ["ivanov", "sidorov"] and groups["sudo"].get("administrator"),
          f"sudo with its members: {groups['sudo']}")
    check(groups["petrova"].get("primary_members") == ["petrova"], f"primary members: {groups['petrova']}")

    text = server.ctl("--lang", "ru", "host", "inventory", agent_id, json_out=False).stdout
    check("Устройства PCI" in text and "ahci" in text and "ПОСЛЕДНИЙ ВХОД" in text and "192.0.2.77" in text
          and "Группы" in text and "ivanov, sidorov" in text,
          f"dozorctl host inventory lists PCI devices, last logins and groups: {text[-3000:]}")

    # 2. The dormant admin is sidorov alone.
    items = wait_until(lambda: findings(server) or None, 90, f"{RULE} finding")
    objects = sorted(f.get("object") for f in items)
    check(objects == ["sidorov"], f"one finding, for sidorov (ivanov has a process running): {objects}")

    # 3. The client takes sidorov out of sudo and pulls the GPU.
    with open(group_path, "w") as f:
        f.write(group_text.replace("sudo:x:27:ivanov,sidorov\n", "sudo:x:27:ivanov\n"))
    os.remove(os.path.join(root, "sys/bus/pci/devices/0000:01:00.0"))
    server.ctl("host", "collect", agent_id)
    wait_until(lambda: all(f["state"] == "resolved" for f in findings(server, "--state", "all")), 90,
               f"{RULE} resolved")
    changes = server.ctl("host", "changes", agent_id)["changes"]
    group_changes = [(c["action"], c["subject"]) for c in changes if c["category"] == "group"]
    check(group_changes == [("removed", "sudo: sidorov")], f"the change log names the membership: {changes}")
    pci_changes = [(c["action"], c["subject"]) for c in changes if c["category"] == "pci"]
    check(pci_changes == [("removed", "pci 0000:01:00.0")], f"the change log names the device: {changes}")
    log(f"{len(pci)} PCI devices, {len(users)} accounts, {len(groups)} groups; finding opened and resolved")


if __name__ == "__main__":
    run_test(body)
