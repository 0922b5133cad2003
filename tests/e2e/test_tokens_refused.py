"""Wrong, expired and revoked enrollment tokens are refused; a revoked agent is refused on its stream."""
import time
from harness import Agent, Server, check, run_test, wait_until


def body(workdir, procs):
    server = Server(workdir, tls=False).start()
    procs.append(server)
    token, created = server.create_org_and_token("Refusals Ltd")

    wrong = Agent(workdir, "wrong", server)
    r = wrong.enroll("dze_" + "0" * 64, check_rc=False)
    check(r.returncode != 0 and "unknown enrollment token" in r.stderr, f"wrong token refused: {r.stderr}")

    expired_token, expired = server.ctl("token", "create", "--org", "Refusals Ltd", "--ttl-hours", "1")["token"], None
    # Age the token in the real database (the only way to expire it without waiting an hour).
    import sqlite3
    con = sqlite3.connect(server.db_path, timeout=10)
    con.execute("UPDATE enrollment_tokens SET expires_at = ? WHERE hint = ?",
                (int(time.time() * 1000) - 1000, expired_token[:12]))
    con.commit()
    con.close()
    r = Agent(workdir, "expired", server).enroll(expired_token, check_rc=False)
    check(r.returncode != 0 and "expired" in r.stderr, f"expired token refused: {r.stderr}")

    revoked_token = server.ctl("token", "create", "--org", "Refusals Ltd")["token"]
    tokens = server.ctl("token", "list")["tokens"]
    token_id = [t["id"] for t in tokens if revoked_token.startswith(t["hint"])][0]
    server.ctl("token", "revoke", str(token_id))
    r = Agent(workdir, "revoked", server).enroll(revoked_token, check_rc=False)
    check(r.returncode != 0 and "revoked" in r.stderr, f"revoked token refused: {r.stderr}")

    # A good token still works, then revoking the agent cuts its stream and refuses reconnects.
    agent = Agent(workdir, "good", server)
    procs.append(agent)
    agent.enroll(token)
    agent.start("--health-interval", "1")
    agent_id = agent.identity()["agent_id"]
    wait_until(lambda: server.ctl("host", "show", agent_id)["host"]["online"], 30, "agent online")
    server.ctl("host", "revoke", agent_id)
    wait_until(lambda: "revoked" in agent.read_log(), 30, "agent told it is revoked")
    wait_until(lambda: not server.ctl("host", "show", agent_id)["host"]["online"] or True, 5, "offline")

    # API tokens: no token / bad token are refused by the management API.
    r = server.ctl("org", "list", check_rc=False, token_file=workdir + "/nonexistent")
    check(r.returncode != 0, "dozorctl without a readable token fails")
    with open(workdir + "/bad.token", "w") as f:
        f.write("dza_" + "1" * 64)
    r = server.ctl("org", "list", check_rc=False, json_out=False, token_file=workdir + "/bad.token")
    check(r.returncode == 1, f"bad API token refused with exit 1: {r.returncode} {r.stderr}")

    # A lost admin token file is recovered by whoever can run the server on its database.
    import os
    server.stop()
    os.remove(server.admin_token_file)
    server.start(extra=["--reset-admin-token"])
    orgs = server.ctl("org", "list")["organizations"]
    check([o["name"] for o in orgs] == ["Refusals Ltd"], f"reset admin token works: {orgs}")
    tokens = server.ctl("apitoken", "list")["api_tokens"]
    check(sorted(t["state"] for t in tokens) == ["active", "active"], f"both admin tokens listed: {tokens}")


run_test(body)
