#!/usr/bin/env python3
"""One throw-away PostgreSQL 15 cluster for a whole CTest run (a CTest fixture).

    test_cluster.py start DIR   initdb + pg_ctl start in DIR/data (as `nobody` when run as root:
                                the server refuses root), listening on a free loopback port and a
                                socket in DIR; writes DIR/conninfo ("host=127.0.0.1 port=N
                                user=dozor dbname=postgres") once it accepts connections
    test_cluster.py stop DIR    stops it (fast) and removes DIR
    test_cluster.py outage DIR SECONDS
                                stops it (fast: connections are cut), waits, starts it again on
                                the same port (the PostgreSQL-restart tests)

The suites that need PostgreSQL (FIXTURES_REQUIRED dozor_postgres) read DIR/conninfo from the
DOZOR_TEST_POSTGRES_CONNINFO_FILE variable and create a database of their own in it, so they
can run in parallel. Durability is off (fsync, synchronous_commit, full_page_writes): the data
is thrown away; the benchmarks start their own cluster with durable settings.

Exit 77 (CTest: skipped) on start when PostgreSQL 15 is not installed; the suites then fail
with a message saying so, because deploy/install-deps.sh installs it and CI must run them.
Stdlib only.
"""
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SUPERUSER = "dozor"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_as_args(root):
    if os.geteuid() != 0:
        return []
    user = pwd.getpwnam("nobody")
    for path in [root] + [p for p in root.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid)
    return ["runuser", "-u", "nobody", "--"]


def run(args, cwd):
    result = subprocess.run([str(a) for a in args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(str(a) for a in args)} failed ({result.returncode}):\n"
                 f"{result.stdout}")
    return result.stdout


def stop(root):
    data = root / "data"
    if (data / "postmaster.pid").exists():
        subprocess.run(run_as_args(root) + [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast",
                                            "-w", "-t", "60", "stop"],
                       cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shutil.rmtree(root, ignore_errors=True)


def start(root):
    if not (PG_BIN / "initdb").exists():
        print(f"PostgreSQL 15 is not installed ({PG_BIN}); run deploy/install-deps.sh")
        sys.exit(77)
    stop(root)  # what a killed earlier run left
    root.mkdir(parents=True)
    os.chmod(root, 0o755)
    as_user = run_as_args(root)
    data = root / "data"
    run(as_user + [PG_BIN / "initdb", "-D", data, "-U", SUPERUSER, "--no-locale", "-E", "UTF8",
                   "--auth=trust", "--no-sync"], cwd=root)
    port = free_port()
    settings = {
        "listen_addresses": "127.0.0.1",
        "port": str(port),
        "unix_socket_directories": str(root),
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "300",
        "shared_buffers": "64MB",
        "log_min_messages": "warning",
    }
    options = " ".join(f"-c {key}={value}" for key, value in settings.items())
    for attempt in range(3):
        result = subprocess.run(
            [str(a) for a in as_user + [PG_BIN / "pg_ctl", "-D", data, "-o", options, "-l",
                                        root / "server.log", "-w", "-t", "60", "start"]],
            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if result.returncode == 0:
            break
        # Another test took the port between free_port() and the bind: try another one.
        port = free_port()
        settings["port"] = str(port)
        options = " ".join(f"-c {key}={value}" for key, value in settings.items())
        time.sleep(0.2)
    else:
        log = (root / "server.log").read_text(errors="replace") if (root / "server.log").exists() else ""
        sys.exit(f"pg_ctl start failed:\n{result.stdout}\n{log}")
    (root / "pg_options").write_text(options)
    conninfo = f"host=127.0.0.1 port={port} user={SUPERUSER} dbname=postgres"
    (root / "conninfo.tmp").write_text(conninfo + "\n")
    os.replace(root / "conninfo.tmp", root / "conninfo")
    print(f"PostgreSQL 15 test cluster: {conninfo}")


def outage(root, seconds):
    as_user = run_as_args(root)
    data = root / "data"
    run(as_user + [PG_BIN / "pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "60", "stop"], cwd=root)
    time.sleep(seconds)
    options = (root / "pg_options").read_text()
    run(as_user + [PG_BIN / "pg_ctl", "-D", data, "-o", options, "-l", root / "server.log", "-w",
                   "-t", "60", "start"], cwd=root)


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("start", "stop", "outage"):
        sys.exit(__doc__)
    root = Path(sys.argv[2]).resolve()
    if sys.argv[1] == "start":
        start(root)
    elif sys.argv[1] == "outage":
        outage(root, float(sys.argv[3]) if len(sys.argv) > 3 else 5)
    else:
        stop(root)


if __name__ == "__main__":
    main()
