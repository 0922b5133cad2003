"""One-shot audit round trip: `dozor-agent collect` on a fixture root (no server connection) writes a
snapshot file; `dozorctl import` loads it as a snapshot host of the organisation; re-importing the
same file changes nothing; a file with one base64 character changed, or made with another
organisation's token, is refused and nothing changes."""
import base64
import json
import os
import shutil
import subprocess

from harness import AGENT_BIN, SERVER_BIN, Server, Steps, check, log, run_test

FIXTURES = os.environ.get("DOZOR_FIXTURES_DIR", os.path.join(os.path.dirname(__file__), "..", "fixtures"))
FIXTURE_HOST = os.path.join(FIXTURES, "hosts", "debian-server")


def collect(workdir, root, token, name):
    out = os.path.join(workdir, name)
    check(os.path.exists(AGENT_BIN), f"{AGENT_BIN} is not built")
    result = subprocess.run([AGENT_BIN, "collect", "--root", root, "-o", out, "--token", token],
                            capture_output=True, text=True, timeout=120)
    check(result.returncode == 0, f"dozor-agent collect failed ({result.returncode}): {result.stdout}{result.stderr}")
    check(token not in open(out).read(), "the token itself is not in the file")
    return out


def import_file(server, path, org, check_rc=True):
    return server.ctl("import", path, "--org", org, check_rc=check_rc)


def count_rows(server, sql, *args):
    con = server.db()
    try:
        return con.execute(sql, args).fetchone()[0]
    finally:
        con.close()


