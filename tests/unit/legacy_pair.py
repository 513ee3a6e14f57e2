"""Test double: two tapliance nodes speaking a legacy suite to each other, built from real config text and
real key, nonce and pad files (as the daemon builds them), joined by a fake link with a fake clock."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from nacl.bindings import crypto_scalarmult_base

from tapliance import config as C
from tapliance.compat.build import legacy_protocol
from tapliance.proto.legacy import LegacyProtocol
from tapliance.proto.node import Node
from tapliance.proto.protocol import Context

A_ADDR = ("192.0.2.1", 2998)
B_ADDR = ("192.0.2.2", 2998)
SUITES = (
    "tinytaptunnel",
    "quicktun-raw",
    "quicktun-nacl0",
    "quicktun-nacltai",
    "quicktun-salty",
    "tappet",
    "otptunnel",
    "otp",
)


def _files(d: Path, suite: str) -> tuple[str, str]:
    """Key material in the predecessors' own forms; the per-side TOML lines for ``suite``."""
    sa, sb = bytes(range(1, 33)), bytes(range(33, 65))
    pa, pb = bytes(crypto_scalarmult_base(sa)), bytes(crypto_scalarmult_base(sb))
    for name, data, mode in (
        ("a.qt", sa.hex().encode() + b"\n", 0o600),
        ("b.qt", sb, 0o600),
        ("a.key", sa.hex().encode() + b"\n", 0o600),
        ("b.key", sb.hex().encode() + b"\n", 0o600),
        ("a.pub", pa.hex().encode() + b"\n", 0o644),
        ("b.pub", pb.hex().encode() + b"\n", 0o644),
        ("a.nonce", b"\x07\x00\x00\x00", 0o644),
        ("b.nonce", b"\x00\x00\x00\x00", 0o644),
        ("ttt.key", b"d2Vsa25vd24ga2V5IGZvciB0aGUgdGVzdHMgb25seSE=", 0o600),
        ("pad", os.urandom(1 << 20), 0o600),
    ):
        (d / name).write_bytes(data)
        (d / name).chmod(mode)
    if suite == "otp":  # each end its own copy of the pad (its state file lives beside it)
        (d / "pad-b").write_bytes((d / "pad").read_bytes())
        (d / "pad-b").chmod(0o600)
        return f'pad_file = "{d}/pad"\nserver = false', f'pad_file = "{d}/pad-b"\nserver = true'
    if suite == "tinytaptunnel":
        line = f'key_file = "{d}/ttt.key"\nallow_insecure = true'
        return line, line
    if suite == "quicktun-raw":
        return "allow_insecure = true", "allow_insecure = true"
    if suite.startswith("quicktun-"):
        extra = "\nallow_insecure = true" if suite == "quicktun-nacl0" else ""
        return (
            f'private_key_file = "{d}/a.qt"\npublic_key = "{pb.hex()}"{extra}',
            f'private_key_file = "{d}/b.qt"\npublic_key = "{pa.hex()}"{extra}',
        )
    if suite == "tappet":
        return (
            f'private_key_file = "{d}/a.key"\npublic_key_file = "{d}/b.pub"\nnonce_file = "{d}/a.nonce"',
            f'private_key_file = "{d}/b.key"\npublic_key_file = "{d}/a.pub"\nnonce_file = "{d}/b.nonce"\nserver = true',
        )
    return (
        f'pad_file = "{d}/pad"\nallow_insecure = true',
        f'pad_file = "{d}/pad"\nserver = true\nallow_insecure = true',
    )


@dataclass
class End:
    name: str
    addr: tuple[str, int]
    node: Node
    proto: LegacyProtocol
    tap: list[bytes] = field(default_factory=list)


def config(d: Path, side: str, suite: str, lines: str) -> C.Config:
    other = B_ADDR if side == "a" else A_ADDR
    me = A_ADDR if side == "a" else B_ADDR
    endpoint = f'endpoint = "{other[0]}:{other[1]}"\n' if side == "a" else ""
    text = f'[[peer]]\nname = "{"b" if side == "a" else "a"}"\nsuite = "{suite}"\nlisten = "{me[0]}:{me[1]}"\n'
    path = d / f"{side}.toml"
    path.write_text(text + endpoint + lines + "\n")
    return C.load(path)


class LegacyNet:
    """A (knows B's endpoint) and B (learns A's) over a fake link; ``now`` is a monotonic clock."""

    def __init__(self, d: Path, suite: str, unix_offset: float = 1.7e9) -> None:
        la, lb = _files(d, suite)
        self.now = 1000.0
        self.wire: list[tuple[bytes, tuple[str, int], tuple[str, int]]] = []
        self.ends: dict[tuple[str, int], End] = {}
        for side, addr, lines in (("a", A_ADDR, la), ("b", B_ADDR, lb)):
            cfg = config(d, side, suite, lines)
            ctx = Context(os.urandom, unix_offset)
            proto = legacy_protocol(ctx, cfg.peers[0], 0, lambda: b"")
            self.ends[addr] = End(side, addr, Node(ctx, [proto], tap_vnet=False), proto)
        self.a, self.b = self.ends[A_ADDR], self.ends[B_ADDR]

    def collect(self, e: End) -> None:
        for buf, dst, _seg in e.proto.tx:
            self.wire.append((bytes(buf), e.addr, dst))
        e.proto.tx.clear()
        e.tap.extend(bytes(f) for f in e.node.to_tap)
        e.node.to_tap.clear()

    def send(self, e: End, frame: bytes) -> None:
        e.node.on_frame(frame, self.now)
        self.collect(e)

    def run(self) -> None:
        while self.wire:
            d, src, dst = self.wire.pop(0)
            if dst in self.ends:
                self.ends[dst].proto.on_datagram(d, src, self.now)
                self.collect(self.ends[dst])

    def advance(self, seconds: float, step: float = 1.0) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now = min(end, self.now + step)
            for e in (self.a, self.b):
                e.node.on_timer(self.now)
                self.collect(e)
            self.run()
