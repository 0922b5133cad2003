#!/usr/bin/env python3
"""PostgreSQL restarted under load: a server on a PostgreSQL cluster of this test's own, three
agents streaming a health sample a second; the database goes away twice (stopped fast, so every
connection is cut, and started again 8 s later). Agents keep spooling while the server cannot
store, the server stays up and reconnects, and at the end every report is stored exactly once
(none lost, none twice) and the server still answers."""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from harness import Agent, Server, check, log, psql, run_test, wait_until  # noqa: E402

CLUSTER = os.path.join(os.path.dirname(__file__), "..", "postgres", "test_cluster.py")


def body(workdir, procs):
    # Beside the workdir, not in it: the cluster runs as nobody when the test runs as root, and
    # the workdir is private to its owner.
    cluster = tempfile.mkdtemp(prefix="dozor-pg-restart-")
    os.chmod(cluster, 0o755)
    os.rmdir(cluster)
    subprocess.run([sys.executable, CLUSTER, "start", cluster], check=True)
    try:
        with open(os.path.join(cluster, "conninfo")) as f:
            admin = f.read().strip()
        psql(admin, "CREATE DATABASE dozor TEMPLATE template0")
        server = Server(workdir, tls=False, postgres=f"{admin} dbname=dozor").start()
        procs.append(server)
        token, _ = server.create_org_and_token("Restarted")
        agents = []
        for i in range(3):
            agent = Agent(workdir, f"agent{i}", server)
            procs.append(agent)
            agent.enroll(token)
            agent.start("--health-interval", "1", "--inventory-interval", "604800")
            agents.append(agent)
        time.sleep(5)
        for outage in range(2):
            log(f"PostgreSQL outage {outage + 1}")
            subprocess.run([sys.executable, CLUSTER, "outage", cluster, "8"], check=True)
            check(server.proc.poll() is None, "the server survived the database outage")
            time.sleep(8)
        # Everything spooled during the outages arrives.
        for agent in agents:
            agent.stop()
            agent.start("--health-interval", "3600", "--inventory-interval", "604800")
        # The second run starts with an inventory (seconds on a real machine): wait for it too.
        wait_until(lambda: all(a.inventories_collected() == 2 and a.spool_count() == 0
                               for a in agents), 120, "second inventories sent, spools drained")
        for agent in agents:
            agent.stop()
        db = server.db()
        for agent in agents:
            agent_id = agent.identity()["agent_id"]
            pk, last_seq = db.execute("SELECT id, last_seq FROM agents WHERE agent_id = ?",
                                      (agent_id,)).fetchone()
            seqs = [r[0] for r in db.execute("SELECT seq FROM health_samples WHERE agent = ?", (pk,))]
            check(len(seqs) == len(set(seqs)), f"{agent_id}: a sample stored twice")
            inventories = agent.inventories_collected()
            check(len(seqs) == last_seq - inventories,
                  f"{agent_id}: {len(seqs)} samples for last seq {last_seq}, {inventories} inventories")
            check(len(seqs) >= 20, f"{agent_id}: only {len(seqs)} samples")
            log(f"{agent_id}: seq 1..{last_seq} stored once each across two database outages")
        hosts = server.ctl("host", "list")["hosts"]
        check(len(hosts) == 3, "the server still answers the API")
    finally:
        subprocess.run([sys.executable, CLUSTER, "stop", cluster])


run_test(body)
