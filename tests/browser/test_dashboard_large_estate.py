"""The dashboard on a large estate (300 client organisations, 3,000 hosts, ~30,000 active
findings: the people benchmark's estate, tests/bench/README.md) in headless Chromium: the overview,
a client page and a host page with 30 days of charts must render completely; the time until each is
interactive (Performance API, from navigation start to the first usable table or chart) is printed
and written to timings-large.json beside the screenshots. The numbers are reported, not asserted:
a loaded CI machine must not fail a correct build (docs: tests/bench/README.md)."""
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from harness import BIN_DIR, Server, check, log, run_test  # noqa: E402
from test_accounts_scope import Api, PASSWORD  # noqa: E402
from test_dashboard import ARTIFACTS, CHROMIUM, DASHBOARD_DIR  # noqa: E402

BENCH = os.path.join(BIN_DIR, "tests", "bench", "people_bench")
CACHE = os.environ.get("PEOPLE_BENCH_CACHE", "/tmp/dozor-people-bench")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def body(workdir, procs):
    check(os.path.exists(BENCH), f"{BENCH} is missing (DOZOR_BUILD_BENCH=ON builds it)")
    os.makedirs(CACHE, exist_ok=True)
    estate = os.path.join(CACHE, "estate.db")
    started = time.time()
    subprocess.run([BENCH, "seed", "--db", estate], check=True, stdout=subprocess.DEVNULL)
    log(f"estate ready in {time.time() - started:.0f} s")
    state = os.path.join(workdir, "server")  # the harness server's --state-dir
    os.makedirs(state, exist_ok=True)
    source = sqlite3.connect(estate)
    target = sqlite3.connect(os.path.join(state, "dozor.db"))
    source.backup(target)
    target.close()
    source.close()
    subprocess.run([BENCH, "refresh", "--db", os.path.join(state, "dozor.db")], check=True, stdout=subprocess.DEVNULL)

    server = Server(workdir, tls=False).start()
    procs.append(server)
    # The start-up evaluation of 30,000 findings: measure the pages after it, not during it.
    for _ in range(180):
        before = cpu_ticks(server.proc.pid)
        time.sleep(1)
        if cpu_ticks(server.proc.pid) - before < 5:
            break
    with open(server.admin_token_file) as f:
        admin = Api(server.http_port, bearer=f.read().strip())
    status, created, _, _ = admin.call("POST", "/api/v1/users", {"login": "boss", "role": "admin", "password": PASSWORD})
    check(status == 201, f"admin user: {status} {created}")
    status, hosts, _, _ = admin.call("GET", "/api/v1/hosts?org=client-7&limit=1")
    check(status == 200 and hosts["hosts"], f"a host of client-7: {status} {hosts}")
    status, org, _, _ = admin.call("GET", "/api/v1/orgs/client-7")
    env = dict(os.environ, DOZOR_URL=f"http://127.0.0.1:{server.http_port}", DOZOR_PASSWORD=PASSWORD,
               DOZOR_ORG_ID=str(org["id"]), DOZOR_AGENT_ID=hosts["hosts"][0]["agent_id"], DOZOR_CHROMIUM=CHROMIUM,
               DOZOR_ARTIFACT_DIR=ARTIFACTS, DOZOR_DASHBOARD_DIR=os.path.abspath(DASHBOARD_DIR))
    os.makedirs(ARTIFACTS, exist_ok=True)
    result = subprocess.run(["node", os.path.join(os.path.dirname(__file__), "large_estate.mjs")], env=env, timeout=600)
    check(result.returncode == 0, f"the browser script failed (rc {result.returncode})")


if __name__ == "__main__":
    run_test(body)
