"""Fuzzed datagrams for a running daemon: pure generation from a seed and a captured session.

Kinds (weights in ``MIX``):
  random     random bytes, 0-1600 long
  typed      a valid type byte (1-4) at a message's size or a data size, the rest random
  mac1       a 148-byte initiation whose mac1 is valid for the daemon (the body garbage): it passes the
             cheap check and meets the handshake limits (rate per network, CPU budget)
  mutated    a captured genuine datagram with 1-4 bits flipped, its type byte changed, or bytes appended
  truncated  a captured genuine datagram cut short
  oversized  1601-65507 random bytes behind a data or initiation type byte (IP-fragmented on the way)
  replayed   a captured genuine datagram, unchanged
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

from tapliance.proto.native import primitives as P
from tapliance.proto.native import wire as W
from tapliance.proto.native.handshake import mac1_key

MIX = {
    "random": 20.0,
    "typed": 15.0,
    "mac1": 5.0,
    "mutated": 25.0,
    "truncated": 15.0,
    "oversized": 0.5,
    "replayed": 19.5,
}
MAX_UDP = 65507


class Fuzzer:
    def __init__(self, seed: int, genuine: Sequence[bytes], target_public: bytes) -> None:
        if not genuine:
            raise ValueError("fuzzing needs at least one captured datagram")
        self.rng = random.Random(seed)
        self.genuine = list(genuine)
        self.mac1 = mac1_key(target_public)
        self.kinds = list(MIX)
        self.weights = list(MIX.values())
        self.counts = dict.fromkeys(MIX, 0)

    def datagrams(self, n: int) -> Iterator[bytes]:
        choose, rng = self.rng.choices, self.rng
        makers = {k: getattr(self, f"_{k}") for k in self.kinds}
        for kind in choose(self.kinds, self.weights, k=n):
            self.counts[kind] += 1
            yield makers[kind](rng)

    def _random(self, rng: random.Random) -> bytes:
        return rng.randbytes(rng.choice((rng.randrange(32), rng.randrange(1601))))

    def _typed(self, rng: random.Random) -> bytes:
        t = rng.randint(1, 4)
        size = {1: W.INIT_LEN, 2: W.RESP_LEN, 3: W.COOKIE_LEN}.get(t) or rng.randrange(W.DATA_OVERHEAD, 1501)
        if rng.random() < 0.2:
            size += rng.choice((-1, 1))
        return bytes([t]) + rng.randbytes(size - 1)

    def _mac1(self, rng: random.Random) -> bytes:
        body = bytearray(rng.randbytes(W.INIT_MAC1_OFF))
        body[0], body[1], body[2], body[3] = W.MSG_INITIATION, 1, 0, 0
        msg = bytes(body)
        return msg + P.mac(self.mac1, msg) + bytes(16)

    def _mutated(self, rng: random.Random) -> bytes:
        d = bytearray(rng.choice(self.genuine))
        how = rng.randrange(3)
        if how == 0 or len(d) < 2:
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(len(d))
                d[i] ^= 1 << rng.randrange(8)
        elif how == 1:
            d[0] = rng.choice((0, 1, 2, 3, 4, 5, 255))
            d[1] ^= 0xFF  # never the genuine datagram again, whatever the new type
        else:
            d += rng.randbytes(rng.randint(1, 64))
        return bytes(d)

    def _truncated(self, rng: random.Random) -> bytes:
        d = rng.choice(self.genuine)
        return d[: rng.randrange(len(d))]

    def _oversized(self, rng: random.Random) -> bytes:
        return bytes([rng.choice((W.MSG_DATA, W.MSG_INITIATION))]) + rng.randbytes(rng.randint(1600, MAX_UDP - 1))

    def _replayed(self, rng: random.Random) -> bytes:
        return rng.choice(self.genuine)
