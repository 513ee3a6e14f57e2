"""``transport = "auto"``'s carrier rule (proto/failover.py) at the dialling end, on stand-ins for its two
members: how soon UDP silence puts the TCP member to work; that the node runs the rule before the TCP
protocol's timer, so the member dials in the same pass; and that a hangup we asked for does not start the
TCP protocol's backoff."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tapliance import config as C
from tapliance import keyfile
from tapliance.assembly import Keys, build_node
from tapliance.proto import failover as FO
from tapliance.proto.native.peer import PeerSpec
from tapliance.proto.protocol import Context
from tapliance.proto.qtcp.policy import Policy
from tapliance.proto.qtcp.protocol import QtcpProtocol
from tests.unit.pair import MAC_A, MAC_B, Net, frame
from tests.unit.qtcp_pair import Stream

T0 = 1000.0


class Udp(SimpleNamespace):
    def usable(self, now: float, reject_after: float) -> object | None:
        return self.session


def members() -> tuple[Any, Any]:
    udp = Udp(endpoint=("192.0.2.1", 9123), session=object(), last_received=T0, vnet=False)
    udp.protocol = SimpleNamespace(reject_after=180.0)
    tcp = SimpleNamespace(spec=SimpleNamespace(endpoint=("192.0.2.1", 443)), conn=None, vnet=False)
    tcp.protocol = SimpleNamespace(hangup=lambda port, why: setattr(port, "conn", None))
    return udp, tcp


def auto() -> tuple[FO.FailoverProtocol, Any, Any]:
    udp, tcp = members()
    proto = FO.FailoverProtocol(Context(random=bytes, unix_offset=0.0), [("s", udp, tcp)], T0)
    return proto, udp, tcp


def test_udp_silence_takes_tcp_out_of_standby_at_the_next_tick() -> None:
    proto, udp, tcp = auto()
    assert tcp.standby
    assert proto.on_timer(T0 + 1) == T0 + 1 + FO.TICK  # UDP heard: TCP stays in standby
    assert tcp.standby and proto.ports[0].carrier is udp
    proto.on_timer(T0 + FO.UDP_ALIVE + 0.01)
    assert not tcp.standby
    tcp.conn = SimpleNamespace(enabled=True)
    proto.on_timer(T0 + FO.UDP_ALIVE + 0.1)
    assert proto.ports[0].carrier is tcp
    assert any("carried over TCP" in e.message for e in proto.events)


def test_before_udp_ever_worked_tcp_waits_for_fallback_after() -> None:
    proto, udp, tcp = auto()
    udp.session = None  # no handshake completed yet
    proto.on_timer(T0 + FO.FALLBACK_AFTER - 0.1)
    assert tcp.standby
    proto.on_timer(T0 + FO.FALLBACK_AFTER)
    assert not tcp.standby


def test_the_node_runs_the_carrier_rule_before_the_tcp_protocol_so_a_fallback_dials_in_the_same_pass(
    tmp_path: Path,
) -> None:
    (tmp_path / "host.key").write_text(keyfile.encode(keyfile.generate_private()) + "\n")
    (tmp_path / "host.key").chmod(0o600)
    peer = keyfile.encode(keyfile.public_from_private(keyfile.generate_private()))
    (tmp_path / "t.toml").write_text(
        '[tunnel]\nprivate_key_file = "host.key"\ntcp_listen = ":443"\n'
        f'[[peer]]\npublic_key = "{peer}"\ntransport = "auto"\nendpoint = "192.0.2.1:9123"\n'
        'tcp_endpoint = "192.0.2.1:443"\n'
    )
    cfg = C.load(tmp_path / "t.toml")
    b = build_node(cfg, Keys(cfg), tap_vnet=False, random=bytes, now=T0, unix_offset=0.0)
    kinds = [type(p) for p in b.node.protocols]
    assert kinds.index(FO.FailoverProtocol) < kinds.index(QtcpProtocol), kinds
    assert b.tcp is not None and b.tcp.ports[0].standby  # no dial while UDP may yet work
    b.node.on_timer(T0 + 1)
    assert not b.tcp.dial
    b.node.on_timer(T0 + FO.FALLBACK_AFTER)  # no UDP session: fall back, and dial in this very pass
    assert [addr for _, addr in b.tcp.dial] == [("192.0.2.1", 443)]


def test_a_hangup_we_asked_for_leaves_no_backoff_and_a_lost_connection_does() -> None:
    s = Stream(Policy(encryption="off"), Policy(encryption="off"), server_knows_key=False)
    s.pump()
    peer = s.client.proto.ports[0]
    assert peer.conn is not None and peer.conn.enabled, peer.reason
    s.client.proto.hangup(peer, "UDP works again")
    assert s.client.proto.close == [s.handle]
    s.client.proto.on_closed(s.handle, s.now)
    assert peer.conn is None and peer.next_dial == s.now and peer.backoff == 1.0
    s.client.proto.close.clear()
    s.client.proto.on_timer(s.now)  # redialled at once
    ((handle, _),) = s.client.proto.dial
    s.client.proto.on_connected(handle, ("192.0.2.1", 443), s.now)
    s.server.proto.on_closed(s.accepted, s.now)
    s.server.proto.on_connected(s.accepted, ("192.0.2.50", 40001), s.now)
    s.handle = handle
    s.pump()
    assert peer.conn is not None and peer.conn.enabled, peer.reason
    s.client.proto.on_closed(handle, s.now)  # the far end went away: that is a failure, back off
    assert peer.next_dial > s.now and peer.backoff == 2.0


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
