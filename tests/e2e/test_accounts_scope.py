"""People and per-client access end to end, against the real server binary over real HTTP: an admin
makes engineer and client accounts and assigns engineers; real agents enroll into two client
organisations; the engineer of client A logs in like the dashboard (cookie + CSRF token) and cannot
see client B by id, list, filter, report or token; the client's sysadmin logs in like dozorctl and
may comment but not acknowledge, waive, revoke or make tokens; a forged (CSRF-less) change, a
logged-out session and a password-guessing run are refused; the audit log has it all."""
import http.client
import json
import os
import shutil
from harness import Agent, Server, check, log, run_test, wait_until

FIXTURES = os.environ.get("DOZOR_FIXTURES_DIR",
                          os.path.join(os.path.dirname(__file__), "..", "fixtures"))
PASSWORD = "длинный пароль 2026"


class Api:
    """A tiny HTTP client that keeps the cookie like a browser would."""

    def __init__(self, port, bearer=None):
        self.port = port
        self.bearer = bearer
        self.cookie = None
        self.csrf = None

    def call(self, method, path, body=None, csrf=True, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = dict(headers or {})
        if body is not None:
            sent["Content-Type"] = "application/json"
        if self.bearer:
            sent["Authorization"] = "Bearer " + self.bearer
        if self.cookie:
            sent["Cookie"] = self.cookie
        if self.cookie and csrf and self.csrf:
            sent["X-CSRF-Token"] = self.csrf
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=sent)
        response = conn.getresponse()
        raw = response.read()
        cookie = response.getheader("Set-Cookie")
        conn.close()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw
        return response.status, payload, cookie, response

    def login(self, login, password, client="browser"):
        status, body, cookie, _ = self.call("POST", "/api/v1/auth/login",
                                             {"login": login, "password": password, "client": client})
        if status == 200 and client == "browser":
            self.cookie = cookie.split(";")[0]
            self.csrf = body["csrf_token"]
        if status == 200 and client == "cli":
            self.bearer = body["session_token"]
        return status, body, cookie


