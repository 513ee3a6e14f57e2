"""Learnt endpoints are remembered across a restart, for peers configured without one."""

from __future__ import annotations

from pathlib import Path

from tapliance.proto.events import EndpointChanged
from tapliance.runtime.endpoints import Endpoints
from tests.unit.pair import pair


def test_a_learnt_endpoint_is_given_back_after_a_restart(tmp_path: Path) -> None:
    net, a, b = pair()
    net.send_frame(a, bytes(14) + b"x" * 50)
    net.run()
    (peer,) = b.p.ports
    assert peer.endpoint == a.addr
    mem = Endpoints(tmp_path / "tl0.endpoints.json", b.p)
    mem.on_event(EndpointChanged(peer.name, None, a.addr))
    _net2, _a2, b2 = pair()  # b "restarted": its peer knows no address
    assert b2.p.ports[0].endpoint is None
    again = Endpoints(tmp_path / "tl0.endpoints.json", b2.p)
    b2.p.peers[a.public] = b2.p.peers.pop(b2.p.ports[0].public_key)  # the same peer key as before
    b2.p.peers[a.public].public_key = a.public
    assert again.restore(configured=set()) == 1
    assert b2.p.peers[a.public].endpoint == a.addr
    assert again.restore(configured={a.public}) == 0  # a configured endpoint always wins
