"""Bad input on the agent side gets a clear error and loses no data: a corrupt spool is moved aside,
a deleted spool does not make the server swallow new reports, wrong credentials are refused loudly
and retried, never crashing and never dropping reports silently."""
import glob
import json
import os
import time
from harness import Agent, Server, Steps, check, log, run_test, wait_until


def full_log(proc):
    """The whole log (the harness's read_log keeps only the tail)."""
    with open(proc.log_path, errors="replace") as f:
        return f.read()


def health_count(server, agent_id):
    return len(server.ctl("host", "health", agent_id, "--limit", "1000")["samples"])


def body(workdir, procs):
    steps = Steps()
    server = Server(workdir, tls=False).start()
    procs.append(server)
    token, _ = server.create_org_and_token("Bad Input Agents")

    def corrupt_spool():
        agent = Agent(workdir, "corrupt", server)
        procs.append(agent)
        agent.enroll(token)
        agent_id = agent.identity()["agent_id"]
        agent.start("--health-interval", "1")
        wait_until(lambda: health_count(server, agent_id) >= 1, 30, "first health sample stored")
        agent.stop()
        spool = os.path.join(agent.state_dir, "spool.db")
        for leftover in glob.glob(spool + "-*"):  # WAL/SHM of the old file would confuse the garbage test
            os.remove(leftover)
        garbage = os.urandom(64 * 1024)
        with open(spool, "wb") as f:
            f.write(garbage)
        before = health_count(server, agent_id)
        agent.start("--health-interval", "1")
        aside = wait_until(lambda: glob.glob(spool + ".corrupt-*"), 15, "corrupt spool moved aside")
        with open(aside[0], "rb") as f:
            check(f.read() == garbage, "the corrupt spool is kept byte for byte, not rewritten")
        wait_until(lambda: "corrupt" in agent.read_log(), 10, "a warning about the corrupt spool")
        warning = [line for line in agent.read_log().splitlines() if "corrupt" in line]
        check(any(os.path.basename(aside[0]) in line for line in warning),
              f"the warning names where the corrupt spool went: {warning}")
        check(any("warn" in line.lower() or "error" in line.lower() for line in warning),
              f"logged at warning level: {warning}")
        wait_until(lambda: health_count(server, agent_id) >= before + 3, 30,
                   "new health samples stored after the corrupt spool")
        check(agent.proc.poll() is None, "agent still running with a fresh spool")
        agent.stop()

    def deleted_spool():
        agent = Agent(workdir, "deleted", server)
        procs.append(agent)
        agent.enroll(token)
        agent_id = agent.identity()["agent_id"]
        agent.start("--health-interval", "1")
        wait_until(lambda: health_count(server, agent_id) >= 4, 30, "health samples committed on the server")
        agent.stop()
        for f in glob.glob(os.path.join(agent.state_dir, "spool.db*")):
            os.remove(f)
        before = health_count(server, agent_id)
        log(f"   {before} samples stored before the spool was deleted")
        agent.start("--health-interval", "1")
        wait_until(lambda: health_count(server, agent_id) >= before + 3, 30,
                   f"at least 3 new health samples after deleting the spool (had {before})")
        check(agent.proc.poll() is None, "agent still running")
        agent.stop()

    def wrong_secret():
        agent = Agent(workdir, "wrongsecret", server)
        procs.append(agent)
        agent.enroll(token)
        agent_id = agent.identity()["agent_id"]
        path = os.path.join(agent.state_dir, "identity.json")
        ident = agent.identity()
        secret_key = next(k for k in ident if "secret" in k)
        old = ident[secret_key]
        ident[secret_key] = ("0" if old[-1] != "0" else "1") * len(old) if old else "wrong"
        with open(path, "w") as f:
            json.dump(ident, f)
        os.chmod(path, 0o600)
        server_log_before = len(full_log(server))
        agent.start("--health-interval", "1")
        time.sleep(5)
        check(agent.proc.poll() is None, f"agent keeps running after being refused (rc {agent.proc.poll()})")
        alog = agent.read_log()
        check("refused" in alog.lower(), f"agent logs that the server refused it: {alog[-800:]}")
        attempts = alog.lower().count("refused")
        check(attempts >= 2, f"agent retries (refused {attempts} time(s) in 5 s)")
        slog = full_log(server)[server_log_before:]
        refusals = [line for line in slog.splitlines() if "refused" in line and "wrong secret" in line]
        check(len(refusals) >= 2, f"server logs each refused attempt: {slog[-800:]}")
        check(health_count(server, agent_id) == 0, "nothing stored for the refused agent")
        host = server.ctl("host", "show", agent_id)["host"]
        check(not host.get("last_inventory_ms"), f"no inventory stored for the refused agent: {host}")
        check(not host.get("online"), f"the refused agent is not shown online: {host}")
        agent.stop()

    steps.run("3. corrupt agent spool is moved aside, agent keeps reporting", corrupt_spool)
    steps.run("4. deleted agent spool: server keeps storing new samples", deleted_spool)
    steps.run("7. wrong agent secret: refused, logged on both sides, retried, nothing stored", wrong_secret)
    check(server.proc.poll() is None, "server survived all of it")
    steps.finish()


run_test(body)
