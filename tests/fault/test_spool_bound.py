"""An agent offline long enough for its spool to hit its bound: health samples are evicted (oldest
first) and inventories kept, the drop count reaches the server (agents.dropped_health_total, shown
by `dozorctl host`), and when the server comes back the backlog drains without starving others.

- "big" agent: a fixture root whose dpkg status carries FAULT_SPOOL_FILLER (12000) extra packages,
  so one inventory alone is about the 1 MiB spool bound (--spool-max-bytes 1MiB, the minimum);
  health every 1 s, inventory every 60 s (the minimum). The server goes away after its first
  inventory is acked and stays away until its second inventory pushed the spool over the bound.
- a backlog from the load generator: FAULT_SPOOL_LOADGEN (200) simulated agents reporting every
  second keep generating while the server is away (--reconnect keeps them like a spool) and send
  it all at once when it is back;
- a probe: 5 more simulated agents started right after the restart, each sending every 1 s; their
  ack latency while the backlogs drain must stay within FAULT_SPOOL_PROBE_P99_MS (3000) at p99 and
  FAULT_SPOOL_PROBE_MAX_MS (6000) at worst (normal on an idle machine: a few ms; the margin is for
  a loaded 2-core machine), and a baseline is printed for comparison.
Afterwards every report is accounted for: each health seq the big agent's server copy lacks is one
it counted as dropped, the dropped ones are the oldest of the outage, inventories all arrived.
"""
import os
import shutil
import sqlite3
import subprocess
import time

from faultlib import (create_token, AGENT_BIN, Agent, Loadgen, LOADGEN_BIN, Server, check, check_agent_exactly_once,
                      check_loadgen_exactly_once, env_num, integrity_check, load_average, log, run_test,
                      spool_next_seq, stored_health, wait_until)

FIXTURES = os.environ.get("DOZOR_FIXTURES_DIR", os.path.join(os.path.dirname(__file__), "..", "fixtures"))
FILLER_PACKAGES = env_num("FAULT_SPOOL_FILLER", 12000)
LOADGEN_AGENTS = env_num("FAULT_SPOOL_LOADGEN", 200)
PROBE_P99_MS = env_num("FAULT_SPOOL_PROBE_P99_MS", 3000, float)
PROBE_MAX_MS = env_num("FAULT_SPOOL_PROBE_MAX_MS", 6000, float)
SPOOL_BOUND = 1 << 20
# Seconds between one simulated agent's reports: the backlog generators and the probe.
LOADGEN_INTERVAL = env_num("FAULT_SPOOL_LOADGEN_INTERVAL", 1, float)
PROBE_INTERVAL = env_num("FAULT_SPOOL_PROBE_INTERVAL", 1, float)


def make_big_root(workdir):
    root = os.path.join(workdir, "big-root")
    shutil.copytree(os.path.join(FIXTURES, "hosts", "debian-server"), root, symlinks=True)
    with open(os.path.join(root, "var", "lib", "dpkg", "status"), "a") as f:
        for i in range(FILLER_PACKAGES):
            f.write(f"\nPackage: fault-test-filler-{i:05d}\nStatus: install ok installed\nPriority: optional\n"
                    f"Section: misc\nInstalled-Size: {100 + i}\nMaintainer: Fault Test <fault@example.org>\n"
                    f"Architecture: amd64\nVersion: 1.{i}.0-1+deb12u{i % 7}\n"
                    f"Description: filler package {i} making the inventory large\n")
    return root


