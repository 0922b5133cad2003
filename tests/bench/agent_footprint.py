#!/usr/bin/env python3
"""Agent footprint benchmark: prints numbers, asserts nothing.

  * one-shot inventory (`dozor-agent inventory`): wall time and peak RSS, cold (first run, includes
    the package manager's update simulation) and warm (median of N runs; the agent caches that query)
  * a running agent at a given cadence against a real local server: steady RSS and CPU % of one core

Usage: tests/bench/agent_footprint.py [BUILD_DIR] [--seconds 120] [--health-interval 60] [--runs 10]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))


def run_inventory(agent_bin):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([agent_bin, "inventory"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_maxrss / 1024.0, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def proc_stats(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = [int(l.split()[1]) for l in f if l.startswith("VmRSS:")][0] / 1024.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return rss, ticks / os.sysconf("SC_CLK_TCK")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build", nargs="?", default=os.path.join(os.path.dirname(__file__), "..", "..", "build"))
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--health-interval", type=int, default=60)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    os.environ["DOZOR_BIN_DIR"] = os.path.abspath(args.build)
    import harness  # after DOZOR_BIN_DIR is set

    # A fresh process pays for the package manager's update simulation once; the running agent
    # caches it, so runs 2..N of `inventory --repeat N` are what a scheduled inventory costs.
    cold = run_inventory(harness.AGENT_BIN)
    print(f"inventory one-shot process, cold: wall {cold[0]*1000:.0f} ms (includes apt/dnf simulation), "
          f"peak RSS incl. that child {cold[1]:.1f} MiB")
    result = subprocess.run([harness.AGENT_BIN, "inventory", "--repeat", str(args.runs + 1)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
    lines = [l for l in result.stderr.splitlines() if l.startswith("inventory run ")]
    warm = sorted(float(l.split(": ")[1].split(" ms")[0]) for l in lines[1:])
    peak = result.stderr.rsplit("(VmHWM):", 1)[-1].strip()
    print(f"inventory warm, {len(warm)} runs in one process: median {warm[len(warm)//2]:.1f} ms, "
          f"min {warm[0]:.1f}, max {warm[-1]:.1f}; peak RSS of dozor-agent {peak}")

    workdir = tempfile.mkdtemp(prefix="dozor-footprint-")
    server = harness.Server(workdir, tls=True).start()
    try:
        token, _ = server.create_org_and_token("Footprint")
        agent = harness.Agent(workdir, "agent", server)
        agent.enroll(token)
        agent.start("--health-interval", str(args.health_interval))
        harness.wait_until(lambda: agent.inventories_collected() >= 1, 120, "first inventory")
        time.sleep(5)
        rss0, cpu0 = proc_stats(agent.proc.pid)
        t0 = time.time()
        peak = rss0
        while time.time() - t0 < args.seconds:
            time.sleep(1)
            rss, _ = proc_stats(agent.proc.pid)
            peak = max(peak, rss)
        rss1, cpu1 = proc_stats(agent.proc.pid)
        elapsed = time.time() - t0
        print(f"running agent, health every {args.health_interval} s, measured {elapsed:.0f} s after the first inventory:")
        print(f"  RSS {rss1:.1f} MiB (peak {peak:.1f} MiB), CPU {100*(cpu1-cpu0)/elapsed:.4f} % of one core "
              f"({(cpu1-cpu0)*1000:.0f} ms CPU)")
        agent.stop()
    finally:
        server.stop()
        subprocess.run(["rm", "-rf", workdir])


if __name__ == "__main__":
    main()
