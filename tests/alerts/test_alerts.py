"""Alerts end to end against real receivers on loopback: an SMTP server (aiosmtpd, STARTTLS and
AUTH required), a helpdesk webhook that checks the HMAC signature, and a stand-in for Telegram's Bot
API. A real agent's critical finding at an active client reaches its engineer by e-mail (Russian,
over STARTTLS, authenticated) and Telegram, and the helpdesk by a signed webhook. Wrong SMTP
credentials and a webhook answering 500 are clear delivery errors, retried, nothing lost; a kill -9
of the server while messages wait delivers each exactly once after the restart; a prospect's
finding pages nobody; acknowledging with dozorctl is recorded."""
import email
import hashlib
import hmac
import html as html_lib
import http.client
import http.server
import json
import os
import re
import shutil
import socket
import ssl
import threading
import time
from email import policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from harness import Agent, Server, check, log, make_tls, run_test, wait_until

FIXTURES = os.environ.get("DOZOR_FIXTURES_DIR",
                          os.path.join(os.path.dirname(__file__), "..", "fixtures"))
ORG = "ООО «Ромашка»"
SMTP_PASSWORD = "smtp пароль 7"
BOT_TOKEN = "123456:TEST-token_abc"
WEBHOOK_SECRET = "helpdesk-shared-secret"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpReceiver:
    """aiosmtpd on loopback: STARTTLS before anything, then AUTH with one login and password."""

    def __init__(self, tls):
        self.messages = []
        self.password = "not-yet"  # wrong until the test fixes the server's side
        self.lock = threading.Lock()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls["server.crt"], tls["server.key"])
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                with receiver.lock:
                    receiver.messages.append({"to": list(envelope.rcpt_tos), "from": envelope.mail_from,
                                              "tls": session.ssl is not None,
                                              "authenticated": bool(session.authenticated),
                                              "data": envelope.original_content or envelope.content})
                return "250 OK"

        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login == b"dozor"
                  and auth_data.password == receiver.password.encode())
            # handled=False: aiosmtpd answers 235 or 535 itself (True would mean we already did).
            return AuthResult(success=ok, handled=False)

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, tls_context=context,
                                     require_starttls=True, authenticator=authenticate, auth_required=True,
                                     auth_require_tls=True)
        self.controller.start()

    def received(self):
        with self.lock:
            return list(self.messages)

    def stop(self):
        self.controller.stop()


class HttpReceiver:
    """A loopback HTTP server recording each POST; `answers` decides the status of the next ones."""

    def __init__(self):
        self.requests = []
        self.answers = []  # statuses for the next requests; then 200
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                              "status": status})
                answer = receiver.answer(self.path, body, status)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path, body, status):
        return b'{"ok":true}' if status == 200 else b'{"ok":false,"error_code":500,"description":"try later"}'

    def received(self, status=None):
        with self.lock:
            return [r for r in self.requests if status is None or r["status"] == status]

    def fail_next(self, statuses):
        with self.lock:
            self.answers = list(statuses)

    def stop(self):
        self.server.shutdown()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


def parse_mail(raw):
    return email.message_from_bytes(raw, policy=policy.default)


def body(workdir, procs):
    tls_dir = os.path.join(workdir, "smtp-tls")
    os.makedirs(tls_dir)
    tls = make_tls(tls_dir)
    smtp = SmtpReceiver(tls)
    telegram = HttpReceiver()
    webhook = HttpReceiver()
    try:
        run(workdir, procs, tls, smtp, telegram, webhook)
    finally:
        smtp.stop()
        telegram.stop()
        webhook.stop()


