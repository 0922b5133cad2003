"""Hostile bytes on the gRPC and HTTP ports and hostile requests to the management API: every error is
a clear JSON error, nothing crashes, nothing is lost, and a streaming agent keeps getting its reports
stored throughout."""
import http.client
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from harness import Agent, Server, Steps, check, log, run_test, wait_until


def health_count(server, agent_id):
    return len(server.ctl("host", "health", agent_id, "--limit", "1000")["samples"])


def connect(port, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def send_and_read(port, data, read_timeout=3):
    """Sends raw bytes, half-closes, returns whatever the server answers before it closes."""
    s = connect(port)
    try:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:  # the server may close early on garbage: that is fine
            pass
        s.settimeout(read_timeout)
        chunks = []
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except (socket.timeout, OSError):
            pass
        return b"".join(chunks)
    finally:
        s.close()


def http_status_and_body(raw):
    """(status, parsed JSON body or None) from a raw HTTP/1.1 response."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0].startswith(b"HTTP/1.") else None
    try:
        return status, json.loads(rest.decode())
    except ValueError:
        return status, None


class Api:
    def __init__(self, server):
        self.base = f"http://127.0.0.1:{server.http_port}"
        with open(server.admin_token_file) as f:
            self.token = f.read().strip()

    def call(self, method, path, body=None, raw=None):
        """(status, headers, parsed JSON) through urllib; the body must always be JSON."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Authorization": "Bearer " + self.token})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, headers, payload = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            status, headers, payload = e.code, e.headers, e.read()
        try:
            parsed = json.loads(payload.decode("utf-8"))
        except ValueError:
            raise AssertionError(f"{method} {path} -> {status} with a non-JSON body: {payload[:200]!r}")
        return status, headers, parsed

    def raw_path(self, method, path):
        """Sends the path exactly as given (urllib would not touch it, but http.client is explicit)."""
        conn = http.client.HTTPConnection("127.0.0.1", int(self.base.rsplit(":", 1)[1]), timeout=30)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            conn.putheader("Authorization", "Bearer " + self.token)
            conn.endheaders()
            resp = conn.getresponse()
            payload = resp.read()
            try:
                return resp.status, json.loads(payload.decode("utf-8"))
            except ValueError:
                raise AssertionError(f"{method} {path} -> {resp.status} with a non-JSON body: {payload[:200]!r}")
        finally:
            conn.close()


def check_error(status, body, expected_status, what, codes=None):
    allowed = expected_status if isinstance(expected_status, tuple) else (expected_status,)
    check(status in allowed, f"{what}: status {status}, expected {allowed}; body {str(body)[:300]}")
    check(isinstance(body, dict) and isinstance(body.get("error"), dict), f"{what}: error object in {str(body)[:300]}")
    check(isinstance(body["error"].get("code"), str) and isinstance(body["error"].get("message"), str),
          f"{what}: error has code and message: {str(body)[:300]}")
    if codes:
        check(body["error"]["code"] in codes, f"{what}: error code {body['error']['code']}, expected {codes}")
    check(len(body["error"]["message"]) < 2000, f"{what}: the message does not echo huge input back")


