"""Plaintext gRPC only to loopback: the agent's enrollment token and its secret travel in the first
request of every connection, so `--insecure` to a server that is not on a loopback address used to
send them across the network in clear. Now enroll and run refuse (exit code 2, the message names
the settings) unless `--allow-plaintext-remote` names the exception, and then work as before.

The "remote" server listens on this machine's own non-loopback address, so nothing leaves the
host."""
import json
import os
import subprocess
from harness import AGENT_BIN, SERVER_BIN, Agent, Server, check, log, run_test, wait_until


def local_non_loopback_ipv4():
    """An IPv4 address of one of this machine's own interfaces that is not in 127.0.0.0/8."""
    try:
        out = subprocess.run(["ip", "-o", "-4", "addr", "show", "scope", "global"],
                             capture_output=True, text=True, timeout=10).stdout
    except OSError:
        return None
    for line in out.splitlines():
        fields = line.split()
        if "inet" in fields:
            address = fields[fields.index("inet") + 1].split("/")[0]
            if not address.startswith("127."):
                return address
    return None


class ServerOnAddress(Server):
    """A plaintext server whose gRPC port listens on `host` (the API stays on loopback)."""

    def __init__(self, workdir, host):
        super().__init__(workdir, tls=False)
        self.host = host

    def start(self):
        ready = os.path.join(self.workdir, "server.ready")
        self.spawn([SERVER_BIN, "--state-dir", self.state_dir, "--grpc-listen", f"{self.host}:0",
                    "--http-listen", "127.0.0.1:0", "--ready-file", ready, "--log-level", "info",
                    "--insecure"])
        wait_until(lambda: self.proc.poll() is None and os.path.exists(ready), 30, "server ready file")
        with open(ready) as f:
            info = json.load(f)
        self.grpc_port, self.http_port = info["grpc_port"], info["http_port"]
        return self

    def grpc_address(self):
        return f"{self.host}:{self.grpc_port}"


def agent_cmd(*args):
    return subprocess.run([AGENT_BIN] + list(args), capture_output=True, text=True, timeout=60)


def body(workdir, procs):
    host = local_non_loopback_ipv4()
    if host is None:
        log("SKIP: this machine has no non-loopback IPv4 address to stand in for a remote server")
        return
    server = ServerOnAddress(workdir, host).start()
    procs.append(server)
    token, _ = server.create_org_and_token("Plaintext Ltd")
    address = server.grpc_address()
    state = os.path.join(workdir, "agent")

    refused = agent_cmd("enroll", "--token", token, "--server", address, "--insecure",
                        "--state-dir", state)
    check(refused.returncode == 2, f"plaintext enroll to {address} refused with exit 2: "
          f"{refused.returncode} {refused.stdout}{refused.stderr}")
    check("--allow-plaintext-remote" in refused.stderr and address in refused.stderr,
          f"the refusal names the address and the override: {refused.stderr}")
    check(not os.path.exists(os.path.join(state, "identity.json")), "nothing enrolled")
    check(server.ctl("host", "list")["hosts"] == [], "the server saw no enrollment")

    # The explicit override works end to end.
    agent = Agent(workdir, "agent", server)
    procs.append(agent)
    allowed = agent_cmd("enroll", "--token", token, "--server", address, "--insecure",
                        "--allow-plaintext-remote", "--state-dir", state)
    check(allowed.returncode == 0, f"enroll with the override: {allowed.stdout}{allowed.stderr}")
    check("--allow-plaintext-remote" in allowed.stdout, "the printed start command keeps the override")
    agent_id = agent.identity()["agent_id"]

    # run takes the address from identity.json: the same rule applies.
    run_refused = agent_cmd("run", "--insecure", "--state-dir", state)
    check(run_refused.returncode == 2 and "--allow-plaintext-remote" in run_refused.stderr,
          f"plaintext run to {address} refused: {run_refused.returncode} {run_refused.stderr}")

    agent.spawn([AGENT_BIN, "run", "--insecure", "--allow-plaintext-remote", "--state-dir", state,
                 "--health-interval", "1"])
    wait_until(lambda: server.ctl("host", "show", agent_id)["host"]["online"], 30, "agent online")


if __name__ == "__main__":
    run_test(body)
