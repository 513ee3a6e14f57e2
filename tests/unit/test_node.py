"""The protocol core through a peer pair over a fake link: handshake, data, rekey, roaming, healing."""

from __future__ import annotations

import pytest

from tapliance.keyfile import generate_private
from tapliance.proto.events import EndpointChanged, HandshakeCompleted, PeerDown
from tapliance.proto.native import constants as K
from tapliance.proto.native import wire as W
from tests.unit.pair import BCAST, MAC_A, MAC_B, Host, Net, frame, pair, spec


def state(h: object, now: float) -> str:
    return h.n.status(now)["peers"][0]["state"]  # type: ignore[attr-defined, no-any-return]


def test_handshake_and_data_both_ways() -> None:
    net, a, b = pair()
    net.advance(1)
    assert state(a, net.now) == state(b, net.now) == "up"
    f1 = frame(MAC_B, MAC_A, b"hello" * 10)
    net.send_frame(a, f1)
    net.run()
    assert b.tap_out == [f1]
    f2 = frame(MAC_A, MAC_B, b"world")
    net.send_frame(b, f2)
    net.run()
    assert a.tap_out == [f2]
    assert a.n.drops == b.n.drops == {}


def test_listener_discovers_endpoint_and_queues_nothing_before() -> None:
    net, a, b = pair(keepalive=0)
    net.send_frame(b, frame(MAC_A, MAC_B, b"early"))  # B has no endpoint for A yet: held
    assert net.wire == []
    net.send_frame(a, frame(MAC_B, MAC_A, b"first"))  # A initiates; the frame waits for the session
    net.run()
    assert [f[14:] for f in b.tap_out] == [b"first"]
    assert [f[14:] for f in a.tap_out] == [b"early"]  # B flushed its queue once A confirmed the keys
    assert any(isinstance(e, EndpointChanged) and e.old is None for e in b.n.events)


def test_large_frame_fragmented_under_1500_underlay() -> None:
    net, a, b = pair()
    net.advance(1)
    net.captured.clear()
    big = frame(MAC_B, MAC_A, bytes(range(256)) * 250)  # 64 000 bytes: a TSO-sized super-frame
    net.send_frame(a, big)
    net.run()
    assert b.tap_out == [big]
    sizes = [len(d) for d, _, _ in net.captured]
    assert len(sizes) == 45 and max(sizes) <= 1500 - 28


def _frame_losing_its_second_fragment() -> tuple[Net, Host, Host]:
    """A 4000-byte frame (3 fragments) from a to b whose fragment #1 is lost on the way."""
    net, a, b = pair()
    net.advance(1)
    net.filter = lambda d, s, t: not (d[0] == W.MSG_DATA and d[2] == 1 and d[3] == 3)
    net.send_frame(a, frame(MAC_B, MAC_A, b"x" * 4000))
    net.run()
    return net, a, b


def test_lost_fragment_costs_only_its_frame() -> None:
    net, a, b = _frame_losing_its_second_fragment()
    net.filter = lambda d, s, t: True
    net.send_frame(a, frame(MAC_B, MAC_A, b"y" * 4000))
    net.run()
    assert [f[14] for f in b.tap_out] == [ord("y")]
    assert b.n.drops == {} and len(b.p.reasm) == 1  # a reordered datagram may still complete it ...
    net.advance(K.REORDER_TIME, step=K.REORDER_TIME)
    assert b.n.drops == {"frag_overtaken": 1}  # ... for REORDER_TIME after a later frame arrived
    assert len(b.p.reasm) == 0


def test_partial_frame_with_nothing_after_it_times_out() -> None:
    net, _a, b = _frame_losing_its_second_fragment()
    assert len(b.p.reasm) == 1 and not b.tap_out
    net.advance(3)
    assert b.n.drops.get("frag_timeout") == 1 and len(b.p.reasm) == 0


