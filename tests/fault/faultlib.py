"""Shared helpers for the fault tests: the e2e harness (real binaries on loopback, temp dirs) plus
the load generator, profile parameters from the environment, server CPU/RSS sampling and the
exactly-once accounting against the server's database."""
import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402  (the e2e harness, shared on purpose)
from harness import (AGENT_BIN, BIN_DIR, CTL_BIN, SERVER_BIN, Agent, ManagedProcess, Server,  # noqa: E402,F401
                     check, log, run_test, wait_until)

LOADGEN_BIN = os.path.join(BIN_DIR, "tests", "bench", "dozor-loadgen")
SKIP = 77  # CTest SKIP_RETURN_CODE
CLK_TCK = os.sysconf("SC_CLK_TCK")


def env_num(name, default, kind=int):
    value = os.environ.get(name)
    return kind(value) if value not in (None, "") else default


def skip(reason):
    log(f"SKIP: {reason}")
    sys.exit(SKIP)


def raise_nofile(wanted):
    """Raises this process's descriptor limit (inherited by the server and the load generator);
    returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(wanted, hard) if hard != resource.RLIM_INFINITY else wanted
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def proc_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def proc_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


class ProcSampler:
    """Samples a process's RSS and CPU every `period` s on a thread; `pid_of` is called each time
    (the server's pid changes across restarts)."""

    def __init__(self, pid_of, period=0.5):
        self.pid_of = pid_of
        self.period = period
        self.samples = []  # (time, pid, cpu seconds, rss MB, fds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            pid = self.pid_of()
            if pid:
                try:
                    self.samples.append((time.time(), pid, proc_cpu_seconds(pid), proc_rss_mb(pid),
                                         proc_fds(pid)))
                except (OSError, IndexError, ValueError):
                    pass
            self._stop.wait(self.period)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)

    def window(self, since, until=None):
        """Peak RSS (MB), peak fds and CPU (s of one core, summed over pids) between two times."""
        chosen = [s for s in self.samples if s[0] >= since and (until is None or s[0] <= until)]
        if not chosen:
            return {"samples": 0, "peak_rss_mb": 0.0, "cpu_seconds": 0.0, "peak_fds": 0, "seconds": 0.0}
        cpu = 0.0
        by_pid = {}
        for t, pid, c, _, _ in chosen:
            first, _ = by_pid.get(pid, (c, c))
            by_pid[pid] = (first, c)
        for first, last in by_pid.values():
            cpu += last - first
        return {"samples": len(chosen), "peak_rss_mb": max(s[3] for s in chosen),
                "cpu_seconds": cpu, "peak_fds": max(s[4] for s in chosen),
                "seconds": chosen[-1][0] - chosen[0][0]}


class Loadgen(ManagedProcess):
    """dozor-loadgen in --reconnect cadence mode, running until stop() (SIGTERM: stop generating,
    drain, write the per-agent accounting)."""

    def __init__(self, workdir, name="loadgen"):
        self.workdir = workdir
        self.log_path = os.path.join(workdir, name + ".log")
        self.identities = os.path.join(workdir, name + "-ids.jsonl")
        self.status_path = os.path.join(workdir, name + "-status.json")
        self.agents_path = os.path.join(workdir, name + "-agents.jsonl")
        self.summary_path = os.path.join(workdir, name + "-summary.json")
        self.proc = None
        self.drain_seconds = 60

    def enroll(self, server, token, agents):
        result = subprocess.run([LOADGEN_BIN, "--server", f"127.0.0.1:{server.grpc_port}", "--insecure",
                                 "--token", token, "--agents", str(agents), "--identities", self.identities,
                                 "--enroll-only"], capture_output=True, text=True, timeout=600)
        check(result.returncode == 0, f"loadgen enrolment failed: {result.stdout}{result.stderr}")

    def start(self, server, agents, interval, drain_seconds=60, connect_rate=500, extra=()):
        self.drain_seconds = drain_seconds
        for path in (self.status_path, self.agents_path, self.summary_path):
            if os.path.exists(path):
                os.remove(path)
        self.spawn([LOADGEN_BIN, "--server", f"127.0.0.1:{server.grpc_port}", "--insecure",
                    "--agents", str(agents), "--identities", self.identities, "--mode", "cadence",
                    "--interval-seconds", str(interval), "--duration", "0", "--reconnect",
                    "--drain-seconds", str(drain_seconds), "--connect-rate", str(connect_rate),
                    "--status-file", self.status_path, "--agents-json", self.agents_path,
                    "--summary-json", self.summary_path] + list(extra))
        return self

    def status(self):
        try:
            with open(self.status_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def finish(self):
        """SIGTERM, wait for the drain; returns (exit code, summary dict, per-agent rows)."""
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=self.drain_seconds + 60)
        self.proc = None
        with open(self.summary_path) as f:
            summary = json.load(f)
        with open(self.agents_path) as f:
            agents = [json.loads(line) for line in f if line.strip()]
        return rc, summary, agents


