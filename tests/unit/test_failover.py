"""``transport = "auto"``'s carrier rule (proto/failover.py) at the dialling end, on stand-ins for its two
members: how soon UDP silence puts the TCP member to work, and that a hangup we asked for does not delay
the next dial."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

from tapliance.proto import failover as FO
from tapliance.proto.native.peer import PeerSpec
from tapliance.proto.protocol import Context
from tests.unit.pair import MAC_A, MAC_B, Net, frame

T0 = 1000.0


class Udp(SimpleNamespace):
    def usable(self, now: float, reject_after: float) -> object | None:
        return self.session


def members() -> tuple[Any, Any]:
    udp = Udp(endpoint=("192.0.2.1", 9123), session=object(), last_received=T0, vnet=False)
    udp.protocol = SimpleNamespace(reject_after=180.0)
    tcp = SimpleNamespace(spec=SimpleNamespace(endpoint=("192.0.2.1", 443)), conn=None, next_dial=-math.inf, vnet=False)
    tcp.protocol = SimpleNamespace(hangup=lambda port, why: setattr(port, "conn", None))
    return udp, tcp


def auto() -> tuple[FO.FailoverProtocol, Any, Any]:
    udp, tcp = members()
    proto = FO.FailoverProtocol(Context(random=bytes, unix_offset=0.0), [("s", udp, tcp)], T0)
    return proto, udp, tcp


def test_udp_silence_takes_tcp_out_of_standby_and_asks_for_the_next_pass_at_once() -> None:
    proto, udp, tcp = auto()
    assert tcp.standby
    assert proto.on_timer(T0 + 1) == T0 + 1 + FO.TICK  # UDP heard: TCP stays in standby
    assert tcp.standby and proto.ports[0].carrier is udp
    now = T0 + FO.UDP_ALIVE + 0.01
    assert proto.on_timer(now) == now  # the TCP member dials in the very next pass, not a tick later
    assert not tcp.standby
    tcp.conn = SimpleNamespace(enabled=True)
    proto.on_timer(now + 0.1)
    assert proto.ports[0].carrier is tcp
    assert any("carried over TCP" in e.message for e in proto.events)


def test_a_hangup_because_udp_works_again_does_not_hold_back_the_next_dial() -> None:
    proto, udp, tcp = auto()
    tcp.conn = SimpleNamespace(enabled=True)
    tcp.next_dial = T0 + 60  # what the TCP protocol's backoff set when we hung up
    for t in (T0 + 1, T0 + 2, T0 + 1 + FO.GRACE):
        udp.last_received = t
        proto.on_timer(t)
    assert tcp.conn is None and tcp.standby  # UDP worked for GRACE seconds: TCP was hung up
    now = T0 + 1 + FO.GRACE + FO.UDP_ALIVE + 0.01
    assert proto.on_timer(now) == now
    assert not tcp.standby and tcp.next_dial == now


def test_before_udp_ever_worked_tcp_waits_for_fallback_after() -> None:
    proto, udp, tcp = auto()
    udp.session = None  # no handshake completed yet
    assert proto.on_timer(T0 + FO.FALLBACK_AFTER - 0.1) == T0 + FO.FALLBACK_AFTER - 0.1 + FO.TICK
    assert tcp.standby
    now = T0 + FO.FALLBACK_AFTER
    assert proto.on_timer(now) == now and not tcp.standby


def test_the_answering_end_falls_silent_a_keepalive_after_it_stops_hearing_the_far_end() -> None:
    """The mirror rule (native/timers.py): the dialling end must see UDP go quiet soon after its own
    datagrams stop arriving, or it keeps trusting a one-way path for another UDP_ALIVE seconds."""
    net = Net()
    a, b = net.host("a", ("192.0.2.1", 9123)), net.host("b", ("192.0.2.2", 9123))
    net.start(a, [PeerSpec(b.public, "b", b.addr, None, FO.KEEPALIVE)])
    net.start(b, [PeerSpec(a.public, "a", None, None, FO.KEEPALIVE, mirror=True)])
    net.send_frame(a, frame(MAC_B, MAC_A, b"hello"))
    net.run()
    net.advance(3, step=0.05)
    assert b.tap_out and a.p.ports[0].usable(net.now, 180.0) is not None
    blocked_at, heard = net.now, []  # when a hears b

    def one_way(d: bytes, src: object, dst: object) -> bool:  # a's datagrams stop reaching b
        if dst == a.addr:
            heard.append(net.now)
        return dst != b.addr

    net.filter = one_way
    net.advance(4, step=0.05)
    last_heard = b.p.ports[0].last_received
    assert last_heard <= blocked_at and heard and max(heard) - last_heard <= FO.KEEPALIVE + 0.25 + 0.1, heard
