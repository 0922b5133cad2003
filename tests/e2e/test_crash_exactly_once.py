"""kill -9 the server while agents stream, restart it: every report arrives exactly once."""
import time
from harness import Agent, Server, check, log, run_test, wait_until

AGENTS = 3


def body(workdir, procs):
    server = Server(workdir, tls=False).start()
    procs.append(server)
    token, _ = server.create_org_and_token("Crash Test")
    grpc_port, http_port = server.grpc_port, server.http_port
    agents = []
    for i in range(AGENTS):
        a = Agent(workdir, f"agent{i}", server)
        procs.append(a)
        a.enroll(token)
        a.start("--health-interval", "1")
        agents.append(a)

    for round_ in range(3):
        time.sleep(3)
        log(f"round {round_}: kill -9 the server")
        server.kill()
        time.sleep(2)  # agents keep sampling into their spools meanwhile
        server.start(grpc_port=grpc_port, http_port=http_port)

    time.sleep(2)
    for a in agents:
        a.stop()  # SIGTERM: clean stop, whatever is unacked stays in the spool
    # Let the restarted agents drain their spools, then stop them for good.
    for a in agents:
        a.start("--health-interval", "3600", "--inventory-interval", "604800")
    wait_until(lambda: all(a.inventories_collected() == 2 and a.spool_count() == 0 for a in agents), 90,
               "second inventories sent and spools drained")
    for a in agents:
        a.stop()

    con = server.db()
    try:
        for a in agents:
            agent_id = a.identity()["agent_id"]
            pk, last_seq = con.execute("SELECT id, last_seq FROM agents WHERE agent_id = ?", (agent_id,)).fetchone()
            seqs = [r[0] for r in con.execute("SELECT seq FROM health_samples WHERE agent = ?", (pk,))]
            dupes = len(seqs) - len(set(seqs))
            check(dupes == 0, f"{agent_id}: {dupes} health samples stored twice")
            check(a.spool_count() == 0, "nothing left unsent")
            # Two agent runs -> two inventories (one at each start); every other seq is a health sample.
            check(len(seqs) == last_seq - a.inventories_collected(), f"{agent_id}: {len(seqs)} health samples for last seq {last_seq}")
            check(set(seqs) <= set(range(1, last_seq + 1)), "seqs within range")
            log(f"{agent_id}: {len(seqs)} health samples + 2 inventories, seq 1..{last_seq}, no duplicates, none missing")
    finally:
        con.close()


run_test(body)
