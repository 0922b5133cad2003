"""Databases and the host firewall end to end (issue 14): a real agent reads a 1C + PostgreSQL
server fixture (tests/fixtures/hosts/pg-backup-server on debian-server) whose PostgreSQL listens on
all addresses with a pg_hba.conf that admits any address, whose nftables ruleset admits PostgreSQL
only from the 1C application servers, and whose only database backups are a nightly pg_dump of
`buh` and the dump files it leaves (canned psql output lists buh, zup, trade and postgres). The API
shows each database with its newest backup, the data directory's filesystem and the firewall's
verdict per port; database-backup-stale names zup (nothing covers it) and trade (its newest dump
file is five days old) but not buh or the maintenance database; database-exposed stays silent
while the firewall restricts the port and fires once the ruleset opens it; fresh dumps of zup and
trade resolve their findings.
"""
import json
import os
import shutil
import time
from harness import by_rule, check, log, run_test, start_fixture_estate, wait_for_inventory, wait_until, write_file

FIXTURES = os.environ.get("DOZOR_FIXTURES_DIR",
                          os.path.join(os.path.dirname(__file__), "..", "fixtures"))
ORG = "ООО «База»"
NFT = "dozor-fixture/commands/nft-list-ruleset.txt"


def findings(server, *args):
    return server.ctl("findings", "list", "--org", ORG, *args)["findings"]


def body(workdir, procs):
    now = int(time.time())
    root = os.path.join(workdir, "machine")
    shutil.copytree(os.path.join(FIXTURES, "hosts", "debian-server"), root, symlinks=True)
    shutil.copytree(os.path.join(FIXTURES, "hosts", "pg-backup-server"), root, symlinks=True,
                    dirs_exist_ok=True)
    # No instance-level backup tool here: only the postgres crontab's pg_dump of buh (and the 1C
    # upload of a file infobase, which is no PostgreSQL database).
    for path in ["etc/cron.d/pg_probackup", "etc/cron.d/wal-g", "etc/pgbackrest.conf",
                 "etc/barman.conf"]:
        os.remove(os.path.join(root, path))
    for path in ["var/lib/pg_probackup", "var/lib/pgbackrest", "var/lib/barman"]:
        shutil.rmtree(os.path.join(root, path))
    write_file(os.path.join(root, "backup/pg/buh_today.dump.gz"), "x", now - 7200)
    write_file(os.path.join(root, "backup/pg/trade_old.dump.gz"), "x", now - 5 * 86400)
    # PostgreSQL (port 5433 = 0x1539) listens on every IPv4 address.
    with open(os.path.join(root, "proc/net/tcp"), "a") as f:
        f.write("   9: 00000000:1539 00000000:0000 0A 00000000:00000000 00:00000000 00000000"
                "   113        0 10021 1 0000000000000000 100 0 0 10 0\n")

    server, _, agent_id = start_fixture_estate(workdir, procs, ORG, root)

    # 1. The inventory: databases with their newest backup, the data filesystem, the firewall.
    def with_databases(inv):
        servers = inv.get("software", {}).get("database_servers") or []
        return inv if servers and servers[0].get("databases") and inv.get("security") else None
    inv = wait_for_inventory(server, agent_id, with_databases,
                             "inventory with databases and the host firewall")
    pg = inv["software"]["database_servers"][0]
    check(pg.get("databases_listed") is True and int(pg["port"]) == 5433, f"psql listed them: {pg}")
    dbs = {d["name"]: d for d in pg["databases"]}
    check(sorted(dbs) == ["buh", "postgres", "trade", "zup"], f"the four databases: {sorted(dbs)}")
    check(int(dbs["buh"]["size_bytes"]) == 1503238553, f"with sizes: {dbs['buh']}")
    check(int(dbs["buh"].get("last_backup_time", 0)) == now - 7200
          and dbs["buh"]["last_backup_source"].startswith("pg_dump buh (cron:"),
          f"buh: tonight's pg_dump: {dbs['buh']}")
    check(int(dbs["trade"].get("last_backup_time", 0)) == now - 5 * 86400
          and dbs["trade"]["last_backup_source"] == "file /backup/pg/trade_old.dump.gz",
          f"trade: its newest dump file: {dbs['trade']}")
    check(int(dbs["zup"].get("last_backup_time", 0)) == 0, f"zup: nothing covers it: {dbs['zup']}")
    check(int(pg.get("data_fs_total_bytes", 0)) > 0
          and pg.get("data_mount_point") == "/var/lib/postgresql",
          f"the data directory's filesystem: {pg}")
    firewall = inv["security"]["host_firewall"]
    check(firewall["backend"] == "nftables" and firewall["input_policy"] == "drop",
          f"the nftables ruleset: {firewall}")
    verdicts = {(int(p["family"]), int(p["port"])): p for p in firewall["ports"]}
    check(verdicts[(4, 5433)]["verdict"] == "restricted"
          and verdicts[(4, 5433)]["sources"] == "10.0.0.20, 10.0.1.0/24",
          f"PostgreSQL only from the 1C servers: {verdicts.get((4, 5433))}")
    check(verdicts[(4, 22)]["verdict"] == "restricted" and verdicts[(4, 3306)]["verdict"] == "closed",
          f"ssh from the admin subnet, the rest closed: {firewall['ports']}")
    text = server.ctl("--lang", "ru", "host", "show", agent_id, json_out=False).stdout
    check("Базы данных" in text and "trade" in text and "ограничен: 10.0.0.20" in text
          and "Межсетевой экран хоста" in text, f"dozorctl host show: {text[:3000]}")

    # 2. Findings: zup and trade have no fresh backup while buh has; PostgreSQL is not exposed.
    def stale_pair():
        items = findings(server)
        stale = by_rule(items, "database-backup-stale")
        return items if sorted(f["object"] for f in stale) == ["trade", "zup"] else None
    items = wait_until(stale_pair, 90, "database-backup-stale for zup and trade")
    evidence = json.dumps([f["evidence"] for f in by_rule(items, "database-backup-stale")],
                          ensure_ascii=False)
    check("trade_old.dump.gz" in evidence and "buh" not in evidence, f"the evidence: {evidence}")
    check(not by_rule(items, "database-exposed") and not by_rule(items, "firewall-absent"),
          f"the firewall restricts PostgreSQL: {[f['rule_id'] for f in items]}")

    # 3. The ruleset opens PostgreSQL to everyone: exposed. Fresh dumps resolve the stale ones.
    nft = os.path.join(root, NFT)
    with open(nft) as f:
        ruleset = f.read()
    write_file(nft, ruleset.replace("ip saddr @onec_app_servers tcp dport 5433", "tcp dport 5433"))
    write_file(os.path.join(root, "backup/pg/trade_new.dump.gz"), "x", now - 600)
    write_file(os.path.join(root, "backup/pg/zup_new.dump.gz"), "x", now - 600)
    server.ctl("host", "collect", agent_id)
    exposed = wait_until(lambda: by_rule(findings(server), "database-exposed"), 90,
                         "database-exposed once the firewall opens the port")
    check("open to any address" in json.dumps(exposed[0]["evidence"], ensure_ascii=False),
          f"the evidence names the firewall's verdict: {exposed[0]['evidence']}")
    wait_until(lambda: all(f["state"] == "resolved" for f in findings(server, "--state", "all")
                           if f["rule_id"] == "database-backup-stale"), 90,
               "database-backup-stale resolved by fresh dumps")
    log(f"{len(dbs)} databases; stale and exposed findings fired and resolved as the host changed")


if __name__ == "__main__":
    run_test(body)
