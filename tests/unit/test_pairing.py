"""Shared-secret mode through a peer pair over the fake link: pairing, data, collisions, restarts, wrong
passphrases (no tunnel, counted, rate-limited) and garbage (one counted drop each)."""

from __future__ import annotations

import random

from tapliance.proto.drops import Drop
from tapliance.proto.native import pake
from tapliance.proto.native import wire as W
from tapliance.proto.native.guesses import PER_SOURCE_BURST, prefix
from tests.unit.pair import MAC_A, MAC_B, frame
from tests.unit.pairing_pair import shared, shared_pair, up


def test_two_sides_with_only_a_passphrase_get_a_tunnel() -> None:
    net, a, b = shared_pair()
    net.advance(2)
    assert up(a, net.now) and up(b, net.now)
    assert a.p.ports[0].public_key == b.p.static_public and b.p.ports[0].public_key == a.p.static_public
    assert a.p.ports[0].psk == b.p.ports[0].psk != bytes(32)
    types = [d[0] for d, _, _ in net.captured]
    assert types[:5] == [W.MSG_PAIR_INIT, W.MSG_PAIR_REPLY, W.MSG_PAIR_CONFIRM, W.MSG_INITIATION, W.MSG_RESPONSE]
    f1, f2 = frame(MAC_B, MAC_A, b"over the pairing" * 20), frame(MAC_A, MAC_B, b"and back")
    net.send_frame(a, f1)
    net.send_frame(b, f2)
    net.run()
    assert b.tap_out == [f1] and a.tap_out == [f2]
    assert a.n.drops == b.n.drops == {}


def test_rekeys_use_noise_only_and_keep_the_pairing() -> None:
    net, a, b = shared_pair()
    net.advance(2)
    psk = a.p.ports[0].psk
    net.captured.clear()
    net.advance(400, step=1.0)  # several rekeys (every 120 s)
    types = {d[0] for d, _, _ in net.captured}
    assert W.MSG_INITIATION in types and not types & {W.MSG_PAIR_INIT, W.MSG_PAIR_REPLY, W.MSG_PAIR_CONFIRM}
    assert a.p.ports[0].psk == psk and a.p.ports[0].pairings == 1
    assert up(a, net.now) and up(b, net.now)


def test_crossing_inits_pair_once_with_one_key() -> None:
    """Both ends know each other's address and start at once: the tie-break keeps one run."""
    for seed in range(1, 6):
        net, a, b = shared_pair(b_endpoint=True, seed=seed)
        net.advance(3)
        assert up(a, net.now) and up(b, net.now), seed
        assert a.p.ports[0].psk == b.p.ports[0].psk
        assert a.n.drops.get(Drop.PAIR_COLLISION, 0) + b.n.drops.get(Drop.PAIR_COLLISION, 0) == 1
        assert set(a.n.drops) | set(b.n.drops) <= {Drop.PAIR_COLLISION}


def test_a_restarted_side_pairs_again_and_traffic_resumes() -> None:
    net, a, b = shared_pair()
    net.advance(2)
    net.start(a, [shared(b.addr)])  # a lost everything: a new process, same static key
    net.advance(2)
    assert up(a, net.now) and up(b, net.now)
    assert b.p.ports[0].pairings == 2
    net.send_frame(a, frame(MAC_B, MAC_A, b"after restart"))
    net.run()
    assert b.tap_out[-1][14:] == b"after restart"


def test_the_forgetful_listener_is_paired_again_by_the_side_that_dials() -> None:
    """The listener (no endpoint) restarts: the dialer's handshakes go unanswered, so it pairs again."""
    net, a, b = shared_pair()
    net.advance(2)
    net.start(b, [shared(None)])
    net.send_frame(a, frame(MAC_B, MAC_A, b"lost"))
    net.advance(40)
    assert up(a, net.now) and up(b, net.now) and a.p.ports[0].pairings == 2
    net.send_frame(a, frame(MAC_B, MAC_A, b"found"))
    net.run()
    assert b.tap_out[-1][14:] == b"found"


def test_wrong_passphrase_no_tunnel_counted_and_rate_limited() -> None:
    net, a, b = shared_pair(b_pass=b"correct horse battery stable", passphrase_guesses=6)
    net.send_frame(a, frame(MAC_B, MAC_A, b"never delivered"))
    net.advance(600, step=1.0)  # ten minutes of trying
    assert b.tap_out == [] and a.tap_out == [] and not up(a, net.now) and not up(b, net.now)
    failed = a.n.drops.get(Drop.PAIR_FAILED, 0)
    inits = sum(1 for d, _, _ in net.captured if d[0] == W.MSG_PAIR_INIT)
    replies = sum(1 for d, _, _ in net.captured if d[0] == W.MSG_PAIR_REPLY)
    assert failed == replies > 0  # every reply was one (failed) guess of A's, counted by A
    assert replies <= 6 + 6 * 10  # B answered at most its budget: 6 at once, then 6 a minute
    assert inits <= 6 + 6 * 10  # and A started no more than its own budget allows
    assert not any(d[0] == W.MSG_PAIR_CONFIRM for d, _, _ in net.captured)
    assert a.p.ports[0].pairings == b.p.ports[0].pairings == 0


