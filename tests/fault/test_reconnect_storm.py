"""Reconnect storm: the server is restarted (SIGTERM, then started again on the same ports and
database) under thousands of connected simulated agents; every agent is reconnected and has a
report acked within FAULT_STORM_DEADLINE s (60) of the new server being ready, the server's RSS and
CPU stay within the stated bounds while they arrive, and no report is lost or stored twice. The
old server must exit within 30 s of SIGTERM (it gives open streams 5 s); if it does not, it is
killed, the storm is still measured, and the test fails at the end.

The agents reconnect as the real agent does (backoff from 1 s doubling, jitter 50-100 %, reset
after an acked stream) and, once reconnected, send the health report that fell into the outage
(--report-on-reconnect), so "acked" means a report went through the new server.

Profile (environment): FAULT_STORM_AGENTS (2000; the issue's 10000 in tests/fault/README.md),
FAULT_STORM_INTERVAL (s between one agent's reports, 20), FAULT_STORM_CONNECT_RATE (streams the
load generator opens per second, 2000), FAULT_STORM_DEADLINE (s, 60).
Bounds, measured on the 2-core machine and given a margin (README): peak RSS during the storm
<= FAULT_STORM_RSS_BASE_MB (120) + FAULT_STORM_RSS_PER_AGENT_KB (50) x agents, i.e. 218 MB at
2,000 and 608 MB at 10,000 agents (measured 115 and 418 MB); server CPU per reconnected agent
<= FAULT_STORM_CPU_MS_PER_AGENT (5 ms; measured 0.9-1.6 ms at load 6-13).
"""
import signal
import subprocess
import time

from faultlib import (create_token, Loadgen, ProcSampler, Server, check, check_loadgen_exactly_once, env_num, load_average, log,
                      raise_nofile, run_test, skip, wait_until)

AGENTS = env_num("FAULT_STORM_AGENTS", 2000)
INTERVAL = env_num("FAULT_STORM_INTERVAL", 20, float)
CONNECT_RATE = env_num("FAULT_STORM_CONNECT_RATE", 2000)
DEADLINE = env_num("FAULT_STORM_DEADLINE", 60, float)
RSS_BASE_MB = env_num("FAULT_STORM_RSS_BASE_MB", 120, float)
RSS_PER_AGENT_KB = env_num("FAULT_STORM_RSS_PER_AGENT_KB", 50, float)
CPU_MS_PER_AGENT = env_num("FAULT_STORM_CPU_MS_PER_AGENT", 5, float)
SIGTERM_EXIT_S = 30  # open streams get 5 s to finish, then queued reports are committed

# One descriptor per stream on each side, plus the database, logs, the API and gRPC's own.
needed_fds = AGENTS + 1024
have_fds = raise_nofile(needed_fds)
if have_fds < needed_fds:
    skip(f"{AGENTS} agents need {needed_fds} descriptors per process; ulimit -n allows {have_fds} "
         f"(raise the hard limit or lower FAULT_STORM_AGENTS)")


