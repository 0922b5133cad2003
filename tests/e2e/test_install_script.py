"""One-line install end to end on loopback: a real server with TLS on both ports publishes
/install.sh, /ca.crt and /packages/; token creation prints the pinned install command; the real
script fetched from the server with the printed pins refuses a wrong CA fingerprint (exit 4) and
a wrong key pin (exit 4) without installing anything. When a built dozor-agent .deb exists
(DOZOR_BIN_DIR or DOZOR_BIN_DIR/packages) it is served and really installed on this machine (we
are root): enrolled, `dozor-agent status` says so, a second run keeps the identity, and the
package is purged at the end whatever happens."""
import glob
import json
import os
import re
import shutil
import ssl
import subprocess
import urllib.request

from harness import BIN_DIR, Server, Steps, check, free_port, log, run_test

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
INSTALL_SCRIPT = os.path.join(SOURCE_DIR, "deploy", "install", "install.sh")
STATE_DIR = "/var/lib/dozor-agent"


def find_agent_deb():
    found = sorted(glob.glob(os.path.join(BIN_DIR, "dozor-agent_*.deb")) +
                   glob.glob(os.path.join(BIN_DIR, "packages", "dozor-agent_*.deb")))
    return found[-1] if found else None


def package_state():
    result = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Version}", "dozor-agent"],
                            capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else "absent"


class Api:
    def __init__(self, base, ca_file, token_file):
        self.base = base
        self.context = ssl.create_default_context(cafile=ca_file)
        with open(token_file) as f:
            self.token = f.read().strip()

    def call(self, method, path, body=None, auth=True):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if auth:
            request.add_header("Authorization", "Bearer " + self.token)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, context=self.context, timeout=30) as response:
            return response.status, response.read()


def run_command(command, timeout=600):
    """Runs the printed one-liner as it would be pasted (root here: sudo only if present)."""
    if shutil.which("sudo") is None:
        command = command.replace("| sudo sh ", "| sh ")
    result = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=timeout)
    log(f"   install.sh exit {result.returncode}\n{result.stdout}{result.stderr}".rstrip())
    return result


