"""Shared helpers for end-to-end tests: real dozor-server / dozor-agent / dozorctl processes on
loopback ports (port 0, read back from the server's ready file) in temporary directories."""
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

BIN_DIR = os.environ.get("DOZOR_BIN_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SERVER_BIN = os.path.join(BIN_DIR, "server", "dozor-server")
CTL_BIN = os.path.join(BIN_DIR, "server", "dozorctl")
AGENT_BIN = os.path.join(BIN_DIR, "agent", "dozor-agent")


def log(*args):
    print(*args, flush=True)


# The store backend the servers of this run use: "sqlite" (default) or "postgresql" (CTest's
# "e2e-postgresql: ..." entries set DOZOR_TEST_STORE and point DOZOR_TEST_POSTGRES_CONNINFO_FILE
# at the run's test cluster, tests/postgres/test_cluster.py; each Server gets a database of its
# own there).
STORE = os.environ.get("DOZOR_TEST_STORE", "sqlite")
PSQL = "/usr/lib/postgresql/15/bin/psql"


def postgres_admin_conninfo():
    path = os.environ.get("DOZOR_TEST_POSTGRES_CONNINFO_FILE", "")
    if not path or not os.path.exists(path):
        raise AssertionError("DOZOR_TEST_STORE=postgresql needs the CTest PostgreSQL cluster "
                             "(DOZOR_TEST_POSTGRES_CONNINFO_FILE)")
    with open(path) as f:
        return f.read().strip()


def psql(conninfo, sql):
    """Rows of one statement as lists of text (None for NULL)."""
    result = subprocess.run([PSQL, "-X", "-q", "-A", "-t", "-F", "\x1f", "-R", "\x1e", "-v",
                             "ON_ERROR_STOP=1", "-P", "null=\x01", "-d", conninfo, "-c", sql],
                            capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise AssertionError(f"psql: {result.stderr.strip()}")
    rows = []
    for record in result.stdout.rstrip("\n").split("\x1e"):
        if record.strip("\n") == "":
            continue
        rows.append([None if v == "\x01" else v for v in record.strip("\n").split("\x1f")])
    return rows


class PostgresCursor:
    def __init__(self, rows):
        self.rows = rows

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def fetchall(self):
        return self.rows

    def __iter__(self):
        return iter(self.rows)


class PostgresReader:
    """The sqlite3 connection's execute/fetch/close for the checks tests make on the store, over
    psql: "?" parameters are inlined as quoted literals (test values only), integers come back as
    int."""

    def __init__(self, conninfo):
        self.conninfo = conninfo

    @staticmethod
    def _literal(value):
        if value is None:
            return "NULL"
        if isinstance(value, (int, float)):
            return repr(value)
        return "'" + str(value).replace("'", "''") + "'"

    def execute(self, sql, args=()):
        parts = sql.split("?")
        if len(parts) - 1 != len(args):
            raise AssertionError(f"{len(args)} arguments for {len(parts) - 1} placeholders: {sql}")
        text = parts[0]
        for value, rest in zip(args, parts[1:]):
            text += self._literal(value) + rest
        rows = psql(self.conninfo, text)

        def convert(v):
            if v is not None and (v.isdigit() or (v.startswith("-") and v[1:].isdigit())):
                return int(v)
            return v
        return PostgresCursor([tuple(convert(v) for v in row) for row in rows])

    def close(self):
        pass


def wait_until(predicate, timeout, what, interval=0.2):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as e:  # keep polling; report the last problem on timeout
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def free_port():
    """A loopback TCP port free right now (for a server whose address must be known before it starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check(condition, message):
    if not condition:
        raise AssertionError(message)


class Steps:
    """Runs named steps; a failing step is recorded and the rest still run, the file fails at the end."""

    def __init__(self):
        self.failures = []

    def run(self, name, fn):
        log(f"== {name}")
        try:
            fn()
            log(f"   ok: {name}")
        except AssertionError as e:
            log(f"   FAILED: {name}: {e}")
            self.failures.append(f"{name}: {e}")

    def finish(self):
        if self.failures:
            raise AssertionError("failed steps:\n  - " + "\n  - ".join(self.failures))


def make_tls(directory):
    """A throw-away CA and a server certificate for localhost/127.0.0.1 signed by it."""
    def run(*args):
        subprocess.run(args, cwd=directory, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Dozor test CA",
        "-keyout", "ca.key", "-out", "ca.crt")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
        "-keyout", "server.key", "-out", "server.csr")
    with open(os.path.join(directory, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "san.ext", "-out", "server.crt")
    return {k: os.path.join(directory, k) for k in ("ca.crt", "server.crt", "server.key")}


class ManagedProcess:
    """A binary started in the background with its output appended to `log_path`."""

    proc = None
    log_path = None

    def spawn(self, args):
        self.logfile = open(self.log_path, "a")
        self.proc = subprocess.Popen(args, stdout=self.logfile, stderr=subprocess.STDOUT)

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.proc = None

    def stop(self):
        self.kill(signal.SIGTERM)

    def read_log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-6000:]


class Server(ManagedProcess):
    def __init__(self, workdir, tls=True, name="server", postgres=None):
        """`name` tells several servers in one workdir apart; `postgres` shares an existing
        PostgreSQL database (a replica of another Server: pass that one's .postgres)."""
        self.workdir = workdir
        self.name = name
        self.state_dir = os.path.join(workdir, name)
        os.makedirs(self.state_dir, exist_ok=True)
        self.tls = make_tls(self._tls_dir()) if tls else None
        self.proc = None
        self.grpc_port = 0
        self.http_port = 0
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.postgres = postgres  # this server's database conninfo on the PostgreSQL backend
        if self.postgres is None and STORE == "postgresql":
            admin = postgres_admin_conninfo()
            name = "e2e_%d_%d" % (os.getpid(), int(time.time() * 1000) % 10**9)
            psql(admin, f"CREATE DATABASE {name} TEMPLATE template0")
            self.postgres = f"{admin} dbname={name}"

    def _tls_dir(self):
        d = os.path.join(self.workdir, "tls")
        os.makedirs(d, exist_ok=True)
        return d

    def start(self, grpc_port=0, http_port=0, extra=()):
        ready = os.path.join(self.workdir, f"{self.name}.ready")
        if os.path.exists(ready):
            os.remove(ready)
        args = [SERVER_BIN, "--state-dir", self.state_dir, "--grpc-listen", f"127.0.0.1:{grpc_port}",
                "--http-listen", f"127.0.0.1:{http_port}", "--ready-file", ready]
        if "--log-level" not in extra:
            # DOZOR_E2E_SERVER_LOG_LEVEL=debug: each agent stream's start and end, for a failing run.
            args += ["--log-level", os.environ.get("DOZOR_E2E_SERVER_LOG_LEVEL", "info")]
        if self.tls:
            args += ["--tls-cert", self.tls["server.crt"], "--tls-key", self.tls["server.key"],
                     "--public-address", "localhost:%d" % grpc_port if grpc_port else "localhost:0"]
        else:
            args += ["--insecure"]
        if self.postgres:
            args += ["--store", self.postgres]
        args += list(extra)
        self.spawn(args)

        def is_ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"dozor-server exited with {self.proc.returncode}; log:\n{self.read_log()}")
            return os.path.exists(ready)
        wait_until(is_ready, 30, "server ready file")
        with open(ready) as f:
            info = json.load(f)
        self.grpc_port, self.http_port = info["grpc_port"], info["http_port"]
        return self

    @property
    def admin_token_file(self):
        return os.path.join(self.state_dir, "admin.token")

    @property
    def db_path(self):
        return os.path.join(self.state_dir, "dozor.db")

    def db(self):
        """Read-only look at the real store (for checks dozorctl does not expose): the SQLite
        file, or the server's PostgreSQL database through psql."""
        if self.postgres:
            return PostgresReader(self.postgres)
        return sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)

    def ctl(self, *args, check_rc=True, json_out=True, token_file=None):
        cmd = [CTL_BIN, "--server", f"http://127.0.0.1:{self.http_port}",
               "--token-file", token_file or self.admin_token_file]
        if json_out:
            cmd.append("--json")
        cmd += list(args)
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if check_rc and result.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} -> {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}")
        if json_out and result.returncode == 0:
            return json.loads(result.stdout) if result.stdout.strip() else None
        return result

    def grpc_address(self):
        return f"localhost:{self.grpc_port}" if self.tls else f"127.0.0.1:{self.grpc_port}"

    def create_org_and_token(self, org_name, ttl_hours=None):
        self.ctl("org", "create", org_name, "--type", "complex", "--engineer", "Иван Петров")
        args = ["token", "create", "--org", org_name, "--label", "e2e"]
        if ttl_hours is not None:
            args += ["--ttl-hours", str(ttl_hours)]
        created = self.ctl(*args)
        return created["token"], created