def body(workdir, procs):
    steps = Steps()
    server = Server(workdir, tls=False).start()
    procs.append(server)
    token, _ = server.create_org_and_token("Hostile Input Ltd")
    agent = Agent(workdir, "agent", server)
    procs.append(agent)
    agent.enroll(token)
    agent_id = agent.identity()["agent_id"]
    agent.start("--health-interval", "1")
    wait_until(lambda: health_count(server, agent_id) >= 1, 30, "the streaming agent's first sample")
    api = Api(server)

    def still_healthy(what):
        check(server.proc.poll() is None, f"server still running after {what} (rc {server.proc.poll()})")
        orgs = server.ctl("org", "list")["organizations"]
        check("Hostile Input Ltd" in [o["name"] for o in orgs], f"dozorctl org list works after {what}")
        before = health_count(server, agent_id)
        wait_until(lambda: health_count(server, agent_id) >= before + 2, 20,
                   f"the streaming agent's reports still stored after {what}")
        check(agent.proc.poll() is None, f"agent still running after {what}")

    def grpc_garbage():
        port = server.grpc_port
        send_and_read(port, os.urandom(64 * 1024))
        send_and_read(port, b"\x00" * 4096 + b"\xff" * 4096)
        answer = send_and_read(port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        log(f"   HTTP/1.1 on the gRPC port got {len(answer)} bytes back: {answer[:60]!r}")
        preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        s = connect(port)
        s.sendall(preface[:12])  # half a preface, then vanish
        s.close()
        # A full preface followed by a frame header promising a huge frame that never comes.
        s = connect(port)
        s.sendall(preface + b"\xff\xff\xff\x00\x00\x00\x00\x00\x00" + os.urandom(100))
        time.sleep(0.2)
        s.close()
        # Many connections opened and dropped at once.
        socks = [connect(port) for _ in range(50)]
        for s in socks:
            s.close()
        still_healthy("garbage on the gRPC port")

    def http_garbage():
        port = server.http_port
        answer = send_and_read(port, os.urandom(64 * 1024))
        status, _ = http_status_and_body(answer)
        check(status in (None, 400), f"random bytes get 400 or a closed connection, got {answer[:80]!r}")
        # 100 KB of headers: over the 16 KiB limit, documented as 413.
        big = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (100 * 1024) + b"\r\n\r\n"
        answer = send_and_read(port, big)
        status, parsed = http_status_and_body(answer)
        check(status == 413, f"100 KB header -> 413, got {answer[:120]!r}")
        check(parsed and parsed.get("error", {}).get("code") == "too_large", f"413 body is a JSON error: {answer[-200:]!r}")
        # A 10 MB request line sent slowly, only partly, then the client disappears.
        s = connect(port)
        sent, closed_by_server = 0, False
        s.sendall(b"GET /")
        deadline = time.time() + 2.0
        try:
            while time.time() < deadline and sent < 10 * 1024 * 1024:
                s.sendall(b"a" * 4096)
                sent += 4096
                time.sleep(0.01)
        except OSError:
            closed_by_server = True
        log(f"   slow 10 MB path: sent {sent} bytes, server closed early: {closed_by_server}")
        s.close()
        # 200 idle connections held open together; the API must still answer meanwhile.
        idle = [connect(port) for _ in range(200)]
        idle[0].sendall(b"GET /api/v1/hea")  # one of them with half a request
        started = time.time()
        status, _, health = api.call("GET", "/api/v1/health")
        check(status == 200 and health.get("status") == "ok", f"API answers while 200 connections idle: {health}")
        check(time.time() - started < 5, f"API answered within 5 s with 200 idle connections ({time.time() - started:.1f} s)")
        for s in idle:
            s.close()
        still_healthy("garbage on the HTTP port")

    def api_bad_bodies():
        status, _, body = api.call("POST", "/api/v1/orgs", raw=b'{"name": "unterminated')
        check_error(status, body, 400, "truncated JSON", ("invalid_argument",))
        status, _, body = api.call("POST", "/api/v1/orgs", raw=b'{"name": "x",}')
        check_error(status, body, 400, "trailing comma", ("invalid_argument",))
        status, _, body = api.call("POST", "/api/v1/orgs", body=["name", "array instead of object"])
        check_error(status, body, 400, "JSON array", ("invalid_argument",))
        status, _, body = api.call("POST", "/api/v1/orgs", body="just a string")
        check_error(status, body, 400, "JSON string", ("invalid_argument",))
        status, _, body = api.call("POST", "/api/v1/orgs", body={"name": 42})
        check_error(status, body, 400, "name of the wrong type", ("invalid_argument",))
        status, _, body = api.call("POST", "/api/v1/orgs", raw=b'{"name": "\xff\xfe bad utf-8"}')
        check_error(status, body, 400, "invalid UTF-8", ("invalid_argument",))
        status, _, body = api.call("POST", "/api/v1/orgs", body={"name": "N" * 1000000})
        check_error(status, body, (400, 413), "1 MB name")
        # Over the 1 MiB body limit, read back over a raw socket (the server may stop reading early).
        payload = json.dumps({"name": "N" * (2 * 1024 * 1024)}).encode()
        answer = send_and_read(server.http_port, (
            f"POST /api/v1/orgs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api.token}\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload)
        status, body = http_status_and_body(answer)
        check_error(status, body, 413, "2 MB body", ("too_large",))
        status, _, body = api.call("POST", "/api/v1/orgs", raw=b"[" * 200000 + b"]" * 200000)
        check_error(status, body, 400, "200000-deep nested JSON", ("invalid_argument",))
        status, _, body = api.call("POST", "/api/v1/orgs", raw=b'{"a":' * 100000 + b"1" + b"}" * 100000)
        check_error(status, body, 400, "100000-deep nested objects", ("invalid_argument",))
        status, _, body = api.call("POST", "/api/v1/orgs", body={"name": "   "})
        check_error(status, body, 400, "blank name", ("invalid_argument",))
        names = [o["name"] for o in api.call("GET", "/api/v1/orgs")[2]["organizations"]]
        check(names == ["Hostile Input Ltd"], f"none of that created an organisation: {names}")
        still_healthy("bad request bodies")

    def api_oversized_body_plain_client():
        # An ordinary client writes the whole body before reading. The server answers 413 early; it must
        # keep reading (lingering close) so the client sees that 413 instead of a broken pipe.
        for attempt in range(3):  # the outcome depends on timing; every attempt must see the 413
            try:
                status, _, body = api.call("POST", "/api/v1/orgs", body={"name": "N" * (4 * 1024 * 1024)})
            except urllib.error.URLError as e:
                raise AssertionError(f"POST of a 4 MiB body with urllib (attempt {attempt + 1}): "
                                     f"expected a 413 JSON error, got {e!r}")
            check_error(status, body, 413, "4 MB body through urllib", ("too_large",))

    def api_hostile_names():
        hostile = ["x'); DROP TABLE organizations;--", 'Robert"); DELETE FROM agents; --', "100% _off_ \\ ' \"",
                   "Ромашка 🌼 株式会社 ﷽", "e\u0301 combining, zero\u200bwidth", "tab\there"]
        for name in hostile:
            status, _, created = api.call("POST", "/api/v1/orgs", body={"name": name, "engineer": name})
            check(status == 201, f"create {name!r}: {status} {created}")
            check(created["name"] == name and created["engineer"] == name, f"stored verbatim: {created}")
            status, _, got = api.call("GET", "/api/v1/orgs/" + urllib.parse.quote(name, safe=""))
            check(status == 200 and got["name"] == name and got["id"] == created["id"],
                  f"GET by percent-encoded name round-trips {name!r}: {status} {got}")
            status, _, dup = api.call("POST", "/api/v1/orgs", body={"name": name})
            check_error(status, dup, 409, f"duplicate {name!r}", ("already_exists",))
        listed = [o["name"] for o in api.call("GET", "/api/v1/orgs")[2]["organizations"]]
        check(sorted(listed) == sorted(hostile + ["Hostile Input Ltd"]), f"every name listed verbatim: {listed}")
        ctl_names = [o["name"] for o in server.ctl("org", "list")["organizations"]]
        check(sorted(ctl_names) == sorted(listed), "dozorctl lists the same names")
        con = server.db()
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            check({"organizations", "agents"} <= tables, f"tables intact: {sorted(tables)}")
        finally:
            con.close()
        # A token for an org with a hostile name works end to end.
        status, _, tok = api.call("POST", "/api/v1/orgs/" + urllib.parse.quote(hostile[0], safe="") + "/tokens",
                                  body={"label": hostile[0]})
        check(status == 201 and tok.get("token", "").startswith("dze_"), f"token for the hostile org: {status} {tok}")
        still_healthy("hostile organisation names")

    def api_paths_and_methods():
        for path in ("/api/v1/hosts/..%2F..%2Fetc", "/api/v1/hosts/..%2F..%2Fetc%2Fpasswd/inventory",
                     "/api/v1/hosts/%00", "/api/v1/orgs/..%2F..%2F..%2Fetc%2Fpasswd",
                     "/api/v1/hosts/" + "a" * 5000, "/api/v1/nonexistent", "/etc/passwd", "/api/v2/orgs"):
            status, body = api.raw_path("GET", path)
            check_error(status, body, 404, f"GET {path[:60]}", ("not_found",))
        for path in ("/api/v1/../../etc/passwd", "/../../../etc/passwd", "/api/v1/hosts/%ZZ", "/api/v1/tokens/-1/revoke",
                     "/api/v1/hosts/" + agent_id + "/health?limit=99999999999999999999999"):
            method = "POST" if path.endswith("revoke") else "GET"
            status, body = api.raw_path(method, path)
            check_error(status, body, (400, 404), f"{method} {path[:60]}")
        for method, path, allowed in (("DELETE", "/api/v1/orgs", "GET, POST"), ("PUT", "/api/v1/health", "GET"),
                                      ("DELETE", "/api/v1/hosts/" + agent_id, "GET"),
                                      ("GET", "/api/v1/hosts/" + agent_id + "/revoke", "POST")):
            status, headers, body = api.call(method, path)
            check_error(status, body, 405, f"{method} {path}", ("method_not_allowed",))
            check(body["error"].get("allowed") == allowed and headers.get("Allow") == allowed,
                  f"{method} {path}: Allow lists {allowed}: {headers.get('Allow')} / {body['error'].get('allowed')}")
        status, body = api.raw_path("BREW", "/api/v1/orgs")
        check_error(status, body, (400, 405, 501), "unknown method BREW")
        still_healthy("hostile paths and methods")

    steps.run("5a. garbage on the gRPC port", grpc_garbage)
    steps.run("5b. garbage on the HTTP port", http_garbage)
    steps.run("6a. bad JSON bodies", api_bad_bodies)
    steps.run("6a'. oversized body through urllib gets its 413",
              api_oversized_body_plain_client)
    steps.run("6b. hostile organisation names", api_hostile_names)
    steps.run("6c. hostile paths and wrong methods", api_paths_and_methods)
    check(server.proc.poll() is None, "server survived all of it")
    check(agent.proc.poll() is None, "agent survived all of it")
    steps.finish()


run_test(body)
