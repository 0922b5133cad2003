"""While the server is away the agent spools; kill -9 and restart the agent with that full spool:
nothing is lost once the server comes back."""
import time
from harness import Agent, Server, check, log, run_test, wait_until


def body(workdir, procs):
    server = Server(workdir, tls=True).start()
    procs.append(server)
    token, _ = server.create_org_and_token("Spool Test")
    grpc_port, http_port = server.grpc_port, server.http_port
    agent = Agent(workdir, "agent", server)
    procs.append(agent)
    agent.enroll(token)
    server.stop()

    agent.start("--health-interval", "1")
    wait_until(lambda: agent.spool_count() >= 6, 30, "reports piling up in the spool")
    agent.kill()  # kill -9 with a spool full of unacked reports
    spooled = agent.spool_count()
    log(f"spool holds {spooled} reports after kill -9")
    agent.start("--health-interval", "1")
    time.sleep(2)
    server.start(grpc_port=grpc_port, http_port=http_port)
    wait_until(lambda: agent.inventories_collected() == 2 and agent.spool_count() <= 1, 90,
               "spool drained after the server returned")
    agent.stop()
    # One more run without health sampling: sends whatever the SIGTERM left behind.
    agent.start("--health-interval", "3600", "--inventory-interval", "604800")
    wait_until(lambda: agent.inventories_collected() == 3 and agent.spool_count() == 0, 90, "spool empty")
    agent.stop()
    check(agent.spool_count() == 0, "nothing left unsent")
    con = server.db()
    try:
        agent_id = agent.identity()["agent_id"]
        pk, last_seq = con.execute("SELECT id, last_seq FROM agents WHERE agent_id = ?", (agent_id,)).fetchone()
        seqs = [r[0] for r in con.execute("SELECT seq FROM health_samples WHERE agent = ?", (pk,))]
        check(len(seqs) == len(set(seqs)), "no duplicates")
        # One inventory per agent start; everything else is health and all of it arrived.
        check(len(seqs) == last_seq - agent.inventories_collected(), f"{len(seqs)} health samples for last seq {last_seq}")
        check(len(seqs) >= spooled - 1, "at least what was spooled before the kill arrived")
        log(f"all {last_seq} reports arrived exactly once")
    finally:
        con.close()


run_test(body)