def status_file(agent):
    import json
    try:
        with open(os.path.join(agent.state_dir, "status.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def spool_rows(agent):
    con = sqlite3.connect(f"file:{os.path.join(agent.state_dir, 'spool.db')}?mode=ro", uri=True, timeout=10)
    try:
        con.execute("BEGIN")  # one snapshot: the agent appends (and evicts) every second
        rows = con.execute("SELECT seq, is_inventory, length(payload) FROM reports ORDER BY seq").fetchall()
        dropped = con.execute("SELECT value FROM meta WHERE key = 'dropped_health_total'").fetchone()[0]
        next_seq = con.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()[0]
        # Dropped after being sent: counted once the server says it lacks them (at the next ack or
        # connection), so they are not in `dropped` yet.
        awaiting = con.execute("SELECT count(*) FROM dropped_after_send").fetchone()[0]
        con.execute("COMMIT")
        return rows, dropped, next_seq, awaiting
    finally:
        con.close()


def probe(server, workdir, name, seconds, token=None):
    """A few simulated agents, one report every PROBE_INTERVAL s each (seconds 0: until SIGTERM);
    not faster: the server refuses health samples less than 0.5 s apart."""
    summary = os.path.join(workdir, name + ".json")
    args = [LOADGEN_BIN, "--server", f"127.0.0.1:{server.grpc_port}", "--insecure", "--agents", "5",
            "--identities", os.path.join(workdir, "probe-ids.jsonl"), "--mode", "cadence",
            "--interval-seconds", str(PROBE_INTERVAL), "--duration", str(seconds), "--warmup-seconds", "0",
            "--drain-seconds", "30", "--summary-json", summary]
    if token:
        args += ["--token", token]
    return subprocess.Popen(args, stdout=open(os.path.join(workdir, name + ".log"), "w"),
                            stderr=subprocess.STDOUT), summary


def finish_probe(handle, terminate=False):
    proc, path = handle
    if terminate:
        proc.terminate()
    rc = proc.wait(timeout=120)
    import json
    with open(path) as f:
        return rc, json.load(f)


def body(workdir, procs):
    log(f"load {load_average()}")
    server = Server(workdir, tls=False).start()
    procs.append(server)
    token = create_token(server, "Spool Bound")
    grpc_port, http_port = server.grpc_port, server.http_port

    big = Agent(workdir, "big", server)
    other = Agent(workdir, "other", server)
    procs += [big, other]
    big.enroll(token)
    other.enroll(token)
    big_root = make_big_root(workdir)
    big.start("--root", big_root, "--spool-max-bytes", "1MiB", "--health-interval", "1",
              "--inventory-interval", "60")
    big_started = time.time()
    other.start("--health-interval", "1", "--inventory-interval", "604800")
    loadgen = Loadgen(workdir)
    procs.append(loadgen)
    loadgen.enroll(server, token, LOADGEN_AGENTS)
    # Its backlog comes back within ~5 s of the restart, all at once.
    loadgen.start(server, LOADGEN_AGENTS, LOADGEN_INTERVAL, drain_seconds=120, extra=("--backoff-max-ms", "5000"))
    big_id = big.identity()["agent_id"]

    def big_inventory_acked():
        con = server.db()
        try:
            last_seq = con.execute("SELECT last_seq FROM agents WHERE agent_id = ?", (big_id,)).fetchone()[0]
        finally:
            con.close()
        return big.inventories_collected() >= 1 and last_seq >= 2 and big.spool_count() <= 1
    wait_until(big_inventory_acked, 60, "the big agent's first inventory acked")
    wait_until(lambda: (loadgen.status() or {}).get("acked_sessions") == LOADGEN_AGENTS, 60, "loadgen acked")
    rc, baseline = finish_probe(probe(server, workdir, "probe-baseline", 8, token=token))
    check(rc == 0, f"baseline probe exit {rc}")
    log(f"baseline probe ack latency ms: p50 {baseline['latency_ms']['p50']:.1f} p99 "
        f"{baseline['latency_ms']['p99']:.1f} max {baseline['latency_ms']['max']:.1f}")

    inventories_before = big.inventories_collected()
    rows, _, next_seq, _ = spool_rows(big)
    # Everything below the oldest unacked report was acked (reports are numbered in order).
    acked_seq_before = rows[0][0] - 1 if rows else next_seq - 1
    server.kill()
    went_away = time.time()
    log(f"server away {went_away - big_started:.0f} s after the big agent started; its next inventory is due at 60 s")

    def spool_over_bound():
        rows, dropped, _, _ = spool_rows(big)
        return dropped > 0 and any(r[1] for r in rows) and big.inventories_collected() > inventories_before
    wait_until(spool_over_bound, 150, "the big agent's spool hit its bound", interval=1)
    time.sleep(5)  # a few more samples at the bound: each evicts the oldest health sample
    rows, dropped, _, awaiting = spool_rows(big)
    inventory_rows = [r for r in rows if r[1]]
    health_rows = [r for r in rows if not r[1]]
    payload = sum(r[2] for r in rows)
    offline_inventories = big.inventories_collected() - inventories_before
    log(f"spool at the bound: {len(inventory_rows)} inventories ({sum(r[2] for r in inventory_rows)} B), "
        f"{len(health_rows)} health samples, {payload} B payload, {dropped} health samples dropped, "
        f"{awaiting} more dropped after being sent (the server may have them)")
    check(dropped > 0, "health samples were dropped at the bound")
    check(len(inventory_rows) == offline_inventories,
          f"every inventory of the outage is kept ({len(inventory_rows)} of {offline_inventories})")
    snapshot_last = rows[-1][0]
    gone = set(range(acked_seq_before + 1, snapshot_last + 1)) - {r[0] for r in rows}
    check(len(gone) == dropped + awaiting, f"the spool lacks {len(gone)} seqs of the outage and counted "
          f"{dropped} drops + {awaiting} awaiting the server's word")
    check(health_rows and max(gone) < min(r[0] for r in health_rows),
          f"the oldest health samples went first (dropped up to {max(gone)}, kept from "
          f"{min(r[0] for r in health_rows) if health_rows else None})")
    wait_until(lambda: status_file(big).get("spool", {}).get("dropped_health_total", 0) > 0, 15, "status.json shows the drops")
    snapshot = {"inventories": {r[0] for r in inventory_rows}, "health": {r[0] for r in health_rows},
                "dropped": gone}

    server.start(grpc_port=grpc_port, http_port=http_port)
    back = time.time()
    handle = probe(server, workdir, "probe-drain", 0)
    wait_until(lambda: (loadgen.status() or {}).get("acked_sessions") == LOADGEN_AGENTS and
               (loadgen.status() or {}).get("unacked", 1) <= LOADGEN_AGENTS, 90, "loadgen backlog drained")
    backlog_drained = time.time() - back
    # The agent's own backoff (1 s doubling, reset by acks) decides when it is back: up to ~2x the outage.
    wait_until(lambda: big.spool_count() <= 1, 150, "the big agent's spool drained", interval=0.5)
    big_drained = time.time() - back
    rc, drain = finish_probe(handle, terminate=True)
    lat = drain["latency_ms"]
    log(f"after {back - went_away:.0f} s offline: loadgen backlog ({LOADGEN_AGENTS} agents) drained in "
        f"{backlog_drained:.1f} s, the big spool in {big_drained:.1f} s; probe meanwhile: p50 {lat['p50']:.1f} "
        f"p99 {lat['p99']:.1f} max {lat['max']:.1f} ms ({drain['acked']} acks); load {load_average()}")
    check(rc == 0, f"drain probe exit {rc}")
    check(lat["p99"] <= PROBE_P99_MS, f"probe p99 {lat['p99']:.0f} ms within {PROBE_P99_MS:.0f} ms")
    check(lat["max"] <= PROBE_MAX_MS, f"probe max {lat['max']:.0f} ms within {PROBE_MAX_MS:.0f} ms")

    # The server learns the drop count from the next report's dropped_health_samples.
    def server_knows_drops():
        _, spool_dropped, _, _ = spool_rows(big)
        con = server.db()
        try:
            *_, server_dropped = stored_health(con, big_id)
        finally:
            con.close()
        return server_dropped == spool_dropped and server_dropped > 0 and (server_dropped, spool_dropped)
    wait_until(server_knows_drops, 30, "the server's dropped_health_total equals the spool's")
    shown = server.ctl("host", "show", big_id)
    shown = shown.get("host", shown) if isinstance(shown, dict) else {}
    check(shown.get("dropped_health_samples", 0) > 0,
          f"dozorctl host show gives the drop count: {str(shown)[:300]}")

    rc, summary, per_agent = loadgen.finish()
    check(rc == 0, f"loadgen exit {rc}")
    for a in (big, other):
        a.stop()
    for a in (big, other):  # drain what is left, no new health samples for an hour
        a.start(*(("--root", big_root) if a is big else ()), "--health-interval", "3600",
                "--inventory-interval", "604800")
    wait_until(lambda: big.spool_count() == 0 and other.spool_count() == 0 and
               other.inventories_collected() == 2, 120, "spools drained")
    for a in (big, other):
        a.stop()

    check_agent_exactly_once(server, other)
    reports, _ = check_loadgen_exactly_once(server, per_agent)
    # The big agent: every seq is a stored health sample, an inventory or a counted drop.
    last = spool_next_seq(big) - 1
    con = server.db()
    try:
        server_last, seqs, blocks, server_dropped = stored_health(con, big_id)
    finally:
        con.close()
    _, spool_dropped, _, spool_awaiting = spool_rows(big)
    check(server_last == last, f"big agent: server's last seq {server_last}, agent's {last}")
    check(len(seqs) == len(set(seqs)), "big agent: no health sample stored twice")
    missing = sorted(set(range(1, last + 1)) - set(seqs) - {s for b in blocks for s in range(b[1], b[2] + 1)})
    inventories = big.inventories_collected()

    def ranges(values):
        out, values = [], sorted(values)
        for v in values:
            if out and v == out[-1][1] + 1:
                out[-1][1] = v
            else:
                out.append([v, v])
        return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in out)
    log(f"big agent: last acked before the outage {acked_seq_before}; seqs without a health sample: "
        f"{ranges(missing)}; outage snapshot: inventories {sorted(snapshot['inventories'])}, dropped "
        f"{ranges(snapshot['dropped'])}, kept health {sorted(snapshot['health'])}")
    # Nothing is missing that the agent did not count as dropped, and nothing counted arrived: a
    # sample sent and then evicted before its ack (the spool stays over its bound while the big
    # inventory is in flight) is counted only once the server says it lacks it.
    overcounted = inventories + spool_dropped - len(missing)
    check(overcounted >= 0, f"big agent: {len(missing)} seqs without a health sample, more than {inventories} "
          f"inventories + {spool_dropped} counted drops: {-overcounted} lost without being counted")
    check(overcounted == 0, f"big agent: the drop count is exact ({overcounted} sample(s) counted as dropped "
          f"arrived)")
    check(spool_awaiting == 0, f"big agent: every drop after sending was settled ({spool_awaiting} left)")
    check(not (snapshot["dropped"] & set(seqs)), "big agent: no dropped sample arrived anyway")
    check(snapshot["inventories"] <= set(missing), "big agent: inventory seqs are not health samples")
    outage_stored = [x for x in seqs if x > acked_seq_before]
    check(outage_stored and max(snapshot["dropped"]) < min(outage_stored),
          "big agent: the dropped samples are the oldest of the outage")
    log(f"big agent: seqs 1..{last}, {len(seqs)} health stored, {inventories} inventories, {spool_dropped} "
        f"dropped (server agrees: {server_dropped}); loadgen {reports} reports once each")
    result = integrity_check(server.db_path)
    check(result == ["ok"], f"integrity_check {result[:3]}")


run_test(body)
