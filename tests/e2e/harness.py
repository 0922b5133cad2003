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
    def __init__(self, workdir, tls=True):
        self.workdir = workdir
        self.state_dir = os.path.join(workdir, "server")
        os.makedirs(self.state_dir, exist_ok=True)
        self.tls = make_tls(self._tls_dir()) if tls else None
        self.proc = None
        self.grpc_port = 0
        self.http_port = 0
        self.log_path = os.path.join(workdir, "server.log")

    def _tls_dir(self):
        d = os.path.join(self.workdir, "tls")
        os.makedirs(d, exist_ok=True)
        return d

    def start(self, grpc_port=0, http_port=0, extra=()):
        ready = os.path.join(self.workdir, "server.ready")
        if os.path.exists(ready):
            os.remove(ready)
        args = [SERVER_BIN, "--state-dir", self.state_dir, "--grpc-listen", f"127.0.0.1:{grpc_port}",
                "--http-listen", f"127.0.0.1:{http_port}", "--ready-file", ready, "--log-level", "info"]
        if self.tls:
            args += ["--tls-cert", self.tls["server.crt"], "--tls-key", self.tls["server.key"],
                     "--public-address", "localhost:%d" % grpc_port if grpc_port else "localhost:0"]
        else:
            args += ["--insecure"]
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
        """Read-only look at the real database file (for checks dozorctl does not expose)."""
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
    def __init__(self, workdir, name, server):
        self.server = server
        self.state_dir = os.path.join(workdir, name)
        self.log_path = os.path.join(workdir, name + ".log")
        self.proc = None

    def connection_args(self):
        args = ["--server", self.server.grpc_address(), "--state-dir", self.state_dir]
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
        subprocess.run(["rm", "-rf", workdir])
