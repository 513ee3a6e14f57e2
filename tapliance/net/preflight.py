"""Checks of the plan against the host, all made before anything is touched (exit code 2 on failure).

The point is the contract "host left as it was on any error": whatever can be known to fail — a missing
device, a name taken by a non-bridge device, a port already in another bridge, an address or route that
belongs to someone else — is found here, so apply either starts with a plan that fits or changes nothing.
"""

from __future__ import annotations

import ipaddress

from tapliance.net.errors import NetError
from tapliance.net.host import Host, Link, Route
from tapliance.net.plan import Plan
from tapliance.net.undo import route_key


def check(plan: Plan, host: Host) -> None:
    """Raise NetError (exit 2) naming the first object that makes ``plan`` impossible on this host."""
    links = {ln.name: ln for ln in host.links()}
    _devices(plan, links)
    if plan.bridge:
        b = plan.bridge
        existing = links.get(b.name)
        if existing is not None and existing.kind != "bridge":
            raise NetError(
                f"bridge {b.name}: a {existing.kind or 'non-bridge'} device of that name exists "
                "(not a bridge); choose another bridge.name"
            )
        tap_mtu = links[b.tap].mtu
        for port in b.ports:
            ln = links[port]
            if ln.master not in (None, b.name):
                raise NetError(f"bridge {b.name}: port {port} is already enslaved to {ln.master}")
            if ln.kind == "bridge":
                raise NetError(f"bridge {b.name}: port {port} is itself a bridge")
            if ln.mtu != tap_mtu:
                raise NetError(
                    f"bridge {b.name}: port {port} has MTU {ln.mtu} but {b.tap} has {tap_mtu}; "
                    "bridged ports need equal MTUs (set interface.mtu)"
                )
        _addresses(plan, host, links)
    _routes(plan, host)


def _devices(plan: Plan, links: dict[str, Link]) -> None:
    if plan.tap not in links:
        raise NetError(
            f"interface {plan.tap}: no such device; `tapliance up` creates it and applies this "
            f"itself, or create a persistent TAP first (ip tuntap add mode tap name {plan.tap})"
        )
    roles: dict[str, str] = {}
    if plan.bridge:
        roles.update({p: f"port of bridge {plan.bridge.name}" for p in plan.bridge.ports})
    if plan.nat:
        roles[plan.nat.uplink] = "nat.uplink"
    for r in plan.routes:
        roles.setdefault(r.dev, f"device of {r}")
    for name in plan.required_devices():
        if name not in links:
            raise NetError(f"{roles.get(name, 'interface')} {name}: no such device")


def _addresses(plan: Plan, host: Host, links: dict[str, Link]) -> None:
    """A planned bridge address must not be, or share a network with, an address on another device."""
    b = plan.bridge
    assert b is not None
    for want in b.addresses:
        ip = ipaddress.ip_interface(want)
        for name in links:
            if name == b.name:
                continue
            for have in host.addresses(name):
                other = ipaddress.ip_interface(have.iface)
                if other.ip == ip.ip:
                    raise NetError(f"address {want}: already assigned to {name}")
                if other.network == ip.network and name != b.take_over:
                    raise NetError(f"address {want}: network {ip.network} is already on {name} ({have.iface})")


def _routes(plan: Plan, host: Host) -> None:
    """A planned route must not replace a different route to the same destination and metric."""
    existing = host.routes()
    for r in plan.routes:
        mine = route_key(Route(r.dst, r.gateway, r.dev))
        for have in existing:
            key = route_key(have)
            if key[0] == mine[0] and key[3] == mine[3] and key != mine:
                via = f" via {have.gateway}" if have.gateway else ""
                raise NetError(f"{r}: a route to {r.dst}{via} dev {have.dev} already exists (not tapliance's)")
