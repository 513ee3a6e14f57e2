"""Control-plane events the core reports to the runtime (which logs them). Small and frozen."""

from __future__ import annotations

from dataclasses import dataclass

Addr = tuple[str, int]


@dataclass(frozen=True)
class HandshakeCompleted:
    peer: str
    endpoint: Addr
    initiator: bool
    rekey: bool


@dataclass(frozen=True)
class EndpointChanged:
    """A peer's endpoint was learned (old is None: discovery) or moved (roaming)."""

    peer: str
    old: Addr | None
    new: Addr


@dataclass(frozen=True)
class PeerDown:
    peer: str
    reason: str


@dataclass(frozen=True)
class PeerNotice:
    """A line about a peer for the operator, from its codec (an otp pad running low or used up)."""

    peer: str
    level: str  # "info" | "warning" | "error"
    message: str


@dataclass(frozen=True)
class ConnectionChanged:
    """A stream peer's connection came up (``up``) or ended (``reason`` says why)."""

    peer: str
    endpoint: Addr | None
    up: bool
    reason: str = ""


@dataclass(frozen=True)
class NetworkAssigned:
    """A server handed us addresses (QuickTun TCP command 11), or a peer a route (command 12)."""

    peer: str
    config: object  # tapliance.proto.qtcp.wire.NetworkConfig or RouteUpdate


Event = HandshakeCompleted | EndpointChanged | PeerDown | ConnectionChanged | NetworkAssigned | PeerNotice
