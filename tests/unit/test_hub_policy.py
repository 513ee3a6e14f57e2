"""The hub's switch rules per peer: isolation and groups, the MAC cap, the flood limit, flaps, aging."""

from __future__ import annotations

from typing import Any

from tapliance.proto.drops import Drops
from tapliance.proto.events import PeerNotice
from tapliance.proto.hubpolicy import PortPolicy
from tapliance.proto.protocol import Context, Frame, Port, Protocol
from tapliance.proto.switch import Switch


class Sink(Protocol[Port]):
    transport = "none"

    def __init__(self, ctx: Context, names: list[str]) -> None:
        super().__init__(ctx)
        self.ports = [Port(n, self, vnet=False) for n in names]
        self.sent: list[tuple[str, bytes]] = []

    def send(self, port: Port, frame: Frame, flags: int, now: float, flood: bool = False) -> None:
        self.sent.append((port.name, bytes(frame)))

    def on_timer(self, now: float) -> float:
        return now + 1

    def status(self, now: float) -> dict[str, Any]:
        return {}

    def port_status(self, port: Port, now: float) -> dict[str, Any]:
        return {}


def mac(i: int) -> bytes:
    return bytes([2, 0, 0, 0, i >> 8, i & 0xFF])


def eth(dst: bytes, src: bytes) -> bytes:
    return dst + src + b"\x08\x00" + bytes(46)


def hub(policies: dict[str, PortPolicy]) -> tuple[Switch, Sink, dict[str, Port]]:
    ctx = Context(bytes, 0.0)
    sink = Sink(ctx, list(policies))
    ports = {p.name: p for p in sink.ports}
    for name, pol in policies.items():
        ports[name].policy = pol
    sw = Switch([sink], tap_vnet=False, drops=ctx.drops, events=ctx.events)
    return sw, sink, ports


def test_isolated_clients_reach_the_hub_side_and_their_group_only() -> None:
    sw, sink, ports = hub(
        {
            "a": PortPolicy(client_to_client=False),
            "b": PortPolicy(),
            "c": PortPolicy(group="g"),
            "d": PortPolicy(client_to_client=False, group="g"),
        }
    )
    for i, name in enumerate("abcd", 1):
        sw.ingress(ports[name], eth(b"\xff" * 6, mac(i)), 0, 1.0)  # learn everyone (broadcasts)
    sink.sent.clear()
    sw.to_tap.clear()
    sw.ingress(ports["a"], eth(mac(2), mac(1)), 0, 2.0)  # a -> b: a is isolated
    sw.ingress(ports["d"], eth(mac(3), mac(4)), 0, 2.0)  # d -> c: same group
    sw.ingress(ports["b"], eth(mac(3), mac(2)), 0, 2.0)  # b -> c: both allow client-to-client
    sw.ingress(ports["b"], eth(mac(4), mac(2)), 0, 2.0)  # b -> d: d is isolated (its group is not b's)
    sw.ingress(ports["a"], eth(b"\xff" * 6, mac(1)), 0, 2.0)  # a's broadcast: the hub only
    assert sink.sent == [("c", eth(mac(3), mac(4))), ("c", eth(mac(3), mac(2)))]
    assert sw.drops["isolated"] == 2
    assert sw.to_tap == [eth(b"\xff" * 6, mac(1))]


def test_a_mac_flood_fills_only_its_own_share() -> None:
    sw, _sink, ports = hub({"a": PortPolicy(max_macs=10), "b": PortPolicy(max_macs=10)})
    sw.ingress(ports["b"], eth(b"\xff" * 6, mac(1)), 0, 1.0)
    for i in range(100, 1100):
        sw.ingress(ports["a"], eth(mac(1), mac(i)), 0, 1.0)
    assert sw.macs.per_port[ports["a"]] == 10 and sw.macs.lookup(mac(1), 1.0) is ports["b"]
    assert sw.drops["mac_limit"] == 990


def test_floods_over_the_rate_are_dropped_and_a_flap_is_logged() -> None:
    sw, sink, ports = hub({"a": PortPolicy(flood_rate=10), "b": PortPolicy()})
    for _ in range(100):
        sw.ingress(ports["a"], eth(b"\xff" * 6, mac(1)), 0, 5.0)
    assert sw.drops["flood_limited"] == 80  # the burst is twice the rate
    sw.ingress(ports["b"], eth(b"\xff" * 6, mac(1)), 0, 6.0)  # mac 1 moves from a to b
    assert sw.macs.flaps == 1
    assert any(isinstance(e, PeerNotice) and "moved here from a" in e.message for e in sw.events)
    sw.macs.expire(6.0 + 301)
    assert len(sw.macs) == 0 and not sw.macs.per_port
    assert isinstance(sink, Sink) and isinstance(sw.drops, Drops)
