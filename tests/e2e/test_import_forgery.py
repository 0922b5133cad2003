"""A copy of the server's database is not enough to forge a one-shot audit file.

Everything a database backup holds (the enrollment tokens' hashes and hints, their wrapped import
keys) is read from a copy of dozor.db, and used to sign files of a machine that never existed: in
the old format (key = the stored token hash), in the current one with every value of the copy as
the key, and as the genuine file with its host name changed. Each is refused and nothing is
stored; the genuine file, collected with the token, imports. The import key is in no byte of the
copy, and a server started on the copy without the original import-wrap.key verifies nothing and
says why."""
import base64
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import stat
import struct
import subprocess
import time

from harness import AGENT_BIN, Server, Steps, check, log, run_test

FIXTURES = os.environ.get("DOZOR_FIXTURES_DIR", os.path.join(os.path.dirname(__file__), "..", "fixtures"))
FIXTURE_HOST = os.path.join(FIXTURES, "hosts", "debian-server")


# --- protobuf, by hand: just enough of dozor.v1.Report for an inventory of a made-up machine ---
def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, wire, value):
    key = varint((number << 3) | wire)
    if wire == 0:
        return key + varint(value)
    return key + varint(len(value)) + value


def ghost_inventory(collected_at_ms):
    os_message = (field(6, 2, b"Debian GNU/Linux 12 (bookworm)") + field(7, 2, b"6.1.0-forged") +
                  field(9, 2, b"ghost") + field(20, 2, b"9999aaaabbbbccccddddeeeeffff0000"))
    inventory = field(2, 2, os_message)
    collector = field(1, 2, b"os") + field(2, 0, 1)
    return (field(1, 0, 1) + field(2, 0, collected_at_ms) + field(3, 2, b"0.1.0") +
            field(10, 2, inventory) + field(20, 2, collector))


# --- the file formats, as a forger would write them ---
def signed_bytes_v2(doc):
    fields = [doc["format"].encode(), str(doc["created_at_ms"]).encode(), doc["agent_version"].encode(),
              doc["hostname"].encode(), doc["machine_id"].encode(), doc["token_hint"].encode(),
              base64.b64decode(doc["payload"]), base64.b64decode(doc.get("health_payload", ""))]
    return b"".join(struct.pack(">Q", len(f)) + f for f in fields)


def sign_v2(doc, key):
    data = signed_bytes_v2(doc)
    doc["sha256"] = hashlib.sha256(data).hexdigest()
    doc["hmac_sha256"] = hmac.new(key, data, hashlib.sha256).hexdigest()
    return doc


def forged_v2(hint, payload, key):
    return sign_v2({"format": "dozor.snapshot/v2", "created_at_ms": int(time.time() * 1000) - 60000,
                    "agent_version": "0.1.0", "hostname": "ghost",
                    "machine_id": "9999aaaabbbbccccddddeeeeffff0000", "token_hint": hint,
                    "payload": base64.b64encode(payload).decode()}, key)


def forged_v1(hint, payload, token_hash):
    """The old format: HMAC over the payload only, keyed with the hash the database stores."""
    return {"format": "dozor.snapshot/v1", "created_at_ms": int(time.time() * 1000) - 60000,
            "agent_version": "0.1.0", "hostname": "ghost", "machine_id": "9999aaaabbbbccccddddeeeeffff0000",
            "token_hint": hint, "payload": base64.b64encode(payload).decode(),
            "sha256": hashlib.sha256(payload).hexdigest(),
            "hmac_sha256": hmac.new(token_hash.encode(), payload, hashlib.sha256).hexdigest()}