def test_replayed_datagram_is_dropped() -> None:
    net, a, b = pair()
    net.advance(1)
    net.captured.clear()
    net.send_frame(a, frame(MAC_B, MAC_A, b"once"))
    net.run()
    data = next(c for c in net.captured if c[0][0] == W.MSG_DATA)
    b.p.on_datagram(data[0], data[1], net.now)
    assert b.n.drops == {"replay": 1}
    assert len(b.tap_out) == 1


def test_rekey_on_time_without_loss() -> None:
    net, a, b = pair(rekey_after_seconds=30.0)
    net.advance(1)
    for i in range(200):  # 100 s of traffic at 2 frames/s across three rekeys
        net.send_frame(a, frame(MAC_B, MAC_A, i.to_bytes(4, "big")))
        net.send_frame(b, frame(MAC_A, MAC_B, i.to_bytes(4, "big")))
        net.run()
        net.advance(0.5, step=0.5)
    assert [int.from_bytes(f[14:18], "big") for f in b.tap_out] == list(range(200))
    assert [int.from_bytes(f[14:18], "big") for f in a.tap_out] == list(range(200))
    assert a.p.ports[0].handshakes >= 3
    assert a.n.drops == b.n.drops == {}


def test_rekey_on_volume() -> None:
    net, a, b = pair(rekey_after_bytes=1 << 16)
    net.advance(2)  # past the minimum interval between initiations
    for _ in range(100):
        net.send_frame(a, frame(MAC_B, MAC_A, bytes(1400)))
        net.run()
    assert len(b.tap_out) == 100
    assert a.p.ports[0].handshakes >= 2


def test_roaming_on_authenticated_packets_only() -> None:
    net, a, b = pair()
    net.advance(1)
    # A moves to a new address (NAT rebinding): B follows after an authenticated packet.
    old = a.addr
    del net.hosts[old]
    a.addr = ("198.51.100.7", 40000)
    net.hosts[a.addr] = a
    net.send_frame(a, frame(MAC_B, MAC_A, b"from new place"))
    net.run()
    assert b.p.ports[0].endpoint == a.addr
    # A forged/garbage packet from a third address does not move the endpoint.
    b.p.on_datagram(bytes([4]) + bytes(40), ("203.0.113.66", 1), net.now)
    assert b.p.ports[0].endpoint == a.addr
    # And a replay of a genuine packet from another address does not either.
    genuine = [c for c in net.captured if c[0][0] == W.MSG_DATA and c[1] == a.addr][-1]
    b.p.on_datagram(genuine[0], ("203.0.113.66", 2), net.now)
    assert b.p.ports[0].endpoint == a.addr
    assert b.n.drops.get("replay") == 1


def test_wrong_peer_key_gets_nothing_through() -> None:
    net = Net()
    a = net.host("a", ("192.0.2.1", 1))
    b = net.host("b", ("192.0.2.2", 1))
    stranger = generate_private()
    from tapliance.keyfile import public_from_private

    net.start(a, [spec(b.public, "b", b.addr)])
    net.start(b, [spec(public_from_private(stranger), "not-a")])  # B expects someone else
    net.send_frame(a, frame(MAC_B, MAC_A, b"secret"))
    net.advance(20)
    assert b.tap_out == [] and state(b, net.now) == "idle"
    assert b.n.drops.get("unknown_peer", 0) >= 3


def test_psk_mismatch_fails_handshake() -> None:
    net = Net()
    a = net.host("a", ("192.0.2.1", 1))
    b = net.host("b", ("192.0.2.2", 1))
    net.start(a, [spec(b.public, "b", b.addr, psk=bytes(32 * [1]))])
    net.start(b, [spec(a.public, "a", None, psk=bytes(32 * [2]))])
    net.advance(12)
    assert state(a, net.now) == "handshaking"
    assert a.n.drops.get("handshake_decrypt", 0) >= 2


def test_suite_mismatch_is_named() -> None:
    net = Net()
    a = net.host("a", ("192.0.2.1", 1))
    b = net.host("b", ("192.0.2.2", 1))
    net.start(a, [spec(b.public, "b", b.addr)], suite="aes-256-gcm")
    net.start(b, [spec(a.public, "a")])
    net.advance(2)
    assert b.n.drops.get("suite_mismatch", 0) >= 1