class Agent(ManagedProcess):
    def __init__(self, workdir, name, server, replicas=()):
        """`replicas`: more Servers on the same database; the agent gets all their addresses."""
        self.server = server
        self.replicas = list(replicas)
        self.state_dir = os.path.join(workdir, name)
        self.log_path = os.path.join(workdir, name + ".log")
        self.proc = None

    def connection_args(self):
        address = ",".join(s.grpc_address() for s in [self.server] + self.replicas)
        args = ["--server", address, "--state-dir", self.state_dir]
        if self.server.tls:
            args += ["--ca", self.server.tls["ca.crt"]]
        else:
            args += ["--insecure"]
        return args

    def enroll(self, token, check_rc=True):
        result = subprocess.run([AGENT_BIN, "enroll", "--token", token] + self.connection_args(),
                                capture_output=True, text=True, timeout=60)
        if check_rc and result.returncode != 0:
            raise AssertionError(f"enroll failed ({result.returncode}): {result.stdout}{result.stderr}")
        return result

    def identity(self):
        with open(os.path.join(self.state_dir, "identity.json")) as f:
            return json.load(f)

    def start(self, *extra):
        self.spawn([AGENT_BIN, "run"] + self.connection_args() + list(extra))
        return self

    def inventories_collected(self):
        """How many inventories this agent collected (and spooled) over all its runs."""
        with open(self.log_path, errors="replace") as f:
            return f.read().count("inventory collected in")

    def spool_count(self):
        path = os.path.join(self.state_dir, "spool.db")
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute("SELECT count(*) FROM reports").fetchone()[0]
        finally:
            con.close()


