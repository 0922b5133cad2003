"""The Windows agent (dozor-agent.exe, cross-built) under Wine against the real Linux dozor-server
on loopback over TLS: installs the way the MSI's custom action does (enroll --configure: the CA
checked against its fingerprint, the configuration written), streams inventory and health, keeps
everything through a server kill, and shows up in dozorctl with its Windows inventory. What Wine
cannot provide must come back as "unavailable" notes and collector statuses, never as a crash."""
import hashlib
import os
import subprocess
import time

from harness import ManagedProcess, Server, Steps, check, log, run_test, wait_until
from wine import AGENT_EXE, WinePrefix, windows_path


class WineAgent(ManagedProcess):
    def __init__(self, workdir, wine):
        self.wine = wine
        self.home = os.path.join(workdir, "ProgramData-Dozor")
        os.makedirs(self.home, exist_ok=True)
        self.config = os.path.join(self.home, "agent.toml")
        self.state_dir = os.path.join(self.home, "state")
        self.log_path = os.path.join(workdir, "wine-agent.log")
        self.proc = None

    def args(self):
        return ["-c", windows_path(self.config), "--state-dir", windows_path(self.state_dir)]

    def start(self, *extra):
        self.logfile = open(self.log_path, "a")
        self.proc = subprocess.Popen(self.wine.command(AGENT_EXE, "run", *self.args(), *extra),
                                     env=self.wine.env, stdout=self.logfile, stderr=subprocess.STDOUT)
        return self


