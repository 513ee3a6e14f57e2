"""The net planner: config -> desired state for bridge, NAT and routes; contradictions -> NetError(2)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tapliance import config as C
from tapliance.net import plan as P
from tapliance.net.errors import NetError


def cfg(text: str) -> C.Config:
    return C.parse(tomllib.loads(text), Path("t.toml"))


BRIDGE = """
[interface]
name = "tap0"
[bridge]
name = "br0"
ports = ["eth1", "eth2"]
stp = true
forward_delay = 4
addresses = ["192.168.1.2/24", "fd01::2/64"]
take_over = "eth1"
"""

NAT = """
[interface]
name = "tap0"
addresses = ["10.1.2.3/24", "fd00::1/64", "fe80::1/64"]
[nat]
uplink = "eth0"
[[route]]
to = "192.168.1.0/24"
via = "10.1.2.4"
[[route]]
to = "fd02::/64"
via = "fd00::2"
dev = "eth9"
"""


def test_empty_config_plans_nothing() -> None:
    p = P.build(cfg("[interface]\nname = 'tap0'\n"))
    assert p.empty and p.sysctls == () and p.required_devices() == ("tap0",)


def test_bridge_plan() -> None:
    p = P.build(cfg(BRIDGE))
    assert p.bridge == P.BridgePlan(
        name="br0",
        tap="tap0",
        ports=("tap0", "eth2", "eth1"),  # take_over enslaved last
        stp=True,
        forward_delay_cs=400,
        addresses=("192.168.1.2/24", "fd01::2/64"),
        take_over="eth1",
    )
    assert p.nat is None and p.sysctls == ()
    assert p.required_devices() == ("tap0", "eth2", "eth1")


def test_nat_plan_sources_default_to_tunnel_networks_and_v6_turns_on_v6_forwarding() -> None:
    p = P.build(cfg(NAT))
    assert p.nat == P.NatPlan(
        table="tapliance_tap0", tunnel_dev="tap0", uplink="eth0", masquerade=True, sources=("10.1.2.0/24", "fd00::/64")
    )  # link-local left out
    assert p.sysctls == (P.Sysctl("net/ipv4/ip_forward", "1"), P.Sysctl("net/ipv6/conf/all/forwarding", "1"))
    assert p.routes == (P.RoutePlan("192.168.1.0/24", "10.1.2.4", "tap0"), P.RoutePlan("fd02::/64", "fd00::2", "eth9"))
    assert str(p.routes[0]) == "route 192.168.1.0/24 via 10.1.2.4 dev tap0"
    assert p.required_devices() == ("tap0", "eth0", "eth9")


def test_nat_explicit_v4_sources_only_v4_forwarding() -> None:
    p = P.build(cfg(NAT.replace('uplink = "eth0"', 'uplink = "eth0"\nsources = ["10.9.0.0/16"]')))
    assert p.nat is not None and p.nat.sources == ("10.9.0.0/16",)
    assert p.sysctls == (P.Sysctl("net/ipv4/ip_forward", "1"),)


def test_nat_with_bridge_uses_the_bridge_as_tunnel_side_and_routes_default_to_it() -> None:
    text = BRIDGE + '[nat]\nuplink = "eth0"\n[[route]]\nto = "192.168.9.0/24"\nvia = "192.168.1.1"\n'
    p = P.build(cfg(text))
    assert p.nat is not None and p.nat.tunnel_dev == "br0" and p.nat.sources == ("192.168.1.0/24", "fd01::/64")
    assert p.routes[0].dev == "br0"
    assert "br0" not in p.required_devices()


def test_table_name_is_per_interface() -> None:
    assert P.table_name("tap0") != P.table_name("tap1")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            BRIDGE.replace('ports = ["eth1", "eth2"]', 'ports = ["eth1", "tap0"]'),
            "bridge br0: lists the tunnel interface tap0 as a port; it is added anyway",
        ),
        (BRIDGE.replace('name = "br0"', 'name = "tap0"'), "bridge tap0: has the name of the tunnel interface"),
        (
            BRIDGE.replace('name = "tap0"', 'name = "tap0"\naddresses = ["10.0.0.1/24"]'),
            "interface tap0: has addresses but is a port of bridge br0; put them in bridge.addresses",
        ),
        (NAT.replace('uplink = "eth0"', 'uplink = "tap0"'), "nat.uplink tap0: is the tunnel side itself"),
        (BRIDGE + '[nat]\nuplink = "eth2"\n', "nat.uplink eth2: is a port of bridge br0 and has no L3 of its own"),
        ('[interface]\nname = "tap0"\n[nat]\nuplink = "eth0"\n', "nat: no tunnel networks to forward"),
        (
            BRIDGE + '[[route]]\nto = "10.0.0.0/8"\ndev = "eth2"\n',
            "route 10.0.0.0/8: dev eth2 is a port of bridge br0; route via the bridge",
        ),
        (NAT + '[[route]]\nto = "192.168.1.0/24"\n', "route 192.168.1.0/24: listed twice"),
    ],
)
def test_contradictions_are_bad_input(text: str, message: str) -> None:
    with pytest.raises(NetError) as e:
        P.build(cfg(text))
    assert e.value.exit_code == 2
    assert str(e.value).startswith(message)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('[bridge]\nname = "br0"\nports = ["br0"]', "bridge.ports[0]: 'br0' is the bridge itself"),
        ('[bridge]\nname = "br0"\nports = ["e1", "e1"]', "bridge.ports[1]: 'e1' is listed twice"),
        (
            '[bridge]\nname = "br0"\naddresses = ["10.0.0.1/24", "10.0.0.1/16"]',
            "bridge.addresses[1]: 10.0.0.1 is listed twice",
        ),
        ('[bridge]\nname = "br0"\ntake_over = "eth1"', "bridge.take_over: 'eth1' must also be listed in bridge.ports"),
        ('[bridge]\nname = "br0"\nforward_delay = 1', "bridge.forward_delay: must be between 2 and 30"),
        ("[bridge]\nports = []", "bridge.name: missing"),
        ("[nat]\nmasquerade = true", "nat.uplink: missing"),
        ('[nat]\nuplink = "e0"\nsources = ["10.0.0.0/8", "10.0.0.0/8"]', "nat.sources[1]: 10.0.0.0/8 is listed twice"),
        ('[nat]\nuplink = "e0"\nsources = ["nope"]', "nat.sources[0]: not an IP network"),
        ('[[route]]\nto = "10.0.0.1/8"', "route[0].to: not a network address"),
        ('[[route]]\nto = "fd00::/8"\nvia = "10.0.0.1"', "route[0].via: IPv4 gateway for an IPv6 route"),
    ],
)
def test_config_errors_in_net_sections(section: str, message: str) -> None:
    with pytest.raises(C.ConfigError) as e:
        cfg(section)
    assert str(e.value).startswith(f"t.toml: {message}")


def test_apply_and_teardown_without_sections_do_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tapliance import net

    monkeypatch.setenv("TAPLIANCE_STATE_DIR", str(tmp_path / "state"))
    c = cfg("[interface]\nname = 'tap0'\n")
    assert net.apply(c) == []
    assert net.teardown(c) == []  # nothing journaled: a no-op, not an error
    assert not list((tmp_path / "state").glob("*.json"))
