"""Reproducer (not a CTest test): SIGTERM dozor-server under N connected simulated agents, ROUNDS
times, restarting it in between; prints how long each exit took and, when one takes more than
40 s, the server's thread stacks (gdb) and exits 1.

    cd tests/fault && DOZOR_BIN_DIR=$PWD/../../build ROUNDS=5 python3 repro_sigterm_hang.py 2000

Found with it (main at fcde34f; fixed in 1aef59a): about one SIGTERM in three hangs for good in
grpc::Server::ShutdownInternal -> UnrefAndWaitLocked: a stream cancelled while an ack write is in
flight sets pending_finish_, the write then completes with ok=false, OnWriteDone calls
FinishLocked (a no-op: already finishing) and returns, so Finish is never called.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

from faultlib import create_token, Loadgen, Server, log, raise_nofile, wait_until

AGENTS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
ROUNDS = int(os.environ.get("ROUNDS", "3"))


def main():
    raise_nofile(AGENTS + 2048)
    workdir = tempfile.mkdtemp(prefix="dozor-sigterm-")
    server = Server(workdir, tls=False).start()
    loadgen = Loadgen(workdir)
    try:
        token = create_token(server, "Repro")
        loadgen.enroll(server, token, AGENTS)
        loadgen.start(server, AGENTS, 20, connect_rate=2000, extra=("--report-on-reconnect",))
        for round_ in range(ROUNDS):
            wait_until(lambda: (loadgen.status() or {}).get("acked_sessions") == AGENTS, 120,
                       "every agent connected and acked", interval=1)
            began, pid = time.time(), server.proc.pid
            server.proc.send_signal(signal.SIGTERM)
            try:
                server.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                log(f"round {round_}: STUCK 40 s after SIGTERM; thread stacks:")
                subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt"])
                return 1
            log(f"round {round_}: exited {time.time() - began:.1f} s after SIGTERM (status {server.proc.returncode})")
            server.proc = None
            server.start(grpc_port=server.grpc_port, http_port=server.http_port)
        return 0
    finally:
        loadgen.kill()
        server.kill()
        subprocess.run(["rm", "-rf", workdir])


if __name__ == "__main__":
    sys.exit(main())
