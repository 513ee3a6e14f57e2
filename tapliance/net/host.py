"""The host's links, addresses and routes, read and changed over netlink (pyroute2). No subprocesses.

Everything is addressed by interface *name* and resolved to an index per call, so a journal written
by a process that was killed can be replayed by another one. Netlink errors, of changes and of reads
alike, become :class:`NetError` (exit 1) naming the object, e.g. ``route 192.168.1.0/24 via 10.1.2.3 dev
tap0: Network is unreachable``: the caller rolls back (apply) or keeps the journal (teardown), never a
traceback (scripts/torture's fault injection fails every call in turn).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from tapliance.net.errors import RUNTIME, NetError

MAIN_TABLE = 254
RTN_UNICAST = 1
RT_SCOPE_UNIVERSE = 0
RTPROT_STATIC = 4
RTNH_F_ONLINK = 4
IFA_F_NODAD = 0x02
IFA_F_SETTABLE = 0x02 | 0x10 | 0x100 | 0x200 | 0x400  # nodad homeaddress mngtmpaddr noprefixroute autojoin
AF_INET, AF_INET6 = 2, 10


@dataclass(frozen=True)
class Link:
    index: int
    name: str
    kind: str | None  # "bridge", "veth", "tun", ... None for devices without link info
    up: bool
    master: str | None
    mtu: int
    mac: str | None
    stp: bool | None = None  # bridges only
    forward_delay_cs: int | None = None


@dataclass(frozen=True)
class Address:
    iface: str  # "10.1.2.3/24"
    flags: int = 0
    broadcast: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Address:
        return cls(d["iface"], int(d.get("flags", 0)), d.get("broadcast"))


@dataclass(frozen=True)
class Route:
    dst: str  # network, "0.0.0.0/0" for default
    gateway: str | None
    dev: str
    metric: int | None = None  # None: the kernel default (0 for IPv4, 1024 for IPv6)
    proto: int = RTPROT_STATIC
    onlink: bool = False

    def __str__(self) -> str:
        via = f" via {self.gateway}" if self.gateway else ""
        metric = f" metric {self.metric}" if self.metric else ""
        return f"route {self.dst}{via} dev {self.dev}{metric}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Route:
        return cls(
            d["dst"],
            d.get("gateway"),
            d["dev"],
            d.get("metric"),
            int(d.get("proto", RTPROT_STATIC)),
            bool(d.get("onlink", False)),
        )


@contextmanager
def _netlink(what: str) -> Iterator[None]:
    try:
        yield
    except NetlinkError as e:
        raise NetError(f"{what}: {e.args[1] if len(e.args) > 1 else e}", RUNTIME) from None


class Host:
    """One netlink socket on the current network namespace."""

    def __init__(self) -> None:
        self.ipr = IPRoute()

    def close(self) -> None:
        self.ipr.close()

    # ---- reading -------------------------------------------------------------------------------------

    def link(self, name: str) -> Link | None:
        with _netlink(f"{name}: cannot read the link"):
            idx = self.ipr.link_lookup(ifname=name)
            return self._link(self.ipr.get_links(idx[0])[0]) if idx else None

    def links(self) -> list[Link]:
        with _netlink("cannot read the links"):
            return [self._link(m) for m in self.ipr.get_links()]

    def _link(self, m: Any) -> Link:
        info = m.get_attr("IFLA_LINKINFO")
        kind = info.get_attr("IFLA_INFO_KIND") if info else None
        data = info.get_attr("IFLA_INFO_DATA") if info else None
        master = m.get_attr("IFLA_MASTER")
        stp = fd = None
        if kind == "bridge" and data is not None:
            stp, fd = bool(data.get_attr("IFLA_BR_STP_STATE")), data.get_attr("IFLA_BR_FORWARD_DELAY")
        return Link(
            m["index"],
            m.get_attr("IFLA_IFNAME"),
            kind,
            bool(m["flags"] & 1),
            self._name(master) if master else None,
            m.get_attr("IFLA_MTU"),
            m.get_attr("IFLA_ADDRESS"),
            stp,
            fd,
        )

    def _name(self, index: int) -> str | None:
        with _netlink(f"link {index}: cannot read it"):
            ms = self.ipr.get_links(index)
        return ms[0].get_attr("IFLA_IFNAME") if ms else None

    def addresses(self, name: str) -> list[Address]:
        """Global-scope addresses of ``name`` in kernel order (IPv4 primary first); not link-local ones."""
        idx = self._index(name)
        out = []
        with _netlink(f"{name}: cannot read the addresses"):
            msgs = list(self.ipr.get_addr(index=idx))
        for m in msgs:
            if m["scope"] != RT_SCOPE_UNIVERSE:
                continue
            local = m.get_attr("IFA_LOCAL") or m.get_attr("IFA_ADDRESS")
            flags = m.get_attr("IFA_FLAGS") or m["flags"]
            out.append(Address(f"{local}/{m['prefixlen']}", flags, m.get_attr("IFA_BROADCAST")))
        return out

    def routes(self) -> list[Route]:
        """Unicast routes of the main table, both families (multipath routes are not listed)."""
        out = []
        names = {ln.index: ln.name for ln in self.links()}
        for family, any_ in ((AF_INET, "0.0.0.0/0"), (AF_INET6, "::/0")):
            with _netlink("cannot read the routes"):
                msgs = list(self.ipr.get_routes(family=family, table=MAIN_TABLE))
            for m in msgs:
                oif = m.get_attr("RTA_OIF")
                if m["type"] != RTN_UNICAST or oif not in names:
                    continue
                dst = m.get_attr("RTA_DST")
                net = f"{dst}/{m['dst_len']}" if dst else any_
                out.append(
                    Route(
                        net,
                        m.get_attr("RTA_GATEWAY"),
                        names[oif],
                        m.get_attr("RTA_PRIORITY") or 0,
                        m["proto"],
                        bool(m["flags"] & RTNH_F_ONLINK),
                    )
                )
        return out

    def _index(self, name: str) -> int:
        with _netlink(f"{name}: cannot look the link up"):
            idx = self.ipr.link_lookup(ifname=name)
        if not idx:
            raise NetError(f"{name}: no such device", RUNTIME)
        return int(idx[0])

    # ---- changing ------------------------------------------------------------------------------------

    def create_bridge(self, name: str, stp: bool, forward_delay_cs: int, mac: str | None) -> None:
        kw: dict[str, Any] = {"address": mac} if mac else {}
        with _netlink(f"bridge {name}: cannot create"):
            self.ipr.link(
                "add", ifname=name, kind="bridge", br_stp_state=int(stp), br_forward_delay=forward_delay_cs, **kw
            )

    def set_bridge(self, name: str, stp: bool, forward_delay_cs: int) -> None:
        with _netlink(f"bridge {name}: cannot set stp/forward delay"):
            self.ipr.link(
                "set", index=self._index(name), kind="bridge", br_stp_state=int(stp), br_forward_delay=forward_delay_cs
            )

    def delete_link(self, name: str) -> None:
        with _netlink(f"{name}: cannot delete"):
            self.ipr.link("del", index=self._index(name))

    def set_up(self, name: str, up: bool) -> None:
        with _netlink(f"{name}: cannot set {'up' if up else 'down'}"):
            self.ipr.link("set", index=self._index(name), state="up" if up else "down")

    def set_master(self, port: str, master: str | None) -> None:
        what = f"{port}: cannot {'add to bridge ' + master if master else 'release from its bridge'}"
        with _netlink(what):
            self.ipr.link("set", index=self._index(port), master=self._index(master) if master else 0)

    def add_address(self, dev: str, a: Address, extra_flags: int = 0) -> None:
        ip = ipaddress.ip_interface(a.iface)
        kw: dict[str, Any] = {"broadcast": a.broadcast} if a.broadcast else {}
        flags = (a.flags & IFA_F_SETTABLE) | extra_flags
        if flags:
            kw["flags"] = flags
        with _netlink(f"address {a.iface} on {dev}: cannot add"):
            self.ipr.addr("add", index=self._index(dev), address=str(ip.ip), prefixlen=ip.network.prefixlen, **kw)

    def del_address(self, dev: str, a: Address) -> None:
        ip = ipaddress.ip_interface(a.iface)
        with _netlink(f"address {a.iface} on {dev}: cannot delete"):
            self.ipr.addr("del", index=self._index(dev), address=str(ip.ip), prefixlen=ip.network.prefixlen)

    def route(self, cmd: str, r: Route) -> None:
        """``cmd`` is add, replace or del."""
        kw: dict[str, Any] = {"dst": r.dst, "oif": self._index(r.dev), "table": MAIN_TABLE}
        if r.gateway:
            kw["gateway"] = r.gateway
        if r.metric is not None:
            kw["priority"] = r.metric
        if cmd != "del":
            kw["proto"] = r.proto
            if r.onlink:
                kw["flags"] = RTNH_F_ONLINK
        with _netlink(f"{r}: cannot {cmd}"):
            self.ipr.route(cmd, **kw)
