"""Enroll with a token over TLS -> inventory and health visible through dozorctl; the software list
equals dpkg-query -W on this machine; server commands reach the agent."""
import subprocess
from harness import Agent, Server, check, log, run_test, wait_until


def installed_packages():
    out = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n"],
                         capture_output=True, text=True, check=True).stdout
    result = set()
    for line in out.splitlines():
        status, name, version, arch = line.split("\t")
        if status.strip() in ("ii", "hi"):
            result.add((name, version, arch))
    return result


def body(workdir, procs):
    server = Server(workdir, tls=True).start()
    procs.append(server)
    token, created = server.create_org_and_token("ООО Ромашка")
    check(token.startswith("dze_"), f"unexpected token format {token}")
    check("dozor-agent enroll" in created.get("enroll_command", ""), f"no enroll command in {created}")

    agent = Agent(workdir, "agent1", server)
    procs.append(agent)
    enrolled = agent.enroll(token)
    check("ООО Ромашка" in enrolled.stdout, f"enroll output names the organisation: {enrolled.stdout}")
    agent.start("--health-interval", "2")

    hosts = wait_until(lambda: [h for h in server.ctl("host", "list")["hosts"] if h.get("last_inventory_ms", 0) > 0],
                       60, "the host's first inventory")
    host = hosts[0]
    agent_id = agent.identity()["agent_id"]
    check(host["agent_id"] == agent_id, "host list shows the enrolled agent")
    check(host["online"] is True, "host is online while its agent streams")
    check(host["org"] == "ООО Ромашка", "host belongs to the token's organisation")

    inventory = server.ctl("host", "inventory", agent_id)
    inv = inventory["inventory"]
    reported = {(p["name"], p["version"], p["architecture"]) for p in inv["software"]["packages"] if p.get("source", "dpkg") == "dpkg"}
    expected = installed_packages()
    missing, extra = expected - reported, reported - expected
    check(not missing and not extra, f"software list differs from dpkg-query: missing {sorted(missing)[:5]} extra {sorted(extra)[:5]}")
    log(f"software list matches dpkg-query: {len(expected)} packages")
    check(inv["os"]["kernel"], "kernel reported")
    check(int(inv["hardware"]["cpu"]["threads"]) >= 1, "cpu threads reported")

    samples = wait_until(lambda: server.ctl("host", "health", agent_id, "--limit", "10")["samples"], 30, "health samples")
    s = samples[0]["sample"]
    check(0 <= s.get("cpu_percent", 0) <= 100, "cpu percent in range")
    check(int(s["memory_total_bytes"]) > 0, "memory total reported")

    human = server.ctl("host", "list", json_out=False)
    check(host["hostname"] in human.stdout, "human host table shows the hostname")

    # Server -> agent command: collect inventory now gives a second inventory quickly.
    first = host["last_inventory_ms"]
    server.ctl("host", "collect", agent_id)
    wait_until(lambda: server.ctl("host", "show", agent_id)["host"]["last_inventory_ms"] > first, 30,
               "the commanded inventory")
    changes = server.ctl("host", "changes", agent_id)["changes"]
    check(any(c["category"] == "host" for c in changes), f"first inventory recorded in the change log: {changes[:3]}")


run_test(body)
