"""Backups end to end (issue 14): a real agent reads a 1C + PostgreSQL server fixture
(tests/fixtures/hosts/pg-backup-server) whose backups come from cron lines, a cron.daily script,
a systemd timer and the catalogues of pg_probackup, pgBackRest and Barman, and streams it to a real
server. The host is not called "no backup" (no backup package is needed to see its jobs); a stale
catalogue instance and a failed Barman backup are findings; `dozorctl host show` lists the jobs
with their freshness; when the client cleans up the stale and failed catalogues and a fresh backup
completes, both findings resolve after the next inventory and the change log says which jobs went.
"""
import json
import os
import shutil
import time
from harness import by_rule, check, log, run_test, start_fixture_estate, wait_for_inventory, wait_until, write_file

FIXTURES = os.environ.get("DOZOR_FIXTURES_DIR",
                          os.path.join(os.path.dirname(__file__), "..", "fixtures"))
ORG = "ООО «Бэкап»"


def findings(server, *args):
    return server.ctl("findings", "list", "--org", ORG, *args)["findings"]


def probackup_control(end):
    stamp = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(end))
    start = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(end - 60))
    return f"backup-mode = DELTA\nstart-time = '{start}'\nend-time = '{stamp}'\nstatus = OK\n"


def body(workdir, procs):
    now = int(time.time())
    root = os.path.join(workdir, "machine")
    # The whole machine (hardware, OS, network) from debian-server, its backups from
    # pg-backup-server on top.
    shutil.copytree(os.path.join(FIXTURES, "hosts", "debian-server"), root, symlinks=True)
    shutil.copytree(os.path.join(FIXTURES, "hosts", "pg-backup-server"), root, symlinks=True,
                    dirs_exist_ok=True)
    # Fresh where the client's backups work: tonight's pg_probackup backup of `main`, the dump
    # files the cron jobs wrote (git keeps no mtimes, so they are made here).
    write_file(os.path.join(root, "var/lib/pg_probackup/backups/main/NOW001/backup.control"),
               probackup_control(now - 3600))
    write_file(os.path.join(root, "backup/pg/buh_today.dump.gz"), "x", now - 7200)
    write_file(os.path.join(root, "backup/1c/zup.dt"), "x", now - 5400)
    # pgBackRest's newest backup is tonight's too.
    info_path = os.path.join(root, "var/lib/pgbackrest/backup/buh/backup.info")
    with open(info_path) as f:
        info = f.read()
    write_file(info_path, info.replace('"backup-timestamp-stop":1793410320',
                                       f'"backup-timestamp-stop":{now - 4000}'))

    server, _, agent_id = start_fixture_estate(workdir, procs, ORG, root)

    # 1. The jobs reach the inventory, with their freshness.
    jobs = wait_for_inventory(server, agent_id, lambda inv: inv.get("software", {}).get("backup_jobs"),
                              "inventory with backup jobs")
    tools = {j["tool"] for j in jobs}
    check({"pg_probackup", "pg_dump", "1c-dumpib", "wal-g", "restic", "pgbackrest", "barman"} <= tools,
          f"every kind of job is found: {sorted(tools)}")
    main = [j for j in jobs if j["tool"] == "pg_probackup" and j.get("target") == "main"]
    check(len(main) == 1 and main[0]["source"] == "cron:/etc/cron.d/pg_probackup:6"
          and main[0].get("freshness_source") == "catalog"
          and int(main[0]["last_success_time"]) == now - 3600,
          f"the cron job takes tonight's catalogue entry: {main}")
    text = server.ctl("--lang", "ru", "host", "show", agent_id, json_out=False).stdout
    check("Резервное копирование" in text and "последняя завершённая копия" in text and "с ошибкой: " in text,
          f"dozorctl host show sums up the backups: {text[:1500]}")
    text = server.ctl("--lang", "ru", "host", "inventory", agent_id, json_out=False).stdout
    check("Резервное копирование" in text and "pg_probackup" in text and "cron:/etc/cron.d/pg_probackup:6" in text,
          f"dozorctl host inventory lists the backup jobs: {text[-2500:]}")

    # 2. Findings: stale (the legacy instance nobody backs up) and failed (Barman); no "no backup".
    items = wait_until(lambda: (lambda f: f if by_rule(f, "backup-stale") and by_rule(f, "backup-failed") else None)(findings(server)),
                       90, "backup-stale and backup-failed findings")
    stale = json.dumps(by_rule(items, "backup-stale")[0]["evidence"], ensure_ascii=False)
    check("legacy" in stale and "main" not in stale, f"only the legacy instance is stale: {stale}")
    failed = json.dumps(by_rule(items, "backup-failed")[0]["evidence"], ensure_ascii=False)
    check("barman" in failed and "Connection refused" in failed, f"the failed Barman backup, with its error: {failed}")
    check(not by_rule(items, "no-backup-software") and not by_rule(items, "estate-no-backup"),
          f"a backed-up server is not 'no backup': {[f['rule_id'] for f in items]}")

    # 3. The client drops the legacy instance and fixes Barman: both resolve at the next inventory.
    shutil.rmtree(os.path.join(root, "var/lib/pg_probackup/backups/legacy"))
    write_file(os.path.join(root, "var/lib/barman/pg/base/20261031T020001/backup.info"),
               "status=DONE\nbegin_time={}\nend_time={}\nerror=None\n".format(
                   time.strftime("%Y-%m-%d %H:%M:%S+00:00", time.gmtime(now - 1900)),
                   time.strftime("%Y-%m-%d %H:%M:%S+00:00", time.gmtime(now - 1800))))
    server.ctl("host", "collect", agent_id)
    wait_until(lambda: all(f["state"] == "resolved" for f in findings(server, "--state", "all")
                           if f["rule_id"] in ("backup-stale", "backup-failed")), 90,
               "backup-stale and backup-failed resolved")
    changes = server.ctl("host", "changes", agent_id)["changes"]
    gone = [c for c in changes if c["category"] == "backup" and c["action"] == "removed"]
    check(any("legacy" in c["subject"] for c in gone), f"the change log names the removed job: {gone}")
    log(f"{len(jobs)} backup jobs; stale and failed findings opened and resolved")


if __name__ == "__main__":
    run_test(body)
