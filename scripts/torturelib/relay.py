"""A user-space UDP impairment relay between two daemons (runs in namespace m).

    a -> [A socket] --loss, duplication, reordering--> [B socket] -> b      and the same way back

Every datagram from ``--to-a`` arriving on the A socket is relayed from the B socket to ``--to-b``, and
back. Impairments, per direction, with a seeded RNG:
  loss       each datagram is dropped with probability --loss;
  dup        each datagram left is sent twice with probability --dup (both copies are reordered);
  reorder    --reorder N: datagrams wait in a window of N; when it is full, a random one of the N leaves,
             so each leaves at a random place among its neighbours (depth N); after 2 ms of quiet the
             window drains in order (a lone handshake or ping is not held back for long).
SIGUSR1 rebinds the B socket to a fresh port: b then sees a's datagrams from a new address, as after a
NAT rebinding (roaming). --record FILE keeps every datagram received (direction byte 'a' or 'b', u32
length, bytes) for the replay figure. SIGTERM writes --stats (JSON counters) and exits.

    python -m torturelib.relay --a 10.77.1.254:7001 --to-a 10.77.1.1:9123 --b 10.77.2.254:7002 \\
        --to-b 10.77.2.1:9123 [--loss 0.05 --dup 0.02 --reorder 8 --seed 1 --record F --stats F]
"""

from __future__ import annotations

import argparse
import json
import random
import select
import signal
import socket
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

IDLE = 0.002
REC = struct.Struct("<cI")


def hostport(s: str) -> tuple[str, int]:
    host, _, port = s.rpartition(":")
    return host, int(port)


def _sock(addr: tuple[str, int]) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        s.setsockopt(socket.SOL_SOCKET, opt, 4 << 20)
    s.bind(addr)
    s.setblocking(False)
    return s


class Relay:
    def __init__(self, a: argparse.Namespace) -> None:
        self.args = a
        self.rng = random.Random(a.seed)
        self.sock = {"a": _sock(a.a), "b": _sock(a.b)}
        self.dest = {"a": a.to_b, "b": a.to_a}  # arrived on socket k -> goes to dest[k] from the other socket
        self.out = {"a": "b", "b": "a"}
        self.hold: dict[str, list[bytes]] = {"a": [], "b": []}
        self.stats: dict[str, Any] = {k: 0 for k in ("received", "lost", "duplicated", "sent", "send_errors")}
        self.stats["rebinds"] = 0
        self.record: BinaryIO | None = open(a.record, "wb", buffering=0) if a.record else None  # noqa: SIM115
        self.stopping = False

    def rebind(self) -> None:
        old = self.sock["b"]
        host = old.getsockname()[0]
        self.sock["b"] = _sock((host, 0))
        old.close()
        self.stats["rebinds"] += 1
        self.stats["b_port"] = self.sock["b"].getsockname()[1]

    def _arrive(self, side: str, data: bytes) -> None:
        self.stats["received"] += 1
        if self.record is not None:
            self.record.write(REC.pack(side.encode(), len(data)) + data)
        if self.rng.random() < self.args.loss:
            self.stats["lost"] += 1
            return
        copies = 2 if self.rng.random() < self.args.dup else 1
        self.stats["duplicated"] += copies - 1
        for _ in range(copies):
            hold = self.hold[side]
            hold.append(data)
            if len(hold) >= self.args.reorder:
                self._send(side, hold.pop(self.rng.randrange(len(hold))))

    def _send(self, side: str, data: bytes) -> None:
        try:
            self.sock[self.out[side]].sendto(data, self.dest[side])
            self.stats["sent"] += 1
        except OSError:
            self.stats["send_errors"] += 1

    def _drain(self) -> None:
        for side, hold in self.hold.items():
            while hold:
                self._send(side, hold.pop(0))

    def _read(self, side: str) -> None:
        s = self.sock[side]
        for _ in range(256):
            try:
                data, _src = s.recvfrom(65536)
            except BlockingIOError:
                return
            except OSError:
                continue  # e.g. ICMP port unreachable from a restarting daemon
            self._arrive(side, data)

    def run(self) -> None:
        while not self.stopping:
            socks = {s.fileno(): side for side, s in self.sock.items()}
            held = any(self.hold.values())
            try:
                ready, _, _ = select.select(list(socks), [], [], IDLE if held else 0.5)
            except InterruptedError:
                continue
            if not ready:
                self._drain()
            for fd in ready:
                if fd in socks and socks[fd] in self.sock and self.sock[socks[fd]].fileno() == fd:
                    self._read(socks[fd])

    def close(self) -> None:
        self._drain()
        if self.record is not None:
            self.record.close()
        if self.args.stats:
            Path(self.args.stats).write_text(json.dumps(self.stats))


def read_record(path: Path) -> list[tuple[str, bytes]]:
    """The datagrams a ``--record`` file holds: (side it arrived on, bytes), in arrival order."""
    data, out, off = path.read_bytes(), [], 0
    while off + REC.size <= len(data):
        side, n = REC.unpack_from(data, off)
        off += REC.size
        out.append((side.decode(), data[off : off + n]))
        off += n
    return out


def _on(sig: int, fn: Callable[[], None]) -> None:
    signal.signal(sig, lambda _s, _f: fn())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for opt in ("--a", "--to-a", "--b", "--to-b"):
        p.add_argument(opt, type=hostport, required=True)
    p.add_argument("--loss", type=float, default=0.0)
    p.add_argument("--dup", type=float, default=0.0)
    p.add_argument("--reorder", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--record")
    p.add_argument("--stats")
    relay = Relay(p.parse_args())

    def stop() -> None:
        relay.stopping = True

    _on(signal.SIGTERM, stop)
    _on(signal.SIGINT, stop)
    _on(signal.SIGUSR1, relay.rebind)
    try:
        relay.run()
    finally:
        relay.close()


if __name__ == "__main__":
    main()
