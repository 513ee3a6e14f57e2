"""Reordering is not loss (fragments.py): a partial frame that later datagrams have passed is given up only
REORDER_WINDOW counters or REORDER_TIME later; meanwhile what has arrived whole of a super-frame goes to
TCP in order, before the later frame, and each segment exactly once."""

from __future__ import annotations

from tapliance.proto import offload as O
from tapliance.proto.native import constants as K
from tapliance.proto.native import wire as W
from tests.unit.pair import MAC_A, MAC_B, frame, pair
from tests.unit.test_offload import _tcp, _verify_tcp


def _datagrams(sealed: list[tuple[bytes, object, int]]) -> list[bytes]:
    return [bytes(buf[o : o + seg]) for buf, _dst, seg in sealed for o in range(0, len(buf), seg)]


def test_a_fragment_overtaken_by_the_next_frame_still_completes_its_frame() -> None:
    net, a, b = pair()
    net.advance(1)
    sent = []
    for payload in (b"x" * 4000, b"y" * 4000):
        a.n.on_frame(frame(MAC_B, MAC_A, payload), net.now)
        sent.append(_datagrams(a.p.tx))
        a.p.tx.clear()
    first, second = sent
    for d in [*first[:2], *second, first[2]]:  # the first frame's last datagram comes after the second frame
        b.p.on_datagram(d, a.addr, net.now)
    assert [f[14] for f in b.n.to_tap] == [ord("y"), ord("x")]
    assert b.n.drops == {} and len(b.p.reasm) == 0


def test_a_partial_frame_passed_by_more_than_the_window_is_given_up_at_once() -> None:
    net, a, b = pair()
    net.advance(1)
    a.n.on_frame(frame(MAC_B, MAC_A, b"x" * 4000), net.now)
    lossy = _datagrams(a.p.tx)
    a.p.tx.clear()
    b.p.on_datagram(lossy[0], a.addr, net.now)  # fragments 1 and 2 lost
    _, _, index, count, _, counter = W.DATA_HEADER.unpack_from(lossy[0])
    end = counter - index + count - 1
    for _ in range(K.REORDER_WINDOW + 2):
        a.n.on_frame(frame(MAC_B, MAC_A, bytes(100)), net.now)
        (d,) = _datagrams(a.p.tx)
        a.p.tx.clear()
        b.p.on_datagram(d, a.addr, net.now)
        passed = W.DATA_HEADER.unpack_from(d)[5] - end
        assert b.n.drops == ({"frag_overtaken": 1} if passed > K.REORDER_WINDOW else {})


def test_the_timer_gives_up_a_passed_partial_frame_after_the_reorder_time() -> None:
    net, a, b = pair()
    net.advance(1)
    a.n.on_frame(frame(MAC_B, MAC_A, b"x" * 4000), net.now)
    a.n.on_frame(frame(MAC_B, MAC_A, b"y" * 100), net.now)
    first, *_, last = _datagrams(a.p.tx)
    b.p.on_datagram(first, a.addr, net.now)
    assert b.p.on_timer(net.now) > net.now + 0.5  # nothing has passed it: the 1 s tick
    b.p.on_datagram(last, a.addr, net.now)
    assert b.p.on_timer(net.now) == net.now + K.REORDER_TIME and b.n.drops == {}
    b.p.on_timer(net.now + K.REORDER_TIME)
    assert b.n.drops == {"frag_overtaken": 1} and len(b.p.reasm) == 0


def test_a_late_datagram_of_a_super_frame_delivers_the_rest_of_it_and_nothing_twice() -> None:
    net, a, b = pair(vnet=(True, True))
    net.advance(1)
    sf, payload = _tcp(30000, False)
    sf2, _ = _tcp(3000, False)
    sent = []
    for f in (sf, sf2):
        a.n.on_frame(f, net.now)
        sent.append(_datagrams(a.p.tx))
        a.p.tx.clear()
    late = sent[0][7]
    for d in [*sent[0][:7], *sent[0][8:], *sent[1]]:
        b.p.on_datagram(d, a.addr, net.now)
    *early, second = b.n.to_tap
    assert second == sf2 and 18 <= sum(len(O.to_plain(f)) for f in early) <= 20  # what arrived whole, first
    b.p.on_datagram(late, a.addr, net.now)  # the late one: the rest of the segments
    rest = b.n.to_tap[len(early) + 1 :]
    segs = [_verify_tcp(s, False) for f in [*early, *rest] for s in O.to_plain(f)]  # finished, as a kernel would
    assert b"".join(s[2] for s in sorted(segs)) == payload  # every segment once, none lost
    assert b.n.drops == {} and len(b.p.reasm) == 0 and b.p.reasm.salvaged == len(segs)
