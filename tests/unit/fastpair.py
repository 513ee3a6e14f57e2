"""The differential scenario for the compiled data path (tests/unit/test_fastpath_pair.py): two nodes with
fixed keys, a fixed clock and deterministic randomness, each on the Python or the compiled path, driven
through the same inputs; ``run`` returns everything they put on the wire and on their TAPs, and their drops.

Datagrams travel as the runtime hands them over: a sealed buffer of more than one datagram arrives as one
GRO batch (``on_datagram_batch``), a single datagram alone. The scenario covers single-datagram frames,
fragmented frames, super-frames (both TAPs with offloads), keepalives, GRO runs of small frames, fragments
delivered one by one and out of order (handed up to reassembly), a super-frame that lost a datagram followed
by whole runs (as the compiled worker hands a held session's up: its segments salvaged first, then given up
past the reorder window), replays of whole batches and of single datagrams, forgeries inside a batch and
alone, and a batch whose last datagram is cut short.
"""

from __future__ import annotations

from typing import Any

from tapliance.proto import offload as O
from tapliance.proto.native.protocol import NativeProtocol
from tests.unit.pair import build, spec
from tests.unit.wirevectors import A_ADDR, A_PRIVATE, B_ADDR, B_PRIVATE, START, UNIX_OFFSET, DetRandom

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")


class Side:
    def __init__(self, name: str, private: bytes, peer_private: bytes, fast: bool, vnet: bool, log: list[Any]) -> None:
        from tapliance.proto.native.primitives import dh_public

        endpoint = B_ADDR if name == "a" else None
        self.name, self.log, self.addr = name, log, A_ADDR if name == "a" else B_ADDR
        peer = spec(dh_public(peer_private), "b" if name == "a" else "a", endpoint, None, 10.0)
        self.node = build(
            private, [peer], DetRandom(b"rng-" + name.encode()), START, UNIX_OFFSET, vnet=vnet, fastpath=fast
        )
        proto = self.node.protocols[0]
        assert isinstance(proto, NativeProtocol)
        assert (proto.fast is not None) is fast
        self.proto = proto

    def out(self) -> list[tuple[bytes, int]]:
        """This side's sealed buffers (logged datagram by datagram) and its TAP output (logged)."""
        bufs = []
        for buf, _dst, seg in self.proto.tx:
            b = bytes(buf)
            bufs.append((b, seg))
            self.log.extend({"from": self.name, "udp": b[o : o + seg].hex()} for o in range(0, len(b), seg))
        self.proto.tx.clear()
        self.log.extend({"to_tap": self.name, "frame": bytes(f).hex()} for f in self.node.to_tap)
        self.node.to_tap.clear()
        return bufs


def deliver(dst: Side, src: Side, bufs: list[tuple[bytes, int]], now: float) -> None:
    for buf, seg in bufs:
        if len(buf) > seg:
            dst.proto.on_datagram_batch(memoryview(bytearray(buf)), seg, src.addr, now)
        else:
            dst.proto.on_datagram(buf, src.addr, now)


def _tcp_superframe(payload: int) -> bytes:
    """A TSO super-frame with its virtio-net header: IPv4/TCP, ``payload`` bytes in 1448-byte segments."""
    ip = bytes.fromhex("45000000000040004006") + bytes(2) + bytes([10, 0, 0, 1, 10, 0, 0, 2])
    tcp = bytes.fromhex("04d2162e") + bytes(8) + bytes.fromhex("5018ffff") + bytes(4)
    eth = MAC_B + MAC_A + b"\x08\x00"
    hdr = O.HDR.pack(O.F_NEEDS_CSUM, O.GSO_TCPV4, 14 + 40, 1448, 34, 16)
    return hdr + eth + ip + tcp + bytes((i * 7) & 255 for i in range(payload))


def _frame(n: int, tag: int) -> bytes:
    return MAC_B + MAC_A + b"\x08\x00" + bytes((tag + i) & 255 for i in range(n))


def _forge(buf: bytes, at: int) -> bytes:
    b = bytearray(buf)
    b[at] ^= 0x40
    return bytes(b)


def run(fast_a: bool, fast_b: bool, vnet: bool) -> dict[str, Any]:
    log: list[dict[str, Any]] = []
    a = Side("a", A_PRIVATE, B_PRIVATE, fast_a, vnet, log)
    b = Side("b", B_PRIVATE, A_PRIVATE, fast_b, vnet, log)
    now = START
    hdr = bytes(10) if vnet else b""

    def send(side: Side, frame: bytes) -> list[tuple[bytes, int]]:
        side.node.on_frame(hdr + frame if vnet and frame[:1] != b"\x00" else frame, now)
        return side.out()

    deliver(b, a, send(a, _frame(60, 1)), now)  # held for the handshake: the initiation
    for _ in range(3):
        deliver(a, b, b.out(), now)
        deliver(b, a, a.out(), now)
    big = send(a, _frame(3000, 2))  # three fragments: one GRO batch
    deliver(b, a, big, now)
    deliver(b, a, big, now)  # the whole batch replayed
    deliver(a, b, send(b, _frame(100, 3)), now)
    small = [x for f in range(8) for x in send(a, _frame(48, 4 + f))]
    joined = [(b"".join(x for x, _ in small[:4]), len(small[0][0]))]  # a run of equal-size small frames
    deliver(b, a, joined + small[4:], now)
    deliver(b, a, small[1:2], now)  # one datagram replayed alone
    forged = send(a, _frame(5000, 20))
    deliver(b, a, [(_forge(forged[0][0], 40), forged[0][1])], now)  # a forgery inside a run
    lone = send(a, _frame(48, 21))
    deliver(b, a, [(_forge(lone[0][0], 20), lone[0][1])], now)  # a lone forgery
    deliver(b, a, lone, now)  # and then the genuine datagram: the forgery moved nothing
    frags = send(a, _frame(4000, 30))
    ((buf, seg),) = frags
    pieces = [(buf[o : o + seg], seg) for o in range(0, len(buf), seg)]
    deliver(b, a, pieces[::-1], now)  # fragments one by one, out of order: reassembly in Python
    cut = send(a, _frame(3000, 40))
    deliver(b, a, [(cut[0][0][: 2 * cut[0][1] + 10], cut[0][1])], now)  # the last datagram cut short
    if vnet:
        deliver(b, a, send(a, _tcp_superframe(40000)), now)  # a super-frame: one GSO buffer, one GRO run
        deliver(a, b, send(b, _tcp_superframe(9000)), now)
        ((buf, seg),) = send(a, _tcp_superframe(30000))  # one datagram lost, the rest one by one: reassembly
        deliver(b, a, [(buf[o : o + seg], seg) for o in range(0, len(buf), seg) if o != 3 * seg], now)
        # a whole run after it, as the worker hands a held session's up: the partial's segments go first
        deliver(b, a, send(a, _tcp_superframe(20000)), now)
        for _ in range(3):  # and past the reorder window the partial is given up
            deliver(b, a, send(a, _tcp_superframe(40000)), now)
    now += 11.0
    a.node.on_timer(now)
    b.node.on_timer(now)
    deliver(b, a, a.out(), now)  # keepalives
    deliver(a, b, b.out(), now)
    a.out()
    b.out()
    return {
        "log": log,
        "drops": [dict(a.node.drops), dict(b.node.drops)],
        "replay": [(kp.replay.last) for s in (a, b) for kp in (s.proto.ports[0].current,) if kp is not None],
        "counters": [s.proto.ports[0].current.counter for s in (a, b) if s.proto.ports[0].current is not None],
    }
