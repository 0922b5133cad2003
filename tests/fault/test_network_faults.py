"""Network faults between agents and the server, in a network namespace the test creates: the
agents (real ones and the load generator) run in the namespace, the server outside it, joined by a
veth pair; then a 30 s partition, healed; afterwards no report is lost or stored twice.

Two modes (CTest runs both):
  --partition  the partition is the host side of the veth set down (packets vanish, no RST), no
               shaping: needs only `ip netns` and veth;
  --netem      10 % loss and 100 ms delay both ways for the whole run, the partition is 100 %
               loss. With the kernel's sch_netem: `tc qdisc ... netem` on both ends of the veth.
               Without it (these containers: no sch_netem and no modprobe): the same per packet
               in userspace, iptables NFQUEUE rules on the namespace's end of the veth (both
               directions) and nfqueue_shaper.py giving each packet its verdict (dropped with
               probability 0.1, else accepted 100 ms later; every packet dropped while
               partitioned). Exit 77 (skipped) only when neither is available, saying why.
Either mode exits 77 when network namespaces cannot be created (not root, no CAP_NET_ADMIN).
Namespaces, links, qdiscs and the shaper are removed on every exit path.

Profile (environment): FAULT_NET_AGENTS (real agents, 4), FAULT_NET_LOADGEN (simulated agents,
100), FAULT_NET_PARTITION (s, 30), FAULT_NET_BEFORE / FAULT_NET_AFTER (s of traffic around the
partition, 10 / 10).
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from faultlib import (create_token, LOADGEN_BIN, Agent, Loadgen, Server, check, check_agent_exactly_once,
                      check_loadgen_exactly_once, drain_agents, env_num, harness, integrity_check, load_average,
                      log, run_test, skip, start_fleet, wait_until)

MODE = "netem" if "--netem" in sys.argv else "partition"
AGENTS = env_num("FAULT_NET_AGENTS", 4)
LOADGEN_AGENTS = env_num("FAULT_NET_LOADGEN", 100)
PARTITION = env_num("FAULT_NET_PARTITION", 30, float)
BEFORE = env_num("FAULT_NET_BEFORE", 10, float)
AFTER = env_num("FAULT_NET_AFTER", 10, float)

TAG = f"dzf{os.getpid() % 100000}"
NS = TAG
HOST_IF, NS_IF = TAG + "h", TAG + "n"
SUBNET = 100 + os.getpid() % 100
HOST_IP, NS_IP = f"10.231.{SUBNET}.1", f"10.231.{SUBNET}.2"
SHAPER_QUEUE = 7  # the namespace is ours: no other listener on its queues
SHAPER = {"proc": None, "pid": None, "dir": None}  # the userspace netem, when the kernel has none


def sh(*args, check_rc=True):
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=30)
    if check_rc and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {result.stderr.strip() or result.returncode}")
    return result


def teardown():
    proc = SHAPER["proc"]
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    if SHAPER["dir"] is not None:
        try:
            with open(os.path.join(SHAPER["dir"], "shaper.log")) as f:
                log(f.read().strip() or "shaper stopped")
        except OSError:
            pass
        shutil.rmtree(SHAPER["dir"], ignore_errors=True)
        SHAPER["dir"] = None
    sh("ip", "link", "del", HOST_IF, check_rc=False)
    sh("ip", "netns", "del", NS, check_rc=False)


def setup_namespace():
    try:
        sh("ip", "netns", "add", NS)
        sh("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF)
        sh("ip", "link", "set", NS_IF, "netns", NS)
        sh("ip", "addr", "add", f"{HOST_IP}/24", "dev", HOST_IF)
        sh("ip", "link", "set", HOST_IF, "up")
        sh("ip", "-n", NS, "addr", "add", f"{NS_IP}/24", "dev", NS_IF)
        sh("ip", "-n", NS, "link", "set", NS_IF, "up")
        sh("ip", "-n", NS, "link", "set", "lo", "up")
    except (RuntimeError, OSError) as e:
        teardown()
        skip(f"cannot create a network namespace with a veth pair ({e}); needs root / CAP_NET_ADMIN")
    if MODE == "netem":
        result = sh("tc", "qdisc", "add", "dev", HOST_IF, "root", "netem", "loss", "10%", "delay", "100ms",
                    check_rc=False)
        if result.returncode == 0:
            sh("ip", "netns", "exec", NS, "tc", "qdisc", "add", "dev", NS_IF, "root", "netem", "loss", "10%",
               "delay", "100ms")
            return
        netem_error = result.stderr.strip()
        try:
            start_userspace_shaper()
        except (RuntimeError, OSError) as e:
            teardown()
            skip(f"tc netem is unavailable ({netem_error}: the kernel's sch_netem is not loaded here) and so is "
                 f"the userspace fallback ({e}; needs iptables with the NFQUEUE target); the --partition mode "
                 f"covers the partition without loss and delay")
        log(f"no sch_netem ({netem_error}): 10 % loss and 100 ms delay each way by nfqueue_shaper.py "
            f"(pid {SHAPER['pid']}) on {NS_IF}")


def start_userspace_shaper():
    """netem's `loss 10% delay 100ms` on both directions of the namespace's end of the veth, given
    per packet by nfqueue_shaper.py."""
    if shutil.which("iptables") is None:
        raise RuntimeError("no iptables binary")
    SHAPER["dir"] = tempfile.mkdtemp(prefix="dozor-shaper-")
    ready = os.path.join(SHAPER["dir"], "ready")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nfqueue_shaper.py")
    # The listener first: a queue rule without a listener drops every packet. Its messages go to a
    # file, not a pipe nobody reads while the test runs (a full pipe would stall it: a dead link).
    with open(os.path.join(SHAPER["dir"], "shaper.log"), "w") as shaper_log:
        proc = subprocess.Popen(["ip", "netns", "exec", NS, sys.executable, script, "--queue", str(SHAPER_QUEUE),
                                 "--delay-ms", "100", "--loss", "0.10", "--ready-file", ready],
                                stdout=subprocess.DEVNULL, stderr=shaper_log)
    SHAPER["proc"] = proc
    deadline = time.time() + 10
    while not os.path.exists(ready):  # written whole (renamed into place)
        if proc.poll() is not None:
            raise RuntimeError(f"nfqueue_shaper.py exited {proc.returncode} (its log follows the test)")
        if time.time() > deadline:
            raise RuntimeError("nfqueue_shaper.py not ready within 10 s")
        time.sleep(0.05)
    with open(ready) as f:
        SHAPER["pid"] = int(f.read())
    for chain, direction in (("OUTPUT", "-o"), ("INPUT", "-i")):
        sh("ip", "netns", "exec", NS, "iptables", "-A", chain, direction, NS_IF, "-j", "NFQUEUE", "--queue-num",
           str(SHAPER_QUEUE))


def partition(on):
    if MODE == "netem" and SHAPER["pid"] is not None:
        check(SHAPER["proc"].poll() is None, f"the shaper is running (exit {SHAPER['proc'].poll()})")
        os.kill(SHAPER["pid"], signal.SIGUSR1 if on else signal.SIGUSR2)
    elif MODE == "netem":
        shape = ["loss", "100%"] if on else ["loss", "10%", "delay", "100ms"]
        sh("tc", "qdisc", "change", "dev", HOST_IF, "root", "netem", *shape)
        sh("ip", "netns", "exec", NS, "tc", "qdisc", "change", "dev", NS_IF, "root", "netem", *shape)
    else:
        sh("ip", "link", "set", HOST_IF, "down" if on else "up")
        if not on:
            # Setting the link down removed its address's route; up restores it with the address.
            wait_until(lambda: HOST_IP in sh("ip", "-4", "addr", "show", "dev", HOST_IF).stdout, 10, "address back")


class NetServer(Server):
    """The server on the host side of the veth (gRPC, TLS with the veth address in the
    certificate) and the management API on loopback."""

    def __init__(self, workdir):
        super().__init__(workdir, tls=False)
        self.tls = make_tls(self._tls_dir())

    def spawn(self, args):
        # The harness's TLS server, listening on (and advertising) the veth address instead.
        args = list(args)
        port = args[args.index("--grpc-listen") + 1].rsplit(":", 1)[1]
        args[args.index("--grpc-listen") + 1] = f"{HOST_IP}:{port}"
        args[args.index("--public-address") + 1] = f"{HOST_IP}:{port}"
        super().spawn(args)

    def grpc_address(self):
        return f"{HOST_IP}:{self.grpc_port}"


def make_tls(directory):
    def run(*args):
        subprocess.run(args, cwd=directory, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Dozor fault CA",
        "-keyout", "ca.key", "-out", "ca.crt")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={HOST_IP}", "-keyout", "server.key",
        "-out", "server.csr")
    with open(os.path.join(directory, "san.ext"), "w") as f:
        f.write(f"subjectAltName=IP:{HOST_IP}\n")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "san.ext", "-out", "server.crt")
    return {k: os.path.join(directory, k) for k in ("ca.crt", "server.crt", "server.key")}


class NsAgent(Agent):
    """A real agent whose process lives in the namespace."""

    def spawn(self, args):
        super().spawn(["ip", "netns", "exec", NS] + args)

    def enroll(self, token, check_rc=True):
        result = subprocess.run(["ip", "netns", "exec", NS, harness.AGENT_BIN, "enroll", "--token", token]
                                + self.connection_args(), capture_output=True, text=True, timeout=120)
        check(result.returncode == 0, f"enroll failed ({result.returncode}): {result.stdout}{result.stderr}")


class NsLoadgen(Loadgen):
    def spawn(self, args):
        super().spawn(["ip", "netns", "exec", NS] + self._tls(args))

    def _tls(self, args):
        args = [a for a in args if a != "--insecure"]
        args[args.index("--server") + 1] = f"{HOST_IP}:{self.server.grpc_port}"
        return args + ["--ca", self.server.tls["ca.crt"]]

    def enroll(self, server, token, agents):
        self.server = server
        result = subprocess.run(["ip", "netns", "exec", NS] + self._tls(
            [LOADGEN_BIN, "--server", "x",
             "--insecure", "--token", token, "--agents", str(agents), "--identities", self.identities,
             "--enroll-only"]), capture_output=True, text=True, timeout=600)
        check(result.returncode == 0, f"loadgen enrolment failed: {result.stdout}{result.stderr}")


def body(workdir, procs):
    log(f"mode {MODE}: {AGENTS} agents and {LOADGEN_AGENTS} simulated agents in namespace {NS} ({NS_IP}), "
        f"server on {HOST_IP}; {BEFORE:.0f} s, partition {PARTITION:.0f} s, {AFTER:.0f} s; load {load_average()}")
    server = NetServer(workdir).start()
    procs.append(server)
    token = create_token(server, "Network Faults")
    agents, loadgen = start_fleet(workdir, procs, server, token, AGENTS, LOADGEN_AGENTS, 1, 2, drain_seconds=180,
                                  acked_within=90,
                                  acked_what="every simulated agent connected and acked through the link",
                                  loadgen_extra=("--backoff-max-ms", "30000"), agent_class=NsAgent,
                                  loadgen_class=NsLoadgen)
    time.sleep(BEFORE)
    before = loadgen.status() or {}
    partition(True)
    cut = time.time()
    log(f"partition on ({MODE}); loadgen acked {before.get('acked')}")
    time.sleep(PARTITION)
    during = loadgen.status() or {}
    check(during.get("acked", 0) - before.get("acked", 0) <= LOADGEN_AGENTS,
          f"nothing crossed the partition ({during.get('acked', 0) - before.get('acked', 0)} acks)")
    partition(False)
    log(f"partition healed after {time.time() - cut:.0f} s; loadgen unacked {during.get('unacked')}")
    time.sleep(AFTER)

    if LOADGEN_AGENTS:
        rc, summary, per_agent = loadgen.finish()
        log(f"loadgen: exit {rc}, generated {summary['generated']}, acked {summary['acked']} (duplicate "
            f"{summary['duplicate']}), resent {summary['resent']}, committed with the ack lost "
            f"{summary['committed_on_accept']}, streams opened {summary['sessions_started']}")
        check(rc == 0, f"loadgen exit status {rc} (reports left unacked or rejected)")
    drain_agents(agents, 180, "agents drained their spools over the healed link")
    samples = sum(check_agent_exactly_once(server, a) for a in agents)
    log(f"{len(agents)} real agents: {samples} health samples, each stored once")
    if LOADGEN_AGENTS:
        reports, checked = check_loadgen_exactly_once(server, per_agent)
        log(f"{checked} simulated agents: {reports} reports, each stored once")
    if SHAPER["proc"] is not None:
        check(SHAPER["proc"].poll() is None, "the shaper ran for the whole test (a dead one is a dead link)")
    server.stop()
    result = integrity_check(server.db_path)
    check(result == ["ok"], f"integrity_check {result[:3]}")


if __name__ == "__main__":
    if os.geteuid() != 0:
        skip("network namespaces need root")
    setup_namespace()
    try:
        run_test(body)
    finally:
        teardown()
