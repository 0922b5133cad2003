#!/usr/bin/env python3
"""The rule dialect on a real PostgreSQL 15.

Starts a throw-away cluster (initdb + pg_ctl, as an unprivileged user when run as root, on a free
loopback port, in a temp dir), creates the fact views as tables with the same column names and
PostgreSQL types plus the Dozor function library (server/rules/portable/postgres_functions.sql),
then:
  1. PREPAREs the condition and sustain query of every rule of the built-in pack: a rule that
     PostgreSQL refuses fails the test with its id and PostgreSQL's message;
  2. copies the facts of every fixture estate (tests/fixtures/rules/cases, the SQLite databases the
     fixture test builds) into those tables and checks that each rule fires on exactly the same
     estates as on SQLite (the case's `expect` list, which the SQLite fixture test asserts).

Usage: postgres_portability_test.py RULES_TEST_BINARY SOURCE_DIR
Exit 77 (CTest: skipped) when PostgreSQL 15 is not installed (deploy/install-deps.sh installs it).
Stdlib only.
"""
import csv
import io
import os
import pwd
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
NOW_MS = 1793534400000  # the fixture test's evaluation time (2026-11-01T12:00:00Z)
SERVER_VERSION = "0.0.0-test"

# Columns whose SQLite declared type says nothing (expressions in the views).
EXPRESSION_TYPES = {
    ("hosts", "role"): "text",
    ("hosts", "duties"): "text",
    ("os", "duties"): "text",
    ("hosts", "has_inventory"): "integer",
    ("listeners", "all_addresses"): "integer",
    ("listeners", "loopback_only"): "integer",
    ("fs_trend", "used_bytes"): "bigint",
    ("license_clients", "server_count"): "bigint",
    ("backup_jobs", "last_success_ms"): "bigint",
    ("backup_jobs", "last_run_ms"): "bigint",
    ("processes", "start_ms"): "bigint",
    ("storage_arrays", "last_scrub_ms"): "bigint",
    ("onec_server_agents", "start_ms"): "bigint",
    ("onec_server_processes", "start_ms"): "bigint",
    ("onec_server_processes", "agent_start_ms"): "bigint",
    ("onec_server_processes", "memory_total_bytes"): "bigint",
    ("users", "last_login_ms"): "bigint",
    ("database_servers", "largest_database_bytes"): "bigint",
    ("databases", "newest_dump_ms"): "bigint",
    ("database_backups", "last_backup_ms"): "bigint",
}


# (expression, its value as psql prints it); the same values as on SQLite.
LIBRARY_CHECKS = [
    ("greatest(1, NULL, 3)", "3"),
    ("least(2, NULL, -1)", "-1"),
    ("strpos('web-01', '-')", "4"),
    ("strpos('abc', 'x')", "0"),
    ("strpos('Ромашка-1', '-')", "8"),
    ("(SELECT text_list(x) FROM (VALUES ('b'), ('a'), (NULL), ('b')) AS t(x))", "a,b,b"),
    ("(SELECT text_list(DISTINCT x) FROM (VALUES ('b'), ('a'), ('b')) AS t(x))", "a,b"),
    ("date_to_ms('1970-01-02')", "86400000"),
    ("date_to_ms('2024-02-29')", "1709164800000"),
    ("date_to_ms('2023-02-29')", ""),
    ("date_to_ms('2020-13-01')", ""),
    ("date_to_ms('2020-1-01')", ""),
    ("date_to_ms('not a date')", ""),
    ("ms_to_date(1793534400000)", "2026-11-01"),
    ("ms_to_date(date_to_ms('2024-02-29') + 86399999)", "2024-02-29"),
    ("version_compare('1.1.1n-0+deb11u5', '3.0')", "-1"),
    ("version_compare('1:1.0', '2.0')", "1"),
    ("version_compare('1.0~rc1', '1.0')", "-1"),
    ("version_compare('3.0.11-1~deb12u2', '3.0')", "1"),
    ("version_compare('8.3.22.1709', '8.3.21')", "1"),
    ("version_compare('1.0', NULL)", ""),
    ("round(2.25::double precision, 1)", "2.3"),
    ("round(avg(x), 1) FROM (VALUES (1.0::double precision), (2.0)) AS t(x)", "1.5"),
]


