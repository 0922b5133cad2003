#!/usr/bin/env python3
"""Two dozor-server replicas on one PostgreSQL database; three real agents (given both addresses)
and a load generator (20 simulated agents, spread over both, reconnecting) stream health reports
while one replica is killed with SIGKILL every 30 s, alternately, for 5 minutes, and started again.

Checks, from the database at the end:
  - every report the agents and the load generator produced is stored exactly once (no seq twice
    per agent, none missing: the real agents' spools are empty and the load generator had nothing
    left unacked);
  - no finding exists twice and none was opened twice;
  - the whole-estate evaluation ran about once per interval in all, not once per replica.
DOZOR_REPLICA_TEST_SECONDS shortens the kill phase for local runs (default 300).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from harness import (BIN_DIR, STORE, Agent, Server, check, free_port, log, run_test,  # noqa: E402
                     wait_until)

LOADGEN = os.path.join(BIN_DIR, "tests", "bench", "dozor-loadgen")
KILL_PHASE_S = int(os.environ.get("DOZOR_REPLICA_TEST_SECONDS", "300"))
FULL_INTERVAL_S = 10


def body(workdir, procs):
    check(STORE == "postgresql", "this test needs DOZOR_TEST_STORE=postgresql")
    ports = {name: (free_port(), free_port()) for name in ("a", "b")}
    extra = ["--rules-full-interval", str(FULL_INTERVAL_S), "--log-level", "debug"]
    a = Server(workdir, tls=False, name="replica-a")
    b = Server(workdir, tls=False, name="replica-b", postgres=a.postgres)
    procs += [a, b]
    a.start(*ports["a"], extra=extra)
    # Replicas share the import wrapping key (a file beside each server's state, never in the
    # database) and, here, the bootstrap admin token.
    shutil.copy(os.path.join(a.state_dir, "import-wrap.key"), b.state_dir)
    b.start(*ports["b"], extra=extra)
    replicas = {"a": a, "b": b}
    token, _ = a.create_org_and_token("Replicated")

    agents = []
    for i in range(3):
        agent = Agent(workdir, f"agent{i}", a if i % 2 == 0 else b, replicas=[b if i % 2 == 0 else a])
        procs.append(agent)
        agent.enroll(token)
        agent.start("--health-interval", "1", "--inventory-interval", "604800")
        agents.append(agent)

    loadgen_json = os.path.join(workdir, "loadgen-agents.jsonl")
    loadgen_log = open(os.path.join(workdir, "loadgen.log"), "w")
    loadgen = subprocess.Popen(
        [LOADGEN, "--server", f"{a.grpc_address()},{b.grpc_address()}", "--insecure", "--token",
         token, "--agents", "20", "--mode", "cadence", "--interval-seconds", "1", "--reconnect",
         "--backoff-initial-ms", "200", "--backoff-max-ms", "2000", "--duration",
         str(KILL_PHASE_S + 20), "--drain-seconds", "60", "--agents-json", loadgen_json,
         "--identities", os.path.join(workdir, "loadgen-identities.txt")],
        stdout=loadgen_log, stderr=subprocess.STDOUT)

    # The kill phase: every 30 s one replica dies (SIGKILL: no goodbye to its streams or its
    # locks) and comes back on its ports a moment later.
    started = time.time()
    victim = "a"
    kills = 0
    while time.time() - started < KILL_PHASE_S:
        time.sleep(min(30, max(0, KILL_PHASE_S - (time.time() - started))))
        if time.time() - started >= KILL_PHASE_S:
            break
        replicas[victim].kill(signal.SIGKILL)
        kills += 1
        log(f"killed replica {victim} at {time.time() - started:.0f} s")
        time.sleep(2)
        replicas[victim].start(*ports[victim], extra=extra)
        victim = "b" if victim == "a" else "a"
    log(f"{kills} kills; waiting for the load generator to drain")
    rc = loadgen.wait(timeout=KILL_PHASE_S + 200)
    loadgen_log.close()
    with open(os.path.join(workdir, "loadgen.log")) as f:
        summary = f.read()
    log(summary[-2500:])
    check(rc == 0, f"the load generator left reports unacked or failed (exit {rc})")

    # Real agents: let them drain, then stop them.
    for agent in agents:
        agent.stop()
        agent.start("--health-interval", "3600", "--inventory-interval", "604800")
    # The second run starts with an inventory (seconds on a real machine): wait for it too.
    wait_until(lambda: all(ag.inventories_collected() == 2 and ag.spool_count() == 0
                           for ag in agents), 120, "second inventories sent, agent spools drained")
    for agent in agents:
        agent.stop()

    db = a.db()
    dupes = db.execute("SELECT count(*) FROM (SELECT agent, seq FROM health_samples GROUP BY "
                       "agent, seq HAVING count(*) > 1) d").fetchone()[0]
    check(dupes == 0, f"{dupes} health samples stored twice")
    for agent in agents:
        agent_id = agent.identity()["agent_id"]
        pk, last_seq = db.execute("SELECT id, last_seq FROM agents WHERE agent_id = ?",
                                  (agent_id,)).fetchone()
        stored = db.execute("SELECT count(*) FROM health_samples WHERE agent = ?", (pk,)).fetchone()[0]
        inventories = agent.inventories_collected()
        check(stored == last_seq - inventories,
              f"{agent_id}: {stored} health samples for last seq {last_seq} and {inventories} inventories")
        log(f"{agent_id}: seq 1..{last_seq}, {stored} samples + {inventories} inventories, each once")
    simulated = 0
    with open(loadgen_json) as f:
        for line in f:
            row = json.loads(line)
            stored = db.execute("SELECT count(*) FROM health_samples h JOIN agents a ON a.id = "
                                "h.agent WHERE a.agent_id = ?", (row["agent_id"],)).fetchone()[0]
            first = row.get("first_seq", 1)
            last = row.get("last_seq", 0)
            expected = max(0, last - first + 1)
            check(stored == expected,
                  f"simulated {row['agent_id']}: {stored} stored, seq {first}..{last} generated")
            simulated += stored
    log(f"load generator: {simulated} reports of 20 simulated agents, each stored once")

    twice = db.execute("SELECT count(*) FROM (SELECT org_id, rule_id, target, object FROM findings "
                       "GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) d").fetchone()[0]
    check(twice == 0, f"{twice} findings exist twice")
    reopened = db.execute("SELECT count(*) FROM (SELECT finding_id FROM finding_events WHERE kind "
                          "= 'opened' GROUP BY finding_id HAVING count(*) > 1) d").fetchone()[0]
    check(reopened == 0, f"{reopened} findings were opened twice")

    # The estate pass: about one per interval over both replicas, not one per replica.
    runs = 0
    for server in (a, b):
        with open(server.log_path, errors="replace") as f:
            runs += f.read().count("rules: full evaluation took")
    elapsed = time.time() - started
    expected_runs = elapsed / FULL_INTERVAL_S
    log(f"full evaluations: {runs} over both replicas in {elapsed:.0f} s "
        f"(one per {FULL_INTERVAL_S} s would be {expected_runs:.0f})")
    # Each restart of the holder hands the job over (a new first run); both replicas running it
    # would give about twice the expected count.
    check(runs <= expected_runs * 1.3 + kills + 2, f"{runs} full evaluations: more than one per cycle")
    check(runs >= expected_runs * 0.5, f"only {runs} full evaluations")


run_test(body)
