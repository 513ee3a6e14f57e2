"""How each journal record is undone: one table from op to step (anything not in it is an error).

Every step first looks at the host and does nothing when its change is not (or no longer) there, so
undoing a record written just before a ``kill -9`` — whose change may never have happened — is safe, and
so is running teardown twice. Each step returns the human line to print, or None when it had nothing to do.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import ClassVar

from tapliance.net import journal, ruleset, sysctl
from tapliance.net.errors import RUNTIME, NetError
from tapliance.net.host import Address, Host, Route
from tapliance.net.journal import Record
from tapliance.net.nftables import Nftables


def route_key(r: Route) -> tuple[str, str | None, str, int]:
    """What makes two routes the same for us (the kernel's default metric made explicit)."""
    default = 0 if ipaddress.ip_network(r.dst).version == 4 else 1024
    return (r.dst, r.gateway, r.dev, default if r.metric is None else r.metric)


def has_route(host: Host, r: Route) -> bool:
    return route_key(r) in {route_key(x) for x in host.routes()}


def has_address(host: Host, dev: str, iface: str) -> bool:
    return host.link(dev) is not None and iface in [a.iface for a in host.addresses(dev)]


class Undo:
    def __init__(self, host: Host, nft: Callable[[], Nftables], interface: str) -> None:
        self.host, self.interface = host, interface
        self.nft = nft  # created on first use: teardown of a pure bridge setup needs no libnftables

    def __call__(self, rec: Record) -> str | None:
        step = self.STEPS.get(rec.get("op", ""))
        if step is None:
            raise NetError(f"journal: unknown record {rec!r}", RUNTIME)
        return step(self, rec)

    def sysctl_value(self, rec: Record) -> str | None:
        # Two tunnels in NAT mode share ip_forward; each journals it ("set": whether it changed it).
        # While another journal still holds it, leave the value alone; if we were the one who changed
        # it, hand our saved original over so that the last one out restores it.
        name = rec["path"].replace("/", ".")
        for other in journal.others(self.interface):
            for theirs in other.records:
                if theirs.get("op") == "sysctl" and theirs["path"] == rec["path"]:
                    if rec.get("set", True):
                        theirs.update(old=rec["old"], set=True)
                        other.save()
                    return f"left sysctl {name} as is: {other.interface} still uses it"
        if not rec.get("set", True) or sysctl.read(rec["path"]) == rec["old"]:
            return None
        sysctl.write(rec["path"], rec["old"])
        return f"restored sysctl {name} = {rec['old']}"

    def nft_table(self, rec: Record) -> str | None:
        nft = self.nft()
        if (ruleset.FAMILY, rec["name"]) not in nft.tables():
            return None
        nft.run(ruleset.delete_command(rec["name"]), f"nft table {ruleset.FAMILY} {rec['name']}")
        return f"deleted nft table {ruleset.FAMILY} {rec['name']}"

    def bridge_created(self, rec: Record) -> str | None:
        link = self.host.link(rec["name"])
        if link is None or link.kind != "bridge":
            return None
        self.host.delete_link(rec["name"])
        return f"deleted bridge {rec['name']}"

    def bridge_options(self, rec: Record) -> str | None:
        link = self.host.link(rec["name"])
        if link is None or (link.stp, link.forward_delay_cs) == (rec["stp"], rec["forward_delay_cs"]):
            return None
        self.host.set_bridge(rec["name"], rec["stp"], rec["forward_delay_cs"])
        return f"restored bridge {rec['name']} stp/forward delay"

    def link_up(self, rec: Record) -> str | None:
        link = self.host.link(rec["name"])
        if link is None or not link.up:
            return None
        self.host.set_up(rec["name"], False)
        return f"set {rec['name']} down again"

    def enslaved(self, rec: Record) -> str | None:
        link = self.host.link(rec["port"])
        if link is None or link.master != rec["bridge"]:
            return None
        self.host.set_master(rec["port"], None)
        return f"released {rec['port']} from bridge {rec['bridge']}"

    def address_added(self, rec: Record) -> str | None:
        a = Address.from_json(rec["address"])
        if not has_address(self.host, rec["dev"], a.iface):
            return None
        self.host.del_address(rec["dev"], a)
        return f"removed address {a.iface} from {rec['dev']}"

    def address_removed(self, rec: Record) -> str | None:
        a = Address.from_json(rec["address"])
        if self.host.link(rec["dev"]) is None or has_address(self.host, rec["dev"], a.iface):
            return None
        self.host.add_address(rec["dev"], a)  # with its original flags: restored exactly, DAD included
        return f"restored address {a.iface} on {rec['dev']}"

    def route_added(self, rec: Record) -> str | None:
        r = Route.from_json(rec["route"])
        if not has_route(self.host, r):
            return None
        self.host.route("del", r)
        return f"deleted {r}"

    def route_moved(self, rec: Record) -> str | None:
        # Replacing (same destination and metric) swaps the route back in one netlink message.
        r = Route.from_json(rec["route"])
        if self.host.link(r.dev) is None or has_route(self.host, r):
            return None
        self.host.route("replace", r)
        return f"restored {r}"

    STEPS: ClassVar[dict[str, Callable[[Undo, Record], str | None]]] = {
        "sysctl": sysctl_value,
        "nft_table": nft_table,
        "bridge_created": bridge_created,
        "bridge_options": bridge_options,
        "link_up": link_up,
        "enslaved": enslaved,
        "address_added": address_added,
        "address_removed": address_removed,
        "route_added": route_added,
        "route_moved": route_moved,
    }
