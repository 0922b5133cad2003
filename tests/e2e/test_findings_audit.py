"""Weak spots end to end: a real agent (reading a fixture machine we can edit) streams to a real
server with an engineer's extra rule directory (one good rule, one broken file); findings open,
are acknowledged and waived through dozorctl, resolve when the agent's data clears and regress
when it returns; the contract moves prospect -> remediation -> active with snapshots; the audit
report downloads as PDF (checked with pdftotext, Cyrillic included), HTML, JSON and CSV."""
import json
import os
import shutil
import subprocess
import textwrap
from harness import Agent, SERVER_BIN, Server, by_rule, check, log, run_test, wait_until

FIXTURES = os.environ.get("DOZOR_FIXTURES_DIR",
                          os.path.join(os.path.dirname(__file__), "..", "fixtures"))

CUSTOM_RULE = textwrap.dedent('''\
    id = "custom-hostname-convention"
    scope = "host"
    category = "os"
    severity = "low"
    contracts = ["technical", "complex"]
    effort = "15m"
    title.en = "Hostname does not follow the client's naming convention"
    title.ru = "Имя хоста не соответствует соглашению клиента"
    why.en = "Hosts are found by name during incidents."
    why.ru = "При инцидентах хосты ищут по имени."
    remediation.en = "Rename the host to srv-<site>-<role>."
    remediation.ru = "Переименуйте хост по шаблону srv-<площадка>-<роль>."
    evidence.en = "hostname {hostname}"
    evidence.ru = "имя хоста {hostname}"
    condition = """
    SELECT host_id, hostname FROM os WHERE substr(hostname, 1, length(:prefix)) <> :prefix
    """
    [params]
    prefix = "srv-"
    ''')

BROKEN_RULE = textwrap.dedent('''\
    id = "broken-rule"
    scope = "host"
    category = "os"
    severity = "low"
    contracts = ["technical"]
    effort = "5m"
    title.en = "x"
    title.ru = "x"
    why.en = "x"
    why.ru = "x"
    remediation.en = "x"
    remediation.ru = "x"
    condition = """
    SELECT host_id FROM no_such_view
    """
    ''')


def set_os_version(root, version_id, pretty):
    path = os.path.join(root, "etc", "os-release")
    with open(path) as f:
        lines = [l for l in f.read().splitlines() if not l.startswith(("VERSION_ID=", "PRETTY_NAME="))]
    lines += [f'VERSION_ID="{version_id}"', f'PRETTY_NAME="{pretty}"']
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def findings(server, *args):
    return server.ctl("findings", "list", "--org", "ООО «Ромашка»", *args)["findings"]


