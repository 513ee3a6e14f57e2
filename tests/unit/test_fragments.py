"""Fragmentation and bounded reassembly."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tapliance.proto.drops import Drops
from tapliance.proto.native import wire as W
from tapliance.proto.native.fragments import Reassembler, layout


def split(frame: bytes, max_chunk: int) -> list[bytes]:
    """The chunks Keypair.seal_frame seals ``frame`` into (by the one layout rule)."""
    count, size = layout(len(frame), max_chunk)
    return [frame[i * size : (i + 1) * size] for i in range(count)]


def test_split_sizes() -> None:
    assert split(b"a" * 10, 10) == [b"a" * 10]
    chunks = split(bytes(3000), 1440)
    assert len(chunks) == 3 and sum(map(len, chunks)) == 3000
    assert max(map(len, chunks)) - min(map(len, chunks)) <= 1  # evened out, no tiny tail
    assert split(b"", 100) == [b""]


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=70000), st.integers(min_value=300, max_value=9000), st.randoms())
def test_roundtrip_any_order(frame: bytes, mtu: int, rnd: object) -> None:
    chunks = split(frame, mtu)
    order = list(range(len(chunks)))
    rnd.shuffle(order)  # type: ignore[attr-defined]
    r = Reassembler(Drops())
    base = 1000
    out = [r.add(base + i, i, len(chunks), chunks[i], 0.0) for i in order]
    assert out[-1] == frame
    assert all(o is None for o in out[:-1])
    assert len(r) == 0 and r.buffered == 0


def test_timeout_drops_partial() -> None:
    drops = Drops()
    r = Reassembler(drops, timeout=2.0)
    assert r.add(10, 0, 2, b"x" * 100, now=0.0) is None
    r.expire(1.0)
    assert len(r) == 1
    r.expire(2.5)
    assert len(r) == 0 and r.buffered == 0 and drops == {"frag_timeout": 1}
    assert r.add(11, 1, 2, b"y", now=3.0) is None  # the late tail starts a new (doomed) partial


def test_bounded_frames_and_bytes() -> None:
    drops = Drops()
    r = Reassembler(drops, max_frames=4, max_bytes=10_000)
    for f in range(100):
        r.add(f * 10, 0, 3, b"z" * 1000, now=0.0)
    assert len(r) <= 4 and r.buffered <= 10_000
    assert drops["frag_evicted"] == 96


def test_duplicate_and_inconsistent() -> None:
    drops = Drops()
    r = Reassembler(drops)
    r.add(100, 0, 3, b"a", 0.0)
    assert r.add(100, 0, 3, b"a", 0.0) is None
    assert r.add(101, 1, 4, b"b", 0.0) is None  # claims another count for the same frame
    assert drops == {"frag_duplicate": 1, "frag_inconsistent": 1}


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=65000), st.integers(min_value=300, max_value=9000))
def test_the_sealer_splits_frames_by_the_layout_rule(n: int, max_chunk: int) -> None:
    """Keypair.seal_frame (with its one-datagram shortcut) lays frames out exactly as layout() says."""
    from tapliance.proto.native import wire as W
    from tapliance.proto.native.handshake import Keys
    from tapliance.proto.native.keypair import Keypair

    kp = Keypair(
        Keys(bytes(32), bytes(32)), "chacha20-poly1305", local_index=1, remote_index=2, initiator=True, created=0.0
    )
    count, size = layout(n, max_chunk)
    buf, seg = kp.seal_frame(bytes(n), max_chunk)
    assert seg == size + W.DATA_OVERHEAD
    assert -(-len(buf) // seg) == count and len(buf) == n + count * W.DATA_OVERHEAD


def test_hold_says_what_a_worker_must_still_hand_up() -> None:
    """Reassembler.hold (runtime/worker.py installs it): up to which counter a worker hands a session's
    datagrams up: each partial frame's rest and ``window`` more, except partial super-frames already passed
    and served, which the timer gives up."""
    s = 5 << 64  # session 5's counters
    r = Reassembler(Drops(), window=32)
    assert r.hold(5) is None
    r.add(s | 10, 0, 4, b"a" * 8, 0.0, flags=W.FLAG_VNET)
    assert r.hold(5) == 13 + 33 and r.hold(6) is None  # in progress: its end (13) and the window
    r.overtaken(s | 14, 0.0)
    assert r.hold(5) == 46  # passed, its arrived segments not delivered yet
    r.early(s | 14)
    assert r.hold(5) is None  # passed and served: the timer gives it up
    r.add(s | 20, 0, 2, b"e" * 8, 0.0)
    assert r.hold(5) == 21 + 33
