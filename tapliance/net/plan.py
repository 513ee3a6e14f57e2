"""Config -> desired host state, as plain data. No I/O: everything here is unit-tested without root.

The plan is what ``apply`` converges the host to and what ``show`` compares the host against. It keeps
addresses and networks as strings (``"10.1.2.3/24"``) because that is how they are journaled and shown.

Cross-section rules that need no host knowledge are checked here (exit code 2), e.g. the TAP listed as
a bridge port (it is always added), an address on the TAP while it is bridged (a bridge port has no L3),
NAT out of the bridge the tunnel is part of.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from tapliance.config import Config
from tapliance.net.errors import NetError

SYSCTL_V4_FORWARD = "net/ipv4/ip_forward"
SYSCTL_V6_FORWARD = "net/ipv6/conf/all/forwarding"
CENTISECONDS = 100  # IFLA_BR_FORWARD_DELAY is in clock_t (USER_HZ = 100), not seconds


@dataclass(frozen=True)
class BridgePlan:
    name: str
    tap: str
    ports: tuple[str, ...]  # enslave order: the TAP, the extra ports, the take_over port last
    stp: bool
    forward_delay_cs: int
    addresses: tuple[str, ...]  # the bridge's own addresses from the config (not the taken-over ones)
    take_over: str | None


@dataclass(frozen=True)
class NatPlan:
    table: str  # nftables table (family inet) owned by this tunnel; replaced as a whole
    tunnel_dev: str  # the TAP, or the bridge when the TAP is bridged
    uplink: str
    masquerade: bool
    sources: tuple[str, ...]  # networks allowed from the tunnel out of the uplink


@dataclass(frozen=True)
class RoutePlan:
    dst: str
    gateway: str | None
    dev: str

    def __str__(self) -> str:
        via = f" via {self.gateway}" if self.gateway else ""
        return f"route {self.dst}{via} dev {self.dev}"


@dataclass(frozen=True)
class Sysctl:
    path: str  # below /proc/sys, slash-separated
    value: str


@dataclass(frozen=True)
class Plan:
    tap: str
    tap_mtu: int
    bridge: BridgePlan | None
    nat: NatPlan | None
    routes: tuple[RoutePlan, ...]
    sysctls: tuple[Sysctl, ...]

    @property
    def empty(self) -> bool:
        return self.bridge is None and self.nat is None and not self.routes

    def required_devices(self) -> tuple[str, ...]:
        """Devices that must exist before apply (the bridge is created, so it is not among them)."""
        names = [self.tap]
        if self.bridge:
            names += self.bridge.ports
        if self.nat:
            names.append(self.nat.uplink)
        bridge = self.bridge.name if self.bridge else None
        names += [r.dev for r in self.routes if r.dev != bridge]
        return tuple(dict.fromkeys(names))


def table_name(ifname: str) -> str:
    """One nftables table per tunnel interface, so two daemons on a box never touch each other's rules."""
    return f"tapliance_{ifname}"


def build(cfg: Config) -> Plan:
    """Turn ``cfg`` into a :class:`Plan`; raise :class:`NetError` (exit 2) on contradictory sections."""
    tap = cfg.interface.name
    bridge = _bridge(cfg) if cfg.bridge else None
    tunnel_dev = bridge.name if bridge else tap
    nat = _nat(cfg, tunnel_dev) if cfg.nat else None
    routes = tuple(_route(cfg, r.to, r.via, r.dev, tunnel_dev) for r in cfg.routes)
    for i, r in enumerate(routes):
        if r.dst in [x.dst for x in routes[:i]]:
            raise NetError(f"route {r.dst}: listed twice")
    sysctls: list[Sysctl] = []
    if nat:
        versions = {ipaddress.ip_network(s).version for s in nat.sources}
        if 4 in versions:
            sysctls.append(Sysctl(SYSCTL_V4_FORWARD, "1"))
        if 6 in versions:
            sysctls.append(Sysctl(SYSCTL_V6_FORWARD, "1"))
    return Plan(tap, cfg.tap_mtu, bridge, nat, routes, tuple(sysctls))


def _bridge(cfg: Config) -> BridgePlan:
    b = cfg.bridge
    assert b is not None
    tap = cfg.interface.name
    if b.name == tap:
        raise NetError(f"bridge {b.name}: has the name of the tunnel interface")
    if tap in b.ports:
        raise NetError(f"bridge {b.name}: lists the tunnel interface {tap} as a port; it is added anyway")
    if cfg.interface.addresses:
        raise NetError(f"interface {tap}: has addresses but is a port of bridge {b.name}; put them in bridge.addresses")
    extra = [p for p in b.ports if p != b.take_over]
    ports = (tap, *extra, *([b.take_over] if b.take_over else []))
    return BridgePlan(
        b.name,
        tap,
        ports,
        b.stp,
        round(b.forward_delay * CENTISECONDS),
        tuple(str(a) for a in b.addresses),
        b.take_over,
    )


def _nat(cfg: Config, tunnel_dev: str) -> NatPlan:
    n = cfg.nat
    assert n is not None
    if n.uplink in (cfg.interface.name, tunnel_dev):
        raise NetError(f"nat.uplink {n.uplink}: is the tunnel side itself; name the interface traffic leaves by")
    if cfg.bridge and n.uplink in cfg.bridge.ports:
        raise NetError(f"nat.uplink {n.uplink}: is a port of bridge {cfg.bridge.name} and has no L3 of its own")
    if n.sources:
        nets = [str(s) for s in n.sources]
    else:
        addrs = cfg.bridge.addresses if cfg.bridge else cfg.interface.addresses
        nets = [str(a.network) for a in addrs if not a.is_link_local]
    if not nets:
        raise NetError(
            f"nat: no tunnel networks to forward ({tunnel_dev} has no addresses in the config); set nat.sources"
        )
    return NatPlan(table_name(cfg.interface.name), tunnel_dev, n.uplink, n.masquerade, tuple(dict.fromkeys(nets)))


def _route(cfg: Config, to: object, via: object, dev: str | None, tunnel_dev: str) -> RoutePlan:
    dev = dev or tunnel_dev
    if cfg.bridge and dev in (cfg.interface.name, *cfg.bridge.ports):
        raise NetError(f"route {to}: dev {dev} is a port of bridge {cfg.bridge.name}; route via the bridge")
    return RoutePlan(str(to), str(via) if via is not None else None, dev)
