#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (tests/fuzz/corpus/<target>/) from the test fixtures and
from a one-shot snapshot the real agent writes. Rerun after a format change; the files are
committed so CI and every developer start from the same seeds.

  tests/fuzz/make_seeds.py BUILD_DIR        (needs BUILD_DIR/agent/dozor-agent)
"""
import base64
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "abuse"))
from protowire import length_delimited  # noqa: E402  (stdlib only, shared with the abuse tests)

FIXTURES = os.path.join(ROOT, "tests", "fixtures")
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")

# agent_text: the first byte picks the parser (agent_text_fuzz.cpp); fixture files per parser.
AGENT_TEXT = {
    0: ["proc/cpuinfo"], 1: ["proc/meminfo"], 2: ["dozor-fixture/commands/smartctl-sda.json"],
    4: ["etc/os-release"], 5: ["etc/passwd"], 6: ["etc/group"],
    7: ["dozor-fixture/commands/apt-get-dist-upgrade.txt"], 9: ["dozor-fixture/adjtimex"],
    10: ["proc/stat"], 11: ["proc/loadavg"], 12: ["proc/meminfo"], 13: ["proc/diskstats"],
    14: ["proc/net/dev"], 15: ["proc/mounts"], 16: ["proc/1000/stat"],
    17: ["proc/net/tcp", "proc/net/udp6"], 18: ["proc/net/route", "proc/net/ipv6_route"],
    19: ["proc/net/if_inet6", "dozor-fixture/ipv4-addresses"], 20: ["etc/resolv.conf"],
    21: ["var/lib/dpkg/status"], 23: ["dozor-fixture/systemctl-list-units.txt"],
    24: ["var/spool/cron/crontabs/postgres"], 25: ["etc/cron.d/pg_probackup", "etc/cron.d/wal-g"],
    26: ["etc/cron.daily/1c-dump", "usr/local/bin/restic-backup.sh"],
    27: ["var/lib/pg_probackup/backups/main/T2Y3C3/backup.control",
         "var/lib/pgbackrest/backup/buh/backup.info",
         "var/lib/barman/pg/base/20261031T020001/backup.info"],
    28: ["lib/systemd/system/restic-backup.timer", "lib/systemd/system/restic-backup.service"],
    29: ["dozor-fixture/systemctl-show.txt", "etc/pgbackrest.conf", "etc/barman.d/pg.conf"],
    30: ["etc/postgresql/15/main/postgresql.conf", "etc/postgresql/15/main/conf.d/10-1c.conf"],
    31: ["etc/postgresql/15/main/pg_hba.conf"],
    32: ["proc/mdstat"], 33: ["dozor-fixture/zpool-list.txt", "dozor-fixture/zpool-status.txt"],
    34: ["dozor-fixture/storcli-call-vall-show.txt"],
    35: ["dozor-fixture/upsc-eaton.txt", "var/log/apcupsd.status", "etc/nut/upsmon.conf",
         "etc/nut/ups.conf", "etc/nut/nut.conf"],
    36: ["dozor-fixture/commands/rac-cluster-list.txt",
         "dozor-fixture/commands/rac-infobase-summary-list-e6c8f5a2-3b1d-4c9e-9f0a-1d2c3b4a5f60.txt"],
    37: ["opt/1cv8/conf/logcfg.xml"],
    38: ["proc/3001/cmdline", "proc/3010/cmdline"],
    40: ["etc/apt/sources.list"], 41: ["etc/apt/sources.list.d/docker.sources"],
    42: ["etc/yum.repos.d/rocky.repo", "etc/yum.repos.d/epel.repo"],
    43: ["var/lib/dpkg/status"], 44: ["proc/meminfo"],
    46: ["etc/group"], 47: ["usr/share/misc/pci.ids"],
    48: ["dozor-fixture/commands/psql-databases-5433.txt"],
    49: ["dozor-fixture/commands/nft-list-ruleset.txt"],
    50: ["dozor-fixture/commands/iptables-save.txt"],
    51: ["etc/shadow"],
    53: ["etc/firewalld/zones/public.xml", "etc/firewalld/zones/onec.xml",
         "usr/lib/firewalld/zones/trusted.xml"],
    54: ["etc/firewalld/services/1c-cluster.xml", "usr/lib/firewalld/services/samba-client.xml",
         "usr/lib/firewalld/policies/allow-host-ipv6.xml", "etc/firewalld/firewalld.conf",
         "etc/sysconfig/network-scripts/ifcfg-eth0"],
    55: ["opt/1cv8/conf/logcfg.xml", "usr/lib/firewalld/policies/gateway-world-to-HOST.xml"],
}


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def agent_text():
    for host in sorted(os.listdir(os.path.join(FIXTURES, "hosts"))):
        base = os.path.join(FIXTURES, "hosts", host)
        for selector, paths in AGENT_TEXT.items():
            for path in paths:
                full = os.path.join(base, path)
                if os.path.isfile(full):
                    with open(full, "rb") as f:
                        text = f.read()[:65535]
                    write("agent_text", f"{host}-{selector:02d}-{os.path.basename(path)}",
                          bytes([selector]) + text)
        rpmdb = os.path.join(base, "var/lib/rpm/rpmdb.sqlite")
        if os.path.isfile(rpmdb):
            db = sqlite3.connect(f"file:{rpmdb}?mode=ro", uri=True)
            for i, (blob,) in enumerate(db.execute("SELECT blob FROM Packages LIMIT 3")):
                write("agent_text", f"{host}-22-rpm-header-{i}", bytes([22]) + bytes(blob))
            db.close()
    write("agent_text", "empty-dpkg", bytes([21]))
    # A process list for FindOneCServerAgents: "name command line" per line.
    cluster = os.path.join(FIXTURES, "hosts", "onec-cluster", "proc")
    lines = []
    for pid in sorted(p for p in os.listdir(cluster) if p.isdigit()):
        with open(os.path.join(cluster, pid, "cmdline"), "rb") as f:
            argv = f.read().rstrip(b"\0").split(b"\0")
        lines.append(os.path.basename(argv[0]) + b" " + b" ".join(argv))
    write("agent_text", "onec-cluster-39-processes", bytes([39]) + b"\n".join(lines) + b"\n")
    # Binary login records (45): wtmp and lastlog as the debian-server scenario writes them, at a
    # fixed time so the seeds do not change with every run.
    sys.path.insert(0, os.path.join(FIXTURES, "hosts", "debian-server", "dozor-fixture"))
    import login_records  # noqa: E402
    with tempfile.TemporaryDirectory() as scratch:
        login_records.debian_server_scenario(scratch, now=1_790_000_000)
        for name in ("wtmp", "lastlog"):
            with open(os.path.join(scratch, "var/log", name), "rb") as f:
                data = f.read()
            # lastlog is sparse: its zeroed slots before uid 1000 are cut to keep the seed small.
            if name == "lastlog":
                data = data[1000 * login_records.LASTLOG_BYTES:]
            write("agent_text", f"debian-server-45-{name}", bytes([45]) + data)
    login_store_seeds(login_records)
    # The firewall judge's harder paths: firewalld's zone dispatch with goto, sets, a verdict map.
    write("agent_text", "firewalld-49-nft",
          bytes([49]) + b"table inet firewalld {\n set allow { type ipv4_addr; flags interval;"
          b" elements = { 10.0.0.0/24 } }\n chain filter_INPUT {\n"
          b"  type filter hook input priority filter + 10; policy accept;\n"
          b"  ct state { established, related } accept\n  iifname \"lo\" accept\n"
          b"  jump filter_INPUT_ZONES\n  tcp dport vmap { 22 : accept }\n"
          b"  reject with icmpx admin-prohibited\n }\n chain filter_INPUT_ZONES {\n"
          b"  iifname \"eth0\" goto filter_IN_public\n  goto filter_IN_public\n }\n"
          b" chain filter_IN_public {\n  ip saddr @allow tcp dport 5432 accept\n }\n}\n")


def login_store_seeds(login_records):
    """Shadow expiry and inactivity around a fixed now (51), and the rows of the lastlog2 and
    wtmpdb stores the login stores scenario writes, as the fuzz target's tab-separated lines (52)."""
    now = 1_790_000_000
    today = now // login_records.DAY
    write("agent_text", "shadow-expiry-51",
          bytes([51]) + (f"expired:$6$x:20000:0:99999:7::1:\n"
                         f"today:$6$x:20000:0:99999:7::{today}:\n"
                         f"inactive:$6$x:20000:0:90:7:30::\n"
                         f"mustchange:$6$x:0:0:90:7:30::\n"
                         f"locked:!$6$x:20000:0:99999:7:::\n"
                         f"huge:*:1:0:9223372036854775807:7:9223372036854775807::\n").encode())
    with tempfile.TemporaryDirectory() as scratch:
        login_records.login_stores_scenario(scratch, now=now)
        lines = []
        for db_path, query in (
                ("var/lib/lastlog/lastlog2.db", "SELECT Name, Time, TTY, RemoteHost FROM Lastlog2"),
                ("var/lib/wtmpdb/wtmp.db", "SELECT User, Login, TTY, RemoteHost FROM wtmp")):
            db = sqlite3.connect(f"file:{os.path.join(scratch, db_path)}?mode=ro", uri=True)
            lines += ["\t".join(str(value) for value in row) for row in db.execute(query)]
            db.close()
    write("agent_text", "login-stores-52-rows", bytes([52]) + ("\n".join(lines) + "\n").encode())


