"""Handshake floods (cookie.py): a rate per source network (/24, /64) and a budget of measured CPU time.

A mac1-valid initiation from an unknown key costs the responder a DH; here the responder's CPU clock is
a fake that moves a fixed amount per handshake, so "under load" is decided exactly as in the daemon
(where the runtime passes time.process_time) but deterministically.
"""

from __future__ import annotations

import os

import pytest

from tapliance.keyfile import generate_private, public_from_private
from tapliance.proto.native import constants as K
from tapliance.proto.native import handshake as hs
from tapliance.proto.native import wire as W
from tapliance.proto.native.cookie import source_network
from tapliance.proto.ratelimit import CpuBudget
from tests.unit.pair import MAC_A, MAC_B, frame, pair

COST = 0.0005  # fake CPU seconds per metered handshake


class FakeCpu:
    """Moves COST per call: a handshake is metered between two calls, so it costs COST."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += COST
        return self.t


def stranger_initiation(responder_public: bytes, now: float, index: int = 1) -> bytes:
    """A mac1-valid initiation from a key the responder does not know (costs it a DH, then unknown_peer)."""
    msg, _ = hs.create_initiation(
        suite=1,
        static_private=(k := generate_private()),
        static_public=public_from_private(k),
        peer_public=responder_public,
        peer_mac1_key=hs.mac1_key(responder_public),
        sender_index=index,
        ephemeral_private=os.urandom(32),
        unix_time=now + 1.7e9,
        cookie=None,
        caps=0,
    )
    return msg


def test_source_networks_are_slash_24_and_slash_64() -> None:
    assert source_network("192.0.2.1") == source_network("192.0.2.254") != source_network("192.0.3.1")
    assert source_network("2001:db8:0:1::1") == source_network("2001:db8:0:1:ffff::9")
    assert source_network("2001:db8:0:1::1") != source_network("2001:db8:0:2::1")


@pytest.mark.parametrize(("same", "other"), [("198.51.100.", "198.51.101.7"), ("2001:db8:1:2::", "2001:db8:1:3::1")])
def test_one_network_gets_its_rate_and_no_more(same: str, other: str) -> None:
    net, _a, b = pair(handshake_rate=5)
    msg = stranger_initiation(b.public, net.now)
    for i in range(12):  # 12 hosts of one network at one instant: 5 processed, 7 dropped unanswered
        b.p.on_datagram(msg, (f"{same}{i + 1}", 4000), net.now)
    assert b.n.drops.get("unknown_peer") == 5
    assert b.n.drops.get("handshake_rate_limited") == 7
    assert b.p.tx == []  # not even cookie replies: a network over its rate gets nothing
    b.p.on_datagram(msg, (other, 4000), net.now)  # another network is not affected
    assert b.n.drops.get("unknown_peer") == 6
    b.p.on_datagram(msg, (f"{same}1", 4000), net.now + 0.2)  # one token back after 1/5 s
    assert b.n.drops.get("unknown_peer") == 7


def test_the_source_table_is_bounded() -> None:
    net, _a, b = pair()
    msg = stranger_initiation(b.public, net.now)
    for i in range(K.MAX_SOURCES + 300):
        b.p.on_datagram(msg, (f"10.{i // 256 % 256}.{i % 256}.1", 4000), net.now + i * 1e-3)
    assert len(b.p.cookies.sources) == K.MAX_SOURCES
    assert b.p.status(net.now)["handshake_sources"] == K.MAX_SOURCES


def test_a_flood_from_many_networks_spends_the_cpu_budget_then_gets_cookies() -> None:
    """Each network stays under its rate; the measured CPU time puts the responder under load."""
    cpu = FakeCpu()
    net, _a, b = pair(handshake_cpu=0.01, cpu_time=cpu)
    msg = stranger_initiation(b.public, net.now)
    budget = int(0.01 * K.HANDSHAKE_CPU_WINDOW / COST)  # 20 handshakes' worth
    for i in range(100):
        b.p.on_datagram(msg, (f"10.1.{i}.1", 4000), net.now)
    assert b.n.drops.get("unknown_peer") == budget
    assert b.n.drops.get("handshake_under_load") == 100 - budget
    assert len(b.p.tx) == 100 - budget and all(d[0] == W.MSG_COOKIE and len(d) == W.COOKIE_LEN for d, _, _ in b.p.tx)
    st = b.p.status(net.now)
    assert st["under_load"] is True and st["handshake_cpu_s"] == pytest.approx(budget * COST)
    assert b.p.status(net.now + 2 * K.HANDSHAKE_CPU_WINDOW)["under_load"] is False  # refilled, debt repaid


def test_under_load_a_peer_with_a_cookie_still_gets_in() -> None:
    cpu = FakeCpu()
    net, a, b = pair(handshake_cpu=0.01, cpu_time=cpu)
    flood = stranger_initiation(b.public, net.now)
    under: list[bool] = []

    def flood_first(d: bytes, src: object, dst: object) -> bool:
        if d[0] == W.MSG_INITIATION and dst == b.addr:  # a flood arrives just before each of A's initiations
            for i in range(40):
                b.p.on_datagram(flood, (f"10.2.{i}.1", 4000), net.now)
            under.append(b.p.cookies.under_load(net.now))
        return True

    net.filter = flood_first
    net.send_frame(a, frame(MAC_B, MAC_A, b"hello"))
    net.run()  # A's initiation is answered with a cookie reply, which A stores
    assert under == [True] and a.p.ports[0].handshakes == 0
    net.advance(6)  # A's retransmission carries mac2: processed although B is under load
    assert under == [True, True] and a.p.ports[0].handshakes == 1
    assert b.tap_out and b.tap_out[-1].endswith(b"hello")
    assert b.n.drops["handshake_under_load"] == 2 * (40 - 20) + 1


def test_the_cpu_budget_bucket() -> None:
    b = CpuBudget(0.1, 1.0, now=0.0)
    assert not b.exhausted(0.0)
    b.charge(0.05, 0.0)
    assert not b.exhausted(0.0)
    b.charge(0.5, 0.0)  # overdrawn by at most one bucketful
    assert b.level == pytest.approx(-0.1) and b.exhausted(0.0) and b.spent == pytest.approx(0.55)
    assert b.exhausted(0.9) and not b.exhausted(1.1)  # 0.1 CPU-s/s repays the debt, then refills
    assert b.level <= 0.1
    b.charge(-1.0, 2.0)  # a clock going backwards charges nothing
    assert b.spent == pytest.approx(0.55)