def test_aes_gcm_suite_works() -> None:
    net, a, b = pair(suite="aes-256-gcm")
    net.send_frame(a, frame(MAC_B, MAC_A, b"gcm" * 1000))
    net.run()
    assert len(b.tap_out) == 1 and b.tap_out[0].endswith(b"gcm")


def test_restarted_listener_heals_without_operator() -> None:
    net, a, b = pair()
    net.advance(1)
    # B loses all state (kill -9 + restart): same key, new process.
    net.start(b, [spec(a.public, "a", None, None, 10.0)])
    net.advance(40)
    net.send_frame(a, frame(MAC_B, MAC_A, b"after restart"))
    net.run()
    assert [f[14:] for f in b.tap_out] == [b"after restart"]


def test_restarted_initiator_heals_immediately() -> None:
    net, a, b = pair()
    net.advance(1)
    net.start(a, [spec(b.public, "b", b.addr, None, 10.0)])
    net.advance(2)
    net.send_frame(a, frame(MAC_B, MAC_A, b"x"))
    net.run()
    assert len(b.tap_out) == 1


def test_replayed_initiation_is_rejected() -> None:
    net, _a, b = pair()
    net.advance(1)
    init = next(c for c in net.captured if c[0][0] == W.MSG_INITIATION)
    before = b.p.ports[0].handshakes
    b.p.on_datagram(init[0], init[1], net.now)
    assert b.n.drops.get("stale_timestamp") == 1
    assert b.p.ports[0].handshakes == before


def test_dead_peer_is_reported_down() -> None:
    net, a, b = pair()
    net.advance(1)
    del net.hosts[b.addr]  # B vanishes
    net.advance(140, step=1.0)
    assert any(isinstance(e, PeerDown) for e in a.n.events)
    assert a.n.status(net.now)["peers"][0]["state"] in ("down", "handshaking")


def test_keepalives_flow_when_idle() -> None:
    net, a, _b = pair(keepalive=5)
    net.advance(1)
    net.captured.clear()
    net.advance(30)
    keepalives = [c for c in net.captured if c[0][0] == W.MSG_DATA and len(c[0]) == W.DATA_OVERHEAD]
    assert len(keepalives) >= 8
    assert isinstance(a.n.events[0], (HandshakeCompleted, EndpointChanged))


def test_hub_learns_macs_and_relays_between_clients() -> None:
    net = Net()
    hub = net.host("hub", ("192.0.2.1", 1))
    c1 = net.host("c1", ("192.0.2.11", 1))
    c2 = net.host("c2", ("192.0.2.12", 1))
    net.start(hub, [spec(c1.public, "c1"), spec(c2.public, "c2")])
    for c in (c1, c2):
        net.start(c, [spec(hub.public, "hub", hub.addr)])
    net.advance(1)
    mac1, mac2 = bytes.fromhex("021111111111"), bytes.fromhex("022222222222")
    net.send_frame(c1, frame(BCAST, mac1, b"who-has"))  # broadcast: hub's TAP and c2 both get it
    net.run()
    assert len(hub.tap_out) == 1 and len(c2.tap_out) == 1
    net.send_frame(c2, frame(mac1, mac2, b"unicast reply"))  # hub knows mac1 is behind c1
    net.run()
    assert [f[14:] for f in c1.tap_out] == [b"unicast reply"]
    assert len(hub.tap_out) == 1  # not copied to the hub's own TAP
    net.send_frame(hub, frame(mac2, MAC_A, b"to c2 only"))
    net.run()
    assert [f[14:] for f in c2.tap_out][-1] == b"to c2 only"
    assert len(c1.tap_out) == 1


