"""Test double: two native nodes that share only a passphrase (shared-secret mode), over the fake link."""

from __future__ import annotations

from tapliance.proto.events import Addr
from tapliance.proto.native.peer import PeerSpec
from tests.unit.pair import KEEPALIVE, Host, Net

PASSPHRASE = b"correct horse battery staple"


def shared(endpoint: Addr | None, passphrase: bytes = PASSPHRASE, keepalive: float = KEEPALIVE) -> PeerSpec:
    """A passphrase peer as assembly.peer_specs builds it: no public key (32 zero bytes), no psk."""
    return PeerSpec(bytes(32), "passphrase", endpoint, None, keepalive, passphrase=passphrase)


def shared_pair(
    *,
    a_pass: bytes = PASSPHRASE,
    b_pass: bytes = PASSPHRASE,
    b_endpoint: bool = False,
    keepalive: float = KEEPALIVE,
    seed: int = 1,
    **kw: object,
) -> tuple[Net, Host, Host]:
    """A knows B's address; B learns A's (unless ``b_endpoint``). Neither knows the other's key."""
    net = Net(seed)
    a = net.host("a", ("192.0.2.1", 9123))
    b = net.host("b", ("192.0.2.2", 9123))
    net.start(a, [shared(b.addr, a_pass, keepalive)], **kw)
    net.start(b, [shared(a.addr if b_endpoint else None, b_pass, keepalive)], **kw)
    return net, a, b


def up(h: Host, now: float) -> bool:
    return h.n.status(now)["peers"][0]["state"] == "up"  # type: ignore[no-any-return]
