#!/usr/bin/env python3
"""The workload BOLT lays the agent out from (deploy/bolt/bolt-agent.sh): an instrumented
dozor-agent enrolled into a real dozor-server over TLS on loopback, running as a service does:
start-up, the first inventory, then health ticks (sample, spool, send, acknowledgement, status
file), many of them, so the code of a tick is what the profile calls hot.

Usage: profile_run.py SERVER_BIN_DIR AGENT_BIN [--ticks 15] [--health-interval 2]
Exits non-zero when the agent did not stream (then there is no profile worth laying out from).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "e2e"))


def stored_health_samples(server):
    con = server.db()
    try:
        return con.execute("SELECT count(*) FROM health_samples").fetchone()[0]
    finally:
        con.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir", help="build tree holding server/dozor-server")
    parser.add_argument("agent_bin", help="the instrumented dozor-agent")
    parser.add_argument("--ticks", type=int, default=15)
    parser.add_argument("--health-interval", type=int, default=2)
    args = parser.parse_args()
    os.environ["DOZOR_BIN_DIR"] = os.path.abspath(args.bin_dir)
    import harness  # after DOZOR_BIN_DIR is set
    harness.AGENT_BIN = os.path.abspath(args.agent_bin)

    workdir = tempfile.mkdtemp(prefix="dozor-bolt-profile-")
    server = harness.Server(workdir, tls=True)
    agent = None
    try:
        server.start()
        token, _ = server.create_org_and_token("Profile")
        agent = harness.Agent(workdir, "agent", server)
        agent.enroll(token)
        agent.start("--health-interval", str(args.health_interval))
        harness.wait_until(lambda: agent.inventories_collected() >= 1, 120, "first inventory")
        started = stored_health_samples(server)
        time.sleep(args.ticks * args.health_interval + 3)  # + the settle after the last tick
        stored = stored_health_samples(server) - started
        print(f"profile_run: the server stored {stored} health samples in the profiled window")
        if stored < args.ticks // 2:
            print("profile_run: the agent did not stream: no profile to lay out from", file=sys.stderr)
            return 1
    finally:
        if agent is not None:
            agent.stop()  # a clean exit writes the profile
        server.stop()
        subprocess.run(["rm", "-rf", workdir])
    return 0


if __name__ == "__main__":
    sys.exit(main())
