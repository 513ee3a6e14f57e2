"""Garbage in -> exactly one counted drop out: no exception, no new state, no reply, no roaming.

Random datagrams and mutations of genuine captured datagrams (every message type) are fed to an
established node.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tapliance.proto.native import constants as K
from tapliance.proto.native import wire as W
from tests.unit.pair import MAC_A, MAC_B, Host, Net, frame, pair

ATTACKER = ("203.0.113.99", 666)


def _established() -> tuple[Net, Host, Host, list[bytes]]:
    net, a, b = pair()
    net.advance(1)
    net.send_frame(a, frame(MAC_B, MAC_A, b"z" * 3000))
    net.run()
    genuine = [d for d, _, dst in net.captured if dst == b.addr]
    assert {d[0] for d in genuine} >= {W.MSG_INITIATION, W.MSG_DATA}
    return net, a, b, genuine


NET, A, B, GENUINE = _established()


def _snapshot(h: Host) -> tuple[object, ...]:
    n = h.p
    p = n.ports[0]
    return (sorted(n.indices), p.endpoint, p.rx_frames, p.handshakes, len(n.reasm), len(h.tap_out))


def _feed(data: bytes) -> None:
    n = B.p
    before = _snapshot(B)
    drops_before = sum(n.drops.values())
    n.on_datagram(data, ATTACKER, NET.now)
    assert n.tx == [] and B.n.to_tap == []
    assert _snapshot(B) == before
    assert sum(n.drops.values()) == drops_before + 1


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=1600))
def test_random_datagrams(data: bytes) -> None:
    _feed(data)


@settings(max_examples=1500, deadline=None)
@given(
    st.integers(min_value=0, max_value=len(GENUINE) - 1),
    st.integers(min_value=0, max_value=2**32),
    st.sampled_from(["flip", "truncate", "extend", "retype"]),
)
def test_mutated_genuine_datagrams(which: int, seed: int, how: str) -> None:
    rnd = random.Random(seed)
    d = bytearray(GENUINE[which])
    if how == "flip":
        for _ in range(rnd.randint(1, 4)):
            d[rnd.randrange(len(d))] ^= 1 << rnd.randrange(8)
    elif how == "truncate":
        d = d[: rnd.randrange(len(d))]
    elif how == "extend":
        d += rnd.randbytes(rnd.randint(1, 64))
    else:
        d[0] = rnd.choice([1, 2, 3, 4, 0, 5, 255])
        if bytes(d) == GENUINE[which]:
            d[1] ^= 0xFF
    _feed(bytes(d))


def test_replays_of_every_genuine_datagram() -> None:
    for d in GENUINE:
        _feed(d)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=4000), st.integers(min_value=1, max_value=1500))
def test_random_gro_batches(data: bytes, seg: int) -> None:
    """A GRO batch of garbage: one counted drop per datagram in it, nothing else."""
    n = B.p
    before = _snapshot(B)
    drops_before = sum(n.drops.values())
    n.on_datagram_batch(memoryview(data), seg, ATTACKER, NET.now)
    assert n.tx == [] and B.n.to_tap == []
    assert _snapshot(B) == before
    assert sum(n.drops.values()) == drops_before + -(-len(data) // seg)


def test_corrupt_datagram_inside_a_gro_run() -> None:
    """One bad tag in a frame's run: the fast path backs off, the per-datagram path counts exactly one
    decrypt drop, the frame is not delivered (a plain frame, nothing to salvage: dropped as overtaken once
    the reorder time has passed since the next one arrived), the next frame is."""
    net, a, b = pair()
    net.advance(1)
    for corrupt in (True, False):
        a.n.on_frame(frame(MAC_B, MAC_A, bytes(range(256)) * 20), net.now)
        ((buf, _addr, seg),) = a.p.tx
        a.p.tx.clear()
        buf = bytearray(buf)
        if corrupt:
            buf[seg + 40] ^= 1  # inside the second datagram's ciphertext
        b.p.on_datagram_batch(memoryview(buf), seg, a.addr, net.now)
    assert b.n.drops == {"decrypt": 1}  # the partial frame may still be completed by a reordered datagram
    b.p.on_timer(net.now + K.REORDER_TIME)
    assert b.n.drops == {"decrypt": 1, "frag_overtaken": 1}
    assert len(b.n.to_tap) == 1 and b.n.to_tap[0].endswith(bytes(range(256)))
    assert len(b.p.reasm) == 0