def windows_text():
    """windows_text: the first byte picks the parser (windows_text_fuzz.cpp); seeds from the
    Windows fixture machines (tests/fixtures/windows/)."""
    base = os.path.join(FIXTURES, "windows")
    for machine in sorted(os.listdir(base)):
        root = os.path.join(base, machine)
        if not os.path.isdir(root):
            continue
        for folder, _, files in os.walk(root):
            for name in sorted(files):
                full = os.path.join(folder, name)
                lower = name.lower()
                if lower.endswith(".reg"):
                    selector = 0
                elif lower == "ibases.v8i":
                    selector = 1
                elif lower == "nethasp.ini":
                    selector = 2
                elif lower in ("win32_operatingsystem.json", "msft_mpcomputerstatus.json",
                               "win32_service.json"):
                    selector = 9
                else:
                    continue
                with open(full, "rb") as f:
                    data = f.read()[:65535]
                if selector == 9:
                    # One instance: the harness reads a JSON object.
                    instances = json.loads(data.decode("utf-8-sig") or "[]")
                    if not instances:
                        continue
                    data = json.dumps(instances[0], ensure_ascii=False).encode()
                write("windows_text", f"{machine}-{selector:02d}-{name}", bytes([selector]) + data)
    write("windows_text", "ragent", bytes([3]) + b'"C:\\Program Files\\1cv8\\8.3.22.1709\\bin'
          b'\\ragent.exe" -srvc -agent -regport 1541 -port 1540 -range 1560:1591')
    write("windows_text", "cim-datetime", bytes([4]) + b"20241115093012.000000+180")
    write("windows_text", "object-path", bytes([5]) + "\\\\PC01\\root\\cimv2:Win32_Group."
          "Domain=\"PC01\",Name=\"Администраторы\"".encode())
    page = bytearray(512)
    page[2:14] = bytes([5, 0x33, 0, 100, 100, 3, 0, 0, 0, 0, 0, 0])
    write("windows_text", "smart-page", bytes([6]) + bytes(page))


