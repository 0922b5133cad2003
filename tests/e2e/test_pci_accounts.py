"""PCI devices, local groups and last logins end to end (issue 14: what the peer inventories see
that Dozor missed): a real agent reads a copy of the debian-server fixture, to which the test adds
sidorov (uid 1003, in sudo), kozlov (1004, in sudo, his account expired in /etc/shadow), orlova
(1005) and smirnova (1006, in sudo, shell nologin), and login records made relative to now
(login_records.py: lastlog, wtmp and last month's wtmp.1, and the SQLite stores of newer
distributions, lastlog2.db and wtmpdb's wtmp.db), and streams it to a real server.

The inventory carries the PCI devices with their drivers and pci.ids names, every local account
(the system ones marked 'system'), the groups with their members, each account's last login and
where from, whichever record holds it (petrova's from wtmp, newer than her lastlog slot and her
lastlog2 row; kozlov's from lastlog2; orlova's and smirnova's from wtmpdb; usr1cv8's from wtmp.1),
and which accounts are disabled (kozlov: expired; smirnova and the system accounts: no login
shell; not petrova, whose password is only locked). dormant-admin-account fires for sidorov (an
admin whose last login was 200 days ago while petrova logged in yesterday) and not for ivanov (as
old a login, but a process of his is running: the account is in use), nor for kozlov (as dormant,
but disabled), nor for root (never logs in directly); too-many-admins does not fire (four in sudo,
but two of them cannot log in). When the client takes sidorov out of sudo and a PCI card is
pulled, the finding resolves and the change log names the group membership and the device; a
lastlog2.db damaged meanwhile is named in the inventory's `unavailable`, the other records count.
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
        f.write("sidorov:x:1003:1003:Pyotr Sidorov,,,:/home/sidorov:/bin/bash\n"
                "kozlov:x:1004:1004:Oleg Kozlov,,,:/home/kozlov:/bin/bash\n"
                "orlova:x:1005:1005:Olga Orlova,,,:/home/orlova:/bin/bash\n"
                "smirnova:x:1006:1006:Irina Smirnova,,,:/home/smirnova:/usr/sbin/nologin\n")
    with open(os.path.join(root, "etc/shadow"), "a") as f:
        f.write("sidorov:$y$j9T$fixturesalt$fixture.not.a.real.hash.sidorov:19900:0:99999:7:::\n"
                "kozlov:$y$j9T$fixturesalt$fixture.not.a.real.hash.kozlov:19900:0:99999:7::1:\n"
                "orlova:$y$j9T$fixturesalt$fixture.not.a.real.hash.orlova:19900:0:99999:7:::\n"
                "smirnova:!:19900:0:99999:7:::\n")
    group_path = os.path.join(root, "etc/group")
    with open(group_path) as f:
        group_text = f.read()
    group_text = (group_text.replace("sudo:x:27:ivanov\n", "sudo:x:27:ivanov,sidorov,kozlov,smirnova\n")
                  + "sidorov:x:1003:\nkozlov:x:1004:\norlova:x:1005:\nsmirnova:x:1006:\n")
    with open(group_path, "w") as f:
        f.write(group_text)
    now = login_records.debian_server_scenario(root)
    login_records.login_stores_scenario(root, now)

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

    def last_login(name, days_ago, origin):
        user = users[name]
        check(abs(int(user.get("last_login_time", 0)) - (now - days_ago * login_records.DAY)) <= 1
              and user.get("last_login_from") == origin, f"{name}'s last login: {user}")
    last_login("kozlov", 150, "192.0.2.81")   # lastlog2.db
    last_login("orlova", 3, "192.0.2.90")     # wtmpdb: the newest of her sessions
    last_login("smirnova", 120, "192.0.2.92")  # wtmpdb
    last_login("usr1cv8", 35, "192.0.2.35")   # wtmp.1: the current wtmp holds nothing of it
    disabled = sorted(name for name, user in users.items() if user.get("disabled"))
    system = sorted(name for name, user in users.items() if user.get("kind") == "system")
    check(disabled == sorted(system + ["kozlov"]) and "smirnova" in disabled and "petrova" not in disabled
          and "ivanov" not in disabled and "root" not in disabled,
          f"disabled: kozlov (expired), and every account without a login shell; not petrova "
          f"(password locked only): {disabled}")
    check(not inv["os"].get("unavailable"), f"every login record was readable: {inv['os'].get('unavailable')}")
    groups = {g["name"]: g for g in inv["os"]["groups"]}
    check(groups["sudo"].get("members") == ["ivanov", "sidorov", "kozlov", "smirnova"]
          and groups["sudo"].get("administrator"), f"sudo with its members: {groups['sudo']}")
    check(groups["petrova"].get("primary_members") == ["petrova"], f"primary members: {groups['petrova']}")

    text = server.ctl("--lang", "ru", "host", "inventory", agent_id, json_out=False).stdout
    check("Устройства PCI" in text and "ahci" in text and "ПОСЛЕДНИЙ ВХОД" in text and "192.0.2.77" in text
          and "Группы" in text and "ivanov, sidorov" in text,
          f"dozorctl host inventory lists PCI devices, last logins and groups: {text[-3000:]}")

    # 2. The dormant admin is sidorov alone.
    items = wait_until(lambda: findings(server) or None, 90, f"{RULE} finding")
    objects = sorted(f.get("object") for f in items)
    check(objects == ["sidorov"],
          f"one finding, for sidorov (ivanov has a process running, kozlov is disabled): {objects}")
    all_rules = {f["rule_id"] for f in server.ctl("findings", "list", "--org", ORG)["findings"]}
    check("too-many-admins" not in all_rules,
          f"four in sudo but two cannot log in: too-many-admins does not fire: {sorted(all_rules)}")

    # 3. The client takes sidorov out of sudo and pulls the GPU.
    with open(group_path, "w") as f:
        f.write(group_text.replace("sudo:x:27:ivanov,sidorov,kozlov,smirnova\n",
                                   "sudo:x:27:ivanov,kozlov,smirnova\n"))
    os.remove(os.path.join(root, "sys/bus/pci/devices/0000:01:00.0"))
    # ... and lastlog2.db is damaged (overwritten by something that is not a database).
    with open(os.path.join(root, "var/lib/lastlog/lastlog2.db"), "wb") as f:
        f.write(b"not a database" * 300)
    server.ctl("host", "collect", agent_id)
    wait_until(lambda: all(f["state"] == "resolved" for f in findings(server, "--state", "all")), 90,
               f"{RULE} resolved")
    changes = server.ctl("host", "changes", agent_id)["changes"]
    group_changes = [(c["action"], c["subject"]) for c in changes if c["category"] == "group"]
    check(group_changes == [("removed", "sudo: sidorov")], f"the change log names the membership: {changes}")
    pci_changes = [(c["action"], c["subject"]) for c in changes if c["category"] == "pci"]
    check(pci_changes == [("removed", "pci 0000:01:00.0")], f"the change log names the device: {changes}")
    inv = wait_for_inventory(server, agent_id, lambda inv: inv if (inv.get("os") or {}).get("unavailable") else None,
                             "inventory naming the damaged lastlog2.db")
    gaps = inv["os"]["unavailable"]
    check(len(gaps) == 1 and gaps[0].startswith("last logins: /var/lib/lastlog/lastlog2.db: ")
          and "not a database" in gaps[0], f"the damaged store is named, not a crash: {gaps}")
    users = {u["name"]: u for u in inv["os"]["users"]}
    check(not int(users["kozlov"].get("last_login_time", 0)) and users["kozlov"].get("disabled")
          and abs(int(users["orlova"].get("last_login_time", 0)) - (now - 3 * login_records.DAY)) <= 1,
          f"kozlov's only record is gone, the other stores still count: {users['kozlov']}, {users['orlova']}")
    log(f"{len(pci)} PCI devices, {len(users)} accounts, {len(groups)} groups; finding opened and resolved")


if __name__ == "__main__":
    run_test(body)