def body(workdir, procs):
    log(f"profile: {AGENTS} agents, a report every {INTERVAL:.0f} s, connect rate {CONNECT_RATE}/s, "
        f"deadline {DEADLINE:.0f} s; ulimit -n {have_fds}; load {load_average()}")
    server = Server(workdir, tls=False).start()
    procs.append(server)
    token = create_token(server, "Storm")
    grpc_port, http_port = server.grpc_port, server.http_port
    loadgen = Loadgen(workdir)
    procs.append(loadgen)
    began = time.time()
    loadgen.enroll(server, token, AGENTS)
    log(f"enrolled {AGENTS} in {time.time() - began:.1f} s")
    loadgen.start(server, AGENTS, INTERVAL, drain_seconds=120, connect_rate=CONNECT_RATE,
                  extra=("--report-on-reconnect",))
    wait_until(lambda: (loadgen.status() or {}).get("acked_sessions") == AGENTS, INTERVAL + 90,
               "every agent connected and acked before the restart", interval=1)
    before = loadgen.status()
    log(f"all {AGENTS} connected and acked; server RSS before the restart "
        f"{open(f'/proc/{server.proc.pid}/status').read().split('VmRSS:')[1].split()[0]} kB")

    failures = []
    sampler = ProcSampler(lambda: server.proc.pid if server.proc else None, period=0.25).start()
    try:
        stop_at = time.time()
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(timeout=SIGTERM_EXIT_S)
        except subprocess.TimeoutExpired:
            # Seen on main at fcde34f (fixed in 1aef59a): a stream cancelled while an ack write is in flight never
            # calls Finish (OnWriteDone(ok=false) with pending_finish_ set), so gRPC's Shutdown
            # waits for it forever. Killed here so the storm is still measured; the test fails.
            failures.append(f"dozor-server did not exit within {SIGTERM_EXIT_S} s of SIGTERM with {AGENTS} "
                            f"streams open (gRPC Shutdown waits for a stream that never finishes)")
            log(f"FAILED: {failures[-1]}; killing it to go on")
            server.proc.kill()
            server.proc.wait()
        server.proc = None
        stopped_at = time.time()
        wait_until(lambda: (loadgen.status() or {}).get("open_sessions") == 0, 30,
                   "every stream of the old server ended", interval=0.2)
        server.start(grpc_port=grpc_port, http_port=http_port)
        ready_at = time.time()
        state = {}

        def all_back():
            state.update(loadgen.status() or {})
            return state.get("acked_sessions") == AGENTS
        wait_until(all_back, DEADLINE + 60, "every agent reconnected and acked", interval=0.25)
        back_at = time.time()
        time.sleep(1)
    finally:
        sampler.stop()
    took = back_at - ready_at
    window = sampler.window(ready_at, back_at)
    after = sampler.window(back_at)
    rss_bound = RSS_BASE_MB + RSS_PER_AGENT_KB * AGENTS / 1024
    cpu_per_agent_ms = 1000 * window["cpu_seconds"] / AGENTS
    log(f"SIGTERM -> exit {stopped_at - stop_at:.1f} s; new server ready -> all {AGENTS} reconnected and acked "
        f"{took:.1f} s (from SIGTERM {back_at - stop_at:.1f} s); streams opened {state.get('sessions_started')} "
        f"(before {before.get('sessions_started')})")
    log(f"server during the storm: peak RSS {window['peak_rss_mb']:.0f} MB (bound {rss_bound:.0f}), "
        f"CPU {window['cpu_seconds']:.2f} s over {window['seconds']:.1f} s = "
        f"{window['cpu_seconds'] / max(window['seconds'], 0.1):.2f} cores, {cpu_per_agent_ms:.2f} ms per agent "
        f"(bound {CPU_MS_PER_AGENT}), peak fds {window['peak_fds']}; load {load_average()}")
    check(took <= DEADLINE, f"all agents back within {DEADLINE:.0f} s of the restart (took {took:.1f} s)")
    check(window["samples"] > 0, "the server was sampled during the storm")
    check(window["peak_rss_mb"] <= rss_bound,
          f"peak RSS {window['peak_rss_mb']:.0f} MB within {rss_bound:.0f} MB")
    check(cpu_per_agent_ms <= CPU_MS_PER_AGENT,
          f"server CPU {cpu_per_agent_ms:.2f} ms per reconnected agent within {CPU_MS_PER_AGENT} ms")

    rc, summary, per_agent = loadgen.finish()
    log(f"loadgen: exit {rc}, generated {summary['generated']}, acked {summary['acked']}, "
        f"duplicate {summary['duplicate']}, committed with the ack lost {summary['committed_on_accept']}, "
        f"not acked {summary['not_acked']}; ack latency p99 {summary['latency_ms']['p99']:.1f} ms")
    check(rc == 0, f"loadgen exit status {rc}")
    reports, checked = check_loadgen_exactly_once(server, per_agent)
    log(f"{checked} agents, {reports} reports, each stored once")
    check(not failures, "; ".join(failures))


run_test(body)