def rule_file():
    pack = os.path.join(ROOT, "server", "rules", "pack")
    for name in sorted(os.listdir(pack))[:12]:
        if name.endswith(".toml"):
            with open(os.path.join(pack, name), "rb") as f:
                write("rule_file", name, f.read())


def from_snapshot(build_dir):
    agent = os.path.join(build_dir, "agent", "dozor-agent")
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "root")
        shutil.copytree(os.path.join(FIXTURES, "hosts", "debian-server"), root, symlinks=True)
        out = os.path.join(tmp, "host.dozor")
        subprocess.run([agent, "collect", "--root", root, "-o", out, "--token", "fuzz-seed-token"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(out, "rb") as f:
            snapshot = f.read()
    # The current format from the real agent. corpus/snapshot_file/v1-debian-server.dozor is kept
    # as committed (not rewritten here): the previous format, which must keep being refused.
    write("snapshot_file", "debian-server.dozor", snapshot)
    doc = json.loads(snapshot)
    doc.pop("health_payload", None)
    write("snapshot_file", "no-health.dozor", json.dumps(doc).encode())
    inventory = base64.b64decode(json.loads(snapshot)["payload"])
    health = base64.b64decode(json.loads(snapshot)["health_payload"])
    # AgentMessage { Report report = 1; }
    for name, report in (("inventory", inventory), ("health", health)):
        write("report_validate", name, length_delimited(1, report))


def http_request():
    def req(method, target, body=None, token="FUZZ-ADMIN"):
        head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        data = b""
        if body is not None:
            data = json.dumps(body).encode()
            head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        return head.encode() + b"\r\n" + data

    seeds = {
        "orgs-list": req("GET", "/api/v1/orgs"),
        "orgs-create": req("POST", "/api/v1/orgs", {"name": "acme", "display_name": "ACME Ltd"}),
        "orgs-patch": req("PATCH", "/api/v1/orgs/acme", {"contract_type": "technical"}),
        "org-get": req("GET", "/api/v1/orgs/1"),
        "token-create": req("POST", "/api/v1/orgs/acme/tokens", {"expires_in_hours": 24}),
        "hosts": req("GET", "/api/v1/orgs/acme/hosts?limit=10&offset=0", token="FUZZ-VIEWER"),
        "findings": req("GET", "/api/v1/orgs/acme/findings?state=open&severity=high"),
        "rules": req("GET", "/api/v1/rules", token="FUZZ-OPERATOR"),
        "api-token": req("POST", "/api/v1/tokens", {"name": "ops", "role": "operator"}),
        "report-json": req("GET", "/api/v1/orgs/acme/report?format=json"),
        "no-auth": req("GET", "/api/v1/orgs", token=None),
        "bad-token": req("GET", "/api/v1/orgs", token="dza_wrong"),
        "install": req("GET", "/install.sh", token=None),
        "escaped-path": req("GET", "/api/v1/orgs/a%2Fb/hosts?x=%zz"),
        "login": req("POST", "/api/v1/auth/login", {"login": "ENGINEER", "password": "x" * 12}, token=None),
        "login-cli": req("POST", "/api/v1/auth/login", {"login": "a", "password": "b", "client": "cli"}, token=None),
        "cookie-change": req("PUT", "/api/v1/orgs/Fuzz/notes", {"text": "n"}, token=None).replace(
            b"\r\n\r\n", b"\r\nCookie: a=b; dozor_session=dzs_00\r\nX-CSRF-Token: 00\r\n\r\n", 1),
        "engineer-host": req("GET", "/api/v1/hosts/none/inventory", token="FUZZ-ENGINEER"),
        "engineer-findings": req("GET", "/api/v1/findings?org=Fuzz&state=all", token="FUZZ-ENGINEER"),
        "client-comment": req("POST", "/api/v1/findings/1/comments", {"comment": "c"}, token="FUZZ-CLIENT"),
        "users-create": req("POST", "/api/v1/users", {"login": "u", "role": "client", "org": "Fuzz"}),
        "assign": req("PUT", "/api/v1/orgs/Fuzz/engineers/ENGINEER", {"kind": "backup", "specialty": "1C"}),
        "audit-log": req("GET", "/api/v1/audit-log?actor=ENGINEER&before=5&limit=3"),
        "me": req("PATCH", "/api/v1/me", {"language": "en"}, token="FUZZ-CLIENT"),
    }
    for name, data in seeds.items():
        write("http_request", name, data)


def health_block(build_dir):
    # Real compacted blocks: store_bench writes a day of samples for two agents and compacts them.
    bench = os.path.join(build_dir, "tests", "bench", "store_bench")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([bench, "--reports", "300", "--agents", "2", "--batch", "50", "--dir", tmp],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        db = sqlite3.connect(os.path.join(tmp, "bench.db"))
        rows = db.execute("SELECT data FROM health_blocks ORDER BY agent, start_at LIMIT 3").fetchall()
        db.close()
    for i, (data,) in enumerate(rows):
        write("health_block", f"block-{i}", bytes(data))
    write("health_block", "empty", b"")


def main():
    build_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
    agent_text()
    windows_text()
    rule_file()
    from_snapshot(build_dir)
    http_request()
    health_block(build_dir)
    for target in sorted(os.listdir(CORPUS)):
        print(f"{target}: {len(os.listdir(os.path.join(CORPUS, target)))} seeds")


if __name__ == "__main__":
    main()