def body(workdir, procs):
    rules_dir = os.path.join(workdir, "rules")
    os.makedirs(rules_dir)
    with open(os.path.join(rules_dir, "custom-hostname-convention.toml"), "w") as f:
        f.write(CUSTOM_RULE)
    with open(os.path.join(rules_dir, "broken-rule.toml"), "w") as f:
        f.write(BROKEN_RULE)

    # `rules check` names the broken file and line, and fails; the good rule passes.
    check_run = subprocess.run([SERVER_BIN, "rules", "check", "--rules-dir", rules_dir],
                               capture_output=True, text=True, timeout=60)
    check(check_run.returncode == 1, f"rules check fails on a broken file: rc {check_run.returncode} {check_run.stdout}{check_run.stderr}")
    out = check_run.stdout + check_run.stderr
    check("broken-rule.toml:" in out and "no_such_view" in out, f"rules check names file, line and cause: {out}")

    server = Server(workdir, tls=True).start(extra=["--rules-dir", rules_dir, "--rules-full-interval", "10"])
    procs.append(server)
    rules = server.ctl("rules", "list")
    ids = {r["id"] for r in rules["rules"]}
    check("custom-hostname-convention" in ids, "the engineer's rule is loaded without recompiling")
    check(len(ids) >= 41, f"at least 40 built-in rules plus the custom one: {len(ids)}")
    check(any("broken-rule.toml" in e["source"] for e in rules["errors"]), f"broken rule reported: {rules['errors']}")

    token, _ = server.create_org_and_token("ООО «Ромашка»")
    root = os.path.join(workdir, "machine")
    shutil.copytree(os.path.join(FIXTURES, "hosts", "debian-server"), root, symlinks=True)
    set_os_version(root, "10", "Debian GNU/Linux 10 (buster)")

    agent = Agent(workdir, "agent1", server)
    procs.append(agent)
    agent.enroll(token)
    agent.start("--root", root, "--health-interval", "2")
    agent_id = agent.identity()["agent_id"]

    # 1. Findings open for the EOL OS and the custom rule.
    items = wait_until(lambda: (lambda f: f if by_rule(f, "os-eol") and by_rule(f, "custom-hostname-convention") else None)(findings(server)),
                       90, "os-eol and custom findings")
    eol = by_rule(items, "os-eol")[0]
    check(eol["state"] == "open" and eol["host"]["agent_id"] == agent_id, f"os-eol open on the host: {eol}")
    check(eol["severity"] == "critical", "EOL OS is critical")
    check("10" in json.dumps(eol["evidence"], ensure_ascii=False), f"evidence shows the version: {eol['evidence']}")
    custom = by_rule(items, "custom-hostname-convention")[0]
    log(f"{len(items)} findings open on the fixture machine")

    # 2. Lifecycle by people: ack with a comment, waive with a reason and a date.
    server.ctl("findings", "ack", str(eol["id"]), "-m", "Обновление запланировано")
    shown = server.ctl("findings", "show", str(eol["id"]))
    check(shown["finding"]["state"] == "acknowledged", f"acknowledged: {shown['finding']['state']}")
    kinds = [e["kind"] for e in shown["events"]]
    check(kinds[:2] == ["opened", "acknowledged"], f"history kept: {kinds}")
    check(shown["events"][1]["actor"] and shown["events"][1]["comment"] == "Обновление запланировано", "ack author and comment kept")
    bad = server.ctl("findings", "ack", str(eol["id"]), check_rc=False, json_out=False)
    check(bad.returncode != 0, "acknowledging twice is refused")
    server.ctl("findings", "waive", str(custom["id"]), "--reason", "клиент принимает риск", "--until", "2099-01-01")
    check(server.ctl("findings", "show", str(custom["id"]))["finding"]["state"] == "waived", "waived")
    server.ctl("findings", "comment", str(custom["id"]), "-m", "согласовано с директором")

    # 3. Contract: prospect -> remediation records the first audit.
    server.ctl("org", "contract", "ООО «Ромашка»", "--status", "remediation")
    contract = server.ctl("org", "contract", "ООО «Ромашка»")
    check(contract["status"] == "remediation", f"status moved: {contract}")
    check(contract["first_audit"] is not None, "first audit snapshot recorded")
    refused = server.ctl("org", "contract", "ООО «Ромашка»", "--status", "ended", check_rc=False, json_out=False)
    check(refused.returncode != 0, "remediation -> ended is refused")

    # 4. The client fixes the cause: the finding resolves by itself after the next inventory.
    set_os_version(root, "12", "Debian GNU/Linux 12 (bookworm)")
    server.ctl("host", "collect", agent_id)
    wait_until(lambda: by_rule(findings(server, "--state", "all"), "os-eol")[0]["state"] == "resolved", 60,
               "os-eol resolved after the upgrade")
    # ... and comes back: regressed, not a duplicate.
    set_os_version(root, "10", "Debian GNU/Linux 10 (buster)")
    server.ctl("host", "collect", agent_id)
    wait_until(lambda: by_rule(findings(server, "--state", "all"), "os-eol")[0]["state"] == "regressed", 60,
               "os-eol regressed")
    check(len(by_rule(findings(server, "--state", "all"), "os-eol")) == 1, "one finding per rule and host")
    set_os_version(root, "12", "Debian GNU/Linux 12 (bookworm)")
    server.ctl("host", "collect", agent_id)
    wait_until(lambda: by_rule(findings(server, "--state", "all"), "os-eol")[0]["state"] == "resolved", 60,
               "os-eol resolved again")

    # 5. The report in every format.
    pdf_path = os.path.join(workdir, "audit.pdf")
    server.ctl("report", "--org", "ООО «Ромашка»", "--format", "pdf", "--lang", "ru", "-o", pdf_path, json_out=False)
    with open(pdf_path, "rb") as f:
        check(f.read(5) == b"%PDF-", "a PDF file")
    text = subprocess.run(["pdftotext", "-layout", pdf_path, "-"], capture_output=True, text=True, check=True).stdout
    check("ООО «Ромашка»" in text, "Cyrillic organisation name renders in the PDF")
    check("custom-hostname-convention" in text or "Имя хоста не соответствует" in text, "the waived finding is in the PDF")
    check("Debian" in text, "estate summary lists the OS")
    en_pdf = os.path.join(workdir, "audit-en.pdf")
    server.ctl("report", "--org", "ООО «Ромашка»", "--format", "pdf", "--lang", "en", "-o", en_pdf, json_out=False)
    en_text = subprocess.run(["pdftotext", "-layout", en_pdf, "-"], capture_output=True, text=True, check=True).stdout
    check("remediation" in en_text.lower(), "English report names the contract phase")
    report_json = os.path.join(workdir, "audit.json")
    server.ctl("report", "--org", "ООО «Ромашка»", "--format", "json", "-o", report_json, json_out=False)
    with open(report_json) as f:
        report = json.load(f)
    check(0 <= report["readiness_score"] <= 100, f"score in range: {report['readiness_score']}")
    check(report["phase"]["key"] == "remediation", f"report states the phase: {report['phase']}")
    must_fix = [f for f in report["findings"] if f["must_fix"]]
    quoted = sum(f["effort_hours"] or 0 for f in must_fix)
    check(abs(report["must_fix_effort_hours"] - quoted) < 1e-9 and (not must_fix or quoted > 0),
          f"the must-fix list is quoted as the sum of its findings' hours: {report['must_fix_effort_hours']} vs {quoted}")
    progress = report["progress"]["since_first_audit"]
    check(progress is not None and progress["baseline_kind"] == "first-audit", f"first audit baseline: {report['progress']}")
    fixed = {i["rule_id"] for i in progress["fixed_since"]}
    check("os-eol" in fixed, f"progress against the first audit shows os-eol fixed: {progress}")
    csv_path = os.path.join(workdir, "audit.csv")
    server.ctl("report", "--org", "ООО «Ромашка»", "--format", "csv", "-o", csv_path, json_out=False)
    with open(csv_path, "rb") as f:
        raw = f.read()
    check(raw.startswith(b"\xef\xbb\xbf"), "CSV carries a UTF-8 BOM for Excel")
    check("ООО «Ромашка»" in raw.decode("utf-8-sig"), "CSV keeps Cyrillic")
    html_path = os.path.join(workdir, "audit.html")
    server.ctl("report", "--org", "ООО «Ромашка»", "--format", "html", "-o", html_path, json_out=False)
    with open(html_path, encoding="utf-8") as f:
        html = f.read()
    check("<html" in html.lower() and "http://" not in html.split("<body")[0], "self-contained HTML")

    # 6. Signing records the baseline.
    server.ctl("org", "contract", "ООО «Ромашка»", "--status", "active")
    contract = server.ctl("org", "contract", "ООО «Ромашка»")
    check(contract["signing"] is not None, "signing snapshot recorded")
    check([e["to_status"] for e in contract["events"]] == ["remediation", "active"], f"contract history: {contract['events']}")


if __name__ == "__main__":
    run_test(body)
