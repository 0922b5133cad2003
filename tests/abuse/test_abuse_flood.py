"""One authenticated hostile agent floods the server (findings 1, 11 and 13 of the hardening issue)
while real agents keep working: nested lists that multiply when parsed, 29 alternating 6.5 MB
inventories in ~20 s, and a burst of health samples stamped with the same moment. Each is refused
by seq with a reason; a canary agent's acks keep arriving with their usual latency; the server's
memory and the database stay bounded and the memory is given back afterwards."""
import os
import threading
import time

import grpc
import hostile
from harness import Agent, Server, check, log, run_test, wait_until
from protowire import length_delimited, varint

MIB = 1024 * 1024


def report_bytes(seq, collected_at_ms, payload_field, payload):
    """AgentMessage{report{seq, collected_at_ms, <payload_field>: payload}} encoded by hand, so a
    multi-megabyte inventory is serialised once and resent with new seqs cheaply."""
    report = varint(1 << 3) + varint(seq) + varint(2 << 3) + varint(collected_at_ms)
    report += length_delimited(payload_field, payload)
    return length_delimited(1, report)


def now_ms():
    return int(time.time() * 1000)


class Canary(threading.Thread):
    """A well-behaved agent on its own stream: one health sample a second, measuring send -> ack."""

    def __init__(self, ch, agent):
        super().__init__(daemon=True)
        self.stream = hostile.Stream(ch, agent.agent_id, agent.agent_secret, timeout=600)
        self.latencies = []
        self.errors = []
        self._stop_event = threading.Event()

    def run(self):
        first = self.stream.next()
        if first is None or isinstance(first, grpc.RpcError):
            self.errors.append(f"canary not accepted: {first}")
            return
        seq = 0
        while not self._stop_event.is_set():
            seq += 1
            sent = time.monotonic()
            self.stream.send(hostile.health_report(seq, now_ms()))
            reply = self.stream.next()
            if reply is None or isinstance(reply, grpc.RpcError) or reply.ack.outcome != hostile.pb.Ack.STORED:
                self.errors.append(f"canary seq {seq}: {reply}")
                return
            self.latencies.append(time.monotonic() - sent)
            self._stop_event.wait(max(0.0, 1.0 - (time.monotonic() - sent)))

    def stop(self):
        self._stop_event.set()
        self.join(30)
        self.stream.close()


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0


def expect_acks(stream, count, what):
    outcomes = []
    for _ in range(count):
        reply = stream.next()
        check(reply is not None and not isinstance(reply, grpc.RpcError), f"{what}: stream ended: {reply}")
        outcomes.append((reply.ack.seq, reply.ack.outcome, reply.ack.reason))
    return outcomes


