#!/usr/bin/env python3
"""Agent footprint benchmark: prints numbers, asserts nothing.

  * side by side, in one run, at the default cadence (health every 60 s, inventory every 6 h), in
    steady state (the window starts one health interval after the start-up inventory):
    a running dozor-agent streaming to a real local dozor-server over TLS on loopback, and
    zabbix_agentd (Debian package zabbix-agent, its default configuration: passive checks on a
    loopback port, active checks towards 127.0.0.1) and collectd if installed. Memory is sampled
    from /proc/PID/smaps_rollup (RSS and PSS, summed over each agent's processes), CPU over a
    bounded window that starts after the dozor-agent's first inventory, two ways: on-CPU
    nanoseconds from /proc/PID/task/TID/schedstat summed over every thread of every process of
    each agent (exact: the scheduler's own run-time clock), and user + system from /proc/PID/stat
    (whole clock ticks, so +-1 tick at each end of the window).
  * where each agent's idle time goes: per thread, voluntary context switches (wake-ups after a
    sleep), times scheduled in and on-CPU microseconds over the window
  * optionally (--inventory) the one-shot inventory: wall time and peak RSS, cold and warm

Usage: tests/bench/agent_footprint.py [BUILD_DIR] [--seconds 150] [--health-interval 60]
                                      [--agent-bin PATH] [--inventory] [--runs 10] [--no-zabbix]

Run it on a quiet machine: the CPU figures are fractions of a per cent of a core, so a build next
to it shows up (the "machine load" line says how quiet the window was).
"""
import argparse
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))

CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def run_inventory(agent_bin):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([agent_bin, "inventory"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_maxrss / 1024.0, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def inventory_bench(agent_bin, runs):
    # A fresh process pays for the package manager's update simulation once; the running agent
    # caches it, so runs 2..N of `inventory --repeat N` are what a scheduled inventory costs.
    cold = run_inventory(agent_bin)
    print(f"inventory one-shot process, cold: wall {cold[0]*1000:.0f} ms (includes apt/dnf simulation), "
          f"peak RSS incl. that child {cold[1]:.1f} MiB")
    result = subprocess.run([agent_bin, "inventory", "--repeat", str(runs + 1)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
    lines = [l for l in result.stderr.splitlines() if l.startswith("inventory run ")]
    warm = sorted(float(l.split(": ")[1].split(" ms")[0]) for l in lines[1:])
    peak = result.stderr.rsplit("(VmHWM):", 1)[-1].strip()
    print(f"inventory warm, {len(warm)} runs in one process: median {warm[len(warm)//2]:.1f} ms, "
          f"min {warm[0]:.1f}, max {warm[-1]:.1f}; peak RSS of dozor-agent {peak}")


# --- /proc sampling -------------------------------------------------------------------------------

def children_of(pid):
    kids = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(k) for k in f.read().split()]
    except OSError:
        pass
    return kids


def process_tree(pid):
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo += children_of(p)
    return tree


def smaps_rollup_kib(pid):
    """(rss, pss, uss) in KiB from /proc/PID/smaps_rollup; zeros if the process is gone. USS is
    the memory only this process has (Private_Clean + Private_Dirty): what it would free on exit."""
    rss = pss = uss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith(("Private_Clean:", "Private_Dirty:")):
                    uss += int(line.split()[1])
    except OSError:
        pass
    return rss, pss, uss


def cpu_ticks(pid):
    """utime + stime of the process itself (its threads included, its children not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except OSError:
        return 0


def read_schedstat(pid, tid):
    """(on-CPU ns, times scheduled in) of one thread from /proc/PID/task/TID/schedstat: the
    scheduler's run-time clock, exact to the nanosecond (utime/stime are clock-tick samples)."""
    with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
        fields = f.read().split()
    return int(fields[0]), int(fields[2])


def thread_activity(pid):
    """{(pid, tid): (name, voluntary switches, on-CPU ns, times scheduled in)} of pid's threads."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                switches = [int(l.split()[1]) for l in f if l.startswith("voluntary_ctxt_switches:")][0]
            ns, runs = read_schedstat(pid, tid)
            out[(pid, int(tid))] = (name, switches, ns, runs)
        except (OSError, IndexError):
            continue  # the thread ended
    return out


def tree_threads(pids):
    out = {}
    for p in pids:
        out.update(thread_activity(p))
    return out


class Subject:
    """One monitoring agent (a process tree) sampled over the window."""

    def __init__(self, name, root_pid):
        self.name, self.root_pid = name, root_pid
        self.rss, self.pss, self.uss = [], [], []
        self.ticks0 = {}
        self.ticks1 = {}
        self.threads0 = {}
        self.threads1 = {}

    def pids(self):
        return process_tree(self.root_pid)

    def start(self):
        pids = self.pids()
        self.threads0 = tree_threads(pids)
        self.ticks0 = {p: cpu_ticks(p) for p in pids}

    def sample(self):
        totals = [smaps_rollup_kib(p) for p in self.pids()]
        self.rss.append(sum(t[0] for t in totals) / 1024.0)
        self.pss.append(sum(t[1] for t in totals) / 1024.0)
        self.uss.append(sum(t[2] for t in totals) / 1024.0)

    def finish(self):
        pids = self.pids()
        self.ticks1 = {p: cpu_ticks(p) for p in pids}
        self.threads1 = tree_threads(pids)

    def thread_deltas(self):
        """[(name, pid, tid, wake-ups, runs, on-CPU ns)] over the window; a thread born in the
        window counts from zero."""
        out = []
        for key, (name, switches, ns, runs) in self.threads1.items():
            _, switches0, ns0, runs0 = self.threads0.get(key, (name, 0, 0, 0))
            out.append((name, key[0], key[1], switches - switches0, runs - runs0, ns - ns0))
        return out

    def ended_threads(self):
        """Threads alive at the start and gone at the end: their CPU in the window is not in the
        schedstat sum (it is in the stat figure)."""
        return [v[0] for k, v in self.threads0.items() if k not in self.threads1]

    def cpu_ns(self):
        return sum(d[5] for d in self.thread_deltas())

    def cpu_seconds(self):
        # Processes that existed at both ends; a short-lived child (a command the agent ran) is
        # counted by neither end, which is what "idle cost of the agent" means here.
        return sum(self.ticks1[p] - self.ticks0.get(p, self.ticks1[p]) for p in self.ticks1) / CLOCK_TICK


# --- zabbix_agentd ---------------------------------------------------------------------------------

def free_port():
    """A free loopback port in 20000..32767 (zabbix_agentd refuses ports above 32767)."""
    for port in range(20000 + os.getpid() % 10000, 32768):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port for zabbix_agentd")


def start_zabbix(workdir):
    binary = shutil.which("zabbix_agentd") or ("/usr/sbin/zabbix_agentd" if os.path.exists("/usr/sbin/zabbix_agentd") else None)
    if binary is None:
        print("zabbix_agentd not installed (apt-get install zabbix-agent): comparison skipped")
        return None
    # Debian's /etc/zabbix/zabbix_agentd.conf (Server=127.0.0.1, ServerActive=127.0.0.1, defaults
    # otherwise) with files in the work dir, a free passive port, and permission to stay root.
    conf = os.path.join(workdir, "zabbix_agentd.conf")
    with open(conf, "w") as f:
        f.write(f"PidFile={workdir}/zabbix_agentd.pid\nLogFile={workdir}/zabbix_agentd.log\n"
                f"LogFileSize=0\nServer=127.0.0.1\nServerActive=127.0.0.1\n"
                f"ListenIP=127.0.0.1\nListenPort={free_port()}\nHostname=footprint-bench\nAllowRoot=1\n")
    proc = subprocess.Popen([binary, "-f", "-c", conf], stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(workdir, "zabbix_agentd.stderr"), "w"))
    time.sleep(2)
    if proc.poll() is not None:
        with open(os.path.join(workdir, "zabbix_agentd.stderr")) as f:
            print(f"zabbix_agentd exited at start ({proc.returncode}): {f.read().strip()}")
        return None
    return proc


def start_collectd(workdir):
    binary = shutil.which("collectd") or ("/usr/sbin/collectd" if os.path.exists("/usr/sbin/collectd") else None)
    if binary is None:
        return None
    conf = "/etc/collectd/collectd.conf"
    if not os.path.exists(conf):
        return None
    return subprocess.Popen([binary, "-f", "-C", conf, "-P", os.path.join(workdir, "collectd.pid")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def side_by_side(harness, args):
    workdir = tempfile.mkdtemp(prefix="dozor-footprint-")
    server = harness.Server(workdir, tls=True).start()
    others = []
    agent = None
    try:
        token, _ = server.create_org_and_token("Footprint")
        agent = harness.Agent(workdir, "agent", server)
        agent.enroll(token)
        agent.start("--health-interval", str(args.health_interval))
        if not args.no_zabbix:
            zabbix = start_zabbix(workdir)
            if zabbix:
                others.append(("zabbix_agentd", zabbix))
            collectd = start_collectd(workdir)
            if collectd:
                others.append(("collectd", collectd))
        harness.wait_until(lambda: agent.inventories_collected() >= 1, 120, "first inventory")
        # Steady state: past the first health tick after the start-up inventory (the agent gives
        # the inventory's memory back there), and the others have started their children.
        warmup = args.warmup if args.warmup is not None else args.health_interval + 10
        time.sleep(warmup)
        subjects = [Subject("dozor-agent", agent.proc.pid)] + [Subject(n, p.pid) for n, p in others]
        load0 = loadavg()
        for s in subjects:
            s.start()
        t0 = time.time()
        while time.time() - t0 < args.seconds:
            for s in subjects:
                s.sample()
            time.sleep(args.sample_every)
        for s in subjects:
            s.finish()
        elapsed = time.time() - t0
        load1 = loadavg()

        print(f"\nside by side, {elapsed:.0f} s window from {warmup} s after the dozor-agent's first inventory, "
              f"health every {args.health_interval} s; machine load {load0} -> {load1}; "
              f"memory sampled every {args.sample_every} s")
        print(f"{'agent':<15} {'procs':>5} {'thr':>4} {'RSS MiB avg':>11} {'RSS max':>8} {'PSS MiB avg':>11} "
              f"{'PSS max':>8} {'USS avg':>8} {'CPU % schedstat':>15} {'CPU ms':>7} {'CPU % stat':>10} "
              f"{'stat ms':>7} {'wake-ups':>8}")
        cpu, cpu_stat = {}, {}
        for s in subjects:
            cpu[s.name] = 100.0 * s.cpu_ns() / 1e9 / elapsed
            cpu_stat[s.name] = 100.0 * s.cpu_seconds() / elapsed
            rss_avg = sum(s.rss) / max(1, len(s.rss))
            pss_avg = sum(s.pss) / max(1, len(s.pss))
            uss_avg = sum(s.uss) / max(1, len(s.uss))
            wakeups = sum(d[3] for d in s.thread_deltas())
            print(f"{s.name:<15} {len(s.ticks1):>5} {len(s.threads1):>4} {rss_avg:>11.1f} {max(s.rss, default=0):>8.1f} "
                  f"{pss_avg:>11.1f} {max(s.pss, default=0):>8.1f} {uss_avg:>8.1f} {cpu[s.name]:>15.4f} "
                  f"{s.cpu_ns()/1e6:>7.1f} {cpu_stat[s.name]:>10.4f} {s.cpu_seconds()*1000:>7.0f} {wakeups:>8}")
            ended = s.ended_threads()
            if ended:
                print(f"  ({s.name}: {len(ended)} thread(s) ended in the window and are missing from the "
                      f"schedstat sum: {', '.join(sorted(set(ended)))})")
        if "zabbix_agentd" in cpu and cpu["zabbix_agentd"] > 0:
            print(f"dozor-agent CPU / zabbix_agentd CPU = {cpu['dozor-agent'] / cpu['zabbix_agentd']:.2f} "
                  f"from schedstat (exact); {cpu_stat['dozor-agent'] / max(cpu_stat['zabbix_agentd'], 1e-9):.2f} "
                  f"from stat (clock tick {1000 // CLOCK_TICK} ms: +-1 tick is "
                  f"{100.0 / CLOCK_TICK / elapsed:.4f} % per process)")
        print("(PSS shares library pages with every process mapping them, the dozor-server here "
              "included; USS is what only that agent holds)")
        for s in subjects:
            print(f"\n{s.name} threads in the window: wake-ups (voluntary switches), times run, "
                  f"on-CPU us, us per run")
            deltas = sorted(s.thread_deltas(), key=lambda d: (-d[5], -d[3]))
            for name, pid, tid, wakeups, runs, ns in deltas:
                per_run = ns / 1000.0 / runs if runs else 0.0
                print(f"  {name + '[' + str(tid) + ']':<28} {wakeups:>6} {runs:>6} {ns / 1000.0:>9.0f} {per_run:>7.1f}")
    finally:
        for _, proc in others:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if agent is not None:
            agent.stop()
        server.stop()
        subprocess.run(["rm", "-rf", workdir])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build", nargs="?", default=os.path.join(os.path.dirname(__file__), "..", "..", "build"))
    parser.add_argument("--seconds", type=int, default=150, help="length of the measured window")
    parser.add_argument("--health-interval", type=int, default=60)
    parser.add_argument("--warmup", type=int, help="seconds after the first inventory before the window "
                        "(default: one health interval + 10 s)")
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds between memory samples")
    parser.add_argument("--inventory", action="store_true", help="also time one-shot inventories")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-zabbix", action="store_true", help="the dozor-agent alone")
    parser.add_argument("--agent-bin", help="dozor-agent to measure (default BUILD_DIR/agent/dozor-agent), "
                        "e.g. one from an agent-only tree built with -DDOZOR_BUILD_SERVER=OFF")
    args = parser.parse_args()
    os.environ["DOZOR_BIN_DIR"] = os.path.abspath(args.build)
    import harness  # after DOZOR_BIN_DIR is set
    if args.agent_bin:
        harness.AGENT_BIN = os.path.abspath(args.agent_bin)
    print(f"dozor-agent: {harness.AGENT_BIN}\ndozor-server: {harness.SERVER_BIN}")

    if args.inventory:
        inventory_bench(harness.AGENT_BIN, args.runs)
    side_by_side(harness, args)


if __name__ == "__main__":
    main()
