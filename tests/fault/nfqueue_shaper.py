"""Packet loss, delay and partitions without the kernel's sch_netem: a userspace NFQUEUE verdict
loop (netfilter's queue, reached over a raw netlink socket; Python standard library only).

iptables rules send the packets of one interface to queue N; this process gives each packet its
verdict: dropped with probability --loss (or always, while partitioned), otherwise accepted
--delay-ms after it was queued. That is netem's `loss P delay D` applied per packet in each
direction the rules cover, so TCP sees real losses, retransmissions and a longer round trip.

  python3 nfqueue_shaper.py --queue 7 --delay-ms 100 --loss 0.10 [--ready-file F]
  SIGUSR1: partition (every packet dropped)   SIGUSR2: heal (back to loss and delay)
  SIGTERM: every held packet is accepted, then exit

Run it in the network namespace whose rules feed the queue (netlink sockets are per namespace).
Without a listener the kernel drops queued packets, so a dead shaper shows as a dead link, never as
a silently healthy one. Statistics go to stderr on exit.

Netlink layout (linux/netfilter/nfnetlink_queue.h): every message is nlmsghdr + nfgenmsg + attrs;
nfgenmsg.res_id and the attribute payloads are big-endian.
"""
import argparse
import heapq
import os
import random
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS = 1, 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_PACKET_HDR, NFQA_VERDICT_HDR = 1, 2
NF_DROP, NF_ACCEPT = 0, 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
NLA_TYPE_MASK = 0x3FFF


def align4(n):
    return (n + 3) & ~3


def attr(kind, payload):
    header = struct.pack("=HH", 4 + len(payload), kind)
    return header + payload + b"\0" * (align4(len(payload)) - len(payload))


class Queue:
    def __init__(self, number):
        self.number = number
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        try:  # room for bursts while verdicts are held back; FORCE needs CAP_NET_ADMIN, which we have
            self.sock.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind((0, 0))
        self.seq = 0

    def send(self, msg_type, payload, flags=NLM_F_REQUEST):
        self.seq += 1
        nfgen = struct.pack("=BB", socket.AF_UNSPEC, 0) + struct.pack("!H", self.number)
        body = nfgen + payload
        header = struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags, self.seq, 0)
        self.sock.send(header + body)

    def configure(self):
        self.send(NFQNL_MSG_CONFIG, attr(NFQA_CFG_CMD, struct.pack("!BBH", NFQNL_CFG_CMD_BIND, 0, socket.AF_INET)),
                  NLM_F_REQUEST | NLM_F_ACK)
        self.expect_ack("bind")
        self.send(NFQNL_MSG_CONFIG, attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META)),
                  NLM_F_REQUEST | NLM_F_ACK)
        self.expect_ack("copy mode")

    def expect_ack(self, what):
        data = self.sock.recv(65536)
        _, msg_type, _, _, _ = struct.unpack_from("=IHHII", data, 0)
        if msg_type != NLMSG_ERROR:
            raise RuntimeError(f"nfqueue {what}: unexpected netlink message type {msg_type}")
        (error,) = struct.unpack_from("=i", data, 16)
        if error != 0:
            raise RuntimeError(f"nfqueue {what}: {os.strerror(-error)} (is queue {self.number} taken, "
                               f"or CAP_NET_ADMIN missing?)")

    def packets(self, data):
        """Packet ids in one recv() buffer."""
        offset = 0
        while offset + 16 <= len(data):
            length, msg_type, _, _, _ = struct.unpack_from("=IHHII", data, offset)
            if length < 16:
                break
            if msg_type == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                at = offset + 16 + 4  # past nfgenmsg
                end = offset + length
                while at + 4 <= end:
                    attr_len, attr_type = struct.unpack_from("=HH", data, at)
                    if attr_len < 4:
                        break
                    if attr_type & NLA_TYPE_MASK == NFQA_PACKET_HDR:
                        yield struct.unpack_from("!I", data, at + 4)[0]
                        break
                    at += align4(attr_len)
            offset += align4(length)

    def verdict(self, packet_id, verdict):
        self.send(NFQNL_MSG_VERDICT, attr(NFQA_VERDICT_HDR, struct.pack("!II", verdict, packet_id)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--queue", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=100)
    parser.add_argument("--loss", type=float, default=0.10)
    parser.add_argument("--ready-file")
    parser.add_argument("--seed", type=int)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    state = {"partitioned": False, "stop": False}
    signal.signal(signal.SIGUSR1, lambda *_: state.update(partitioned=True))
    signal.signal(signal.SIGUSR2, lambda *_: state.update(partitioned=False))
    signal.signal(signal.SIGTERM, lambda *_: state.update(stop=True))

    queue = Queue(args.queue)
    queue.configure()
    if args.ready_file:  # whole or not at all: the waiting test reads it as soon as it exists
        with open(args.ready_file + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.replace(args.ready_file + ".tmp", args.ready_file)
    delay = args.delay_ms / 1000.0
    held = []  # (release time, arrival order, packet id): a constant delay keeps the order
    counts = {"seen": 0, "lost": 0, "partitioned": 0, "delayed": 0}
    order = 0
    while not state["stop"]:
        now = time.monotonic()
        while held and held[0][0] <= now:
            _, _, packet_id = heapq.heappop(held)
            queue.verdict(packet_id, NF_ACCEPT)
        timeout = max(0.0, held[0][0] - now) if held else 0.5
        try:
            readable, _, _ = select.select([queue.sock], [], [], timeout)
        except InterruptedError:
            continue
        if not readable:
            continue
        try:
            data = queue.sock.recv(1 << 18)
        except InterruptedError:
            continue
        except OSError as e:  # ENOBUFS: the kernel dropped queued packets, as a full netem queue would
            print(f"nfqueue_shaper: recv: {e}", file=sys.stderr)
            continue
        arrived = time.monotonic()
        for packet_id in queue.packets(data):
            counts["seen"] += 1
            if state["partitioned"]:
                counts["partitioned"] += 1
                queue.verdict(packet_id, NF_DROP)
            elif rng.random() < args.loss:
                counts["lost"] += 1
                queue.verdict(packet_id, NF_DROP)
            else:
                counts["delayed"] += 1
                order += 1
                heapq.heappush(held, (arrived + delay, order, packet_id))
    for _, _, packet_id in held:
        queue.verdict(packet_id, NF_ACCEPT)
    print("nfqueue_shaper: " + ", ".join(f"{k} {v}" for k, v in counts.items()), file=sys.stderr)


if __name__ == "__main__":
    main()