def body(workdir, procs):
    steps = Steps()
    packages_dir = os.path.join(workdir, "packages")
    os.makedirs(packages_dir)
    grpc_port, http_port = free_port(), free_port()
    server = Server(workdir, tls=True)
    tls = server.tls
    api_url = f"https://127.0.0.1:{http_port}"
    server.start(grpc_port=grpc_port, http_port=http_port, extra=[
        "--http-tls-cert", tls["server.crt"], "--http-tls-key", tls["server.key"],
        "--tls-ca", tls["ca.crt"], "--install-packages-dir", packages_dir,
        "--install-public-url", api_url, "--install-script", INSTALL_SCRIPT])
    procs.append(server)
    api = Api(api_url, tls["ca.crt"], server.admin_token_file)

    ca_sha256 = subprocess.run(f"openssl x509 -in {tls['ca.crt']} -outform DER | sha256sum",
                               shell=True, capture_output=True, text=True, check=True).stdout.split()[0]
    pin = "sha256//" + subprocess.run(
        f"openssl x509 -in {tls['server.crt']} -pubkey -noout | openssl pkey -pubin -outform DER"
        " | openssl dgst -sha256 -binary | base64", shell=True, capture_output=True, text=True,
        check=True).stdout.strip()

    api.call("POST", "/api/v1/orgs", {"name": "Install Test", "contract_type": "complex"})
    _, raw = api.call("POST", "/api/v1/orgs/Install%20Test/tokens", {"label": "install e2e"})
    created = json.loads(raw)
    token = created["token"]
    command = created.get("install_command", "")
    log(f"   install command: {command.replace(token, 'TOKEN')}")

    def command_is_pinned():
        check(command.startswith(f"curl -fsSL --pinnedpubkey '{pin}' -k {api_url}/install.sh | sudo sh -s -- "),
              f"command starts with the pinned curl: {command}")
        check(f"--ca-sha256 {ca_sha256}" in command, "command carries the CA's SHA-256")
        check(f"--pinned-pubkey '{pin}'" in command, "the script gets the same pin for its downloads")
        check(f"--server 'localhost:{grpc_port}'" in command, "command names the gRPC address")
        check(f"--token '{token}'" in command, "command carries the token")
    steps.run("token creation prints the pinned install command", command_is_pinned)

    def public_routes():
        status, script = api.call("GET", "/install.sh", auth=False)
        with open(INSTALL_SCRIPT, "rb") as f:
            check(status == 200 and script == f.read(), "/install.sh serves deploy/install/install.sh")
        status, ca = api.call("GET", "/ca.crt", auth=False)
        with open(tls["ca.crt"], "rb") as f:
            check(ca == f.read(), "/ca.crt serves the CA")
        try:
            api.call("GET", "/packages/..%2Fserver%2Fdozor.db", auth=False)
            check(False, "traversal must be refused")
        except urllib.error.HTTPError as e:
            check(e.code == 404, f"traversal -> 404, got {e.code}")
    steps.run("installer routes are public and refuse traversal", public_routes)

    before = package_state()

    def wrong_ca_refused():
        wrong = command.replace(f"--ca-sha256 {ca_sha256}", "--ca-sha256 " + "0" * 64)
        result = run_command(wrong)
        check(result.returncode == 4, f"wrong CA fingerprint -> exit 4, got {result.returncode}")
        check("CA fingerprint mismatch" in result.stderr, "the reason is printed")
        check(package_state() == before, f"nothing installed: {before} -> {package_state()}")
    steps.run("a wrong CA fingerprint stops the script with exit 4 before installing", wrong_ca_refused)

    def wrong_pin_refused():
        wrong = command.replace(pin, "sha256//" + "A" * 43 + "=")
        result = run_command(wrong)
        # curl itself refuses to fetch install.sh: sh reads an empty script and exits 0, so
        # what counts is that nothing ran and nothing was installed.
        check("FAILED" not in result.stdout and "OK:" not in result.stdout, "the script never ran")
        check(package_state() == before, "nothing installed")
        # The script's own downloads are pinned too.
        local = ["sh", INSTALL_SCRIPT, "--token", token, "--server", f"localhost:{grpc_port}",
                 "--api", api_url, "--ca-sha256", ca_sha256,
                 "--pinned-pubkey", "sha256//" + "A" * 43 + "="]
        result = subprocess.run(local, capture_output=True, text=True, timeout=120)
        check(result.returncode == 4, f"script with a wrong pin -> exit 4, got {result.returncode}: {result.stderr}")
        check("does not match the pinned key" in result.stderr, result.stderr)
    steps.run("a wrong key pin fetches and installs nothing", wrong_pin_refused)

    def usage_errors():
        result = subprocess.run(["sh", INSTALL_SCRIPT, "--token", token], capture_output=True, text=True)
        check(result.returncode == 2, f"missing arguments -> exit 2, got {result.returncode}")
        result = subprocess.run(["sh", INSTALL_SCRIPT, "--api", api_url, "--server", "a:1", "--ca-sha256",
                                 ca_sha256, "--token", "x; rm -rf /"], capture_output=True, text=True)
        check(result.returncode == 2, f"a token with shell characters -> exit 2, got {result.returncode}")
    steps.run("bad arguments exit 2", usage_errors)

    def no_package():
        result = run_command(command)
        check(result.returncode == 6, f"empty packages dir -> exit 6, got {result.returncode}")
        check(package_state() == before, "nothing installed")
    if package_state() == "absent":
        steps.run("no package for this architecture -> exit 6", no_package)

    deb = find_agent_deb()
    if deb is None:
        log("SKIP: real install (no dozor-agent_*.deb in DOZOR_BIN_DIR; build it with cpack -G DEB)")
    elif before != "absent" or os.path.exists(os.path.join(STATE_DIR, "identity.json")):
        log(f"SKIP: real install (dozor-agent is already on this machine: {before}; not touching it)")
    else:
        shutil.copy(deb, packages_dir)
        etc_existed = os.path.isdir("/etc/dozor")
        ca_existed = os.path.exists("/etc/dozor/ca.crt")
        try:
            real_install(steps, command, api, ca_sha256)
        finally:
            purged = subprocess.run(["dpkg", "--purge", "dozor-agent"], capture_output=True, text=True)
            log(f"   purge: exit {purged.returncode} {purged.stderr.strip()}")
            if not ca_existed and os.path.exists("/etc/dozor/ca.crt"):
                os.remove("/etc/dozor/ca.crt")
            if not etc_existed and os.path.isdir("/etc/dozor") and not os.listdir("/etc/dozor"):
                os.rmdir("/etc/dozor")
            if os.path.exists("/var/log/dozor-agent-install.log"):
                os.remove("/var/log/dozor-agent-install.log")
            check(package_state() in ("absent", "pn"), f"purged: {package_state()}")
            check(not os.path.exists(STATE_DIR), "purge removed the agent state")
    steps.finish()


