"""kill -9 the server over and over while real agents and the load generator stream reports: after
the last restart every report any of them generated is in the database exactly once, and the
database passes PRAGMA integrity_check.

Accounting (what "0 lost, 0 duplicated" means here):
- real agent: stopped cleanly, restarted with long intervals until its spool is empty, stopped;
  then the server's committed seq equals the spool's last assigned seq, and seqs 1..last are each
  stored exactly once as a health sample, except the agent's inventories (one per start);
- load generator agent (--reconnect keeps unacked reports and resends them with their seq, like
  the agent's spool): nothing left unacked after its drain, the server's committed seq equals its
  last generated seq, and every seq it generated in this run is stored exactly once;
- "stored" counts health_samples rows plus samples compacted into health_blocks.
The database also passes PRAGMA integrity_check right after every kill (before the restart).

Profile (environment): FAULT_KILL_DURATION (s, default 120), FAULT_KILL_INTERVAL (s, 20),
FAULT_KILL_AGENTS (real agents, 10), FAULT_KILL_LOADGEN (simulated agents, 300),
FAULT_KILL_LOADGEN_INTERVAL (s between one simulated agent's reports, 5),
FAULT_KILL_HEALTH_INTERVAL (real agents' health interval, s, 1), FAULT_KILL_DOWNTIME (s the server
stays dead, 1). The issue's full profile: tests/fault/README.md.
"""
import time

from faultlib import (create_token, Server, check, check_agent_exactly_once, check_loadgen_exactly_once,
                      drain_agents, env_num, integrity_check, load_average, log, raise_nofile, run_test,
                      start_fleet)

DURATION = env_num("FAULT_KILL_DURATION", 120, float)
INTERVAL = env_num("FAULT_KILL_INTERVAL", 20, float)
AGENTS = env_num("FAULT_KILL_AGENTS", 10)
LOADGEN_AGENTS = env_num("FAULT_KILL_LOADGEN", 300)
LOADGEN_INTERVAL = env_num("FAULT_KILL_LOADGEN_INTERVAL", 5, float)
HEALTH_INTERVAL = env_num("FAULT_KILL_HEALTH_INTERVAL", 1)
DOWNTIME = env_num("FAULT_KILL_DOWNTIME", 1, float)


def body(workdir, procs):
    raise_nofile(4 * LOADGEN_AGENTS + 4096)
    log(f"profile: {DURATION:.0f} s, kill -9 every {INTERVAL:.0f} s, {AGENTS} agents (health every "
        f"{HEALTH_INTERVAL} s), loadgen {LOADGEN_AGENTS} agents every {LOADGEN_INTERVAL} s; load {load_average()}")
    server = Server(workdir, tls=False).start()
    procs.append(server)
    token = create_token(server, "Kill Loop")
    grpc_port, http_port = server.grpc_port, server.http_port

    agents, loadgen = start_fleet(workdir, procs, server, token, AGENTS, LOADGEN_AGENTS, HEALTH_INTERVAL,
                                  LOADGEN_INTERVAL, drain_seconds=120, acked_within=60,
                                  acked_what="every simulated agent connected and acked")

    started = time.time()
    kills = 0
    while time.time() - started + INTERVAL <= DURATION:
        time.sleep(INTERVAL)
        server.kill()  # SIGKILL
        killed_at = time.time()
        kills += 1
        result = integrity_check(server.db_path, after_crash=True)
        check(result == ["ok"], f"PRAGMA integrity_check right after kill {kills}: {result[:5]}")
        time.sleep(max(0.0, DOWNTIME - (time.time() - killed_at)))
        server.start(grpc_port=grpc_port, http_port=http_port)
        status = (loadgen.status() or {}) if LOADGEN_AGENTS else {}
        log(f"kill {kills} at {time.time() - started:.0f} s; loadgen generated {status.get('generated')} "
            f"acked {status.get('acked')} unacked {status.get('unacked')}; load {load_average()}")
    check(kills >= 1, "the profile killed the server at least once")
    time.sleep(min(INTERVAL, 5))  # the last restart also gets traffic

    if LOADGEN_AGENTS:
        rc, summary, per_agent = loadgen.finish()
        log(f"loadgen: exit {rc}, generated {summary['generated']}, acked {summary['acked']} "
            f"(stored {summary['stored']}, duplicate {summary['duplicate']}, rejected {summary['rejected']}), "
            f"resent {summary['resent']}, committed with the ack lost {summary['committed_on_accept']}, "
            f"streams opened {summary['sessions_started']}, not acked {summary['not_acked']}")
        check(rc == 0, f"loadgen exit status {rc} (a report left unacked, rejected, or an ack for nothing)")
        check(summary["rejected"] == 0, "no report rejected")

    drain_agents(agents, 120, "restarted agents sent their inventory and drained their spools")

    server.stop()
    result = integrity_check(server.db_path)
    check(result == ["ok"], f"PRAGMA integrity_check: {result[:5]}")
    server.start(grpc_port=grpc_port, http_port=http_port)  # for the read-only checks below

    samples = sum(check_agent_exactly_once(server, a) for a in agents)
    log(f"{len(agents)} real agents: {samples} health samples, each stored once, none lost")
    if LOADGEN_AGENTS:
        reports, checked = check_loadgen_exactly_once(server, per_agent)
        log(f"{checked} simulated agents: {reports} reports, each stored once, none lost")
    log(f"{kills} kill -9 in {DURATION:.0f} s; PRAGMA integrity_check ok; load {load_average()}")


run_test(body)