def pg_type(view, column, declared):
    if (view, column) in EXPRESSION_TYPES:
        return EXPRESSION_TYPES[(view, column)]
    declared = (declared or "").upper()
    if "INT" in declared:
        return "bigint"
    if "REAL" in declared or "DOUB" in declared or "FLOA" in declared:
        return "double precision"
    if "BLOB" in declared:
        return "bytea"
    if declared == "" or "TEXT" in declared or "CHAR" in declared:
        return "text"
    raise SystemExit(f"fact view {view}.{column}: no PostgreSQL type for SQLite type {declared}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A PostgreSQL cluster in a temp dir, stopped and removed on exit."""

    def __init__(self, root):
        self.data = root / "data"
        self.port = free_port()
        self.run_as = []
        if os.geteuid() == 0:  # the server refuses to run as root
            user = pwd.getpwnam("nobody")
            os.chown(root, user.pw_uid, user.pw_gid)
            self.run_as = ["runuser", "-u", "nobody", "--"]
        self.root = root

    def _run(self, *args):
        subprocess.run(self.run_as + [str(a) for a in args], check=True, cwd=self.root,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def start(self):
        self._run(PG_BIN / "initdb", "-D", self.data, "-U", "dozor", "--no-locale",
                  "-E", "UTF8", "--auth=trust")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                   f"-c unix_socket_directories={self.root} -c fsync=off")
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-o", options, "-l",
                  self.root / "server.log", "-w", "-t", "60", "start")

    def stop(self):
        try:
            self._run(PG_BIN / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass

    def psql(self, script, check=True):
        """Runs a script in one session; returns stdout (unaligned, \\x1f / \\x1e separated)."""
        result = subprocess.run(
            [str(PG_BIN / "psql"), "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U",
             "dozor", "-d", "postgres", "-A", "-F", "\x1f", "-R", "\x1e", "-P", "footer=off",
             "-v", "ON_ERROR_STOP=1" if check else "ON_ERROR_STOP=0", "-f", "-"],
            input=script, text=True, capture_output=True)
        if check and result.returncode != 0:
            raise RuntimeError(result.stderr)
        return result.stdout, result.stderr


def load_pack(pack_dir):
    rules = []
    for path in sorted(pack_dir.glob("*.toml")):
        with open(path, "rb") as f:
            rule = tomllib.load(f)
        if not rule.get("enabled", True):
            continue
        rule["file"] = path.name
        rules.append(rule)
    return rules


def split_sql(sql):
    """Yields (kind, text) with kind 'code', 'string' or 'comment'."""
    i = 0
    start = 0
    while i < len(sql):
        if sql[i] == "'":
            if start < i:
                yield "code", sql[start:i]
            j = i + 1
            while j < len(sql):
                if sql[j] == "'" and sql[j + 1:j + 2] == "'":
                    j += 2
                    continue
                if sql[j] == "'":
                    break
                j += 1
            yield "string", sql[i:j + 1]
            i = start = j + 1
        elif sql.startswith("--", i):
            if start < i:
                yield "code", sql[start:i]
            j = sql.find("\n", i)
            j = len(sql) if j < 0 else j
            yield "comment", sql[i:j]
            i = start = j
        elif sql.startswith("/*", i):
            if start < i:
                yield "code", sql[start:i]
            j = sql.find("*/", i + 2)
            j = len(sql) if j < 0 else j + 2
            yield "comment", sql[i:j]
            i = start = j
        else:
            i += 1
    if start < len(sql):
        yield "code", sql[start:]


def param_type(value):
    if isinstance(value, bool) or isinstance(value, int):
        return "bigint"
    if isinstance(value, float):
        return "double precision"
    return "text"


def literal(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def positional(rule, sql):
    """Rule SQL with :name parameters as $n; returns (text, [(name, type, literal)])."""
    values = dict(rule.get("params", {}))
    values["now_ms"] = NOW_MS
    values["server_version"] = SERVER_VERSION
    order = []
    out = []
    for kind, text in split_sql(sql):
        if kind != "code":
            out.append(text)
            continue

        def replace(match):
            name = match.group(1)
            if name not in values:
                raise SystemExit(f"{rule['id']}: unknown parameter :{name}")
            if name not in order:
                order.append(name)
            return f"${order.index(name) + 1}"

        out.append(re.sub(r"(?<!:):([A-Za-z_][A-Za-z0-9_]*)", replace, text))
    params = [(name, param_type(values[name]), literal(values[name])) for name in order]
    return "".join(out).strip().rstrip(";"), params


def statement_name(rule_id, kind):
    return (kind + "_" + rule_id).replace("-", "_")


def prepare_script(rules):
    script = []
    for rule in rules:
        for kind in ("condition", "sustain"):
            if kind not in rule:
                continue
            sql, params = positional(rule, rule[kind])
            types = ", ".join(t for _, t, _ in params)
            head = f"PREPARE {statement_name(rule['id'], kind)}" + (f"({types})" if types else "")
            script.append((rule, kind, f"{head} AS\n{sql};\n", params))
    return script


def fact_tables(db_path, views_sql):
    """(view -> [(column, pg type)], view -> rows) of a fixture database, through the views."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    con.executescript(re.sub(r"\{SCOPE:[^}]*\}", "", views_sql))
    views = [r[0] for r in con.execute(
        "SELECT name FROM sqlite_temp_master WHERE type = 'view' ORDER BY name")]
    columns = {}
    rows = {}
    for view in views:
        info = con.execute(f"PRAGMA temp.table_info({view})").fetchall()
        columns[view] = [(c[1], pg_type(view, c[1], c[2])) for c in info]
        rows[view] = con.execute(f"SELECT * FROM temp.{view}").fetchall()
    con.close()
    return columns, rows


def create_tables_sql(columns):
    out = []
    for view, cols in columns.items():
        body = ", ".join(f"{name} {kind}" for name, kind in cols)
        out.append(f"DROP TABLE IF EXISTS {view};\nCREATE TABLE {view} ({body});\n")
    return "".join(out)


def copy_sql(columns, rows):
    out = []
    for view, cols in columns.items():
        out.append(f"TRUNCATE {view};\n")
        if not rows[view]:
            continue
        buffer = io.StringIO()
        writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
        for row in rows[view]:
            converted = []
            for (name, kind), value in zip(cols, row):
                if value is None:
                    converted.append(None)
                elif kind == "bytea":
                    converted.append("\\x" + bytes(value).hex())
                elif kind == "text":
                    converted.append(str(value))
                elif kind in ("bigint", "integer"):
                    converted.append(int(value))
                else:
                    converted.append(float(value))
            writer.writerow(converted)
        out.append(f"COPY {view} FROM STDIN WITH (FORMAT csv);\n{buffer.getvalue()}\\.\n")
    return "".join(out)


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    rules_test = Path(sys.argv[1])
    source = Path(sys.argv[2])
    if not (PG_BIN / "initdb").exists():
        print("SKIP: PostgreSQL 15 is not installed (deploy/install-deps.sh installs it)")
        return 77
    rules = load_pack(source / "server/rules/pack")
    views_sql = (source / "server/store/sqlite/fact_views.sql").read_text()
    functions_sql = (source / "server/rules/portable/postgres_functions.sql").read_text()
    failures = []
    with tempfile.TemporaryDirectory(prefix="dozor-pg-") as tmp:
        tmp = Path(tmp)
        os.chmod(tmp, 0o755)
        # The fixture estates as SQLite files (the fixture test keeps a copy of each).
        estates = tmp / "estates"
        estates.mkdir()
        subprocess.run([str(rules_test), "--test-case=each fixture estate*"], check=True,
                       env=dict(os.environ, DOZOR_RULE_FIXTURE_DB=str(estates)),
                       stdout=subprocess.DEVNULL)
        databases = sorted(estates.glob("*.db"))
        if not databases:
            raise SystemExit("the fixture test left no estate databases")
        cluster_root = tmp / "pg"
        cluster_root.mkdir()
        cluster = Cluster(cluster_root)
        cluster.start()
        try:
            columns, _ = fact_tables(databases[0], views_sql)
            cluster.psql(create_tables_sql(columns) + functions_sql)

            # 0. The function library means on PostgreSQL what it means on SQLite
            #    (tests/unit/server/rules/function_library_test.cpp asserts the same values there).
            for expression, expected in LIBRARY_CHECKS:
                out, _ = cluster.psql(f"SELECT {expression};\n")
                got = out.split("\x1e")[1].strip("\n") if "\x1e" in out else None
                if got != expected:
                    failures.append(f"function library: {expression} gives {got!r} on "
                                    f"PostgreSQL, {expected!r} on SQLite")

            # 1. Every rule prepares.
            # One session; psql names the script line of each error, which names the statement.
            prepared = prepare_script(rules)
            script = ""
            starts = []
            for rule, kind, statement, _ in prepared:
                starts.append(script.count("\n") + 1)
                script += statement
            script += "DEALLOCATE ALL;\n"
            _, err = cluster.psql(script, check=False)
            for match in re.finditer(r"psql:<stdin>:(\d+): ERROR:(.*?)(?=psql:<stdin>:|\Z)", err,
                                     re.S):
                line = int(match.group(1))
                index = max(i for i, start in enumerate(starts) if start <= line)
                rule, kind, _, _ = prepared[index]
                failures.append(f"{rule['id']} ({rule['file']}) {kind}: PostgreSQL refuses it:"
                                f"{match.group(2).rstrip()}")
            print(f"prepared {len(prepared)} statements of {len(rules)} rules on PostgreSQL 15, "
                  f"{len(failures)} refused")

            # 2. Same fired rules on every fixture estate.
            compared = 0
            fired_pairs = 0
            if not failures:
                for db in databases:
                    case_file = source / "tests/fixtures/rules/cases" / db.name[:-len(".db")]
                    with open(case_file, "rb") as f:
                        expect = set(tomllib.load(f).get("expect", []))
                    estate_columns, estate_rows = fact_tables(db, views_sql)
                    script = [copy_sql(estate_columns, estate_rows)]
                    for rule, kind, statement, params in prepared:
                        if kind != "condition":
                            continue
                        script.append(statement)
                        args = ", ".join(v for _, _, v in params)
                        script.append(f"\\echo ===RULE {rule['id']} {rule.get('scope', 'host')}\n")
                        script.append(f"EXECUTE {statement_name(rule['id'], kind)}"
                                      + (f"({args})" if args else "") + ";\n")
                        script.append(f"DEALLOCATE {statement_name(rule['id'], kind)};\n")
                    out, _ = cluster.psql("".join(script))
                    fired = set()
                    for block in out.split("===RULE ")[1:]:
                        header, _, body = block.partition("\n")
                        rule_id, scope = header.split()
                        records = [r for r in body.split("\x1e") if r.strip("\n")]
                        if len(records) < 2:
                            continue
                        names = records[0].strip("\n").split("\x1f")
                        key = names.index("host_id" if scope == "host" else "org_id")
                        if any(r.strip("\n").split("\x1f")[key] != "" for r in records[1:]):
                            fired.add(rule_id)
                    compared += 1
                    fired_pairs += len(fired)
                    if fired != expect:
                        failures.append(f"{case_file.name}: SQLite fires {sorted(expect)}, "
                                        f"PostgreSQL fires {sorted(fired)}")
            print(f"compared fired rules on {compared} fixture estates "
                  f"({fired_pairs} (estate, rule) firings on PostgreSQL)")
        finally:
            cluster.stop()
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
