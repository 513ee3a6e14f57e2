"""What a hub allows each peer (its switch port): talking to other clients, and how much it may put into
the switch. Isolation: two peers may exchange frames if both allow client-to-client traffic, or if they
share a group; every peer reaches the hub's own side (its TAP, and a bridged LAN behind it). At the
entrance: at most ``max_macs`` source MACs learnt behind the peer, and at most ``flood_rate`` frames per
second (burst twice that) that the switch must flood (broadcast, multicast, unknown unicast)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tapliance.proto.ratelimit import TokenBucket


@dataclass
class PortPolicy:
    client_to_client: bool = True
    group: str = ""
    max_macs: int = 0  # 0: no cap of its own
    flood_rate: float = 0.0  # 0: unlimited
    bucket: TokenBucket | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.flood_rate > 0:
            self.bucket = TokenBucket(self.flood_rate, 2 * self.flood_rate, 0.0)

    @property
    def open(self) -> bool:
        return self.client_to_client and not self.group


def may_talk(a: PortPolicy, b: PortPolicy) -> bool:
    return (a.client_to_client and b.client_to_client) or (bool(a.group) and a.group == b.group)


OPEN = PortPolicy()
