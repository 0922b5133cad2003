"""Text from the machine that is not UTF-8 never silences a host: a Latin-1 byte in a dpkg
Maintainer field and a process whose name is not UTF-8 (any local user can start one) used to make
the agent spool reports it could not read back ("spooled report N is corrupt; dropping it"), so the
inventory never arrived and every health sample was dropped. The agent now escapes such text
("\\xNN") where it collects it; the server stores it, and shows it escaped."""
import os
import shutil
from harness import Agent, Server, check, log, run_test, wait_until

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "hosts", "debian-server")


def make_root(workdir):
    root = os.path.join(workdir, "root")
    shutil.copytree(FIXTURE, root, symlinks=True)
    status = os.path.join(root, "var", "lib", "dpkg", "status")
    with open(status, "rb") as f:
        data = f.read()
    data = data.replace(b"Maintainer: Santiago Vila <sanvila@debian.org>",
                        b"Maintainer: Jos\xe9 Garc\xeda <jose@example.org>", 1)
    with open(status, "wb") as f:
        f.write(data)
    # The busiest fixture process gets a name that is not UTF-8 (comm and the stat line).
    for pid in sorted(p for p in os.listdir(os.path.join(root, "proc")) if p.isdigit()):
        comm = os.path.join(root, "proc", pid, "comm")
        stat = os.path.join(root, "proc", pid, "stat")
        if os.path.exists(stat):
            with open(stat, "rb") as f:
                line = f.read()
            start, end = line.index(b"("), line.rindex(b")")
            with open(stat, "wb") as f:
                f.write(line[:start + 1] + b"min\xe9r\xff" + line[end:])
            if os.path.exists(comm):
                with open(comm, "wb") as f:
                    f.write(b"min\xe9r\xff\n")
        status_file = os.path.join(root, "proc", pid, "status")
        if os.path.exists(status_file):
            with open(status_file, "rb") as f:
                lines = f.read().split(b"\n")
            lines = [b"Name:\tmin\xe9r\xff" if l.startswith(b"Name:") else l for l in lines]
            with open(status_file, "wb") as f:
                f.write(b"\n".join(lines))
    return root


def body(workdir, procs):
    server = Server(workdir, tls=False).start()
    procs.append(server)
    token, _ = server.create_org_and_token("Latin-1 Ltd")
    agent = Agent(workdir, "latin1", server)
    procs.append(agent)
    agent.enroll(token)
    agent_id = agent.identity()["agent_id"]
    agent.start("--root", make_root(workdir), "--health-interval", "1")

    wait_until(lambda: server.ctl("host", "show", agent_id)["host"].get("last_inventory_ms", 0) > 0,
               60, "the inventory with a Latin-1 maintainer reaches the server")
    packages = server.ctl("host", "inventory", agent_id)["inventory"]["software"]["packages"]
    vendors = [p.get("vendor", "") for p in packages]
    check("Jos\\xe9 Garc\\xeda <jose@example.org>" in vendors,
          f"the maintainer is stored escaped, its bytes recoverable: {[v for v in vendors if 'Jos' in v]}")
    samples = wait_until(lambda: (lambda s: s if len(s) >= 3 else None)(
        server.ctl("host", "health", agent_id, "--limit", "10")["samples"]), 30, "three health samples")
    names = {p.get("name", "") for s in samples for p in s["sample"].get("top_cpu", []) + s["sample"].get("top_memory", [])}
    log(f"process names seen: {sorted(names)[:8]}")
    check(any("\\xe9" in n and "\\xff" in n for n in names),
          f"the non-UTF-8 process name arrives escaped: {sorted(names)}")
    check("corrupt" not in agent.read_log(), "no spooled report was dropped as corrupt")
    check(agent.proc.poll() is None, "agent still running")


run_test(body)