def body(workdir, procs):
    check(os.path.isfile(AGENT_EXE), f"no Windows agent at {AGENT_EXE} (DOZOR_WINDOWS_BUILD_DIR)")
    server = Server(workdir, tls=True).start()
    procs.append(server)
    token, _ = server.create_org_and_token("ООО Ромашка (Windows)")
    grpc_port, http_port = server.grpc_port, server.http_port
    ca_path = server.tls["ca.crt"]
    # The certificate's fingerprint (SHA-256 of its DER form), as the server's install command has it.
    der = subprocess.run(["openssl", "x509", "-in", ca_path, "-outform", "DER"], capture_output=True,
                         check=True).stdout
    ca_sha256 = hashlib.sha256(der).hexdigest()

    started = time.time()
    wine = WinePrefix(workdir)
    log(f"Wine prefix ready in {time.time() - started:.1f} s")
    agent = WineAgent(workdir, wine)
    procs.append(agent)
    steps = Steps()
    state = {}

    def wrong_fingerprint_refused():
        result = wine.run(AGENT_EXE, "enroll", "--configure", "--server", server.grpc_address(),
                          "--token", token, "--ca", windows_path(ca_path), "--ca-sha256", "00" * 32,
                          *agent.args())
        check(result.returncode == 2, f"exit {result.returncode}: {result.stdout}{result.stderr}")
        check(ca_sha256 in result.stderr, f"the real fingerprint is named: {result.stderr}")
        check(not os.path.exists(agent.config), "nothing written for a wrong CA")

    def enroll_like_the_msi():
        result = wine.run(AGENT_EXE, "enroll", "--configure", "--server", server.grpc_address(),
                          "--token", token, "--ca", windows_path(ca_path),
                          "--ca-sha256", ca_sha256.upper(), *agent.args())
        check(result.returncode == 0, f"enroll: exit {result.returncode}: {result.stdout}{result.stderr}")
        with open(agent.config, encoding="utf-8") as f:
            config = f.read()
        check(f'address = "{server.grpc_address()}"' in config, config)
        check("ca.crt" in config, config)
        check(os.path.exists(os.path.join(agent.state_dir, "identity.json")), "identity saved")
        # Again, as an upgrade or a reinstall does: the identity is kept, the token not used.
        with open(os.path.join(agent.state_dir, "identity.json"), "rb") as f:
            before = f.read()
        again = wine.run(AGENT_EXE, "enroll", "--configure", "--server", server.grpc_address(),
                         "--token", "dze_not_used", "--ca", windows_path(ca_path),
                         "--ca-sha256", ca_sha256, *agent.args())
        check(again.returncode == 0 and "identity kept" in again.stdout, f"{again.stdout}{again.stderr}")
        with open(os.path.join(agent.state_dir, "identity.json"), "rb") as f:
            check(f.read() == before, "identity unchanged")

    def streams_windows_inventory():
        agent.start("--health-interval", "2")
        hosts = wait_until(lambda: [h for h in server.ctl("host", "list")["hosts"]
                                    if h.get("last_inventory_ms") and h.get("source") == "agent"],
                           180, "the Windows host with an inventory")
        state["agent_id"] = hosts[0]["agent_id"]
        inventory = server.ctl("host", "inventory", state["agent_id"])["inventory"]
        os_part = inventory.get("os", {})
        log(f"OS as the server has it: {os_part.get('name')!r} {os_part.get('version')!r} "
            f"build {os_part.get('build')!r}; unavailable: {os_part.get('unavailable')}")
        check(os_part.get("family") == "windows", f"OS family: {os_part}")
        check(inventory.get("hardware", {}).get("cpu", {}) or inventory.get("hardware"), "hardware present")
        state["inventory"] = inventory

    def health_arrives():
        wait_until(lambda: len(server.ctl("host", "health", state["agent_id"], "--limit", "100")["samples"]) >= 2,
                   120, "two health samples")

    def survives_server_kill():
        server.kill()
        time.sleep(8)  # samples pile up in the spool meanwhile
        check(agent.proc.poll() is None, "the agent is still running without its server")
        server.start(grpc_port=grpc_port, http_port=http_port)
        con = server.db()
        try:
            pk = con.execute("SELECT id FROM agents WHERE agent_id = ?", (state["agent_id"],)).fetchone()[0]
        finally:
            con.close()

        def drained():
            c = server.db()
            try:
                last_seq = c.execute("SELECT last_seq FROM agents WHERE id = ?", (pk,)).fetchone()[0]
                seqs = [r[0] for r in c.execute("SELECT seq FROM health_samples WHERE agent = ?", (pk,))]
            finally:
                c.close()
            check(len(seqs) == len(set(seqs)), "no duplicate health samples")
            return last_seq >= 8 and len(seqs) >= 6
        wait_until(drained, 120, "the spooled samples delivered after the server came back")

    def status_command():
        result = wine.run(AGENT_EXE, "status", "--state-dir", windows_path(agent.state_dir), "--json")
        check(state["agent_id"] in result.stdout, f"status names the agent: {result.stdout}{result.stderr}")

    def wine_gaps_reported_as_unavailable():
        # Wine has no Security Center, Defender, BitLocker or MSFT_Net* classes: each part says
        # what it could not read, and everything else is there.
        inventory = server.ctl("host", "inventory", state["agent_id"])["inventory"]
        notes = {part: (value.get("unavailable") or []) for part, value in inventory.items()
                 if isinstance(value, dict)}
        for part, lines in notes.items():
            for line in lines:
                log(f"   unavailable under Wine: {part}: {line}")
        security = notes.get("security", [])
        check(any("not available on this system" in line for line in security),
              f"security names the WMI classes it could not read: {security}")
        check(inventory["os"].get("build"), f"the OS build is read: {inventory['os']}")
        check(inventory["hardware"].get("cpu", {}).get("threads", 0) > 0, "the CPU is read")
        check(inventory.get("network", {}).get("interfaces"), "network adapters are read")
        check(agent.proc.poll() is None, "the agent still runs")

    def one_shot_collect_and_import():
        # A prospect's machine: no enrollment, no server; the file is imported by the engineer.
        server.ctl("org", "create", "Проспект", "--type", "complex", "--engineer", "Иван Петров")
        prospect_token = server.ctl("token", "create", "--org", "Проспект", "--label", "audit")["token"]
        snapshot = os.path.join(workdir, "проспект.dozor")
        result = wine.run(AGENT_EXE, "collect", "-o", windows_path(snapshot), "--token", prospect_token,
                          "--interval-ms", "500", timeout=300)
        check(result.returncode == 0, f"collect: exit {result.returncode}: {result.stdout}{result.stderr}")
        check(os.path.getsize(snapshot) > 1000, "a snapshot file was written")
        reply = server.ctl("import", snapshot, "--org", "Проспект")
        check(reply["import"]["outcome"] == "created", f"import: {reply}")
        hosts = server.ctl("host", "list", "--org", "Проспект")["hosts"]
        check(len(hosts) == 1 and hosts[0]["os_family"] == "windows" and hosts[0]["source"] == "import",
              f"the imported Windows host: {hosts}")

    steps.run("collect -o FILE on a prospect's machine, imported with dozorctl import",
              one_shot_collect_and_import)
    steps.run("a CA with another fingerprint is refused, nothing written", wrong_fingerprint_refused)
    steps.run("enroll --configure as the MSI runs it, twice", enroll_like_the_msi)
    steps.run("the Windows inventory reaches the server", streams_windows_inventory)
    if "agent_id" in state:
        steps.run("health samples arrive", health_arrives)
        steps.run("the server is killed and comes back: nothing lost, nothing twice", survives_server_kill)
        steps.run("dozor-agent.exe status", status_command)
        steps.run("what Wine cannot serve is reported unavailable, not fatal",
                  wine_gaps_reported_as_unavailable)
    agent.kill()
    wine.close()
    steps.finish()


run_test(body)
