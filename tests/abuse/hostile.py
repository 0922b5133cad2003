"""A hostile client of the agent gRPC service, written with Debian's python3-grpcio: it sends what a
compromised machine or an anonymous caller can send (raw bytes, floods, wrong secrets), so the
abuse tests exercise the real server the way an attacker would, not through our agent."""
import os
import queue
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))

import grpc  # noqa: E402  (Debian: python3-grpcio)

_SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
_PROTO_DIR = os.path.join(_SOURCE_DIR, "proto", "contract")


def load_messages():
    """The contract's Python message classes, generated now with Debian's protoc."""
    out = tempfile.mkdtemp(prefix="dozor-abuse-proto-")
    subprocess.run(["protoc", "-I", _PROTO_DIR, os.path.join(_PROTO_DIR, "dozor/v1/agent.proto"),
                    "--python_out", out], check=True)
    sys.path.insert(0, out)
    from dozor.v1 import agent_pb2  # noqa: E402
    return agent_pb2


pb = load_messages()

ENROLL = "/dozor.v1.AgentService/Enroll"
CONNECT = "/dozor.v1.AgentService/Connect"


def channel(address):
    return grpc.insecure_channel(address, options=[("grpc.max_send_message_length", 64 << 20),
                                                   ("grpc.max_receive_message_length", 64 << 20)])


def raw_enroll(ch, payload, timeout=20):
    """Enroll with arbitrary bytes; returns (status code, details, response bytes or None)."""
    call = ch.unary_unary(ENROLL)
    try:
        response = call(payload, timeout=timeout)
        return grpc.StatusCode.OK, "", response
    except grpc.RpcError as e:
        return e.code(), e.details() or "", None


def enroll(ch, token, hostname="hostile-pc"):
    request = pb.EnrollRequest(token=token, hostname=hostname, machine_id="m", agent_version="x",
                               os="linux")
    code, details, response = raw_enroll(ch, request.SerializeToString())
    if code != grpc.StatusCode.OK:
        return code, details, None
    parsed = pb.EnrollResponse()
    parsed.ParseFromString(response)
    return code, details, parsed


class Stream:
    """One Connect stream: send() raw bytes or messages, next() the next ServerMessage (parsed)."""

    def __init__(self, ch, agent_id, secret, timeout=120):
        self._outgoing = queue.Queue()
        call = ch.stream_stream(CONNECT)
        self._responses = call(self._requests(), metadata=[("authorization", f"Dozor {agent_id}:{secret}")],
                               timeout=timeout)

    def _requests(self):
        while True:
            item = self._outgoing.get()
            if item is None:
                return
            yield item

    def send(self, message):
        self._outgoing.put(message if isinstance(message, bytes) else message.SerializeToString())

    def close(self):
        self._outgoing.put(None)

    def next(self):
        """The next ServerMessage, or the grpc.RpcError that ended the stream."""
        try:
            raw = next(self._responses)
        except grpc.RpcError as e:
            return e
        except StopIteration:
            return None
        message = pb.ServerMessage()
        message.ParseFromString(raw)
        return message

    def cancel(self):
        self._responses.cancel()


def health_report(seq, collected_at_ms, processes=0):
    message = pb.AgentMessage()
    message.report.seq = seq
    message.report.collected_at_ms = collected_at_ms
    message.report.health.cpu_percent = 5
    for i in range(processes):
        message.report.health.top_cpu.add(pid=i + 1, name="p")
    return message


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


class Sampler(threading.Thread):
    """Samples a process's RSS every 100 ms until stopped; .peak_kib, .samples."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.samples = []
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            try:
                self.samples.append(rss_kib(self.pid))
            except OSError:
                return
            self._stop_event.wait(0.1)

    def stop(self):
        self._stop_event.set()
        self.join()

    @property
    def peak_kib(self):
        return max(self.samples) if self.samples else 0