def hkdf_sha256(key_material, info, length=32):
    prk = hmac.new(b"\0" * 32, key_material, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def backup_database(server, path):
    """A consistent copy of dozor.db, as an operator's backup job would make it."""
    source = server.db()
    target = sqlite3.connect(path)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def read_backup(path):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tokens = con.execute("SELECT id, hint, token_hash FROM enrollment_tokens").fetchall()
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        wrapped = []
        if "enrollment_token_import_keys" in tables:
            wrapped = [row[0] for row in con.execute("SELECT wrapped_key FROM enrollment_token_import_keys")]
        return tokens, wrapped
    finally:
        con.close()


def write_json(workdir, name, doc):
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def count_rows(server, sql):
    con = server.db()
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def body(workdir, procs):
    server = Server(workdir, tls=False).start()
    procs.append(server)
    token, _ = server.create_org_and_token("Acme")
    hint = token[:12]

    root = os.path.join(workdir, "root")
    shutil.copytree(FIXTURE_HOST, root, symlinks=True)
    genuine_path = os.path.join(workdir, "genuine.dozor")
    result = subprocess.run([AGENT_BIN, "collect", "--root", root, "-o", genuine_path, "--token", token],
                            capture_output=True, text=True, timeout=120)
    check(result.returncode == 0, f"dozor-agent collect failed: {result.stdout}{result.stderr}")
    with open(genuine_path) as f:
        genuine = json.load(f)

    backup = os.path.join(workdir, "backup.db")
    backup_database(server, backup)
    tokens, wrapped_keys = read_backup(backup)
    check(len(tokens) == 1, f"one token in the copy: {tokens}")
    token_hash = tokens[0][2]
    log(f"the copy holds token hash {token_hash[:12]}… and {len(wrapped_keys)} wrapped key(s)")
    ghost = ghost_inventory(int(time.time() * 1000) - 60000)
    steps = Steps()

    def refused(path, expected):
        result = server.ctl("import", path, "--org", "Acme", check_rc=False)
        check(not isinstance(result, dict), f"{os.path.basename(path)} was accepted: {result}")
        check(expected in result.stderr, f"{os.path.basename(path)}: message {result.stderr!r} lacks {expected!r}")
        check(count_rows(server, "SELECT count(*) FROM imports") == 0, "nothing recorded")
        check(count_rows(server, "SELECT count(*) FROM agents WHERE source = 'import'") == 0, "no host created")

    def old_format_with_stored_hash():
        refused(write_json(workdir, "forged-v1.dozor", forged_v1(hint, ghost, token_hash)), "no longer accepted")

    def current_format_with_database_values():
        keys = [token_hash.encode(), bytes.fromhex(token_hash)] + [w.encode() for w in wrapped_keys]
        for i, key in enumerate(keys):
            refused(write_json(workdir, f"forged-v2-{i}.dozor", forged_v2(hint, ghost, key)),
                    "no enrollment token of this organisation matches")

    def genuine_file_renamed():
        renamed = dict(genuine)
        renamed["hostname"] = "ghost"
        refused(write_json(workdir, "renamed.dozor", renamed), "modified after collection")
        renamed = sign_v2(dict(renamed), token_hash.encode())
        renamed["hmac_sha256"] = genuine["hmac_sha256"]  # keep the genuine signature
        refused(write_json(workdir, "renamed-resigned.dozor", renamed),
                "no enrollment token of this organisation matches")

    def key_is_nowhere_in_the_copy():
        import_key = hkdf_sha256(token.encode(), b"dozor import v2")
        with open(backup, "rb") as f:
            data = f.read()
        for needle in (import_key, import_key.hex().encode(), token.encode()):
            check(needle not in data, "the import key or the token is in the database copy")
        key_file = os.path.join(server.state_dir, "import-wrap.key")
        check(os.path.exists(key_file), "the server keeps its import key beside the database")
        mode = stat.S_IMODE(os.stat(key_file).st_mode)
        check(mode == 0o600, f"import-wrap.key mode {oct(mode)}")

    def genuine_imports():
        reply = server.ctl("import", genuine_path, "--org", "Acme")
        check(reply["import"]["outcome"] == "created", f"genuine file imported: {reply}")
        check(reply["host"]["hostname"] == "db01", f"host name from the fixture: {reply}")

    def restored_copy_without_key_file_verifies_nothing():
        restored = Server(os.path.join(workdir, "restored"), tls=False)
        shutil.copy(backup, restored.db_path)
        shutil.copy(server.admin_token_file, restored.admin_token_file)
        os.chmod(restored.admin_token_file, 0o600)
        restored.start()
        procs.append(restored)
        result = restored.ctl("import", genuine_path, "--org", "Acme", check_rc=False)
        check(not isinstance(result, dict), f"a server without the key file accepted the file: {result}")
        check("replaced or lost" in result.stderr, f"says the key changed: {result.stderr}")
        check("dozorctl token create" in result.stderr, f"says what to do: {result.stderr}")
        restored.stop()

    steps.run("old format signed with the stored token hash -> refused", old_format_with_stored_hash)
    steps.run("current format signed with each value of the database copy -> refused",
              current_format_with_database_values)
    steps.run("genuine file with another host name, sha256 recomputed -> refused", genuine_file_renamed)
    steps.run("the import key is in no byte of the copy; its file is 0600 beside it", key_is_nowhere_in_the_copy)
    steps.run("the genuine file imports", genuine_imports)
    steps.run("the copy on a server without import-wrap.key verifies nothing, and says why",
              restored_copy_without_key_file_verifies_nothing)
    steps.finish()


run_test(body)
