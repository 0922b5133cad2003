"""Storage and power end to end (issue 14): a real agent reads a physical server fixture
(debian-server with tests/fixtures/hosts/md-degraded-server on top: a mirror with a failed member,
a RAID5 recovering onto its spare, a healthy mirror under its monthly check, and no UPS
monitoring) and streams it to a real server: raid-degraded names the two degraded arrays and not
the one being checked, ups-absent fires, and `dozorctl host show` sums up the arrays. Then the
client replaces the disks and installs apcupsd and NUT (tests/fixtures/hosts/ups-server: the APC
runs on battery at 35 %): after the next inventory raid-degraded and ups-absent resolve,
ups-on-battery and ups-battery-low open, and the change log shows the arrays' new state.
"""
import json
import os
import shutil
from harness import by_rule, check, log, run_test, start_fixture_estate, wait_for_inventory, wait_until, write_file

FIXTURES = os.environ.get("DOZOR_FIXTURES_DIR",
                          os.path.join(os.path.dirname(__file__), "..", "fixtures"))
ORG = "ООО «Питание»"

HEALTHY_MDSTAT = """Personalities : [raid1] [raid6] [raid5] [raid4]
md2 : active raid5 sdg1[4] sdf1[3] sde1[2] sdd1[1]
      5860147200 blocks super 1.2 level 5, 512k chunk, algorithm 2 [4/4] [UUUU]

md1 : active raid1 sdc2[2] sda2[0]
      976630464 blocks super 1.2 [2/2] [UU]

md0 : active raid1 sdb1[1] sda1[0]
      1046528 blocks super 1.2 [2/2] [UU]

unused devices: <none>
"""


def findings(server, *args):
    return server.ctl("findings", "list", "--org", ORG, *args)["findings"]


def body(workdir, procs):
    root = os.path.join(workdir, "machine")
    shutil.copytree(os.path.join(FIXTURES, "hosts", "debian-server"), root, symlinks=True)
    shutil.copytree(os.path.join(FIXTURES, "hosts", "md-degraded-server"), root, symlinks=True,
                    dirs_exist_ok=True)

    server, _, agent_id = start_fixture_estate(workdir, procs, ORG, root)

    # 1. The arrays reach the inventory; with --root the agent runs no commands, so ZFS and the
    # RAID controller are noted as not readable and only md is there.
    hw = wait_for_inventory(server, agent_id,
                            lambda inv: inv["hardware"] if (inv.get("hardware") or {}).get("storage_arrays") else None,
                            "inventory with storage arrays")
    arrays = {a["name"]: a for a in hw["storage_arrays"]}
    check(set(arrays) == {"md0", "md1", "md2"}, f"the three md arrays: {sorted(arrays)}")
    check(arrays["md1"].get("degraded") and arrays["md2"].get("sync_action") == "recover"
          and not arrays["md0"].get("degraded") and arrays["md0"].get("sync_action") == "check",
          f"md1 degraded, md2 recovering, md0 checked: {arrays}")
    check((hw.get("power") or {}).get("checked") and not (hw.get("power") or {}).get("ups"),
          f"the agent looked for UPS monitoring and found none: {hw.get('power')}")
    text = server.ctl("--lang", "ru", "host", "show", agent_id, json_out=False).stdout
    check("Дисковые массивы" in text and "ДЕГРАДИРОВАН" in text and "md1" in text
          and "ИБП" in text, f"dozorctl host show sums up the arrays and the UPS: {text[:1500]}")

    # 2. Findings: raid-degraded for md1 and md2 (not md0's routine check), ups-absent.
    items = wait_until(lambda: (lambda f: f if by_rule(f, "raid-degraded") and by_rule(f, "ups-absent") else None)(findings(server)),
                       90, "raid-degraded and ups-absent findings")
    # One finding for the host or one per array: the evidence of all of them.
    raid = json.dumps([f["evidence"] for f in by_rule(items, "raid-degraded")], ensure_ascii=False)
    check("md1" in raid and "sdb2 faulty" in raid and "md2" in raid and "recover 8% done" in raid
          and "md0" not in raid, f"the degraded arrays, not the checked one: {raid}")
    check(by_rule(items, "raid-degraded")[0]["severity"] == "critical",
          f"raid-degraded is critical: {by_rule(items, 'raid-degraded')[0]}")
    check(not by_rule(items, "ups-on-battery") and not by_rule(items, "ups-battery-low"),
          f"no UPS, no UPS status findings: {[f['rule_id'] for f in items]}")

    # 3. The disks are replaced, and UPS monitoring is installed (the APC is on battery).
    write_file(os.path.join(root, "proc/mdstat"), HEALTHY_MDSTAT)
    for md in ("md1", "md2"):
        write_file(os.path.join(root, f"sys/block/{md}/md/degraded"), "0\n")
        write_file(os.path.join(root, f"sys/block/{md}/md/sync_action"), "idle\n")
    write_file(os.path.join(root, "sys/block/md0/md/sync_action"), "idle\n")
    shutil.copytree(os.path.join(FIXTURES, "hosts", "ups-server"), root, symlinks=True,
                    dirs_exist_ok=True)
    server.ctl("host", "collect", agent_id)
    wait_until(lambda: all(f["state"] == "resolved" for f in findings(server, "--state", "all")
                           if f["rule_id"] in ("raid-degraded", "ups-absent")), 90,
               "raid-degraded and ups-absent resolved")
    items = wait_until(lambda: (lambda f: f if by_rule(f, "ups-on-battery") and by_rule(f, "ups-battery-low") else None)(findings(server)),
                       90, "ups-on-battery and ups-battery-low findings")
    battery = json.dumps([f["evidence"] for f in by_rule(items, "ups-on-battery")], ensure_ascii=False)
    check("srv-apc" in battery and "Smart-UPS 1500 RM" in battery and "35%" in battery,
          f"the APC on battery, with its charge: {battery}")
    changes = server.ctl("host", "changes", agent_id)["changes"]
    md1 = [c for c in changes if c["category"] == "hardware" and c["subject"] == "array md md1"]
    check(any("degraded" in (c.get("old_value") or "") and "degraded" not in (c.get("new_value") or "")
              for c in md1), f"the change log shows md1 repaired: {md1}")
    upses = [c for c in changes if c["category"] == "hardware" and c["subject"].startswith("ups ")
             and c["action"] == "added"]
    check(len(upses) == 3, f"the change log lists the UPSes that appeared: {upses}")
    log("raid-degraded and ups-absent opened and resolved; ups-on-battery and ups-battery-low opened")


if __name__ == "__main__":
    run_test(body)
