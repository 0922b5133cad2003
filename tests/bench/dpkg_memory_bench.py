#!/usr/bin/env python3
"""Peak memory of the agent's one-shot inventory on a machine with many dpkg packages.

Generates fixture roots whose /var/lib/dpkg/status holds N packages shaped like a real Debian
status file (~1.7 KB a stanza: Depends, Conffiles, a multi-line Description; a few held
packages), with the info/<name>.list files the collector stats for install times, then runs
`dozor-agent collect --no-health --root ROOT` once per size and prints the child's peak RSS
(getrusage ru_maxrss of that child alone) and wall time. Prints numbers; with --check it also
fails when a peak exceeds its goal (1k packages: 16 MiB, 20k packages: 40 MiB).

Usage: tests/bench/dpkg_memory_bench.py [BUILD_DIR] [--agent-bin PATH] [--sizes 1000,20000]
                                        [--check] [--keep DIR]
"""
import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

GOALS_MIB = {1000: 16.0, 20000: 40.0}

DESCRIPTION_LINE = " This line pads the long description the way real packages do, about seventy.\n"


def stanza(index):
    name = f"pkg-{index:05d}-lib"
    held = index % 997 == 0
    status = "hold ok installed" if held else "install ok installed"
    lines = [
        f"Package: {name}\n",
        f"Status: {status}\n",
        "Priority: optional\n",
        "Section: libs\n",
        f"Installed-Size: {100 + index % 5000}\n",
        "Maintainer: Debian Library Maintainers <pkg-libs@lists.alioth.debian.org>\n",
        "Architecture: amd64\n",
        "Multi-Arch: same\n",
        f"Source: src-{index:05d}\n",
        f"Version: 1:{index % 40}.{index % 13}.{index % 7}-{index % 5}+deb12u1\n",
        "Depends: libc6 (>= 2.34), libgcc-s1 (>= 3.0), libstdc++6 (>= 11), zlib1g (>= 1:1.2.0),"
        " libssl3 (>= 3.0.0), libsystemd0 (>= 246)\n",
        "Breaks: old-package (<< 2.0)\n",
        "Conffiles:\n",
        f" /etc/{name}/main.conf 0123456789abcdef0123456789abcdef\n",
        f" /etc/{name}/extra.conf fedcba9876543210fedcba9876543210\n",
        f"Description: library number {index} of the generated estate\n",
    ]
    lines += [DESCRIPTION_LINE] * 12
    lines.append(" .\n")
    lines.append(f"Homepage: https://example.org/{name}\n")
    return "".join(lines) + "\n"


def make_root(directory, count):
    dpkg = os.path.join(directory, "var/lib/dpkg")
    info = os.path.join(dpkg, "info")
    os.makedirs(info, exist_ok=True)
    with open(os.path.join(dpkg, "status"), "w") as status:
        for index in range(count):
            status.write(stanza(index))
            open(os.path.join(info, f"pkg-{index:05d}-lib.list"), "w").close()
    etc = os.path.join(directory, "etc")
    os.makedirs(etc, exist_ok=True)
    with open(os.path.join(etc, "os-release"), "w") as f:
        f.write('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n')
    with open(os.path.join(etc, "hostname"), "w") as f:
        f.write("many-packages\n")
    with open(os.path.join(etc, "machine-id"), "w") as f:
        f.write("0123456789abcdef0123456789abcdef\n")
    return os.path.getsize(os.path.join(dpkg, "status"))


def run_collect(agent_bin, root, output):
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execv(agent_bin, [agent_bin, "collect", "--no-health", "--root", root, "-o", output,
                             "--token", "bench-token"])
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024.0, wall


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build", nargs="?", default="build")
    parser.add_argument("--agent-bin")
    parser.add_argument("--sizes", default="1000,20000")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--keep", help="build the fixture roots here and keep them")
    args = parser.parse_args()
    agent_bin = args.agent_bin or os.path.join(args.build, "agent", "dozor-agent")
    base = args.keep or tempfile.mkdtemp(prefix="dozor-dpkg-mem-")
    failed = False
    try:
        for count in (int(s) for s in args.sizes.split(",")):
            root = os.path.join(base, f"root-{count}")
            shutil.rmtree(root, ignore_errors=True)
            size = make_root(root, count)
            output = os.path.join(base, f"snapshot-{count}.json")
            code, peak, wall = run_collect(agent_bin, root, output)
            goal = GOALS_MIB.get(count)
            verdict = "" if goal is None else (" (goal %.0f MiB: %s)" % (goal, "met" if peak <= goal else "MISSED"))
            print(f"{count} packages, status file {size / 1048576:.1f} MiB: collect exit {code}, "
                  f"wall {wall * 1000:.0f} ms, peak RSS {peak:.1f} MiB{verdict}")
            if code != 0 or (goal is not None and peak > goal):
                failed = True
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 1 if (args.check and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
