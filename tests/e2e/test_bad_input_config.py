"""Bad configuration gets a clear error naming the file, line or setting, exits with the documented
code and changes nothing on disk: no state directory appears, a garbage database is left as it was."""
import hashlib
import os
import subprocess
from harness import AGENT_BIN, SERVER_BIN, Steps, check, log, make_tls, run_test


def run(args, timeout=30):
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    log(f"   $ {' '.join(os.path.basename(a) if a in (AGENT_BIN, SERVER_BIN) else a for a in args)}"
        f" -> {result.returncode}: {result.stderr.strip()[:300]}")
    return result


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def body(workdir, procs):
    steps = Steps()
    # A loopback address with nothing listening: the agent must fail on its config before connecting.
    agent_base = ["--server", "127.0.0.1:1", "--insecure"]

    def agent_syntax_error():
        state = os.path.join(workdir, "agent-syntax")
        cfg = write(os.path.join(workdir, "agent-syntax.toml"),
                    '[server]\naddress = "127.0.0.1:1"\n\n[intervals]\nhealth_seconds = tru\n')
        r = run([AGENT_BIN, "--config", cfg, "run", "--state-dir", state] + agent_base)
        check(r.returncode == 2, f"syntax error exits 2, got {r.returncode}")
        check(f"{cfg}:5:" in r.stderr, f"stderr names {cfg}:5: {r.stderr!r}")
        check("Traceback" not in r.stderr and "terminate" not in r.stderr, "a message, not a crash")
        check(not os.path.exists(state), "no state dir created for a config that does not parse")

    def agent_unknown_key():
        state = os.path.join(workdir, "agent-unknown")
        cfg = write(os.path.join(workdir, "agent-unknown.toml"),
                    '[server]\naddress = "127.0.0.1:1"\ninsecure = true\n\n[intervals]\nhealth_secnds = 5\n')
        r = run([AGENT_BIN, "--config", cfg, "run", "--state-dir", state])
        check(r.returncode == 2, f"unknown key exits 2, got {r.returncode}")
        check(f"{cfg}:6:" in r.stderr, f"stderr names {cfg}:6: {r.stderr!r}")
        check("health_secnds" in r.stderr, f"stderr names the unknown key: {r.stderr!r}")
        check(not os.path.exists(state), "no state dir created")

    def agent_out_of_range_value_in_file():
        cfg = write(os.path.join(workdir, "agent-range.toml"), "[intervals]\nhealth_seconds = 0\n")
        r = run([AGENT_BIN, "--config", cfg, "run", "--state-dir", os.path.join(workdir, "a3")] + agent_base)
        check(r.returncode == 2, f"out-of-range key exits 2, got {r.returncode}")
        check(f"{cfg}:2" in r.stderr and "1..86400" in r.stderr, f"stderr names line and range: {r.stderr!r}")

    def agent_out_of_range_flags():
        state = os.path.join(workdir, "agent-flags")
        for flag, value, expected in (("--health-interval", "86401", "1..86400"),
                                      ("--health-interval", "-1", "1..86400"),
                                      ("--inventory-interval", "10", "60..604800"),
                                      ("--inventory-interval", "604801", "60..604800"),
                                      ("--spool-max-bytes", "5", "1MiB..10GiB")):
            r = run([AGENT_BIN, "run", "--state-dir", state, flag, value] + agent_base)
            check(r.returncode == 2, f"{flag} {value} exits 2, got {r.returncode}: {r.stderr!r}")
            check(expected in r.stderr and flag in r.stderr, f"{flag} {value}: stderr names flag and range: {r.stderr!r}")
        check(not os.path.exists(state), "no state dir created")

    def agent_zero_interval_flag():
        # 0 is outside 1..86400 like -1; it must not be silently taken as "flag not given".
        r = run([AGENT_BIN, "run", "--state-dir", os.path.join(workdir, "agent-zero"),
                 "--health-interval", "0"] + agent_base)
        check(r.returncode == 2 and "1..86400" in r.stderr,
              f"--health-interval 0 is rejected with exit 2 and the range, got {r.returncode}: {r.stderr!r}")

    server_base = ["--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"]

    def server_bad_toml():
        state = os.path.join(workdir, "server-toml")
        cfg = write(os.path.join(workdir, "server-syntax.toml"),
                    '[grpc]\nlisten = "127.0.0.1:0"\ninsecure = tru\n')
        r = run([SERVER_BIN, "--config", cfg, "--state-dir", state])
        check(r.returncode == 2, f"syntax error exits 2, got {r.returncode}")
        check(f"{cfg}:3:" in r.stderr, f"stderr names {cfg}:3: {r.stderr!r}")
        check(not os.path.exists(state), "no state dir created")
        cfg = write(os.path.join(workdir, "server-unknown.toml"),
                    '[grpc]\ninsecure = true\n[http]\nlisten = "127.0.0.1:0"\nofline_after_seconds = 60\n')
        r = run([SERVER_BIN, "--config", cfg, "--state-dir", state])
        check(r.returncode == 2, f"unknown key exits 2, got {r.returncode}")
        check(f"{cfg}:5:" in r.stderr and "ofline_after_seconds" in r.stderr, f"names file:line and key: {r.stderr!r}")
        check(not os.path.exists(state), "no state dir created")

    def server_missing_tls():
        state = os.path.join(workdir, "server-tls")
        r = run([SERVER_BIN, "--state-dir", state, "--tls-cert", os.path.join(workdir, "missing.crt"),
                 "--tls-key", os.path.join(workdir, "missing.key")] + server_base)
        check(r.returncode != 0, "missing TLS files: non-zero exit")
        check("--tls-cert" in r.stderr and "missing.crt" in r.stderr, f"names the setting and file: {r.stderr!r}")
        check(not os.path.exists(state), f"no state dir left behind: {os.listdir(workdir)}")
        # Certificate present, key missing: the key setting is named.
        tls_dir = os.path.join(workdir, "tlsdir")
        os.makedirs(tls_dir)
        tls = make_tls(tls_dir)
        r = run([SERVER_BIN, "--state-dir", state, "--tls-cert", tls["server.crt"],
                 "--tls-key", os.path.join(workdir, "missing.key")] + server_base)
        check(r.returncode != 0 and "--tls-key" in r.stderr, f"missing key names --tls-key: {r.stderr!r}")
        check(not os.path.exists(state), "no state dir left behind")

    def server_garbage_tls():
        # The file exists but holds no certificate: refuse before touching the state dir, naming the
        # setting (not "cannot listen ... on 127.0.0.1:0", which sends the operator after the port).
        state = os.path.join(workdir, "server-tls-garbage")
        tls = {k: os.path.join(workdir, "tlsdir", k) for k in ("server.crt", "server.key")}
        garbage_cert = write(os.path.join(workdir, "garbage.crt"), "not a certificate\n")
        r = run([SERVER_BIN, "--state-dir", state, "--tls-cert", garbage_cert, "--tls-key", tls["server.key"]]
                + server_base)
        check(r.returncode != 0, "garbage certificate: non-zero exit")
        check("--tls-cert" in r.stderr and "garbage.crt" in r.stderr,
              f"a garbage certificate is refused naming the setting and file: {r.stderr[-400:]!r}")
        check(not os.path.exists(state),
              f"no state dir left behind: {sorted(os.listdir(state)) if os.path.isdir(state) else state}")

    def server_garbage_db():
        state = os.path.join(workdir, "server-garbage")
        os.makedirs(state, mode=0o700)
        db = os.path.join(state, "dozor.db")
        garbage = os.urandom(32 * 1024)
        with open(db, "wb") as f:
            f.write(garbage)
        digest = hashlib.sha256(garbage).hexdigest()
        r = run([SERVER_BIN, "--state-dir", state, "--insecure"] + server_base)
        check(r.returncode != 0, "garbage database: non-zero exit")
        check(db in r.stderr, f"stderr names the database file: {r.stderr!r}")
        with open(db, "rb") as f:
            check(hashlib.sha256(f.read()).hexdigest() == digest, "the garbage file is left byte for byte")
        check(sorted(os.listdir(state)) == ["dozor.db"], f"nothing else created next to it: {os.listdir(state)}")
        # A file that starts like SQLite but is not one either.
        with open(db, "wb") as f:
            f.write(b"SQLite format 3\x00" + os.urandom(8192))
        with open(db, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        r = run([SERVER_BIN, "--state-dir", state, "--insecure"] + server_base)
        check(r.returncode != 0 and db in r.stderr, f"fake SQLite header refused naming the file: {r.stderr!r}")
        with open(db, "rb") as f:
            check(hashlib.sha256(f.read()).hexdigest() == digest, "the fake SQLite file is left byte for byte")

    steps.run("1a. agent config with a TOML syntax error", agent_syntax_error)
    steps.run("1b. agent config with an unknown key", agent_unknown_key)
    steps.run("1c. agent config with an out-of-range value", agent_out_of_range_value_in_file)
    steps.run("1d. agent flags out of range", agent_out_of_range_flags)
    steps.run("1e. agent --health-interval 0", agent_zero_interval_flag)
    steps.run("2a. server config with bad TOML / unknown key", server_bad_toml)
    steps.run("2b. server with missing or garbage TLS files", server_missing_tls)
    steps.run("2b'. server with a garbage TLS certificate", server_garbage_tls)
    steps.run("2c. server on a garbage dozor.db", server_garbage_db)
    steps.finish()


run_test(body)