def body(workdir, procs):
    server = Server(workdir, tls=False).start()
    procs.append(server)
    server.ctl("org", "create", "Flood Ltd")
    token = server.ctl("token", "create", "--org", "Flood Ltd", "--max-uses", "10")["token"]
    ch = hostile.channel(server.grpc_address())

    # Real agents keep sending while the hostile one floods.
    real = []
    for i in range(2):
        agent = Agent(workdir, f"real{i}", server)
        procs.append(agent)
        agent.enroll(token)
        agent.start("--health-interval", "1")
        real.append(agent)
    canary_identity = hostile.enroll(ch, token, "canary")[2]
    hostile_identity = hostile.enroll(ch, token, "hostile")[2]
    wait_until(lambda: all(a.spool_count() == 0 for a in real) and server.db().execute(
        "SELECT count(*) FROM health_samples").fetchone()[0] >= 4, 60, "real agents storing samples")

    # The hostile messages are built before the canary starts: building them holds Python's GIL
    # for seconds, which would show up as canary latency that is not the server's.
    inventory = hostile.pb.Inventory()
    for n in range(300):
        nic = inventory.network.interfaces.add(name=f"eth{n}")
        for _ in range(2000):
            nic.addresses.add(address="10.0.0.1", prefix=24, family=4)
    nested = inventory.SerializeToString()
    log(f"nested inventory: {len(nested) / MIB:.1f} MiB")
    variants = []
    for variant in range(2):
        inv = hostile.pb.Inventory()
        for i in range(45_000):
            inv.software.packages.add(name=f"package-{variant}-{i:06d}-" + "x" * 90, version="1.0-1",
                                      architecture="amd64", source="dpkg")
        variants.append(inv.SerializeToString())
    log(f"flood inventories: {len(variants[0]) / MIB:.1f} MiB each")
    del inventory

    canary = Canary(ch, canary_identity)
    canary.start()
    time.sleep(3)
    baseline = list(canary.latencies)
    sampler = hostile.Sampler(server.proc.pid)
    sampler.start()
    rss_before = hostile.rss_kib(server.proc.pid)
    db_before = os.path.getsize(server.db_path)

    stream = hostile.Stream(ch, hostile_identity.agent_id, hostile_identity.agent_secret, timeout=600)
    check(stream.next().HasField("accepted"), "hostile stream accepted")
    seq = 0

    # Finding 1: 300 interfaces x 2,000 addresses (~9 MB, 1.2 M fields when parsed), five times.
    for _ in range(5):
        seq += 1
        stream.send(report_bytes(seq, now_ms(), 10, nested))
    for ack_seq, outcome, reason in expect_acks(stream, 5, "nested"):
        check(outcome == hostile.pb.Ack.REJECTED and "fields exceeds the budget" in reason,
              f"nested inventory {ack_seq}: {outcome} {reason}")

    # Finding 11: 29 alternating 6.5 MB inventories in ~20 s.
    started = time.monotonic()
    first_flood_seq = seq + 1
    for i in range(29):
        seq += 1
        stream.send(report_bytes(seq, now_ms(), 10, variants[i % 2]))
        time.sleep(0.6)
    outcomes = expect_acks(stream, 29, "inventory flood")
    flood_seconds = time.monotonic() - started
    stored = [s for s, o, _ in outcomes if o == hostile.pb.Ack.STORED]
    refused = [(s, r) for s, o, r in outcomes if o == hostile.pb.Ack.REJECTED]
    log(f"inventory flood: {len(stored)} stored, {len(refused)} refused in {flood_seconds:.1f} s")
    check(len(stored) <= 6, f"at most the burst of inventories stored: {stored}")
    check(all("too many inventories" in r for _, r in refused), f"refused with the reason: {refused[:2]}")
    check(stored and stored[0] == first_flood_seq, "the first inventories of the flood are stored")

    stream.close()

    # Finding 1: a burst of 2,000 health samples stamped with the same moment, on a new stream.
    # One is stored; the rest are refused until the stream's rejection limit (100) closes it.
    stream = hostile.Stream(ch, hostile_identity.agent_id, hostile_identity.agent_secret, timeout=600)
    check(stream.next().HasField("accepted"), "hostile stream accepted again")
    at = now_ms()
    for _ in range(2000):
        seq += 1
        stream.send(hostile.health_report(seq, at))
    burst_stored = 0
    burst_refused = 0
    while True:
        reply = stream.next()
        if reply is None or isinstance(reply, grpc.RpcError):
            break
        if reply.ack.outcome == hostile.pb.Ack.STORED:
            burst_stored += 1
        elif "at most one per 500 ms" in reply.ack.reason:
            burst_refused += 1
    log(f"health burst: {burst_stored} stored, {burst_refused} refused, then {reply}")
    check(burst_stored == 1, f"one sample of the burst stored: {burst_stored}")
    check(1 <= burst_refused <= 100, f"refused until the rejection limit: {burst_refused}")
    check(isinstance(reply, grpc.RpcError) and reply.code() == grpc.StatusCode.INVALID_ARGUMENT,
          f"then the stream is closed: {reply}")
    stream.close()

    sampler.stop()
    canary.stop()
    check(not canary.errors, f"canary acked throughout: {canary.errors}")
    during = canary.latencies[len(baseline):]
    log(f"canary ack latency before: p50 {percentile(baseline, 0.5) * 1000:.1f} ms; during the flood: "
        f"p50 {percentile(during, 0.5) * 1000:.1f} ms, p95 {percentile(during, 0.95) * 1000:.1f} ms, "
        f"max {max(during) * 1000:.0f} ms over {len(during)} samples")
    # Usual latency on this 2-core machine is a few ms. Before, the flood monopolised the writer
    # and stalled every other agent's acks for 50-60 s; now one agent's inventories are spread over
    # batches and prepared off the writer, so another agent waits at most for one inventory's row
    # writes (45,000 changed packages: 110–210 ms here, more under a loaded CI run; see
    # tests/bench/README.md, inventory_commit_bench). The bounds leave room for a loaded machine.
    check(len(during) >= 10, f"canary kept sending during the flood: {len(during)}")
    check(percentile(during, 0.5) < 0.5, "canary median ack latency under 0.5 s during the flood")
    check(max(during) < 10.0, "no canary ack waited 10 s or more")

    # The real agents kept storing samples.
    with server.db() as db:
        per_agent = db.execute(
            "SELECT a.hostname, count(*) FROM health_samples h JOIN agents a ON a.id = h.agent "
            "WHERE a.hostname NOT IN ('canary', 'hostile') GROUP BY a.id").fetchall()
        changes = db.execute("SELECT count(*) FROM inventory_changes").fetchone()[0]
    log(f"real agents' samples: {per_agent}; change-log rows: {changes}")
    check(len(per_agent) == 2 and all(n >= 15 for _, n in per_agent), f"real agents stored: {per_agent}")
    check(changes <= 6 * 5000 + 10, f"change log bounded: {changes} rows")

    # Finding 13: memory bounded while flooded and given back afterwards.
    time.sleep(3)
    rss_after = hostile.rss_kib(server.proc.pid)
    db_after = os.path.getsize(server.db_path)
    log(f"server RSS before {rss_before / 1024:.0f} MiB, peak {sampler.peak_kib / 1024:.0f} MiB, "
        f"after {rss_after / 1024:.0f} MiB; database {db_before / MIB:.0f} -> {db_after / MIB:.0f} MiB")
    check(sampler.peak_kib < 600 * 1024, "peak RSS under 600 MiB during the flood")
    check(rss_after < rss_before + 150 * 1024, "RSS back within 150 MiB of where it started")
    check(db_after < db_before + 200 * MIB, "database grew by less than 200 MiB")


if __name__ == "__main__":
    run_test(body)
