"""Test double: a QuickTun TCP client and server (two QtcpProtocols) joined by a fake byte stream that can
cut the bytes anywhere, with a fake clock; frames to and from each end's switch are recorded."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

from tapliance.proto.node import Node
from tapliance.proto.protocol import Context
from tapliance.proto.qtcp.crypto import KeyPair
from tapliance.proto.qtcp.policy import Policy
from tapliance.proto.qtcp.protocol import ACCEPTED, QtcpProtocol, TcpPeerSpec

SERVER_ADDR = ("192.0.2.1", 443)
CLIENT_ADDR = ("192.0.2.50", 40000)


@dataclass
class End:
    proto: QtcpProtocol
    node: Node
    tap: list[bytes] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)  # every byte string it put on the stream

    def collect(self) -> None:
        self.tap.extend(bytes(f) for f in self.node.to_tap)
        self.node.to_tap.clear()


class Draws:
    """A deterministic randomness source (SHA-256 of a seed and a counter), for reproducible runs."""

    def __init__(self, seed: bytes) -> None:
        self.seed, self.n = seed, 0

    def __call__(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(self.seed + self.n.to_bytes(8, "big")).digest()
            self.n += 1
        return out[:n]


def fixed_key(name: str) -> KeyPair:
    return KeyPair.from_secret(hashlib.sha256(f"tapliance qtcp vector key {name}".encode()).digest())


class Stream:
    """One client connection to the server; ``cut`` splits every delivery into pieces of that size;
    ``seed``: fixed keys (fixed_key "A" for the client, "B" for the server) and deterministic randomness."""

    def __init__(
        self,
        client: Policy,
        server: Policy,
        *,
        server_knows_key: bool = True,
        cut: int = 0,
        seed: bytes | None = None,
        assign: Any = None,
        push_routes: tuple[Any, ...] = (),
    ) -> None:
        self.now = 1000.0
        self.cut = cut
        self.seed = seed
        if seed is not None:
            self.ck, self.sk = fixed_key("A"), fixed_key("B")
        else:
            self.ck, self.sk = KeyPair.from_secret(os.urandom(32)), KeyPair.from_secret(os.urandom(32))
        cspec = TcpPeerSpec("server", self.sk.public, SERVER_ADDR, client)
        sspec = TcpPeerSpec("client", self.ck.public if server_knows_key else None, None, server, assign, push_routes)
        self.client = self._end(self.ck, cspec)
        self.server = self._end(self.sk, sspec)
        self.closed: list[str] = []
        self.client.proto.on_timer(self.now)
        ((handle, _addr),) = self.client.proto.dial
        self.client.proto.dial.clear()
        self.handle, self.accepted = handle, ACCEPTED
        self.client.proto.on_connected(handle, SERVER_ADDR, self.now)
        self.server.proto.on_connected(ACCEPTED, CLIENT_ADDR, self.now)

    def _end(self, key: KeyPair, spec: TcpPeerSpec) -> End:
        rand = Draws(self.seed + spec.name.encode()) if self.seed is not None else os.urandom
        ctx = Context(rand, 1.7e9)
        proto = QtcpProtocol(ctx, key, [spec])
        return End(proto, Node(ctx, [proto], tap_vnet=False))

    def pump(self, rounds: int = 50) -> None:
        """Move bytes both ways until nothing is left (or a connection closed)."""
        for _ in range(rounds):
            moved = False
            for src, dst, sc, dc in (
                (self.client, self.server, self.handle, self.accepted),
                (self.server, self.client, self.accepted, self.handle),
            ):
                data = src.proto.take(sc, 1 << 20) if sc in src.proto.ready() else b""
                if data:
                    moved = True
                    src.sent.append(data)
                    for piece in self._pieces(data):
                        dst.proto.on_stream(dc, piece, self.now)
                dst.collect()
                for conn in src.proto.close + dst.proto.close:
                    self.closed.append(str(conn))
            if self.closed or not moved:
                return

    def _pieces(self, data: bytes) -> list[bytes]:
        if not self.cut:
            return [data]
        return [data[i : i + self.cut] for i in range(0, len(data), self.cut)]

    def advance(self, seconds: float, step: float = 1.0) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now += step
            for e in (self.client, self.server):
                e.proto.on_timer(self.now)
            self.pump()