def run(workdir, procs, tls, smtp, telegram, webhook):
    config = write(os.path.join(workdir, "server.toml"), f"""
[alerts]
min_severity = "high"
retry_first_seconds = 1
dashboard_url = "https://dozor.example"
smtp_url = "smtp://127.0.0.1:{smtp.port}"
smtp_username = "dozor"
smtp_password_file = "{write(os.path.join(workdir, 'smtp.password'), SMTP_PASSWORD + chr(10))}"
smtp_from = "Dozor <dozor@example.com>"
smtp_ca_file = "{tls['ca.crt']}"
telegram_api_url = "http://127.0.0.1:{telegram.port}/"
telegram_token_file = "{write(os.path.join(workdir, 'telegram.token'), BOT_TOKEN)}"
webhook_url = "http://127.0.0.1:{webhook.port}/hook?token=helpdesk"
webhook_secret_file = "{write(os.path.join(workdir, 'webhook.secret'), WEBHOOK_SECRET)}"
""")
    # Steps 1-6 count one e-mail per message: bursts are not grouped until step 7.
    grouped_config = write(os.path.join(workdir, "server-grouped.toml"),
                           open(config).read() + "group_window_seconds = 120\ngroup_wait_seconds = 20\n")
    with open(config, "a") as f:
        f.write("group_window_seconds = 0\n")
    server = Server(workdir, tls=True).start(extra=["--config", config, "--rules-full-interval", "10"])
    procs.append(server)
    check("alerts: on, 3 channel(s)" in server.read_log(), "the server says alerting is on")

    token, _ = server.create_org_and_token(ORG)
    server.ctl("org", "contract", ORG, "--status", "active")
    server.ctl("user", "create", "anna", "--role", "engineer", "--email", "anna@example.com",
               "--telegram", "1001", "--language", "ru", "--name", "Анна")
    server.ctl("org", "assign", ORG, "anna")
    # A prospect with the same kind of machine: its findings go to the report, not to anyone's phone.
    prospect_token, _ = server.create_org_and_token("Проспект")
    server.ctl("org", "assign", "Проспект", "anna")

    # The server's SMTP password is wrong for now, and the helpdesk answers 500 twice.
    webhook.fail_next([500, 500])

    def machine(name):
        root = os.path.join(workdir, "machine-" + name)
        shutil.copytree(os.path.join(FIXTURES, "hosts", "debian-server"), root, symlinks=True)
        path = os.path.join(root, "etc", "os-release")
        with open(path) as f:
            lines = [l for l in f.read().splitlines() if not l.startswith(("VERSION_ID=", "PRETTY_NAME="))]
        lines += ['VERSION_ID="10"', 'PRETTY_NAME="Debian GNU/Linux 10 (buster)"']
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        # Its 1C cluster runs (installed is not running): a ragent of the installed 8.3.22.1709,
        # so the small 1C server is one, and onec-server-low-ram is among its high findings.
        ragent = os.path.join(root, "proc", "1100")
        os.makedirs(ragent)
        with open(os.path.join(ragent, "stat"), "w") as f:
            f.write("1100 (ragent) S 1 1100 1100 0 -1 4194560 100 0 0 0 10 5 0 0 20 0 1 0 950 "
                    "40960000 5000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n")
        with open(os.path.join(ragent, "status"), "w") as f:
            f.write("Name:\tragent\nPid:\t1100\nUid:\t999\t999\t999\t999\n")
        with open(os.path.join(ragent, "cmdline"), "wb") as f:
            f.write(b"/opt/1cv8/x86_64/8.3.22.1709/ragent\0-daemon\0")
        return root

    agents = []
    for name, enroll in (("db01", token), ("prospect01", prospect_token)):
        agent = Agent(workdir, name, server)
        procs.append(agent)
        agent.enroll(enroll)
        agent.start("--root", machine(name), "--health-interval", "5")
        agents.append(agent)

    def alerts(*args):
        return server.ctl("alerts", "list", *args)["alerts"]

    eol = wait_until(lambda: [a for a in alerts() if a["kind"] == "finding_opened" and "os-eol" in a["summary"]],
                     120, "an alert for the critical end-of-life OS")
    check(len(eol) == 1 and eol[0]["org"] == ORG, f"one alert, for the active client only: {eol}")
    alert = eol[0]
    channels = sorted(d["channel"] for d in alert["deliveries"])
    check(channels == ["email", "telegram", "webhook"], f"anna by e-mail and Telegram, the helpdesk: {channels}")
    check(all(d["address"] != webhook_url_with_query(webhook) for d in alert["deliveries"]),
          "the webhook's token is not shown")

    # 1. Wrong SMTP credentials: a clear, kept error; the message waits.
    def email_error():
        status = {c["channel"]: c for c in server.ctl("alerts", "channels")["channels"]}
        return status["email"] if status["email"]["last_error"] else None
    status = wait_until(email_error, 30, "the SMTP login failure reported")
    check("Login denied" in status["last_error"] or "535" in status["last_error"],
          f"wrong credentials named: {status['last_error']}")
    check(status["pending"] >= 1 and status["sent"] == 0, f"the message waits: {status}")
    check(SMTP_PASSWORD not in json.dumps(status, ensure_ascii=False), "no password in the error")
    smtp.password = SMTP_PASSWORD

    def all_sent():
        listed = alerts()
        return listed if all(d["state"] == "sent" for a in listed for d in a["deliveries"]) else None
    listed = wait_until(all_sent, 90, "every message of every alert delivered")
    deliveries = [d for a in listed for d in a["deliveries"]]
    log(f"{len(listed)} alerts for db01's findings ({[a['summary'] for a in listed]}), {len(deliveries)} messages")
    by_channel = {d["channel"]: d for d in next(a for a in listed if a["id"] == alert["id"])["deliveries"]}
    email_attempts = [d["attempts"] for d in deliveries if d["channel"] == "email"]
    check(sum(email_attempts) > len(email_attempts), f"e-mail retried after the login failure: {email_attempts}")

    # 2. The e-mail: over STARTTLS, authenticated, in Russian, plain text and HTML; each message once.
    mails = smtp.received()
    emails = [d for d in deliveries if d["channel"] == "email"]
    check(len(mails) == len(emails), f"one e-mail per message: {len(mails)} for {len(emails)}")
    ids = {parse_mail(m["data"])["Message-ID"] for m in mails}
    check(ids == {f"<{d['idempotency_key']}@dozor>" for d in emails}, f"Message-IDs from the keys: {ids}")
    mail = next(m for m in mails
                if parse_mail(m["data"])["Message-ID"] == f"<{by_channel['email']['idempotency_key']}@dozor>")
    check(mail["to"] == ["anna@example.com"], f"to anna: {mail['to']}")
    check(mail["tls"] and mail["authenticated"], f"STARTTLS and AUTH were used: {mail['tls']} {mail['authenticated']}")
    check(mail["from"] == "dozor@example.com", f"envelope sender: {mail['from']}")
    message = parse_mail(mail["data"])
    subject = str(message["Subject"])
    check(subject.startswith("[Dozor] Новая проблема (критическая): " + ORG), f"Russian subject: {subject}")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    check("Что сделать" in text and "Клиент: " + ORG in text, f"the text says what to do: {text[:300]}")
    check("https://dozor.example/findings/" in text, "a link to the finding")
    check("<h2>" in html and "&lt;" not in subject, "an HTML part")

    # 3. Telegram: the bot's sendMessage with HTML formatting, one per message.
    sent = telegram.received(200)
    check(len(sent) == len([d for d in deliveries if d["channel"] == "telegram"]), f"one sendMessage per message: {len(sent)}")
    check(all(r["path"] == f"/bot{BOT_TOKEN}/sendMessage" for r in sent), "the bot's sendMessage")
    request = json.loads(sent[0]["body"])
    check(request["chat_id"] == "1001" and request["parse_mode"] == "HTML", f"to anna's chat: {request}")
    check(request["text"].startswith("<b>[Dozor] Новая проблема"), f"bold subject: {request['text'][:80]}")

    # 4. The webhook: signed, with the idempotency key; two refusals retried, each key taken once.
    hooks = webhook.received()
    hook_deliveries = [d for d in deliveries if d["channel"] == "webhook"]
    check([h["status"] for h in hooks[:2]] == [500, 500], f"the first two refused: {[h['status'] for h in hooks]}")
    check(sum(d["attempts"] for d in hook_deliveries) == len(hooks), "every attempt recorded")
    taken = [h["headers"]["Idempotency-Key"] for h in webhook.received(200)]
    check(sorted(taken) == sorted(d["idempotency_key"] for d in hook_deliveries), f"each key taken once: {taken}")
    for hook in hooks:
        verify_signature(hook)
    payload = next(json.loads(h["body"]) for h in webhook.received(200)
                   if h["headers"]["Idempotency-Key"] == by_channel["webhook"]["idempotency_key"])
    check(payload["kind"] == "finding_opened" and payload["rule_id"] == "os-eol", f"the facts: {payload}")
    check(payload["notified"] == ["anna"], f"who was told: {payload['notified']}")
    check(hooks[-1]["path"] == "/hook?token=helpdesk", f"the configured URL: {hooks[-1]['path']}")

    # 4b. The one-time acknowledgement link in anna's Telegram message: a GET shows a button and
    # changes nothing (link previews); the POST acknowledges as anna; a forged link is refused.
    eol_event = int(re.match(r"e(\d+)-", by_channel["email"]["idempotency_key"]).group(1))
    link = None
    for request_sent in sent:  # one not of the os-eol alert, which dozorctl acknowledges below
        found = re.search(r"https://dozor\.example(/alert-ack\?[^\s<\"]+)", json.loads(request_sent["body"])["text"])
        if found and f"e={eol_event}&" not in html_lib.unescape(found.group(1)):
            link = html_lib.unescape(found.group(1))
            break
    check(link is not None, "an acknowledgement link in the Telegram message")
    event = int(re.search(r"[?&]e=(\d+)", link).group(1))
    linked = next(a for a in listed
                  if any(d["idempotency_key"].startswith(f"e{event}-") for d in a["deliveries"]))
    status, page = page_request(server, "GET", link)
    check(status == 200 and "<form method=\"post\"" in page and "Принять" in page, f"the link's page: {status} {page[:300]}")
    check(server.ctl("alerts", "show", str(linked["id"]))["acked_at"] is None, "a GET acknowledges nothing")
    status, page = page_request(server, "GET", link.replace("&t=", "&t=0"))
    check(status == 403, f"an altered link is refused: {status}")
    status, page = page_request(server, "GET", re.sub(r"&u=\d+", "&u=1", link))
    check(status == 403, f"another recipient's link is refused: {status}")
    status, page = page_request(server, "POST", link)
    check(status == 200 and "принято" in page, f"acknowledged by the link: {status} {page[:300]}")
    shown = server.ctl("alerts", "show", str(linked["id"]))
    check(shown["acked_by"] == "anna (link)" and shown["escalate_at"] is None, f"acknowledged as anna: {shown['acked_by']}")
    status, page = page_request(server, "POST", link)
    check(status == 200 and "anna (link)" in page, f"a second use says who already did: {page[:300]}")

    # 5. Acknowledged with dozorctl: recorded, no escalation.
    acked = server.ctl("alerts", "ack", str(alert["id"]))
    check(acked["acked_by"] and acked["acked_at"] and acked["escalate_at"] is None, f"acknowledged: {acked}")
    again = server.ctl("alerts", "ack", str(alert["id"]), check_rc=False, json_out=False)
    check(again.returncode != 0, "acknowledging twice is refused")
    text_list = server.ctl("alerts", "list", json_out=False).stdout
    check("finding_opened" in text_list and "3/3" in text_list, f"the list shows delivery: {text_list}")
    # The company's monitoring sees the outbox: /metrics with a staff credential.
    with open(server.admin_token_file) as f:
        admin_token = f.read().strip()
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=30)
    conn.request("GET", "/metrics", headers={"Authorization": "Bearer " + admin_token})
    answer = conn.getresponse()
    metrics = answer.read().decode()
    check(answer.status == 200 and answer.getheader("Content-Type").startswith("text/plain"),
          f"/metrics: {answer.status} {answer.getheader('Content-Type')}")
    check('dozor_alert_messages{channel="webhook",state="sent"}' in metrics and "dozor_agents_connected 2" in metrics,
          f"the outbox and the agents in /metrics: {metrics[:400]}")
    conn.request("GET", "/metrics")
    refused = conn.getresponse()
    refused.read()
    check(refused.status == 401, f"/metrics without a credential: {refused.status}")
    conn.close()

    # 6. kill -9 while messages wait: after the restart each arrives exactly once.
    webhook.fail_next([500] * 1000)
    baseline = {h["headers"]["Idempotency-Key"] for h in webhook.received(200)}
    mails_before = len(smtp.received())
    agent = Agent(workdir, "db02", server)
    procs.append(agent)
    agent.enroll(token)
    agent.start("--root", machine("db02"), "--health-interval", "5")
    second = wait_until(lambda: [a for a in alerts() if a["id"] != alert["id"] and a["org"] == ORG
                                 and a["kind"] == "finding_opened" and "os-eol" in a["summary"]],
                        120, "the second host's alert")[0]
    wait_until(lambda: len(webhook.received(500)) >= 4, 30, "the helpdesk refusing the new alert")
    server.kill()
    webhook.fail_next([])
    server.start(grpc_port=server.grpc_port, http_port=server.http_port,
                 extra=["--config", config, "--rules-full-interval", "10"])
    listed = wait_until(all_sent, 90, "every message delivered after the restart")
    deliveries = [d for a in listed for d in a["deliveries"]]
    check(any(a["id"] == second["id"] for a in listed), "the second host's alert is kept")
    taken = [h["headers"]["Idempotency-Key"] for h in webhook.received(200)]
    check(len(taken) == len(set(taken)), f"no webhook delivered twice: {taken}")
    check(set(taken) == {d["idempotency_key"] for d in deliveries if d["channel"] == "webhook"},
          "every webhook delivered")
    check(set(taken) - baseline, "the new alerts' webhooks came after the restart")
    ids = [parse_mail(m["data"])["Message-ID"] for m in smtp.received()]
    check(len(ids) == len(set(ids)), f"no e-mail delivered twice: {ids}")
    check(set(ids) == {f"<{d['idempotency_key']}@dozor>" for d in deliveries if d["channel"] == "email"},
          "every e-mail delivered")
    check(len(ids) > mails_before, "the second host's e-mails arrived")
    stored = server.ctl("alerts", "list")["alerts"]
    check(not any(a["org"] == "Проспект" for a in stored), "the prospect paged nobody")
    log(f"{len(stored)} alerts, {len(smtp.received())} e-mails, {len(telegram.received(200))} Telegram "
        f"messages, {len(webhook.received(200))} webhooks")

    # 7. A maintenance window: the client's new host's alerts are recorded, nobody is told.
    server.ctl("maintenance", "add", ORG, "--from", "now", "--to", "+1h", "--reason", "замена ИБП")
    windows = server.ctl("maintenance", "list", ORG)["windows"]
    check(len(windows) == 1 and windows[0]["active_now"], f"the window is on: {windows}")
    last_id = max(a["id"] for a in alerts())
    agent = Agent(workdir, "db03", server)
    procs.append(agent)
    agent.enroll(token)
    agent.start("--root", machine("db03"), "--health-interval", "5")
    quiet = wait_until(lambda: [a for a in alerts() if a["id"] > last_id and a["org"] == ORG
                                and a["kind"] == "finding_opened"] or None, 120, "db03's alerts")
    check(all(a["suppressed"] == "maintenance" and not a["deliveries"] for a in quiet),
          f"recorded during maintenance, sent to nobody: {quiet}")

    # 8. Grouping: restarted with it on, a new client's burst of high findings reaches anna as one
    # e-mail; the critical ones go at once, alone.
    server.stop()
    server.start(grpc_port=server.grpc_port, http_port=server.http_port,
                 extra=["--config", grouped_config, "--rules-full-interval", "10"])
    other = "ООО «Ландыш»"
    other_token, _ = server.create_org_and_token(other)
    server.ctl("org", "contract", other, "--status", "active")
    server.ctl("org", "assign", other, "anna")
    mails_before = len(smtp.received())
    agent = Agent(workdir, "ls01", server)
    procs.append(agent)
    agent.enroll(other_token)
    agent.start("--root", machine("ls01"), "--health-interval", "5")

    def other_sent():
        mine = [a for a in alerts() if a["org"] == other]
        highs = [a for a in mine if a["severity"] == "high"]
        done = len(highs) >= 2 and all(d["state"] == "sent" for a in mine for d in a["deliveries"])
        return mine if done else None
    mine = wait_until(other_sent, 120, "the new client's alerts delivered")
    new_mails = [parse_mail(m["data"]) for m in smtp.received()[mails_before:]]
    groups = [m for m in new_mails if str(m["Message-ID"]).endswith("-group@dozor>")]
    emails = [d for a in mine for d in a["deliveries"] if d["channel"] == "email"]
    check(len(groups) >= 1, f"a grouped e-mail: {[str(m['Subject']) for m in new_mails]}")
    check(len(new_mails) < len(emails), f"fewer e-mails ({len(new_mails)}) than messages ({len(emails)})")
    grouped_text = groups[0].get_body(("plain",)).get_content()
    check("Ландыш" in str(groups[0]["Subject"]) and "оповещений" in str(groups[0]["Subject"]),
          f"the group's subject counts them: {groups[0]['Subject']}")
    check("1. " in grouped_text and "2. " in grouped_text, f"the group lists its alerts: {grouped_text[:400]}")


def page_request(server, method, path):
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=30)
    conn.request(method, path)
    answer = conn.getresponse()
    body = answer.read().decode()
    conn.close()
    return answer.status, body


def webhook_url_with_query(webhook):
    return f"http://127.0.0.1:{webhook.port}/hook?token=helpdesk"


def verify_signature(hook):
    timestamp = hook["headers"]["X-Dozor-Timestamp"]
    check(abs(int(timestamp) - time.time()) < 300, f"a fresh timestamp: {timestamp}")
    want = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), timestamp.encode() + b"." + hook["body"],
                                hashlib.sha256).hexdigest()
    check(hmac.compare_digest(hook["headers"]["X-Dozor-Signature"], want), "the HMAC-SHA256 signature verifies")


if __name__ == "__main__":
    run_test(body)
