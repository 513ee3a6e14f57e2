"""What a receiver accepts and rejects in fragmented frames (docs/protocol.md, Fragments): senders split by
the layout rule, receivers accept any split of a frame into 1..255 authenticated fragments with
consecutive counters, in any order, each fitting one datagram, as long as the whole fits MAX_FRAME."""

from __future__ import annotations

import pytest

from tapliance.proto.native import wire as W
from tapliance.proto.native.keypair import Keypair
from tests.unit.pair import MAC_A, MAC_B, Host, Net, frame, pair


def craft(kp: Keypair, chunks: list[bytes], *, count: int | None = None, flags: int = 0) -> list[bytes]:
    """Fragments of one frame sealed as a peer would (consecutive counters), split as the test says."""
    n = len(chunks) if count is None else count
    out = []
    for i, chunk in enumerate(chunks):
        c = kp.counter
        kp.counter += 1
        header = W.DATA_HEADER.pack(W.MSG_DATA, flags, i, n, kp.remote_index, c)
        out.append(header + kp._send.encrypt(W.nonce96(c), chunk, header))
    return out


def setup() -> tuple[Net, Host, Host, Keypair]:
    net, a, b = pair()
    net.advance(1)
    kp = a.p.ports[0].current
    assert kp is not None
    return net, a, b, kp


def feed(net: Net, a: Host, b: Host, datagrams: list[bytes]) -> None:
    for d in datagrams:
        b.p.on_datagram(d, a.addr, net.now)
    net.collect(b)


F = frame(MAC_B, MAC_A, bytes(range(256)) * 6)  # 1550 bytes


@pytest.mark.parametrize(
    "split",
    [[1440, 110], [1000, 550], [400, 400, 400, 350], [1, 1548, 1]],
    ids=["uneven", "other-uneven", "more-than-needed", "tiny-ends"],
)
def test_any_split_is_accepted(split: list[int]) -> None:
    net, a, b, kp = setup()
    pos, chunks = 0, []
    for n in split:
        chunks.append(F[pos : pos + n])
        pos += n
    feed(net, a, b, craft(kp, chunks))
    assert b.tap_out == [F] and b.n.drops == {}


def test_fragments_in_any_order() -> None:
    net, a, b, kp = setup()
    feed(net, a, b, list(reversed(craft(kp, [F[:600], F[600:1200], F[1200:]]))))
    assert b.tap_out == [F] and b.n.drops == {}


def test_a_datagram_larger_than_our_own_chunk_size() -> None:
    net, a, b, kp = setup()
    big = frame(MAC_B, MAC_A, bytes(9000))  # one 9046-byte datagram (a jumbo-frame underlay on their side)
    feed(net, a, b, craft(kp, [big]))
    assert b.tap_out == [big]


def test_index_not_below_count_is_a_bad_header() -> None:
    net, a, b, kp = setup()
    (d,) = craft(kp, [F[:700]], count=1)
    bad = bytearray(d)
    bad[2] = 1  # fragment index 1 of a 1-fragment frame (the tag no longer matters: checked first)
    feed(net, a, b, [bytes(bad)])
    assert b.n.drops == {"bad_header": 1}


def test_fragments_that_disagree_on_the_count() -> None:
    """Fragment 0 of a 3-fragment frame, then fragment 1 (its next counter, so the same frame id) claiming
    a 2-fragment frame: the partial frame is dropped, nothing is delivered."""
    net, a, b, kp = setup()
    (zero,) = craft(kp, [F[:700]], count=3)
    c = kp.counter
    kp.counter += 1
    header = W.DATA_HEADER.pack(W.MSG_DATA, 0, 1, 2, kp.remote_index, c)
    one = header + kp._send.encrypt(W.nonce96(c), F[700:1400], header)
    feed(net, a, b, [zero, one])
    assert b.tap_out == [] and b.n.drops == {"frag_inconsistent": 1} and len(b.p.reasm) == 0


def test_a_frame_larger_than_max_frame_is_dropped() -> None:
    net, a, b, kp = setup()
    chunk = bytes(60000)
    feed(net, a, b, craft(kp, [chunk, chunk]))
    assert b.tap_out == [] and b.n.drops == {"frag_oversize": 1}
