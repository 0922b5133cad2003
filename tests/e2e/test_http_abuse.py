"""Hostile clients of the management API against the real server: descriptor exhaustion (EMFILE)
must not make the acceptor spin or flood the log, wrong bearer tokens are throttled per source
address, and the public package route streams a large .deb from disk without loading it."""
import http.client
import os
import resource
import socket
import time

from harness import Server, Steps, check, log, run_test, wait_until

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of a process (all its threads), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def log_text(server):
    with open(server.log_path, errors="replace") as f:
        return f.read()


def request(port, method, path, token=None, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Authorization": "Bearer " + token} if token else {}
        conn.request(method, path, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def body(workdir, procs):
    packages = os.path.join(workdir, "packages")
    os.makedirs(packages)
    big_deb = os.path.join(packages, "dozor-agent_9.9.9-1_amd64.deb")
    with open(big_deb, "wb") as f:  # sparse: cheap to create, 150 MiB to serve
        f.truncate(150 << 20)
    server = Server(workdir, tls=False).start(extra=["--install-packages-dir", packages])
    procs.append(server)
    with open(server.admin_token_file) as f:
        admin_token = f.read().strip()
    pid = server.proc.pid
    steps = Steps()

    def descriptor_exhaustion():
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        in_use = len(os.listdir(f"/proc/{pid}/fd"))
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (in_use + 16, hard))
        log_before = len(log_text(server))
        idle = []
        try:
            # Idle connections (they never send a byte): the server's descriptors run out, the
            # rest wait in the listen backlog and every accept fails with EMFILE.
            for _ in range(64):
                s = socket.create_connection(("127.0.0.1", server.http_port), timeout=5)
                idle.append(s)
            wait_until(lambda: len(os.listdir(f"/proc/{pid}/fd")) >= in_use + 15, 10,
                       "the server's descriptors exhausted")
            time.sleep(0.5)
            cpu_start = cpu_seconds(pid)
            time.sleep(3)
            cpu_used = cpu_seconds(pid) - cpu_start
            failures = log_text(server)[log_before:].count("accept failed")
            log(f"   during exhaustion: {cpu_used:.2f} s CPU in 3 s, {failures} 'accept failed' lines")
            check(failures >= 1, "the accept failure is logged")
            check(failures <= 5, f"accept failures are summarised, not logged per pass: {failures} lines")
            check(cpu_used < 0.5, f"the acceptor backs off instead of spinning: {cpu_used:.2f} s CPU in 3 s")
        finally:
            for s in idle:
                s.close()
        # Once the descriptors are back, the server serves again (the backoff is at most 1 s).
        wait_until(lambda: request(server.http_port, "GET", "/api/v1/health", timeout=3)[0] == 200,
                   10, "health answered after the connections closed")
        status, _, _ = request(server.http_port, "GET", "/api/v1/orgs", token=admin_token)
        check(status == 200, f"authenticated requests served again: {status}")
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))

    def package_streamed():
        rss_before = rss_kib(pid)
        peak = rss_before
        conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=30)
        conn.request("GET", "/packages/dozor-agent_9.9.9-1_amd64.deb")
        response = conn.getresponse()
        check(response.status == 200, f"package served: {response.status}")
        received = 0
        while True:
            chunk = response.read(1 << 20)
            if not chunk:
                break
            received += len(chunk)
            if received % (16 << 20) < (1 << 20):
                peak = max(peak, rss_kib(pid))
                time.sleep(0.05)  # a slow client: the server must not buffer ahead
        conn.close()
        peak = max(peak, rss_kib(pid))
        log(f"   150 MiB package: server RSS {rss_before} KiB before, {peak} KiB at most while sending")
        check(received == 150 << 20, f"whole package received: {received} bytes")
        check(peak - rss_before < 40 << 10, f"package streamed from disk: RSS grew by {peak - rss_before} KiB")

    def wrong_tokens_throttled():
        port = server.http_port
        wrong = "dza_" + "7" * 64
        log_before = len(log_text(server))
        for i in range(10):
            status, _, _ = request(port, "GET", "/api/v1/orgs", token=wrong)
            check(status == 401, f"wrong token #{i + 1} refused with 401: {status}")
        status, headers, payload = request(port, "GET", "/api/v1/orgs", token=wrong)
        check(status == 429, f"the 11th wrong token gets 429: {status} {payload!r}")
        check(int(headers.get("Retry-After", "0")) > 0, f"429 carries Retry-After: {headers}")
        check(b"too_many_requests" in payload, f"429 has a JSON error: {payload!r}")
        # Tokens are not checked at all from that address for a while, good ones included.
        status, _, _ = request(port, "GET", "/api/v1/orgs", token=admin_token)
        check(status == 429, f"a good token from the blocked address gets 429 too: {status}")
        for _ in range(100):
            request(port, "GET", "/api/v1/orgs", token=wrong)
        status, _, _ = request(port, "GET", "/api/v1/health")
        check(status == 200, f"public routes stay open: {status}")
        lines = log_text(server)[log_before:].count("failed authentications")
        check(1 <= lines <= 2, f"the block is logged once, not per attempt: {lines} lines")
        # Audited: the 10 wrong tokens that were checked, as security events (flushed every 5 s),
        # with the credential's hint only.
        def audited():
            with server.db() as db:
                return db.execute("SELECT sum(count), group_concat(DISTINCT subject) FROM security_events "
                                  "WHERE kind = 'api_auth_failed'").fetchone()
        wait_until(lambda: (audited()[0] or 0) >= 10, 20, "failed API authentications recorded")
        total, subjects = audited()
        check(total == 10 and subjects == "dza_77777777", f"10 failures under the token's hint: {total} {subjects}")

    steps.run("EMFILE: the acceptor backs off, logs a summary and recovers", descriptor_exhaustion)
    steps.run("the public package route streams a 150 MiB .deb from disk", package_streamed)
    # Last: it blocks this address for a minute.
    steps.run("wrong bearer tokens from one address are throttled (429, Retry-After)",
              wrong_tokens_throttled)
    steps.finish()


run_test(body)