def _attacker_init(guess: bytes) -> bytes:
    msg, _ = pake.start(guess, 1, 7, random.Random(0).randbytes)
    return msg


def test_online_guesses_are_limited_per_source_prefix_and_in_all() -> None:
    net, _a, b = shared_pair(passphrase_guesses=10)
    p = b.p
    for i in range(8):  # one /24: PER_SOURCE_BURST answered, the rest unanswered
        p.on_datagram(_attacker_init(b"guess %d" % i), (f"203.0.113.{i + 1}", 4000), net.now)
    assert p.drops[Drop.PAIR_RATE] == 8 - PER_SOURCE_BURST
    assert sum(1 for m, _, _ in p.tx if m[0] == W.MSG_PAIR_REPLY) == PER_SOURCE_BURST
    for i in range(20):  # many prefixes: the total budget (10) caps them
        p.on_datagram(_attacker_init(b"other %d" % i), (f"198.51.{i}.7", 4000), net.now)
    assert sum(1 for m, _, _ in p.tx if m[0] == W.MSG_PAIR_REPLY) == 10
    assert p.drops[Drop.PAIR_RATE] == 8 - PER_SOURCE_BURST + 20 - (10 - PER_SOURCE_BURST)
    assert prefix(("2001:db8:1:2:3::9", 1)) == "2001:db8:1:2::/64" and prefix(("::ffff:192.0.2.9", 1)) == "192.0.2.0/24"


def test_pairing_garbage_is_one_counted_drop_and_changes_no_pairing() -> None:
    net, _a, b = shared_pair()
    net.advance(2)
    rng = random.Random(5)
    p = b.p
    peer = p.ports[0]
    before = (peer.public_key, peer.psk, peer.pairings)
    for t, n in [(5, 40), (5, 41), (6, 92), (6, 91), (7, 56), (7, 12), (5, 39)]:
        for _ in range(30):
            data = bytes([t, 1 if t == 5 else 0]) + rng.randbytes(n - 2)
            total = sum(p.drops.values())
            p.tx.clear()
            p.on_datagram(data, ("203.0.113.5", 1), net.now)  # never raises
            answered = [m for m, _, _ in p.tx if m[0] == W.MSG_PAIR_REPLY]
            assert sum(p.drops.values()) + len(answered) == total + 1  # a drop, or (a valid element) a reply
    assert (peer.public_key, peer.psk, peer.pairings) == before
    for reason in (Drop.BAD_LENGTH, Drop.UNKNOWN_INDEX, Drop.PAIR_FAILED, Drop.PAIR_RATE):
        assert p.drops.get(reason, 0) > 0, reason


def test_replayed_pairing_messages_pair_nobody() -> None:
    net, a, b = shared_pair()
    net.advance(2)
    recorded = [(d, s, t) for d, s, t in net.captured if d[0] in (5, 6, 7)]
    pairings = (a.p.ports[0].pairings, b.p.ports[0].pairings)
    for d, s, t in recorded:
        net.hosts[t].p.on_datagram(d, s, net.now)
        net.collect(net.hosts[t])
    net.run()
    assert (a.p.ports[0].pairings, b.p.ports[0].pairings) == pairings
    assert b.n.drops.get(Drop.UNKNOWN_INDEX, 0) >= 1 and a.n.drops.get(Drop.UNKNOWN_INDEX, 0) >= 1


def test_a_tampered_reply_or_confirm_completes_nothing() -> None:
    """Every clear byte of a reply is in the transcript T; the confirm is bound to T and the reply."""
    for where in (1, 4, 12, 50, 91):
        net, a, b = shared_pair()
        net.filter = lambda d, s, t, w=where, n=net: not (d[0] == W.MSG_PAIR_REPLY and _tamper(n, d, s, t, w))
        net.advance(3)
        assert a.p.ports[0].pairings == b.p.ports[0].pairings == 0, where
        assert a.n.drops.get(Drop.PAIR_FAILED, 0) >= 1, where
    net, a, b = shared_pair()
    net.filter = lambda d, s, t: not (d[0] == W.MSG_PAIR_CONFIRM and _tamper(net, d, s, t, 30))
    net.advance(3)
    assert b.p.ports[0].pairings == 0 and b.n.drops.get(Drop.PAIR_FAILED, 0) >= 1


def _tamper(net: object, d: bytes, src: object, dst: object, where: int) -> bool:
    """Deliver ``d`` with one byte flipped instead of the original (the filter then drops the original)."""
    bad = bytearray(d)
    bad[where] ^= 0x01
    host = net.hosts[dst]  # type: ignore[attr-defined, index]
    host.p.on_datagram(bytes(bad), src, net.now)  # type: ignore[attr-defined]
    net.collect(host)  # type: ignore[attr-defined]
    return True
