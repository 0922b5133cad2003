"""The audit report's coverage, time zone and charts end to end (issue 14, "The report"): a real
server, a real agent on the debian-server fixture and a second machine enrolled that never sent
anything. The engineer records that the client has 4 machines (`dozorctl org update
--declared-hosts`) and the client's time zone (`alerts settings --time-zone`); the report (JSON,
HTML, PDF through pdftotext) then says first how many machines of each kind were seen and what
the audit could not see (2 machines never audited, one enrolled without an inventory), calls the
verdict limited, shows every time in Vladivostok time and carries the score, findings and disk
charts. Clearing the declared count takes its gap away; a bad count is refused with a clear error.
"""
import http.client
import json
import os
import shutil
import subprocess
from harness import Agent, Server, check, log, run_test, wait_until

FIXTURES = os.environ.get("DOZOR_FIXTURES_DIR",
                          os.path.join(os.path.dirname(__file__), "..", "fixtures"))
ORG = "ООО «Охват»"


def patch_org(server, org_id, body):
    with open(server.admin_token_file) as f:
        token = f.read().strip()
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=30)
    conn.request("PATCH", f"/api/v1/orgs/{org_id}", body=json.dumps(body),
                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"{}")


def report(server, fmt, lang, workdir):
    path = os.path.join(workdir, f"report-{lang}.{fmt}")
    server.ctl("report", "--org", ORG, "--format", fmt, "--lang", lang, "-o", path, json_out=False)
    if fmt == "json":
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    if fmt == "pdf":
        return subprocess.run(["pdftotext", "-layout", path, "-"], capture_output=True, text=True,
                              check=True).stdout
    with open(path, encoding="utf-8") as f:
        return f.read()


def body(workdir, procs):
    root = os.path.join(workdir, "machine")
    shutil.copytree(os.path.join(FIXTURES, "hosts", "debian-server"), root, symlinks=True)
    server = Server(workdir, tls=True).start()
    procs.append(server)
    token, _ = server.create_org_and_token(ORG)

    # 1. The declared machine count and the client's time zone.
    org = server.ctl("org", "update", ORG, "--declared-hosts", "4")
    check(org["declared_hosts"] == 4, f"declared count stored: {org}")
    bad = server.ctl("org", "update", ORG, "--declared-hosts", "-3", check_rc=False, json_out=False)
    check(bad.returncode != 0 and "declared-hosts" in (bad.stderr + bad.stdout),
          f"dozorctl refuses a negative count: {bad.stderr}")
    status, reply = patch_org(server, org["id"], {"declared_hosts": "many"})
    check(status == 400 and "declared_hosts" in json.dumps(reply),
          f"the API refuses a count that is not a number: {status} {reply}")
    check(server.ctl("org", "show", ORG)["declared_hosts"] == 4, "the bad requests changed nothing")
    server.ctl("alerts", "settings", ORG, "--time-zone", "Asia/Vladivostok")

    agent = Agent(workdir, "agent1", server)
    procs.append(agent)
    agent.enroll(token)
    agent.start("--root", root, "--health-interval", "2")
    agent_id = agent.identity()["agent_id"]
    silent = Agent(workdir, "silent", server)  # enrolled, never started: no inventory
    silent.enroll(token)
    wait_until(lambda: (server.ctl("host", "show", agent_id).get("inventory") or {}).get("inventory"),
               60, "the agent's inventory")
    wait_until(lambda: server.db().execute("SELECT count(*) FROM health_samples").fetchone()[0] >= 2,
               60, "health samples")

    # 2. Coverage comes first and limits the verdict.
    en = report(server, "json", "en", workdir)
    coverage = en["coverage"]
    check(coverage["seen"] == 2 and coverage["declared"] == 4 and coverage["limited"],
          f"2 of 4 machines seen, verdict limited: {coverage}")
    gaps = {g["kind"]: g for g in coverage["gaps"]}
    check("declared-unseen" in gaps and "2 machines were not audited" in gaps["declared-unseen"]["text"],
          f"the unaudited machines are named as a gap: {coverage['gaps']}")
    check("no-inventory" in gaps and len(gaps["no-inventory"]["details"]) == 1,
          f"the silent enrolled machine is a gap: {coverage['gaps']}")
    kinds = {k["label"]: k["count"] for k in coverage["seen_by_kind"]}
    check(kinds.get("no inventory yet") == 1 and sum(kinds.values()) == 2,
          f"machines per kind: {kinds}")
    check(en["verdict_limitation"].startswith("The verdict covers only"), f"verdict limited: {en['verdict_limitation']}")
    check(en["time_zone"] == "Asia/Vladivostok", f"the client's zone: {en['time_zone']}")
    charts = {c["id"]: c for c in en["charts"]}
    check("score" in charts and "findings" in charts, f"score and findings charts: {sorted(charts)}")
    check(len(charts["score"]["series"][0]["points"]) >= 1, f"score points: {charts['score']}")
    disk = [c for c in en["charts"] if c["id"].startswith("disk-")]
    check(len(disk) == 1 and any(s["label"] == "/ used" for s in disk[0]["series"]),
          f"the server's disk chart: {[c['id'] for c in disk]}")

    html = report(server, "html", "ru", workdir)
    check(html.find('id="coverage"') < html.find('id="must-fix"'), "HTML: coverage before the must-fix list")
    check('data-gap="declared-unseen"' in html and "2 машины аудит не видел" in html,
          "HTML: the unaudited machines in Russian")
    check('data-chart="score"' in html and 'data-chart="findings"' in html, "HTML: the charts")
    check("Asia/Vladivostok" in html and "+10" in html, "HTML: times in Vladivostok time (+10)")
    check("http://" not in html.split("<body")[0], "HTML stays self-contained")

    pdf = report(server, "pdf", "ru", workdir)
    check("Охват аудита" in pdf and "Что аудит не увидел" in pdf, "PDF: the coverage section")
    check("Вывод верен только для того, что увидел аудит" in pdf, "PDF: the verdict is limited")
    check("Asia/Vladivostok" in pdf and "+10" in pdf, "PDF: times in Vladivostok time")
    check("Оценка готовности" in pdf and "Динамика" in pdf, "PDF: the charts section")

    # 3. Clearing the declared count removes its gap (the silent machine still limits the verdict).
    org = server.ctl("org", "update", ORG, "--declared-hosts", "none")
    check(org["declared_hosts"] is None, f"declared count cleared: {org}")
    en = report(server, "json", "en", workdir)
    kinds = [g["kind"] for g in en["coverage"]["gaps"]]
    check("declared-unseen" not in kinds and "no-inventory" in kinds, f"gaps after clearing: {kinds}")
    log("coverage, time zone and charts reach every format")


if __name__ == "__main__":
    run_test(body)