def test_psk_match_completes_handshake_and_carries_data() -> None:
    net, a, b = pair(psk=bytes(range(32)))
    net.advance(1)
    assert state(a, net.now) == state(b, net.now) == "up"
    assert a.p.ports[0].psk == b.p.ports[0].psk == bytes(range(32))
    f1 = frame(MAC_B, MAC_A, b"psk a->b" * 10)
    net.send_frame(a, f1)
    net.run()
    f2 = frame(MAC_A, MAC_B, b"psk b->a" * 500)  # fragmented too
    net.send_frame(b, f2)
    net.run()
    assert b.tap_out == [f1] and a.tap_out == [f2]
    assert a.n.drops == b.n.drops == {}


def _sealed(h: object, payload: bytes, now: float) -> tuple[bytearray, int]:
    """One frame sealed by ``h`` but not sent: (buffer of its datagrams, segment size)."""
    h.n.on_frame(frame(MAC_B, MAC_A, payload), now)  # type: ignore[attr-defined]
    ((buf, _dst, seg),) = h.p.tx  # type: ignore[attr-defined]
    h.p.tx.clear()  # type: ignore[attr-defined]
    return bytearray(buf), seg


def _forge(buf: bytearray, seg: int, shift: int) -> bytearray:
    """A copy of sealed datagrams with every counter moved by ``shift`` (or, for 0, a flipped tag byte):
    valid receiver index and consistent headers, but tags that do not authenticate."""
    out = bytearray(buf)
    for off in range(0, len(out), seg):
        t, flags, fidx, fcnt, receiver, counter = W.DATA_HEADER.unpack_from(out, off)
        W.DATA_HEADER.pack_into(out, off, t, flags, fidx, fcnt, receiver, counter + shift)
        if not shift:
            end = min(off + seg, len(out))
            out[end - 1] ^= 0x80
    return out


@pytest.mark.parametrize("shift", [10000, 0], ids=["far-future-counter", "same-counter"])
def test_forged_data_never_moves_the_replay_window(shift: int) -> None:
    """Replay window checked before decrypt, committed only after: a forged datagram with a valid
    receiver index is one `decrypt` drop and leaves the window alone, so genuine frames whose
    counters it claimed or jumped past are still delivered."""
    net, a, b = pair()
    net.advance(1)
    buf, seg = _sealed(a, b"genuine", net.now)
    assert len(buf) == seg  # one datagram
    forged = _forge(buf, seg, shift)
    b.p.on_datagram(bytes(forged), a.addr, net.now)
    assert b.n.drops == {"decrypt": 1}
    assert b.tap_out == [] and b.n.to_tap == []
    b.p.on_datagram(bytes(buf), a.addr, net.now)  # the genuine one, at its normal counter
    net.collect(b)
    for i in range(3):  # and the ones after it
        net.send_frame(a, frame(MAC_B, MAC_A, b"later %d" % i))
        net.run()
    assert [f[14:] for f in b.tap_out] == [b"genuine", b"later 0", b"later 1", b"later 2"]
    assert b.n.drops == {"decrypt": 1}