def real_install(steps, command, api, ca_sha256):
    identity_path = os.path.join(STATE_DIR, "identity.json")
    first = {}

    def install():
        result = run_command(command)
        check(result.returncode == 0, f"install exit 0, got {result.returncode}")
        check("OK: dozor-agent" in result.stdout, "one-line success message")
        check(package_state().startswith("ii "), f"package installed: {package_state()}")
        with open(identity_path) as f:
            first.update(json.load(f))
        check(first.get("agent_id"), "identity.json has an agent id")
        check(open("/etc/dozor/ca.crt", "rb").read().startswith(b"-----BEGIN CERTIFICATE-----"),
              "CA written to /etc/dozor/ca.crt")
        toml = open("/etc/dozor/agent.toml").read()
        check('ca_file = "/etc/dozor/ca.crt"' in toml, "agent.toml names the CA for the service")
        status = subprocess.run(["dozor-agent", "status", "--json"], capture_output=True, text=True)
        view = json.loads(status.stdout)
        check(view["enrolled"] is True and view["agent_id"] == first["agent_id"],
              f"dozor-agent status reports enrolled: {status.stdout}")
        check(view["organization"] == "Install Test", "status names the organisation")
        _, raw = api.call("GET", "/api/v1/hosts")
        hosts = json.loads(raw)["hosts"]
        check(any(h["agent_id"] == first["agent_id"] for h in hosts), "the server lists the new host")
    steps.run("the printed command installs, enrolls and configures the agent", install)

    def rerun():
        # --postgres-role: the packaged script runs; whether a cluster is up here or not, the
        # install succeeds and its last line says whether the agent has its PostgreSQL role.
        result = run_command(command + " --postgres-role")
        check(result.returncode == 0, f"second run exit 0, got {result.returncode}")
        check("already enrolled" in result.stdout, "second run keeps the enrollment")
        check(re.search(r"PostgreSQL: the (agent has its read-only role|read-only role is NOT in place)",
                        result.stdout), "the PostgreSQL role's outcome is reported")
        with open(identity_path) as f:
            again = json.load(f)
        check(again.get("agent_id") == first.get("agent_id") and
              again.get("agent_secret") == first.get("agent_secret"), "identity unchanged")
        toml = open("/etc/dozor/agent.toml").read()
        active = [line for line in toml.splitlines() if re.match(r"\s*ca_file\s*=", line)]
        check(len(active) == 1, f"agent.toml not edited twice: {active}")
    if first:
        steps.run("re-running the command is safe and keeps the identity", rerun)


run_test(body)