def body(workdir, procs):
    server = Server(workdir, tls=False).start()
    procs.append(server)
    with open(server.admin_token_file) as f:
        admin = Api(server.http_port, bearer=f.read().strip())

    # Two client organisations, each with a real agent on a fixture machine.
    agents = {}
    for org, name in (("Альфа", "alpha"), ("Бета-секрет", "beta")):
        token, _ = server.create_org_and_token(org)
        root = os.path.join(workdir, "machine-" + name)
        shutil.copytree(os.path.join(FIXTURES, "hosts", "debian-server"), root, symlinks=True)
        # An end-of-life Debian: the os-eol rule opens a finding on each machine.
        release = os.path.join(root, "etc", "os-release")
        with open(release) as f:
            lines = [l for l in f.read().splitlines() if not l.startswith(("VERSION_ID=", "PRETTY_NAME="))]
        with open(release, "w") as f:
            f.write("\n".join(lines + ['VERSION_ID="10"', 'PRETTY_NAME="Debian GNU/Linux 10 (buster)"']) + "\n")
        agent = Agent(workdir, "agent-" + name, server)
        procs.append(agent)
        agent.enroll(token)
        agent.start("--root", root, "--health-interval", "2")
        agents[name] = agent.identity()["agent_id"]

    # Accounts: an engineer per organisation, a client sysadmin of Альфа.
    for login, role, extra in (("eng.alpha", "engineer", {}), ("eng.beta", "engineer", {}),
                               ("sysadmin.alpha", "client", {"org": "Альфа"})):
        status, created, _, _ = admin.call("POST", "/api/v1/users", dict(
            {"login": login, "display_name": login, "role": role, "password": PASSWORD}, **extra))
        check(status == 201, f"user {login} created: {status} {created}")
        text = json.dumps(created, ensure_ascii=False)
        check(PASSWORD not in text and "argon2" not in text and '"password"' not in text, f"no password returned: {created}")
    for login, org in (("eng.alpha", "Альфа"), ("eng.beta", "Бета-секрет")):
        status, assigned, _, _ = admin.call("PUT", f"/api/v1/orgs/{quote(org)}/engineers/{login}",
                                            {"kind": "primary", "specialty": "1C"})
        check(status == 200 and assigned["login"] == login, f"{login} assigned to {org}: {status} {assigned}")

    # A finding in each organisation (one machine's rules may run before the other's are stored).
    wait_until(lambda: {f["org"] for f in admin.call("GET", "/api/v1/findings")[1]["findings"]}
               >= {"Альфа", "Бета-секрет"}, 90, "findings on both fixture machines")
    status, orgs, _, _ = admin.call("GET", "/api/v1/orgs")
    beta_id = next(o["id"] for o in orgs["organizations"] if o["name"] == "Бета-секрет")
    beta_finding = next(f for f in admin.call("GET", "/api/v1/findings")[1]["findings"]
                        if f["org"] == "Бета-секрет")

    # 1. The engineer of Альфа, logged in like the dashboard.
    eng = Api(server.http_port)
    status, me, cookie = eng.login("eng.alpha", PASSWORD)
    check(status == 200, f"engineer logs in: {status} {me}")
    check("HttpOnly" in cookie and "SameSite=Strict" in cookie, f"session cookie flags: {cookie}")
    for path in ("/api/v1/orgs", "/api/v1/hosts", "/api/v1/findings?state=all", "/api/v1/tokens", "/api/v1/me"):
        status, listed, _, _ = eng.call("GET", path)
        check(status == 200, f"{path}: {status}")
        text = json.dumps(listed, ensure_ascii=False)
        check("Бета" not in text and agents["beta"] not in text,
              f"{path} shows nothing of the other client: {text[:300]}")
    status, hosts, _, _ = eng.call("GET", "/api/v1/hosts")
    check([h["agent_id"] for h in hosts["hosts"]] == [agents["alpha"]], f"only the own host: {hosts}")
    for path in (f"/api/v1/hosts/{agents['beta']}", f"/api/v1/hosts/{agents['beta']}/inventory",
                 f"/api/v1/orgs/{beta_id}", f"/api/v1/orgs/{beta_id}/report?format=json",
                 f"/api/v1/findings/{beta_finding['id']}", f"/api/v1/findings?org={beta_id}",
                 f"/api/v1/hosts?org={beta_id}", f"/api/v1/orgs/{beta_id}/engineers"):
        status, refused, _, _ = eng.call("GET", path)
        check(status == 404, f"{path} is 404 for the other client's engineer: {status} {refused}")
    status, _, _, _ = eng.call("POST", f"/api/v1/findings/{beta_finding['id']}/ack", {"comment": "x"})
    check(status == 404, f"acknowledging the other client's finding: {status}")
    search_stays_in_scope(admin, eng, agents)

    # CSRF: a change carried by the cookie alone is refused; with the token it goes through.
    status, refused, _, _ = eng.call("POST", f"/api/v1/orgs/{quote('Альфа')}/tokens", {}, csrf=False)
    check(status == 403 and refused["error"]["code"] == "csrf_failed", f"CSRF-less change refused: {status} {refused}")
    status, made, _, _ = eng.call("POST", f"/api/v1/orgs/{quote('Альфа')}/tokens", {"label": "wave 2"})
    check(status == 201, f"with the CSRF token: {status} {made}")
    status, _, _, _ = eng.call("PUT", f"/api/v1/orgs/{quote('Альфа')}/notes", {"text": "Директор решает всё; звонить до 10:00"})
    check(status == 201, "the engineer writes the client notes")

    # 2. The client's sysadmin, logged in like dozorctl.
    client = Api(server.http_port)
    status, me, _ = client.login("sysadmin.alpha", PASSWORD, client="cli")
    check(status == 200 and me["user"]["role"] == "client", f"client logs in: {status} {me}")
    alpha_finding = next(f for f in client.call("GET", "/api/v1/findings")[1]["findings"])
    fid = alpha_finding["id"]
    status, _, _, _ = client.call("POST", f"/api/v1/findings/{fid}/comments", {"comment": "диск заменили"})
    check(status == 200, f"the client comments: {status}")
    for method, path, payload in (("POST", f"/api/v1/findings/{fid}/ack", {"comment": "x"}),
                                  ("POST", f"/api/v1/findings/{fid}/waive", {"reason": "x"}),
                                  ("POST", f"/api/v1/hosts/{agents['alpha']}/revoke", {}),
                                  ("POST", f"/api/v1/orgs/{quote('Альфа')}/tokens", {}),
                                  ("POST", "/api/v1/api-tokens", {"name": "x", "role": "viewer"}),
                                  ("GET", f"/api/v1/orgs/{quote('Альфа')}/notes", None)):
        status, refused, _, _ = client.call(method, path, payload)
        check(status == 403, f"client may not {method} {path}: {status} {refused}")
    status, _, _, _ = client.call("GET", f"/api/v1/findings/{beta_finding['id']}")
    check(status == 404, "the client cannot see the other client's finding")

    # 2b. "Fixed — please verify": the client upgrades the OS and asks; the server has the real
    # agent collect now and the finding resolves with the outcome in its history.
    eol = next(f for f in client.call("GET", "/api/v1/findings")[1]["findings"] if f["rule_id"] == "os-eol")
    release = os.path.join(workdir, "machine-alpha", "etc", "os-release")
    with open(release) as f:
        lines = [l for l in f.read().splitlines() if not l.startswith(("VERSION_ID=", "PRETTY_NAME="))]
    with open(release, "w") as f:
        f.write("\n".join(lines + ['VERSION_ID="12"', 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"']) + "\n")
    status, asked, _, _ = client.call("POST", f"/api/v1/findings/{eol['id']}/verify", {"comment": "обновили до 12"})
    check(status == 202 and asked["collection"] == "requested" and asked["verify_requested_by"] == "sysadmin.alpha",
          f"verification requested from the live agent: {status} {asked}")
    def verified():
        shown = client.call("GET", f"/api/v1/findings/{eol['id']}")[1]
        kinds = [e["kind"] for e in shown["events"]]
        return shown if "verify_confirmed" in kinds else None
    shown = wait_until(verified, 60, "the fresh collection decides the verification")
    check(shown["finding"]["state"] == "resolved", f"resolved after the fresh collection: {shown['finding']}")
    kinds = [e["kind"] for e in shown["events"]]
    check(kinds.index("verify_requested") < kinds.index("resolved") < kinds.index("verify_confirmed"),
          f"history: asked, resolved, confirmed: {kinds}")
    asked_event = next(e for e in shown["events"] if e["kind"] == "verify_requested")
    check(asked_event["actor"] == "sysadmin.alpha" and asked_event["comment"] == "обновили до 12",
          f"who asked is in the history: {asked_event}")
    check(shown["finding"]["verify_requested_by"] is None, "no verification pending any more")
    status, _, _, _ = client.call("POST", f"/api/v1/findings/{eol['id']}/verify", {})
    check(status == 409, f"a resolved finding cannot be asked again: {status}")

    # 3. Logout ends the browser session.
    status, _, cleared, _ = eng.call("POST", "/api/v1/auth/logout", {})
    check(status == 200 and "Max-Age=0" in cleared, f"logout clears the cookie: {status} {cleared}")
    status, _, _, _ = eng.call("GET", "/api/v1/orgs")
    check(status == 401, f"the ended session is refused: {status}")

    # 4. Guessing a password: five failures block the account for a while, right password or not.
    guesser = Api(server.http_port)
    for _ in range(5):
        status, _, _ = guesser.login("eng.beta", "не тот пароль")
        check(status == 401, f"wrong password: {status}")
    status, blocked, _ = guesser.login("eng.beta", PASSWORD)
    check(status == 429 and "account" in blocked["error"]["message"], f"throttled: {status} {blocked}")

    # 5. The audit log (admins only) has who did what, how and from where.
    status, audit, _, _ = admin.call("GET", "/api/v1/audit-log?limit=200")
    check(status == 200, f"audit log: {status}")
    entries = audit["entries"]
    failed = [e for e in entries if e["action"] == "POST /api/v1/auth/login" and e["status"] == 401]
    check(len(failed) == 5 and all(e["actor"] == "eng.beta" and e["source"] == "127.0.0.1" for e in failed),
          f"failed logins recorded: {failed}")
    notes = [e for e in entries if e["action"] == "PUT /api/v1/orgs/{org}/notes"]
    check(notes and notes[0]["actor"] == "eng.alpha" and notes[0]["via"] == "dashboard",
          f"the note change names its author and the dashboard: {notes}")
    comments = [e for e in entries if e["action"] == "POST /api/v1/findings/{id}/comments"]
    check(comments and comments[0]["actor"] == "sysadmin.alpha" and comments[0]["via"] == "cli",
          f"the client's comment recorded: {comments}")
    status, _, _, _ = client.call("GET", "/api/v1/audit-log")
    check(status == 403, "a client cannot read the audit log")
    log(f"{len(entries)} audit entries; scope held for engineer and client")


def search_stays_in_scope(admin, eng, agents):
    """The engineer of Альфа searches for Бета-секрет's host by its host name, IP address and
    serial numbers: nothing of Бета comes back (both machines are copies of one fixture, so the
    own host may match the same text; the admin's search shows the other host is findable)."""
    status, inventory, _, _ = admin.call("GET", f"/api/v1/hosts/{agents['beta']}/inventory")
    check(status == 200, f"beta's inventory: {status}")
    host, hardware = inventory["host"], inventory["inventory"].get("hardware", {})
    terms = {"hostname": host["hostname"]}
    if host["addresses"]:
        terms["ip"] = host["addresses"][0]
    serials = [hardware.get("dmi", {}).get("system_serial", "")] + [d.get("serial", "") for d in hardware.get("disks", [])]
    serials = [s for s in serials if s]
    check(serials, f"the fixture machine has a serial number: {hardware}")
    terms["serial"] = serials[0]
    for field, text in terms.items():
        status, found, _, _ = admin.call("GET", "/api/v1/search/hosts?q=" + quote(text))
        check(status == 200 and agents["beta"] in [h["host"]["agent_id"] for h in found["hits"]],
              f"the admin finds beta's host by {field} {text!r}: {status} {found}")
        status, found, _, _ = eng.call("GET", "/api/v1/search/hosts?q=" + quote(text))
        check(status == 200, f"engineer search by {field}: {status} {found}")
        shown = json.dumps(found["hits"], ensure_ascii=False)
        check(agents["beta"] not in shown and "Бета" not in shown,
              f"the engineer of Альфа finds nothing of Бета by {field} {text!r}: {shown[:300]}")
        check(all(h["host"]["agent_id"] == agents["alpha"] for h in found["hits"]),
              f"only the own host can match: {shown[:300]}")


def quote(text):
    from urllib.parse import quote as q
    return q(text, safe="")


if __name__ == "__main__":
    run_test(body)
