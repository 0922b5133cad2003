#!/usr/bin/env python3
"""`dozor-server store migrate` on a database the end-to-end path made: a server on SQLite with a
real agent reading a fixture machine (inventory, health, findings, a contract move, a person, a
note), stopped; its database copied into an empty PostgreSQL database; the same server started on
PostgreSQL. The management API answers the same before and after (organisations, hosts, inventory,
changes, findings with their events, users, the report's JSON), and the agent goes on streaming
into the new store with its old identity.
"""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from harness import (BIN_DIR, SERVER_BIN, Agent, Server, check, log, postgres_admin_conninfo,  # noqa: E402
                     psql, run_test, wait_until)

FIXTURES = os.environ.get("DOZOR_FIXTURES_DIR",
                          os.path.join(os.path.dirname(__file__), "..", "fixtures"))
ORG = "ООО «Переезд»"


# Moved by the new server's first evaluation (it runs one at start), not by the migration.
VOLATILE = {"last_seen", "last_seen_ms", "status", "generated_at", "generated_at_ms"}


def stable(value):
    if isinstance(value, dict):
        return {k: stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


def snapshot(server, agent_id):
    """The API answers compared before and after, without fields that move by themselves."""
    def without(item, *keys):
        return {k: v for k, v in item.items() if k not in keys}
    orgs = server.ctl("org", "list")
    hosts = server.ctl("host", "list")["hosts"]
    host = server.ctl("host", "show", agent_id)
    findings = server.ctl("findings", "list", "--org", ORG)["findings"]
    events = {f["id"]: server.ctl("findings", "show", str(f["id"])).get("events") for f in findings}
    changes = server.ctl("host", "changes", agent_id)
    users = server.ctl("user", "list")
    report = server.ctl("report", "--org", ORG, "--format", "json", "--lang", "en", "-o", "-",
                        json_out=False).stdout
    report = json.loads(report)
    report.pop("generated_at", None)
    report.pop("generated_at_ms", None)
    return stable({
        "orgs": orgs,
        "hosts": [without(h, "status", "last_seen_ms", "last_seen") for h in hosts],
        "inventory": (host.get("inventory") or {}).get("inventory"),
        "findings": findings,
        "events": events,
        "changes": changes,
        "users": users,
        "report_hosts": report.get("hosts"),
        "report_findings": report.get("findings"),
    })


def body(workdir, procs):
    root = os.path.join(workdir, "machine")
    shutil.copytree(os.path.join(FIXTURES, "hosts", "debian-server"), root, symlinks=True)
    server = Server(workdir, tls=False, name="sqlite-server", postgres=None)
    check(server.postgres is None or os.environ.get("DOZOR_TEST_STORE") != "postgresql",
          "the first server runs on SQLite")
    server.postgres = None
    ports = (0, 0)
    server.start(*ports, extra=["--rules-full-interval", "10"])
    procs.append(server)
    token, _ = server.create_org_and_token(ORG)
    agent = Agent(workdir, "agent1", server)
    procs.append(agent)
    agent.enroll(token)
    agent.start("--root", root, "--health-interval", "2")
    agent_id = agent.identity()["agent_id"]
    wait_until(lambda: server.ctl("findings", "list", "--org", ORG)["findings"], 60,
               "findings from the fixture machine")
    server.ctl("org", "update", ORG, "--status", "remediation")
    server.ctl("user", "create", "client1", "--role", "client", "--org", ORG, "--name", "Клиент")
    time.sleep(5)
    agent.stop()
    wait_until(lambda: agent.spool_count() == 0, 30, "spool empty")
    time.sleep(12)  # one more full evaluation with the agent quiet, then nothing moves
    before = snapshot(server, agent_id)
    server.stop()

    admin = postgres_admin_conninfo()
    name = "migrated_%d" % os.getpid()
    psql(admin, f"CREATE DATABASE {name} TEMPLATE template0")
    target = f"{admin} dbname={name}"
    result = subprocess.run([SERVER_BIN, "store", "migrate", "--from",
                             "sqlite:" + server.db_path, "--to", target, "--batch-rows", "100"],
                            capture_output=True, text=True, timeout=300)
    log(result.stdout[-3000:])
    check(result.returncode == 0, f"store migrate failed ({result.returncode}): {result.stderr}")
    check("MISMATCH" not in result.stdout, "every table verified")

    # The same state directory (admin token, import key), now on PostgreSQL.
    migrated = Server(workdir, tls=False, name="sqlite-server", postgres=target)
    procs.append(migrated)
    migrated.start(extra=["--rules-full-interval", "3600"])
    after = snapshot(migrated, agent_id)
    for key in before:
        check(before[key] == after[key],
              f"{key} differs after the migration:\nbefore {json.dumps(before[key], ensure_ascii=False)[:1500]}"
              f"\nafter  {json.dumps(after[key], ensure_ascii=False)[:1500]}")
    log("organisations, hosts, inventory, changes, findings and their events, users and the "
        "report answer the same on PostgreSQL")

    # The agent carries on with its identity, against the migrated server.
    agent.server = migrated
    agent.start("--root", root, "--health-interval", "1")
    seq_before = migrated.db().execute("SELECT last_seq FROM agents WHERE agent_id = ?",
                                       (agent_id,)).fetchone()[0]
    wait_until(lambda: migrated.db().execute("SELECT last_seq FROM agents WHERE agent_id = ?",
                                             (agent_id,)).fetchone()[0] > seq_before + 2, 60,
               "the agent streaming into the migrated store")
    agent.stop()


run_test(body)