def create_token(server, org):
    """An organisation and an enrollment token without a use limit (the default of 100 machines
    per token is below the simulated fleets here)."""
    server.ctl("org", "create", org, "--type", "complex", "--engineer", "Fault Tests")
    return server.ctl("token", "create", "--org", org, "--label", "fault tests", "--max-uses", "0")["token"]


# Real agents' inventory interval in the fault tests: one inventory per start, so the exactly-once
# accounting knows which seqs are inventories (check_agent_exactly_once).
LONG_RUN = ("--inventory-interval", "604800")


def start_fleet(workdir, procs, server, token, agents, loadgen_agents, health_interval,
                loadgen_interval, drain_seconds, acked_within, acked_what, loadgen_extra=(),
                agent_class=Agent, loadgen_class=Loadgen):
    """`agents` real agents (enrolled, then started with `health_interval` and LONG_RUN) and, when
    `loadgen_agents`, the load generator's simulated agents (enrolled, started in --reconnect
    cadence, waited for until each is connected and acked). Every process is added to `procs`.
    Returns (real agents, loadgen)."""
    real = []
    for i in range(agents):
        a = agent_class(workdir, f"agent{i}", server)
        procs.append(a)
        a.enroll(token)
        real.append(a)
    loadgen = loadgen_class(workdir)
    procs.append(loadgen)
    if loadgen_agents:
        loadgen.enroll(server, token, loadgen_agents)
    for a in real:
        a.start("--health-interval", str(health_interval), *LONG_RUN)
    if loadgen_agents:
        loadgen.start(server, loadgen_agents, loadgen_interval, drain_seconds=drain_seconds,
                      extra=loadgen_extra)
        wait_until(lambda: (loadgen.status() or {}).get("acked_sessions") == loadgen_agents,
                   acked_within, acked_what)
    return real, loadgen


def drain_agents(agents, timeout, what):
    """Stops the real agents (SIGTERM: whatever is unacked stays in their spools), starts them
    again with a long health interval until each sent its second inventory and emptied its spool,
    and stops them: ready for check_agent_exactly_once."""
    for a in agents:
        a.stop()
    for a in agents:
        a.start("--health-interval", "3600", *LONG_RUN)
    wait_until(lambda: all(a.inventories_collected() == 2 and a.spool_count() == 0 for a in agents),
               timeout, what)
    for a in agents:
        a.stop()


def integrity_check(db_path, after_crash=False):
    """PRAGMA integrity_check's lines (["ok"] when sound). after_crash: the server died without
    closing the database, so the connection recovers the WAL first, as the server's next start
    would (a read-only one cannot)."""
    uri = f"file:{db_path}" if after_crash else f"file:{db_path}?mode=ro"
    con = sqlite3.connect(uri, uri=True, timeout=30)
    try:
        return [r[0] for r in con.execute("PRAGMA integrity_check")]
    finally:
        con.close()


def stored_health(con, agent_id):
    """(server's last committed seq, health seqs stored as rows, samples compacted into blocks,
    blocks' seq ranges, dropped_health_total) for one agent."""
    row = con.execute("SELECT id, last_seq, dropped_health_total FROM agents WHERE agent_id = ?",
                      (agent_id,)).fetchone()
    check(row is not None, f"agent {agent_id} is not in the database")
    pk, last_seq, dropped = row
    seqs = [r[0] for r in con.execute("SELECT seq FROM health_samples WHERE agent = ?", (pk,))]
    blocks = con.execute("SELECT count, first_seq, last_seq FROM health_blocks WHERE agent = ?",
                         (pk,)).fetchall()
    return last_seq, seqs, blocks, dropped


