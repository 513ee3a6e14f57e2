"""The ``[pool]`` section: the addresses a hub hands its clients (issue 13), and the value types it needs.

A pool range is written ``"10.8.0.100-10.8.0.199"`` or as a network (``"10.8.0.128/25"``, every address of
it); it must lie inside the subnet of one of the hub's own TAP (or bridge) addresses, which gives the
handed-out address its prefix length, and must not contain the hub's own addresses or the gateway.
Reservations (``[[peer]] reserve``) lie inside the pool and are never handed to anyone else.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tapliance.config.fields import IPAddress, IPInterface, IPNetwork, setting


@dataclass(frozen=True)
class AddressRange:
    first: IPAddress
    last: IPAddress

    @property
    def version(self) -> int:
        return self.first.version

    @property
    def size(self) -> int:
        return int(self.last) - int(self.first) + 1

    def __contains__(self, ip: object) -> bool:
        return (
            isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address)
            and ip.version == self.version
            and int(self.first) <= int(ip) <= int(self.last)
        )

    def at(self, offset: int) -> IPAddress:
        return ipaddress.ip_address(int(self.first) + offset % self.size)

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"


def parse_range(text: str) -> AddressRange:
    """``A-B`` or a network; raises ValueError with the reason."""
    if "-" in text:
        a, b = (ipaddress.ip_address(x.strip()) for x in text.split("-", 1))
        if a.version != b.version or int(a) > int(b):
            raise ValueError("the first address must not be above the last, in one family")
        return AddressRange(a, b)
    net = ipaddress.ip_network(text, strict=True)
    if net.num_addresses > 2 and net.version == 4:
        return AddressRange(net.network_address + 1, net.broadcast_address - 1)
    return AddressRange(net.network_address + (1 if net.num_addresses > 2 else 0), net.broadcast_address)


def subnet_of(r: AddressRange, own: Iterable[IPInterface]) -> IPInterface | None:
    """The hub's own address whose subnet holds all of ``r``."""
    for a in own:
        if a.version == r.version and r.first in a.network and r.last in a.network:
            return a
    return None


@dataclass(frozen=True)
class PoolConfig:
    ipv4: AddressRange | None = setting(
        None,
        'IPv4 addresses to hand out, `"10.8.0.100-10.8.0.199"` or `"10.8.0.128/25"`, inside the subnet of an '
        "address of the TAP (or bridge), which gives the prefix length",
        kind="range",
        shown="none",
    )
    ipv6: AddressRange | None = setting(
        None, 'IPv6 addresses to hand out, e.g. `"fd08::1000-fd08::1fff"`', kind="range", shown="none"
    )
    gateway: tuple[IPAddress, ...] = setting(
        (), "pushed to clients (one per family): their next hop for `routes`", kind="addresses", shown="none"
    )
    routes: tuple[IPNetwork, ...] = setting((), "networks pushed to clients, via `gateway`", kind="networks")
    dns: tuple[IPAddress, ...] = setting((), "DNS servers pushed to clients (one per family)", kind="addresses")
    leases_file: Path | None = setting(
        None,
        "where leases are kept (written atomically; a client keeps its address across restarts)",
        kind="path",
        shown="`/var/lib/tapliance/<interface>.leases`",
    )


def read_range(r: Any, full: str, v: Any, _m: dict[str, Any]) -> AddressRange:
    r.typed(full, v, str)
    try:
        return parse_range(v)
    except ValueError as e:
        raise r.error(full, f"not an address range or network: {v!r} ({e})") from None


def read_addresses(r: Any, full: str, v: Any, _m: dict[str, Any]) -> tuple[IPAddress, ...]:
    out: list[IPAddress] = []
    for i, s in enumerate(r.strings(full, v)):
        try:
            out.append(ipaddress.ip_address(s))
        except ValueError:
            raise r.error(f"{full}[{i}]", f"not an IP address: {s!r}") from None
        if out[-1] in out[:-1]:
            raise r.error(f"{full}[{i}]", f"{out[-1]} is listed twice")
    return tuple(out)


def check_pool(r: Any, pool: PoolConfig | None, own: tuple[IPInterface, ...], peers: tuple[Any, ...]) -> None:
    """The pool against the hub's own addresses, and every peer's reservation against the pool."""
    if pool is not None:
        for key, rng, version in (("ipv4", pool.ipv4, 4), ("ipv6", pool.ipv6, 6)):
            if rng is None:
                continue
            if rng.version != version:
                raise r.error(f"pool.{key}", f"{rng} is not IPv{version}")
            if subnet_of(rng, own) is None:
                raise r.error(
                    f"pool.{key}",
                    f"{rng} is not inside the subnet of an address of the TAP or bridge "
                    "(interface.addresses, bridge.addresses)",
                )
            mine = [a.ip for a in own if a.ip in rng] + [g for g in pool.gateway if g in rng]
            if mine:
                raise r.error(
                    f"pool.{key}",
                    f"{rng} overlaps the hub's own address or gateway {mine[0]}: hand out a range beside it",
                )
        for key in ("gateway", "dns"):
            versions = [a.version for a in getattr(pool, key)]
            if len(set(versions)) != len(versions):
                raise r.error(f"pool.{key}", "one address per family (IPv4, IPv6)")
    taken: dict[IPAddress, int] = {}
    for i, p in enumerate(peers):
        for j, ip in enumerate(getattr(p, "reserve", ())):
            where = f"peer[{i}].reserve[{j}]"
            rng = None if pool is None else pool.ipv4 if ip.version == 4 else pool.ipv6
            if rng is None:
                raise r.error(where, f"{ip}: there is no [pool] for IPv{ip.version} to reserve it in")
            if ip not in rng:
                raise r.error(where, f"{ip} is outside the pool ({rng})")
            if ip in taken:
                raise r.error(where, f"{ip} is also reserved for peer[{taken[ip]}]")
            if not p.lease:
                raise r.error(where, "a peer with lease = false gets no address to reserve")
            taken[ip] = i
