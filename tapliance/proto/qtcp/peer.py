"""A peer of the QuickTun TCP protocol: what the config says of it, and its switch port with the state of
its (one) connection."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tapliance.proto.events import Addr
from tapliance.proto.protocol import Port, Protocol
from tapliance.proto.qtcp import wire as Q
from tapliance.proto.qtcp.policy import Policy

if TYPE_CHECKING:
    from tapliance.proto.qtcp.session import Connection


@dataclass(frozen=True)
class TcpPeerSpec:
    name: str
    public_key: bytes | None  # None: an anonymous client, known by its password
    endpoint: Addr | None  # set: we dial it
    policy: Policy
    assign: Q.NetworkConfig | None = None  # what we hand this client (command 11)
    push_routes: tuple[Q.RouteUpdate, ...] = ()  # routing updates we send it (command 12)


class TcpPeer(Port):
    def __init__(self, spec: TcpPeerSpec, protocol: Protocol[Any]) -> None:
        super().__init__(spec.name, protocol, vnet=False)
        self.spec = spec
        self.conn: Connection | None = None
        self.endpoint: Addr | None = None  # the far end's address on the current connection
        self.next_dial = -math.inf
        self.backoff = 1.0
        self.dialling: int | None = None
        self.dial_at = 0.0
        self.standby = False  # transport auto: not dialled while UDP works (proto/failover.py)
        self.hung_up = False  # we closed the connection ourselves (hangup): no failure, so no backoff
        self.reason = "not connected yet"
