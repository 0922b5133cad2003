"""Anonymous callers of the agent port (findings 6, 14 and 16 of the hardening issue), against the real
server: undecodable and oversized enrollments are INVALID_ARGUMENT with a reason, a token's use limit
holds, guessing tokens and agent secrets is throttled per address, and every refusal is audited in a
few rows, not one per attempt."""
import time

import grpc
import hostile
from harness import Server, check, log, run_test


def body(workdir, procs):
    server = Server(workdir, tls=False).start()
    procs.append(server)
    ch = hostile.channel(server.grpc_address())

    # Finding 16: bad UTF-8 in Enroll used to answer UNIMPLEMENTED; garbage on a stream ended it OK.
    request = hostile.pb.EnrollRequest(token="dze_x", hostname="pc")
    raw = bytearray(request.SerializeToString())
    raw[-1] = 0xFF
    code, details, _ = hostile.raw_enroll(ch, bytes(raw))
    check(code == grpc.StatusCode.INVALID_ARGUMENT and "undecodable enroll request" in details,
          f"bad UTF-8 enroll: {code} {details}")
    # Finding 6: a large Enroll is refused before it is parsed.
    code, details, _ = hostile.raw_enroll(ch, hostile.pb.EnrollRequest(
        token="dze_x", hostname="pc", machine_id="m" * 200_000).SerializeToString())
    check(code == grpc.StatusCode.INVALID_ARGUMENT and "exceeds 16384" in details, f"big enroll: {code} {details}")

    # Finding 6: max_uses. A token for two machines enrols two.
    server.ctl("org", "create", "Abuse Ltd")
    token = server.ctl("token", "create", "--org", "Abuse Ltd", "--max-uses", "2")["token"]
    first = hostile.enroll(ch, token)
    second = hostile.enroll(ch, token)
    third = hostile.enroll(ch, token)
    check(first[0] == grpc.StatusCode.OK and second[0] == grpc.StatusCode.OK, f"two enrol: {first[:2]} {second[:2]}")
    check(third[0] == grpc.StatusCode.PERMISSION_DENIED and "limit" in third[1], f"third refused: {third[:2]}")
    listed = server.ctl("token", "list")["tokens"]
    check(listed[0]["uses"] == 2 and listed[0]["max_uses"] == 2, f"token uses shown: {listed}")
    default_token = server.ctl("token", "create", "--org", "Abuse Ltd")
    check(default_token["max_uses"] == 100, f"default max_uses: {default_token}")

    # Finding 16 on the stream: undecodable bytes end it with INVALID_ARGUMENT and a reason.
    agent = first[2]
    stream = hostile.Stream(ch, agent.agent_id, agent.agent_secret)
    accepted = stream.next()
    check(accepted is not None and accepted.HasField("accepted"), f"stream accepted: {accepted}")
    stream.send(b"\xff\xff\xff\xff not a protobuf \x0a\xff\xff\xff\xff\x0f")
    ended = stream.next()
    check(isinstance(ended, grpc.RpcError) and ended.code() == grpc.StatusCode.INVALID_ARGUMENT
          and "undecodable message" in ended.details(), f"garbage on stream: {ended}")

    # Finding 14: 200 wrong stream secrets used to take 0.65 s, each only a log line.
    started = time.monotonic()
    codes = {}
    for i in range(200):
        s = hostile.Stream(ch, agent.agent_id, f"wrong{i}", timeout=10)
        result = s.next()
        code = result.code() if isinstance(result, grpc.RpcError) else "accepted"
        codes[code] = codes.get(code, 0) + 1
    log(f"200 wrong secrets in {time.monotonic() - started:.2f} s: {codes}")
    check(codes.get(grpc.StatusCode.UNAUTHENTICATED, 0) <= 21, f"wrong secrets checked at most ~20 times: {codes}")
    check(codes.get(grpc.StatusCode.RESOURCE_EXHAUSTED, 0) >= 179, f"the rest throttled: {codes}")

    # Finding 14: 200 failed enrollments used to take 0.13 s.
    codes = {}
    for i in range(200):
        code, details, _ = hostile.enroll(ch, f"dze_guess{i:04d}")
        codes[code] = codes.get(code, 0) + 1
    log(f"200 guessed tokens: {codes}")
    check(codes.get(grpc.StatusCode.PERMISSION_DENIED, 0) <= 21, f"guesses checked at most ~20 times: {codes}")
    check(codes.get(grpc.StatusCode.RESOURCE_EXHAUSTED, 0) >= 179, f"the rest throttled: {codes}")
    # Blocked addresses are refused even with a valid token until the block ends.
    blocked = hostile.enroll(ch, default_token["token"])
    check(blocked[0] == grpc.StatusCode.RESOURCE_EXHAUSTED and "retry in" in blocked[1], f"blocked: {blocked[:2]}")

    # Audited: a handful of rows whose counts add up to every refusal (flushed every 5 s).
    def audited():
        with server.db() as db:
            return db.execute("SELECT kind, count(*), sum(count) FROM security_events GROUP BY kind").fetchall()
    deadline = time.monotonic() + 20
    rows = audited()
    while time.monotonic() < deadline and sum(r[2] for r in rows if r[0] == "enroll_refused") < 21:
        time.sleep(0.5)
        rows = audited()
    log(f"security events: {rows}")
    by_kind = {kind: (row_count, total) for kind, row_count, total in rows}
    # 20 refusals from one address block it: the two malformed requests, the used-up token and
    # the first guesses (the agent's own address is exempt from its id's block, so its wrong
    # secrets are counted against the address alone).
    check(by_kind.get("enroll_refused", (0, 0))[1] >= 20, f"enrollment refusals audited: {rows}")
    check(by_kind.get("agent_auth_failed", (0, 0))[1] >= 10, f"wrong secrets audited: {rows}")
    check(by_kind.get("throttled", (0, 0))[1] >= 300, f"throttled attempts audited: {rows}")
    check(sum(r[1] for r in rows) <= 20, f"a few rows, not one per attempt: {rows}")
    # What an admin reads: the same rows through the API and dozorctl, in both languages.
    listed = server.ctl("security-events", "--kind", "enroll_refused,agent_auth_failed", "--limit", "1000")
    listed_total = {}
    for event in listed["events"]:
        listed_total[event["kind"]] = listed_total.get(event["kind"], 0) + event["count"]
    check(listed_total.get("enroll_refused", 0) >= by_kind["enroll_refused"][1] and
          listed_total.get("agent_auth_failed", 0) >= by_kind["agent_auth_failed"][1] and
          set(listed_total) <= {"enroll_refused", "agent_auth_failed"},
          f"dozorctl security-events shows the audited refusals: {listed_total} vs {rows}")
    text = server.ctl("--lang", "ru", "security-events", json_out=False).stdout
    check("регистрация отклонена" in text and "неверный секрет агента" in text, f"in Russian: {text[:2000]}")
    # The log is not flooded either: one line per kind and address, then a summary.
    lines = [l for l in open(server.log_path, errors="replace") if "security:" in l]
    check(len(lines) <= 30, f"{len(lines)} security log lines for ~400 refusals")
    # Each wrong secret that was checked is logged (at most the throttle's 20), the rest are not.
    refused = [l for l in open(server.log_path, errors="replace") if "refused agent stream" in l]
    check(len(refused) <= 25, f"{len(refused)} 'refused agent stream' lines for 200 wrong secrets")


if __name__ == "__main__":
    run_test(body)
