"""The web dashboard end to end in a real headless Chromium (Debian's package) driven by
playwright-core, against the real dozor-server with a real agent on a fixture machine: log in, the
overview, a client, a host (charts draw), the findings board, acknowledge / waive / verify with the
history, the PDF report download, a new enrollment token with the Linux and Windows install
commands, the language switch with a walk over every page in both
languages (no untranslated key, no text of the other language), a client user's narrowed view, and
an ended session sending the browser to the login. Screenshots of every main page in both languages
land in $DOZOR_ARTIFACT_DIR (default: <build>/test-artifacts/dashboard)."""
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from urllib.parse import quote

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from harness import Agent, BIN_DIR, Server, check, free_port, log, run_test, wait_until  # noqa: E402
from test_accounts_scope import Api, PASSWORD  # noqa: E402

FIXTURES = os.environ.get("DOZOR_FIXTURES_DIR", os.path.join(os.path.dirname(__file__), "..", "fixtures"))
DASHBOARD_DIR = os.environ.get("DOZOR_DASHBOARD_DIR",
                               os.path.join(os.path.dirname(__file__), "..", "..", "dashboard"))
CHROMIUM = os.environ.get("DOZOR_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = os.environ.get("DOZOR_ARTIFACT_DIR", os.path.join(BIN_DIR, "test-artifacts", "dashboard"))


def fixture_machine(workdir, name):
    root = os.path.join(workdir, "machine-" + name)
    shutil.copytree(os.path.join(FIXTURES, "hosts", "debian-server"), root, symlinks=True)
    # An end-of-life Debian: the os-eol rule opens a finding on the machine.
    release = os.path.join(root, "etc", "os-release")
    with open(release) as f:
        lines = [l for l in f.read().splitlines() if not l.startswith(("VERSION_ID=", "PRETTY_NAME="))]
    with open(release, "w") as f:
        f.write("\n".join(lines + ['VERSION_ID="10"', 'PRETTY_NAME="Debian GNU/Linux 10 (buster)"']) + "\n")
    # A half-duplex link: nic-half-duplex is a rule about objects, its finding names eth0.
    with open(os.path.join(root, "sys", "class", "net", "eth0", "duplex"), "w") as f:
        f.write("half\n")
    return root


class Helpdesk(http.server.BaseHTTPRequestHandler):
    """The alerts' webhook receiver: takes everything (the alerts page shows it delivered)."""
    received = []

    def do_POST(self):
        Helpdesk.received.append(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def body(workdir, procs):
    check(os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: deploy/install-deps.sh installs Debian's chromium")
    check(os.path.isdir(os.path.join(DASHBOARD_DIR, "node_modules", "playwright-core")),
          "dashboard/node_modules has no playwright-core: the build runs npm ci")
    helpdesk = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Helpdesk)
    threading.Thread(target=helpdesk.serve_forever, daemon=True).start()
    secret = os.path.join(workdir, "webhook.secret")
    with open(secret, "w") as f:
        f.write("browser-test-secret")
    config = os.path.join(workdir, "server.toml")
    with open(config, "w") as f:
        f.write(f'[alerts]\nwebhook_url = "http://127.0.0.1:{helpdesk.server_address[1]}/hook"\n'
                f'webhook_secret_file = "{secret}"\nretry_first_seconds = 1\n')
    # The install commands need the CA published, the public URL and, for Windows, an MSI among the
    # packages (the server only names and hashes it: a stand-in will do).
    packages = os.path.join(workdir, "packages")
    os.makedirs(packages)
    with open(os.path.join(packages, "dozor-agent-0.1.0-x64.msi"), "wb") as f:
        f.write(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 a stand-in for the MSI")
    server = Server(workdir, tls=True)
    grpc_port, http_port = free_port(), free_port()
    server.start(grpc_port=grpc_port, http_port=http_port, extra=[
        "--config", config, "--tls-ca", server.tls["ca.crt"], "--install-packages-dir", packages,
        "--install-public-url", f"http://127.0.0.1:{http_port}"])
    procs.append(server)
    with open(server.admin_token_file) as f:
        admin = Api(server.http_port, bearer=f.read().strip())

    agents = {}
    for org, name in (("ООО Ромашка", "romashka"), ("Бета-секрет", "beta")):
        token, _ = server.create_org_and_token(org)
        if name == "romashka":  # a signed client: its findings page the engineer (the alerts page)
            server.ctl("org", "contract", org, "--status", "active")
        agent = Agent(workdir, "agent-" + name, server)
        procs.append(agent)
        agent.enroll(token)
        agent.start("--root", fixture_machine(workdir, name), "--health-interval", "2")
        agents[name] = agent.identity()["agent_id"]
    for login, role, extra in (("boss", "admin", {"display_name": "Главный Админ"}),
                               ("anna", "engineer", {"display_name": "Анна Смирнова", "language": "en"}),
                               ("sysadmin", "client", {"org": "ООО Ромашка", "display_name": "Сисадмин Ромашки"})):
        status, created, _, _ = admin.call("POST", "/api/v1/users", dict(
            {"login": login, "role": role, "password": PASSWORD}, **extra))
        check(status == 201, f"user {login}: {status} {created}")
    status, _, _, _ = admin.call("PUT", f"/api/v1/orgs/{quote('ООО Ромашка')}/engineers/anna", {"kind": "primary"})
    check(status == 200, "anna assigned")
    # A finding on each machine (one machine's rules may run before the other's are stored).
    wait_until(lambda: {f["org"] for f in admin.call("GET", "/api/v1/findings")[1]["findings"]}
               >= {"ООО Ромашка", "Бета-секрет"}, 90, "findings on both machines")
    # A few health samples for the charts.
    wait_until(lambda: len(admin.call("GET", f"/api/v1/hosts/{agents['romashka']}/health?limit=5")[1]["samples"]) >= 3,
               60, "health samples")
    wait_until(lambda: any(d["state"] == "sent" for a in admin.call("GET", "/api/v1/alerts")[1]["alerts"]
                           for d in a["deliveries"]), 60, "an alert delivered to the helpdesk")
    orgs = {o["name"]: o["id"] for o in admin.call("GET", "/api/v1/orgs")[1]["organizations"]}

    os.makedirs(ARTIFACTS, exist_ok=True)
    env = dict(os.environ,
               DOZOR_URL=f"http://127.0.0.1:{server.http_port}",
               DOZOR_PASSWORD=PASSWORD,
               DOZOR_ORG_ID=str(orgs["ООО Ромашка"]),
               DOZOR_OTHER_ORG_ID=str(orgs["Бета-секрет"]),
               DOZOR_AGENT_ID=agents["romashka"],
               DOZOR_CHROMIUM=CHROMIUM,
               DOZOR_ARTIFACT_DIR=ARTIFACTS,
               DOZOR_DASHBOARD_DIR=os.path.abspath(DASHBOARD_DIR))
    script = os.path.join(os.path.dirname(__file__), "dashboard.mjs")
    result = subprocess.run(["node", script], env=env, timeout=480)
    check(result.returncode == 0, f"the browser script failed (rc {result.returncode}); screenshots in {ARTIFACTS}")
    shots = sorted(f for f in os.listdir(ARTIFACTS) if f.endswith(".png"))
    log(f"{len(shots)} screenshots in {ARTIFACTS}")
    check(len(shots) >= 10, f"screenshots of the main pages in both languages: {shots}")


if __name__ == "__main__":
    run_test(body)