def check_seqs_exactly_once(who, seqs, blocks, expected):
    """Every seq of `expected` (a set) stored once, nothing else: rows plus compacted blocks."""
    in_blocks = sum(b[0] for b in blocks)
    dupes = len(seqs) - len(set(seqs))
    check(dupes == 0, f"{who}: {dupes} health samples stored twice")
    block_seqs = set()
    for count, first, last in blocks:
        block_seqs |= set(range(first, last + 1)) & expected
    check(not (set(seqs) & block_seqs), f"{who}: samples both in rows and in a compacted block")
    stored = set(seqs) | block_seqs
    missing = expected - stored
    extra = set(seqs) - expected
    check(not missing, f"{who}: {len(missing)} reports lost, e.g. seqs {sorted(missing)[:10]}")
    check(not extra, f"{who}: {len(extra)} unexpected seqs stored, e.g. {sorted(extra)[:10]}")
    check(len(seqs) + in_blocks == len(expected),
          f"{who}: {len(seqs)} rows + {in_blocks} compacted for {len(expected)} reports")


def check_loadgen_exactly_once(server, agents):
    """Each simulated agent: everything it generated is stored once, nothing is left unacked, and
    the server's committed seq is the agent's last. Returns (reports, agents checked)."""
    con = server.db()
    total = 0
    try:
        for a in agents:
            who = f"loadgen agent {a['index']} ({a['agent_id']})"
            check(a["unacked"] == 0 and a["due_unnumbered"] == 0,
                  f"{who}: {a['unacked']} reports never acked, {a['due_unnumbered']} never numbered")
            check(a["rejected"] == 0, f"{who}: {a['rejected']} reports rejected")
            last_seq, seqs, blocks, _ = stored_health(con, a["agent_id"])
            check(last_seq == a["last_seq"], f"{who}: server's last seq {last_seq}, agent's {a['last_seq']}")
            expected = set(range(a["first_seq"], a["last_seq"] + 1)) if a["generated"] else set()
            check(len(expected) == a["generated"], f"{who}: {a['generated']} generated, seqs not contiguous")
            check_seqs_exactly_once(who, [s for s in seqs if s >= a["first_seq"]], blocks, expected)
            total += a["generated"]
    finally:
        con.close()
    return total, len(agents)


def spool_next_seq(agent):
    path = os.path.join(agent.state_dir, "spool.db")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()[0]
    finally:
        con.close()


def check_agent_exactly_once(server, agent):
    """A real agent (stopped, spool drained): seqs 1..its last are all stored once, except the
    inventories (one per agent start, none stored as health rows). Returns health samples."""
    agent_id = agent.identity()["agent_id"]
    who = f"{os.path.basename(agent.state_dir)} ({agent_id})"
    check(agent.spool_count() == 0, f"{who}: {agent.spool_count()} reports still in the spool")
    agent_last = spool_next_seq(agent) - 1
    con = server.db()
    try:
        last_seq, seqs, blocks, dropped = stored_health(con, agent_id)
    finally:
        con.close()
    check(dropped == 0, f"{who}: the spool dropped {dropped} health samples (bound too small for the test)")
    check(last_seq == agent_last, f"{who}: server's last seq {last_seq}, agent's {agent_last}")
    inventories = agent.inventories_collected()
    stored = set(seqs) | {s for b in blocks for s in range(b[1], b[2] + 1)}
    inventory_seqs = set(range(1, agent_last + 1)) - stored
    check(len(inventory_seqs) == inventories,
          f"{who}: {len(inventory_seqs)} seqs without a health sample for {inventories} inventories "
          f"(lost: {sorted(inventory_seqs)[:10]})")
    check_seqs_exactly_once(who, seqs, blocks, set(range(1, agent_last + 1)) - inventory_seqs)
    return len(seqs) + sum(b[0] for b in blocks)