@pytest.mark.parametrize("shift", [10000, 0], ids=["far-future-counter", "same-counter"])
def test_forged_gro_run_never_moves_the_replay_window(shift: int) -> None:
    """The same through the batch fast path (on_datagram_batch -> _open_run): a forged in-order run
    passes check_run, fails to open, and must not have been committed."""
    net, a, b = pair()
    net.advance(1)
    payload = bytes(range(256)) * 20
    buf, seg = _sealed(a, payload, net.now)
    nfrag = -(-len(buf) // seg)
    assert nfrag >= 3
    forged = _forge(buf, seg, shift)
    b.p.on_datagram_batch(memoryview(forged), seg, a.addr, net.now)
    assert b.n.drops == {"decrypt": nfrag}  # the per-datagram path counts every bad one
    assert b.n.to_tap == []
    b.p.on_datagram_batch(memoryview(buf), seg, a.addr, net.now)  # the genuine run
    later, seg2 = _sealed(a, payload[::-1], net.now)
    b.p.on_datagram_batch(memoryview(later), seg2, a.addr, net.now)
    assert [f[14:] for f in b.n.to_tap] == [payload, payload[::-1]]
    assert b.n.drops == {"decrypt": nfrag}


@pytest.mark.parametrize("mix", ["swapped-inside-the-run", "fragment-of-another-frame"])
def test_a_run_whose_middle_is_not_its_own_fragments_takes_the_general_path(mix: str) -> None:
    """_open_run compares only the first and last headers; a genuine datagram in the middle that is not
    fragment i of this frame (reordered, or from another frame of the same size) fails its tag under the
    nonce of counter + i, so the batch backs off to the per-datagram path, which sorts it out: nothing is
    dropped, nothing is committed twice, and what is complete is delivered."""
    net, a, b = pair()
    net.advance(1)
    one, two = bytes(range(256)) * 20, bytes(range(255, -1, -1)) * 20
    buf, seg = _sealed(a, one, net.now)
    other, seg2 = _sealed(a, two, net.now)
    assert seg == seg2 and len(buf) == len(other) and len(buf) > 3 * seg
    mixed = bytearray(buf)
    if mix == "swapped-inside-the-run":
        mixed[seg : 2 * seg], mixed[2 * seg : 3 * seg] = buf[2 * seg : 3 * seg], buf[seg : 2 * seg]
        b.p.on_datagram_batch(memoryview(mixed), seg, a.addr, net.now)
        assert [f[14:] for f in b.n.to_tap] == [one]
    else:
        mixed[seg : 2 * seg] = other[seg : 2 * seg]  # genuine, same size, fragment 1 of the second frame
        b.p.on_datagram_batch(memoryview(mixed), seg, a.addr, net.now)
        assert b.n.to_tap == []  # frame one lacks its fragment 1 (it is in the second frame's slot)
        b.p.on_datagram_batch(memoryview(other), seg, a.addr, net.now)  # fragment 1 again: a replay
        assert b.n.drops.get("replay") == 1
        assert [f[14:] for f in b.n.to_tap] == [two]
    assert set(b.n.drops) <= {"replay", "frag_overtaken"} and "decrypt" not in b.n.drops


def test_a_rekey_from_the_same_address_is_not_a_roam() -> None:
    """EndpointChanged (logged as "discovered at" / "roamed from X to Y") only when the address changes."""
    net, a, b = pair(rekey_after_seconds=20.0)
    net.advance(100)
    assert a.p.ports[0].handshakes >= 3
    moves = [e for h in (a, b) for e in h.n.events if isinstance(e, EndpointChanged)]
    assert [(e.peer, e.old) for e in moves] == [("a", None)]  # b discovered a once; nothing else moved


def test_a_replayed_initiation_that_never_arrived_does_not_move_the_endpoint() -> None:
    """An initiation lost on its way can be captured and replayed later from anywhere: its timestamp is newer
    than any the responder saw, so it is processed (a response, an unconfirmed keypair), but the endpoint
    stays until the new session's first data message proves the sender has the keys."""
    net, a, b = pair(b_endpoint=True)
    lost: list[bytes] = []
    net.filter = lambda d, src, dst: not (d[0] == W.MSG_INITIATION and src == b.addr and not lost.append(d))
    net.advance(1)  # b's own initiation is lost; a's goes through: a session
    net.filter = lambda d, src, dst: True
    net.send_frame(a, frame(MAC_B, MAC_A, b"x"))
    net.run()
    assert lost and b.tap_out and a.p.ports[0].endpoint == b.addr
    attacker = ("203.0.113.66", 6666)
    a.p.on_datagram(lost[0], attacker, net.now)
    assert a.p.ports[0].endpoint == b.addr  # not moved to the attacker
    assert [dst for _d, dst, _s in a.p.tx] == [attacker]  # the response goes where the initiation came from
    a.p.tx.clear()
    net.send_frame(b, frame(MAC_A, MAC_B, b"still here"))
    net.run()
    assert a.tap_out[-1].endswith(b"still here") and a.p.ports[0].endpoint == b.addr
