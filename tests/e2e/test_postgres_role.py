"""The agent lists PostgreSQL databases through the read-only role that the packaged
`postgres-role` script creates (deploy/packaging/agent/postgres-role), on a real PostgreSQL 15.

A throw-away cluster laid out as Debian's: the configuration in its own world-readable directory
(config_file=...), the data directory private to the cluster owner (nobody here), a Unix socket
only, `local all all peer`. A throw-away OS user plays the packaged agent's dozor-agent user; the
real dozor-agent runs as that user with `dozor-agent inventory`, as the service would.
  * before the grant: the databases are "unknown", with psql's refusal as the reason;
  * `postgres-role grant` creates the role (pg_monitor, no superuser, no password, 2 connections);
    the agent then lists every database with its size; granting again changes nothing;
  * the role reads sizes but not table data, and cannot create anything;
  * with pg_hba.conf not letting it in by peer, `check` fails (exit 4) and prints the line to add;
  * `revoke` drops the role; bad arguments are refused (exit 2) before anything runs.
Needs root (runuser, an OS user) and Debian's postgresql-15: skipped (77) otherwise."""
import json
import os
import pwd
import shutil
import subprocess
import sys

from harness import AGENT_BIN, Steps, check, free_port, log, run_test

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ROLE_SCRIPT = os.path.join(SOURCE_DIR, "deploy", "packaging", "agent", "postgres-role")
PG_BIN = "/usr/lib/postgresql/15/bin"
AGENT_USER = "dozor-pgrole-test"
OWNER = "nobody"


def run(argv, user=None, input_text=None, check_ok=True):
    if user is not None:
        argv = ["runuser", "-u", user, "--"] + argv
    result = subprocess.run(argv, input=input_text, capture_output=True, text=True, timeout=300,
                            cwd="/")
    if check_ok and result.returncode != 0:
        raise AssertionError(f"{argv} exit {result.returncode}: {result.stdout}{result.stderr}")
    return result


