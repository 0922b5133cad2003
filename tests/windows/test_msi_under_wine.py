"""The MSI, installed by Wine's own msiexec into a fresh Wine prefix, the way a client's sysadmin
runs it (msiexec /i ... /qn TOKEN=... SERVER=... CA_FILE=... CA_SHA256=...): the custom action
enrolls, Wine's service control manager starts the service, the inventory reaches the real Linux
server over TLS; the service stops on request; an upgrade keeps the identity and needs no token;
an uninstall leaves no service behind and keeps the identity. Wine's msiexec and service manager
are not Windows': what they do not implement (the recovery actions' effect, group policy) is not
tested here."""
import glob
import hashlib
import json
import os
import subprocess
import tempfile
import time

from harness import Server, Steps, check, log, run_test, wait_until
from wine import WINDOWS_BUILD_DIR, WinePrefix, windows_path

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def body(workdir, procs):
    msis = glob.glob(os.path.join(WINDOWS_BUILD_DIR, "dozor-agent-*-x64.msi"))
    check(len(msis) == 1, f"one MSI in {WINDOWS_BUILD_DIR}: {msis}")
    msi = msis[0]
    server = Server(workdir, tls=True).start()
    procs.append(server)
    token, _ = server.create_org_and_token("ООО Ромашка (MSI)")
    ca = server.tls["ca.crt"]
    # The certificate's fingerprint (SHA-256 of its DER form), as the server's install command has it.
    der = subprocess.run(["openssl", "x509", "-in", ca, "-outform", "DER"], capture_output=True,
                         check=True).stdout
    ca_sha256 = hashlib.sha256(der).hexdigest()
    wine = WinePrefix(workdir)
    program_data = os.path.join(wine.path, "drive_c", "ProgramData", "Dozor")
    program_files = os.path.join(wine.path, "drive_c", "Program Files", "Dozor")
    identity_path = os.path.join(program_data, "state", "identity.json")
    steps = Steps()
    state = {}

    def msiexec(*args, timeout=300):
        return wine.run("msiexec", *args, timeout=timeout)

    def service_state():
        result = wine.run("sc", "query", "dozor-agent", timeout=60)
        for line in result.stdout.splitlines():
            if "STATE" in line:
                return line.split()[-1]
        return None  # no such service

    def hosts():
        return server.ctl("host", "list")["hosts"]

    event_source = r"HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\dozor-agent"

    def event_source_values():
        """The event source's registry values (name -> data), None when the key is absent."""
        result = wine.run("reg", "query", event_source, timeout=60)
        if result.returncode != 0:
            return None
        values = {}
        for line in result.stdout.splitlines():
            parts = line.split(None, 2)
            if len(parts) == 3 and parts[1].startswith("REG_"):
                values[parts[0]] = parts[2].strip()
        return values

    def install():
        started = time.time()
        result = msiexec("/i", windows_path(msi), "/qn", "/l*v", windows_path(os.path.join(workdir, "install.log")),
                         f"TOKEN={token}", f"SERVER={server.grpc_address()}", f"CA_FILE={windows_path(ca)}",
                         f"CA_SHA256={ca_sha256}")
        log(f"msiexec /i: exit {result.returncode} in {time.time() - started:.1f} s")
        check(result.returncode == 0, f"msiexec /i exit {result.returncode}: {result.stderr[-2000:]}")
        check(os.path.isfile(os.path.join(program_files, "dozor-agent.exe")), "the agent in Program Files")
        with open(os.path.join(program_data, "agent.toml"), encoding="utf-8") as f:
            check(server.grpc_address() in f.read(), "the configuration names the server")
        with open(os.path.join(workdir, "install.log"), "rb") as f:
            raw = f.read()
        # Windows Installer writes its log in UTF-16; Wine's in UTF-8.
        install_log = raw.decode("utf-16", "replace") if raw[:2] == b"\xff\xfe" else raw.decode("utf-8", "replace")
        check("EnrollAgent" in install_log, "the log shows the enrollment step")
        # Windows Installer masks MsiHiddenProperties (TOKEN) in its log; Wine's does not, so here
        # that is only reported (test_msi_tables.py checks the property is set).
        log(f"token in Wine's installer log: {token in install_log} (Windows masks it)")
        with open(identity_path) as f:
            state["identity"] = f.read()
        # The service's event log source (its warnings and errors), with the message file that
        # shows their text as it is.
        values = event_source_values()
        check(values is not None, f"the event source {event_source} is registered")
        check(values.get("EventMessageFile", "").lower().endswith("\\system32\\eventcreate.exe"), values)
        check(values.get("TypesSupported") in ("0x7", "7"), values)

    def service_streams():
        wait_until(lambda: service_state() == "RUNNING", 60, "the service running")
        found = wait_until(lambda: [h for h in hosts() if h.get("last_inventory_ms")], 180,
                           "the inventory of the installed agent")
        state["agent_id"] = found[0]["agent_id"]
        check(json.loads(state["identity"])["agent_id"] == state["agent_id"], "the enrolled identity streams")
        check(found[0]["os_family"] == "windows", found[0])

    def service_stops():
        result = wine.run("sc", "stop", "dozor-agent", timeout=60)
        check(result.returncode == 0, f"sc stop: {result.stdout}{result.stderr}")
        wait_until(lambda: service_state() == "STOPPED", 60, "the service stopped")
        wait_until(lambda: not [h for h in hosts() if h["agent_id"] == state["agent_id"] and h["connected"]],
                   60, "the stream closed")
        result = wine.run("sc", "start", "dozor-agent", timeout=60)
        check(result.returncode == 0, f"sc start: {result.stdout}{result.stderr}")
        wait_until(lambda: service_state() == "RUNNING", 60, "the service running again")

    def upgrade_keeps_identity():
        newer = os.path.join(workdir, "dozor-agent-99.0.0-x64.msi")
        subprocess.run([os.path.join(SOURCE_DIR, "deploy", "windows", "make-msi.sh"),
                        os.path.join(WINDOWS_BUILD_DIR, "agent", "dozor-agent.exe"), "99.0.0", newer],
                       check=True, capture_output=True, timeout=300)
        # No token, no CA: an upgrade needs neither.
        result = msiexec("/i", windows_path(newer), "/qn")
        check(result.returncode == 0, f"upgrade: exit {result.returncode}: {result.stderr[-2000:]}")
        with open(identity_path) as f:
            check(f.read() == state["identity"], "the identity is kept")
        wait_until(lambda: service_state() == "RUNNING", 60, "the upgraded service running")
        state["newer"] = newer
        check(len([h for h in hosts()]) == 1, "still one host")

    def uninstall_removes_service():
        result = msiexec("/x", windows_path(state.get("newer", msi)), "/qn")
        check(result.returncode == 0, f"msiexec /x exit {result.returncode}: {result.stderr[-2000:]}")
        wait_until(lambda: service_state() is None, 60, "no service left")
        check(not os.path.exists(os.path.join(program_files, "dozor-agent.exe")), "the program removed")
        check(not event_source_values(), f"the event source removed: {event_source_values()}")
        check(os.path.isfile(identity_path), "the identity stays for a reinstall")

    steps.run("msiexec /i /qn TOKEN SERVER CA_FILE CA_SHA256 enrolls and configures", install)
    if "identity" in state:
        steps.run("the service runs and its inventory reaches the server", service_streams)
        steps.run("sc stop: the service stops and closes its stream; sc start: it runs again", service_stops)
        steps.run("a newer MSI without a token upgrades in place, identity kept", upgrade_keeps_identity)
        steps.run("msiexec /x removes the service, the program and its event source", uninstall_removes_service)
    wine.close()
    steps.finish()


run_test(body)
