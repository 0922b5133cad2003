"""Findings per object end to end (issue 14): a rule about objects of a host keeps one finding per
object. A real agent reads a server fixture whose two network interfaces both negotiated half
duplex: nic-half-duplex opens one finding for eth0 and one for eth1 (API field `object`, dozorctl
shows "host: eth0"). The engineer acknowledges eth1's. The client fixes eth0 only: at the next
inventory eth0's finding resolves while eth1's stays acknowledged, instead of one finding whose
evidence changes under the engineer's eyes. eth0 breaks again: its own finding regresses (same id),
and the report lists both objects.
"""
import json
import os
import shutil
from harness import check, log, run_test, start_fixture_estate, wait_until

FIXTURES = os.environ.get("DOZOR_FIXTURES_DIR",
                          os.path.join(os.path.dirname(__file__), "..", "fixtures"))
ORG = "ООО «Дуплекс»"
RULE = "nic-half-duplex"


def set_duplex(root, interface, duplex):
    with open(os.path.join(root, "sys/class/net", interface, "duplex"), "w") as f:
        f.write(duplex + "\n")


def body(workdir, procs):
    root = os.path.join(workdir, "machine")
    shutil.copytree(os.path.join(FIXTURES, "hosts", "debian-server"), root, symlinks=True)
    net = os.path.join(root, "sys/class/net")
    shutil.copytree(os.path.join(net, "eth0"), os.path.join(net, "eth1"))
    with open(os.path.join(net, "eth1", "address"), "w") as f:
        f.write("52:54:00:12:34:57\n")
    set_duplex(root, "eth0", "half")
    set_duplex(root, "eth1", "half")

    server, _, agent_id = start_fixture_estate(workdir, procs, ORG, root)

    def duplex_findings(*args):
        items = server.ctl("findings", "list", "--org", ORG, "--rule", RULE, *args)["findings"]
        return {f["object"]: f for f in items}

    # 1. One finding per interface, each with its own evidence.
    found = wait_until(lambda: (lambda f: f if set(f) == {"eth0", "eth1"} else None)(duplex_findings()),
                       90, "a nic-half-duplex finding for eth0 and one for eth1")
    for name, finding in found.items():
        check(finding["state"] == "open" and finding["host"]["agent_id"] == agent_id,
              f"{name}: open on the host: {finding}")
        check([row.get("interface") for row in finding["evidence"]] == [name],
              f"{name}: the evidence is that interface's alone: {finding['evidence']}")
    text = server.ctl("findings", "list", "--org", ORG, "--rule", RULE, json_out=False).stdout
    check(": eth0" in text and ": eth1" in text, f"dozorctl names the objects: {text}")
    eth0_id, eth1_id = found["eth0"]["id"], found["eth1"]["id"]
    shown = server.ctl("findings", "show", str(eth1_id), json_out=False).stdout
    check("eth1" in shown, f"dozorctl findings show names the object: {shown}")

    # 2. The engineer takes eth1; the client fixes eth0 only.
    server.ctl("findings", "ack", str(eth1_id), "-m", "switch port to be replaced")
    set_duplex(root, "eth0", "full")
    server.ctl("host", "collect", agent_id)
    after = wait_until(lambda: (lambda f: f if f.get("eth0", {}).get("state") == "resolved" else None)(
        duplex_findings("--all")), 90, "eth0's finding resolved")
    check(after["eth1"]["state"] == "acknowledged" and after["eth1"]["id"] == eth1_id,
          f"eth1's finding is untouched, still acknowledged: {after['eth1']}")
    check(after["eth0"]["id"] == eth0_id, f"eth0 kept its finding: {after['eth0']}")

    # 3. eth0 breaks again: its own finding regresses, nothing new opens.
    set_duplex(root, "eth0", "half")
    server.ctl("host", "collect", agent_id)
    again = wait_until(lambda: (lambda f: f if f.get("eth0", {}).get("state") == "regressed" else None)(
        duplex_findings("--all")), 90, "eth0's finding regressed")
    check(len(again) == 2 and again["eth0"]["id"] == eth0_id and again["eth0"]["regressions"] == 1,
          f"the same finding came back: {again}")

    # 4. The report lists both objects of the rule on the host.
    report = json.loads(server.ctl("report", "--org", ORG, "--format", "json", "--lang", "en",
                                   "-o", "-", json_out=False).stdout)
    rows = [f for f in report["findings"] if f["rule_id"] == RULE]
    check(sorted(f["object"] for f in rows) == ["eth0", "eth1"], f"the report names both: {rows}")
    log("two interfaces, two findings: one fixed and regressed, the other acknowledged throughout")


if __name__ == "__main__":
    run_test(body)
