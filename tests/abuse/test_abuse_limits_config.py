"""The [limits] section of the server configuration reaches the running server: a stricter health
interval refuses a sample the default would store, a lower rejection limit closes the stream
sooner, and a lower enrollment-failure threshold blocks a guessing source after fewer tries."""
import os
import time

import grpc
import hostile
from harness import Server, check, log, run_test


def now_ms():
    return int(time.time() * 1000)


def next_ack(stream, what):
    reply = stream.next()
    check(reply is not None and not isinstance(reply, grpc.RpcError), f"{what}: stream ended: {reply}")
    return reply.ack


def body(workdir, procs):
    config = os.path.join(workdir, "limits.toml")
    with open(config, "w") as f:
        f.write("[limits]\n"
                "agent_min_health_interval_ms = 5000\n"
                "agent_rejected_before_close = 3\n"
                "enroll_failures_per_minute = 2\n")
    server = Server(workdir, tls=False).start(extra=("--config", config))
    procs.append(server)
    server.ctl("org", "create", "Limits Ltd")
    token = server.ctl("token", "create", "--org", "Limits Ltd")["token"]
    ch = hostile.channel(server.grpc_address())
    identity = hostile.enroll(ch, token, "strict-limits")[2]

    stream = hostile.Stream(ch, identity.agent_id, identity.agent_secret)
    check(stream.next().HasField("accepted"), "stream accepted")
    start = now_ms()
    # 2 s apart: stored under the default 500 ms floor, refused under the configured 5 s.
    stream.send(hostile.health_report(1, start))
    first = next_ack(stream, "first sample")
    check(first.outcome == hostile.pb.Ack.STORED, f"first sample stored: {first}")
    stream.send(hostile.health_report(2, start + 2000))
    second = next_ack(stream, "second sample")
    log(f"a sample 2 s after the last: {second.outcome} {second.reason!r}")
    check(second.outcome == hostile.pb.Ack.REJECTED and "5000 ms" in second.reason,
          f"refused by the configured interval: {second}")
    stream.send(hostile.health_report(3, start + 6000))
    third = next_ack(stream, "third sample")
    check(third.outcome == hostile.pb.Ack.STORED, f"a sample 6 s after the first is stored: {third}")

    # Two more refusals are answered (3 in all, the configured limit); the next closes the stream.
    for seq in (4, 5, 6):
        stream.send(hostile.health_report(seq, start + 6000 + seq))
    replies = [stream.next() for _ in range(3)]
    log(f"after the limit: {replies}")
    check(all(not isinstance(r, grpc.RpcError) and r is not None and r.ack.outcome == hostile.pb.Ack.REJECTED
              for r in replies[:2]), f"refusals 2 and 3 answered: {replies[:2]}")
    check(isinstance(replies[2], grpc.RpcError) and replies[2].code() == grpc.StatusCode.INVALID_ARGUMENT,
          f"the fourth refusal closes the stream: {replies[2]}")
    stream.close()

    # Enrollment guesses from this address: blocked after the configured 2 failures (default 20).
    codes = [hostile.enroll(ch, f"dze_wrong{attempt}", "guesser")[0] for attempt in range(6)]
    log(f"wrong enrollment tokens: {[code.name for code in codes]}")
    denied = codes.count(grpc.StatusCode.PERMISSION_DENIED)
    check(denied <= 3 and codes[-3:] == [grpc.StatusCode.RESOURCE_EXHAUSTED] * 3,
          f"blocked after the configured 2 failures: {codes}")

    count = server.db().execute("SELECT count(*) FROM health_samples").fetchone()[0]
    check(count == 2, f"two samples stored: {count}")


if __name__ == "__main__":
    run_test(body)