def by_rule(items, rule_id):
    """The findings (or any items with rule_id) of one rule."""
    return [f for f in items if f["rule_id"] == rule_id]


def write_file(path, text, mtime=None):
    """Writes a fixture file, creating its folders; mtime (Unix seconds) dates it."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def start_fixture_estate(workdir, procs, org, root, server_extra=("--rules-full-interval", "10")):
    """A real server (TLS) with organisation `org` and one agent enrolled into it, reading the
    fixture machine at `root` with a health sample every 2 s. Returns (server, agent, agent_id)."""
    server = Server(workdir, tls=True).start(extra=list(server_extra))
    procs.append(server)
    token, _ = server.create_org_and_token(org)
    agent = Agent(workdir, "agent1", server)
    procs.append(agent)
    agent.enroll(token)
    agent.start("--root", root, "--health-interval", "2")
    return server, agent, agent.identity()["agent_id"]


def wait_for_inventory(server, agent_id, pick, what, timeout=60):
    """Waits until pick(the host's stored inventory) is truthy and returns it."""
    def picked():
        reply = server.ctl("host", "show", agent_id).get("inventory") or {}
        return pick(reply.get("inventory") or {})
    return wait_until(picked, timeout, what)


def run_test(body):
    """Runs body(workdir, cleanup) with a temp dir; kills every process on exit; prints the logs on failure."""
    workdir = tempfile.mkdtemp(prefix="dozor-e2e-")
    procs = []
    try:
        body(workdir, procs)
        log("PASS")
    except BaseException:
        for p in procs:
            try:
                log(f"----- log of {getattr(p, 'log_path', '?')}")
                log(p.read_log())
            except Exception:
                pass
        raise
    finally:
        for p in procs:
            try:
                p.kill()
            except Exception:
                pass
        if os.environ.get("DOZOR_KEEP_E2E_DIR"):
            log(f"kept {workdir}")
        else:
            subprocess.run(["rm", "-rf", workdir])