def body(workdir, procs):
    os.chmod(workdir, 0o755)  # the agent's user must reach the configuration, as on Debian
    etc = os.path.join(workdir, "etc")
    data = os.path.join(workdir, "data")
    sockets = os.path.join(workdir, "run")
    os.makedirs(etc)
    os.makedirs(sockets)
    owner = pwd.getpwnam(OWNER)
    os.chown(sockets, owner.pw_uid, owner.pw_gid)
    os.chmod(sockets, 0o755)
    port = free_port()
    config = os.path.join(etc, "postgresql.conf")
    hba = os.path.join(etc, "pg_hba.conf")

    if subprocess.run(["getent", "passwd", AGENT_USER], capture_output=True).returncode != 0:
        run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", AGENT_USER])
    cluster_started = False
    try:
        os.chown(workdir, owner.pw_uid, owner.pw_gid)
        run([f"{PG_BIN}/initdb", "-D", data, "-U", OWNER, "--no-locale", "-E", "UTF8",
             "--auth-local=peer", "--auth-host=reject"], user=OWNER)
        os.chown(workdir, 0, 0)
        with open(config, "w") as f:
            f.write(f"data_directory = '{data}'\nhba_file = '{hba}'\nport = {port}\n"
                    f"listen_addresses = ''\nunix_socket_directories = '{sockets}'\nfsync = off\n")
        with open(hba, "w") as f:
            f.write("local all all peer\n")
        for path in (config, hba):
            os.chmod(path, 0o644)
        run([f"{PG_BIN}/pg_ctl", "-D", data, "-o", f"-c config_file={config}",
             "-l", os.path.join(sockets, "server.log"), "-w", "-t", "60", "start"], user=OWNER)
        cluster_started = True

        def owner_sql(sql, database="postgres"):
            return run(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-h", sockets, "-p", str(port),
                        "-d", database], user=OWNER, input_text=sql).stdout

        owner_sql("create database buh; create database zup;")
        owner_sql("create table salaries(who text, amount int); insert into salaries values ('a', 1);",
                  database="buh")

        def agent_instance():
            """The agent's view of our instance, collected as the agent's OS user."""
            result = run([os.path.abspath(AGENT_BIN), "inventory"], user=AGENT_USER)
            software = json.loads(result.stdout)["inventory"]["software"]
            mine = [s for s in software.get("database_servers", []) if s.get("config_path") == config]
            check(len(mine) == 1, f"the agent found our instance once: {software.get('database_servers')}")
            label = f"postgresql {port}: databases"
            notes = [u for u in software.get("unavailable", []) if u.startswith(label)]
            return mine[0], notes

        def role_script(*args, check_ok=False):
            result = run(["sh", ROLE_SCRIPT, *args, "--port", str(port), "--socket-dir", sockets,
                          "--owner", OWNER, "--role", AGENT_USER], check_ok=check_ok)
            log(f"   postgres-role {' '.join(args)}: exit {result.returncode}\n{result.stdout}{result.stderr}".rstrip())
            return result

        steps = Steps()

        def before_grant():
            instance, notes = agent_instance()
            check(instance.get("running") is True, f"the postmaster was seen running: {instance}")
            check(not instance.get("databases_listed"), f"no databases listed yet: {instance}")
            check(notes and "refused the agent" in notes[0] and "postgres-role grant" in notes[0],
                  f"the reason and the remedy: {notes}")
            result = role_script("check")
            check(result.returncode == 4, "check fails before the grant")
            check("create its role first" in result.stdout, f"check says to grant: {result.stdout}")

        def grant():
            result = role_script("grant")
            check(result.returncode == 0, "grant succeeds")
            check("can list databases" in result.stdout, "grant verifies the agent's access")
            instance, notes = agent_instance()
            check(instance.get("databases_listed") is True, f"databases listed: {instance}")
            names = {d["name"]: int(d.get("size_bytes", 0)) for d in instance.get("databases", [])}
            check(set(names) == {"postgres", "buh", "zup"}, f"every database, no template: {names}")
            check(all(size > 1_000_000 for size in names.values()), f"real sizes: {names}")
            check(not notes, f"nothing unavailable now: {notes}")
            again = role_script("grant")
            check(again.returncode == 0, "granting again changes nothing and succeeds")
            attributes = owner_sql(
                "select rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolconnlimit, "
                f"rolpassword is null from pg_authid where rolname = '{AGENT_USER}'")
            check(attributes.strip() == "f|f|f|f|2|t", f"least privilege: {attributes!r}")
            members = owner_sql(
                "select string_agg(b.rolname, ',') from pg_auth_members m join pg_roles r on "
                f"r.oid = m.member join pg_roles b on b.oid = m.roleid where r.rolname = '{AGENT_USER}'")
            check(members.strip() == "pg_monitor", f"member of pg_monitor only: {members!r}")

        def read_only():
            def as_agent(sql, database):
                return run(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-h", sockets, "-p", str(port),
                            "-d", database], user=AGENT_USER, input_text=sql, check_ok=False)
            secret = as_agent("select * from salaries", "buh")
            check(secret.returncode != 0 and "permission denied" in secret.stderr,
                  f"table data stays private: {secret.stdout}{secret.stderr}")
            create = as_agent("create table t(x int)", "buh")
            check(create.returncode != 0, f"cannot create: {create.stderr}")
            size = as_agent("select pg_database_size('buh') > 0", "postgres")
            check(size.stdout.strip() == "t", f"sizes are readable: {size.stdout}{size.stderr}")

        def hba_refuses():
            with open(hba, "w") as f:
                f.write("local all all scram-sha-256\n")
            # The owner is refused too now: reload with a signal.
            run([f"{PG_BIN}/pg_ctl", "-D", data, "reload"], user=OWNER)
            result = role_script("check")
            check(result.returncode == 4, "check fails when pg_hba.conf refuses peer")
            check(f"local   postgres   {AGENT_USER}   peer" in result.stdout,
                  f"the line to add is printed: {result.stdout}")
            instance, notes = agent_instance()
            check(not instance.get("databases_listed") and notes, "the agent says why it cannot list")
            with open(hba, "w") as f:
                f.write("local all all peer\n")
            run([f"{PG_BIN}/pg_ctl", "-D", data, "reload"], user=OWNER)

        def revoke():
            result = role_script("revoke")
            check(result.returncode == 0, "revoke succeeds")
            gone = owner_sql(f"select count(*) from pg_roles where rolname = '{AGENT_USER}'")
            check(gone.strip() == "0", f"the role is gone: {gone!r}")
            after = role_script("check")
            check(after.returncode == 4 and "create its role first" in after.stdout, "check fails after revoke")

        def bad_arguments():
            for args in (["grant", "--role", "x\";drop role nobody;--"], ["grant", "--port", "5432x"],
                         ["grant", "--socket-dir", "relative/dir"], ["frobnicate"], []):
                result = run(["sh", ROLE_SCRIPT, *args], check_ok=False)
                check(result.returncode == 2, f"{args} refused with exit 2: {result.returncode} {result.stderr}")
            still = owner_sql(f"select count(*) from pg_roles where rolname = '{OWNER}'")
            check(still.strip() == "1", "nothing ran")

        steps.run("before the grant the databases are unknown, and why", before_grant)
        steps.run("grant: the agent lists every database with its size; idempotent; least privilege", grant)
        steps.run("the role reads sizes, not data", read_only)
        steps.run("pg_hba.conf without peer: check fails and says what to add", hba_refuses)
        steps.run("revoke drops the role", revoke)
        steps.run("bad arguments are refused before anything runs", bad_arguments)
        steps.finish()
    finally:
        if cluster_started:
            run([f"{PG_BIN}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"], user=OWNER,
                check_ok=False)
        os.chown(workdir, 0, 0)
        subprocess.run(["userdel", AGENT_USER], capture_output=True)


if __name__ == "__main__":
    if os.geteuid() != 0 or not os.path.exists(f"{PG_BIN}/initdb") or shutil.which("runuser") is None:
        log("SKIP: needs root, runuser and Debian's postgresql-15")
        sys.exit(77)
    run_test(body)