def body(workdir, procs):
    server = Server(workdir, tls=False).start()
    procs.append(server)
    token, created = server.create_org_and_token("Acme")
    other_token, _ = server.create_org_and_token("Other")

    # A private copy: collectors must never write into the shared fixture tree.
    root = os.path.join(workdir, "root")
    shutil.copytree(FIXTURE_HOST, root, symlinks=True)
    with open(os.path.join(root, "etc", "machine-id")) as f:
        machine_id = f.read().strip()
    snapshot = collect(workdir, root, token, "acme.dozor")
    with open(snapshot) as f:
        document = json.load(f)
    check(document["format"] == "dozor.snapshot/v2", f"format: {document.get('format')}")
    check(document["token_hint"] == token[:12], "token hint is the token's first 12 characters")
    log(f"snapshot: {os.path.getsize(snapshot)} bytes, machine {document.get('machine_id')}")

    steps = Steps()
    state = {}

    def first_import():
        reply = import_file(server, snapshot, "Acme")
        check(reply["duplicate"] is False, f"first import is not a duplicate: {reply}")
        check(reply["import"]["outcome"] == "created", f"first import creates the host: {reply}")
        state["agent_id"] = reply["host"]["agent_id"]
        hosts = server.ctl("host", "list", "--org", "Acme")["hosts"]
        check(len(hosts) == 1, f"one host in Acme: {hosts}")
        host = hosts[0]
        check(host["agent_id"] == state["agent_id"], "the listed host is the imported one")
        check(host["source"] == "import", f"source is import: {host}")
        check(host["online"] is False, "a snapshot host is never online")
        check(host["hostname"] == "db01", f"hostname from the fixture: {host['hostname']}")
        inventory = server.ctl("host", "inventory", state["agent_id"])["inventory"]
        check(inventory["os"].get("machine_id") == machine_id, f"machine id: {inventory['os']}")
        packages = inventory.get("software", {}).get("packages", [])
        check(len(packages) > 0, "the fixture's packages were imported")
        log(f"imported {len(packages)} packages of {host['hostname']}")
        human = server.ctl("host", "list", json_out=False)
        check("SOURCE" in human.stdout and "import" in human.stdout, f"host table shows the source:\n{human.stdout}")
        text = server.ctl("import", snapshot, "--org", "Acme", json_out=False)
        check("Already imported" in text.stdout, f"human output of a re-import: {text.stdout}")

    def reimport_is_duplicate():
        changes = count_rows(server, "SELECT count(*) FROM inventory_changes")
        reply = import_file(server, snapshot, "Acme")
        check(reply["duplicate"] is True, f"second import is a duplicate: {reply}")
        check(reply["host"]["agent_id"] == state["agent_id"], "same host")
        check(len(server.ctl("host", "list")["hosts"]) == 1, "still one host")
        check(count_rows(server, "SELECT count(*) FROM imports") == 1, "one import recorded")
        check(count_rows(server, "SELECT count(*) FROM inventory_changes") == changes, "no new change log rows")

    def tampered_is_refused():
        forged = dict(document)
        payload = forged["payload"]
        middle = len(payload) // 2
        flipped = "B" if payload[middle] != "B" else "C"
        forged["payload"] = payload[:middle] + flipped + payload[middle + 1:]
        base64.b64decode(forged["payload"], validate=True)  # still valid base64: only content changed
        path = os.path.join(workdir, "tampered.dozor")
        with open(path, "w") as f:
            json.dump(forged, f)
        seq_before = count_rows(server, "SELECT last_seq FROM agents WHERE agent_id = ?", state["agent_id"])
        result = import_file(server, path, "Acme", check_rc=False)
        check(result.returncode != 0, "tampered file refused")
        check("modified after collection" in result.stderr, f"says the file was modified: {result.stderr}")
        check(count_rows(server, "SELECT count(*) FROM imports") == 1, "nothing recorded")
        check(count_rows(server, "SELECT last_seq FROM agents WHERE agent_id = ?", state["agent_id"]) == seq_before,
              "the host did not change")

    def foreign_token_is_refused():
        other_root = os.path.join(workdir, "root-other")
        shutil.copytree(FIXTURE_HOST, other_root, symlinks=True)
        foreign = collect(workdir, other_root, other_token, "other.dozor")
        result = import_file(server, foreign, "Acme", check_rc=False)
        check(result.returncode != 0, "another organisation's file refused")
        check("no enrollment token of this organisation matches" in result.stderr, f"message: {result.stderr}")
        check(len(server.ctl("host", "list", "--org", "Acme")["hosts"]) == 1, "Acme unchanged")
        check(count_rows(server, "SELECT count(*) FROM imports") == 1, "nothing recorded")
        # The same file is welcome in its own organisation, as a host of its own.
        reply = import_file(server, foreign, "Other")
        check(reply["import"]["outcome"] == "created", f"imported into Other: {reply}")
        check(reply["host"]["agent_id"] != state["agent_id"], "a separate host per organisation")

    def rotate_import_key(check_rc=True):
        args = [SERVER_BIN, "--state-dir", server.state_dir, "--insecure"]
        if server.postgres:
            args += ["--store", server.postgres]
        result = subprocess.run(args + ["store", "rotate-import-key"], capture_output=True,
                                text=True, timeout=60)
        log(f"rotate-import-key: exit {result.returncode}: {result.stdout}{result.stderr}".strip())
        return result

    def key_rotation_keeps_tokens_signing():
        key_path = os.path.join(server.state_dir, "import-wrap.key")
        with open(key_path) as f:
            old_key = f.read()
        # Not under a running server: it would go on using the old key until restarted.
        refused = rotate_import_key()
        check(refused.returncode == 1, f"refused while the server runs: {refused.returncode}")
        check("server is running" in refused.stderr, f"says why: {refused.stderr}")
        server.stop()
        rotated = rotate_import_key()
        check(rotated.returncode == 0, f"rotated: {rotated.returncode} {rotated.stderr}")
        check("2 import keys rewrapped" in rotated.stdout, f"both tokens' keys: {rotated.stdout}")
        with open(key_path) as f:
            check(f.read() != old_key, "a new key file")
        check(not os.path.exists(key_path + ".new"), "no pending key left")
        check(oct(os.stat(key_path).st_mode & 0o777) == "0o600", "the key file stays private")
        server.start()
        # A file signed with the token after the rotation (and one before: the same key) imports.
        newer = collect(workdir, root, token, "acme-after-rotation.dozor")
        reply = import_file(server, newer, "Acme")
        check(reply["duplicate"] is False, f"a new file: {reply}")
        check(reply["host"]["agent_id"] == state["agent_id"], "onto the same host")

    steps.run("collect -> import -> snapshot host with inventory", first_import)
    if "agent_id" in state:
        steps.run("re-import of the same file is a duplicate", reimport_is_duplicate)
        steps.run("one base64 character changed -> refused, nothing changes", tampered_is_refused)
        steps.run("another organisation's token -> refused", foreign_token_is_refused)
        steps.run("store rotate-import-key: stopped server only; tokens still sign imports",
                  key_rotation_keeps_tokens_signing)
    steps.finish()


run_test(body)
