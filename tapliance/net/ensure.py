"""Converge the host to a plan: each step compares, and only when something differs journals then acts.

Order matters and is chosen so that nothing is ever half-open or locked out:

  bridge   create (with the take_over port's MAC, so LAN neighbours' ARP caches stay right) -> options
           -> up -> its addresses, including *copies* of the take_over port's addresses -> enslave the
           ports, take_over last -> replace the port's gateway routes (default route) by the same routes
           on the bridge -> only then delete the addresses from the port. At every step the host still
           has a working address and default route, so a remote operator keeps the session.
  nat      the nftables table (policy) first, then forwarding on: forwarding is never on without it.
  routes   last, since they may go via the bridge.

Every change is one ``_change`` call: journal record first (see journal.py), then the action, then the
human line. Unchanged objects produce no record and no line, which is what makes apply idempotent.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable
from functools import partial
from typing import Any

from tapliance.net import ruleset, sysctl
from tapliance.net.host import IFA_F_NODAD, Address, Host, Route
from tapliance.net.journal import Journal, Record
from tapliance.net.nftables import Nftables
from tapliance.net.plan import BridgePlan, NatPlan, Plan
from tapliance.net.undo import has_route


class Ensure:
    def __init__(self, host: Host, nft: Callable[[], Nftables], journal: Journal) -> None:
        self.host, self.nft, self.journal = host, nft, journal
        self.lines: list[str] = []

    def run(self, plan: Plan) -> list[str]:
        if plan.bridge:
            self.bridge(plan.bridge)
        if plan.nat:
            self.nat(plan)
        for r in plan.routes:
            route = Route(r.dst, r.gateway, r.dev)
            if not has_route(self.host, route):
                self._change(
                    {"op": "route_added", "route": route.to_json()},
                    partial(self.host.route, "add", route),
                    f"added {route}",
                )
        return self.lines

    def _change(self, record: Record, action: Callable[[], Any], line: str) -> None:
        self.journal.append(record)
        action()
        self.lines.append(line)

    def bridge(self, b: BridgePlan) -> None:
        h = self.host
        link = h.link(b.name)
        opts = f"stp {'on' if b.stp else 'off'}, forward delay {b.forward_delay_cs / 100:g}s"
        if link is None:
            take = h.link(b.take_over) if b.take_over else None
            mac = take.mac if take else None
            self._change(
                {"op": "bridge_created", "name": b.name},
                lambda: h.create_bridge(b.name, b.stp, b.forward_delay_cs, mac),
                f"created bridge {b.name} ({opts})",
            )
        elif (link.stp, link.forward_delay_cs) != (b.stp, b.forward_delay_cs):
            self._change(
                {"op": "bridge_options", "name": b.name, "stp": link.stp, "forward_delay_cs": link.forward_delay_cs},
                lambda: h.set_bridge(b.name, b.stp, b.forward_delay_cs),
                f"set bridge {b.name} {opts}",
            )
        self._up(b.name)
        moving = h.addresses(b.take_over) if b.take_over else []
        present = {a.iface for a in h.addresses(b.name)}
        wanted = [(Address(x), "") for x in b.addresses] + [(a, f" (from {b.take_over})") for a in moving]
        for a, note in wanted:
            if a.iface in present:
                continue
            # A moved IPv6 address was already through DAD on this link; skip it so it is usable at once.
            extra = IFA_F_NODAD if note and ipaddress.ip_interface(a.iface).version == 6 else 0
            self._change(
                {"op": "address_added", "dev": b.name, "address": a.to_json()},
                partial(h.add_address, b.name, a, extra),
                f"added address {a.iface} to {b.name}{note}",
            )
            present.add(a.iface)
        for port in b.ports:
            if port != b.tap:  # the TAP's state belongs to the daemon
                self._up(port)
            if h.link(port).master != b.name:  # type: ignore[union-attr]  # preflight: it exists
                self._change(
                    {"op": "enslaved", "port": port, "bridge": b.name},
                    partial(h.set_master, port, b.name),
                    f"added {port} to bridge {b.name}",
                )
        if b.take_over:
            self._take_over(b.take_over, b.name, moving)

    def _take_over(self, port: str, bridge: str, moving: list[Address]) -> None:
        h = self.host
        for r in h.routes():
            if r.dev == port and r.gateway:
                new = dataclasses.replace(r, dev=bridge)
                self._change(
                    {"op": "route_moved", "route": r.to_json(), "to": bridge},
                    partial(h.route, "replace", new),
                    f"moved {r} to {bridge}",
                )
        for a in reversed(moving):  # IPv4 secondaries before their primary, which would take them along
            self._change(
                {"op": "address_removed", "dev": port, "address": a.to_json()},
                partial(h.del_address, port, a),
                f"removed address {a.iface} from {port} (now on {bridge})",
            )

    def _up(self, name: str) -> None:
        link = self.host.link(name)
        if link is not None and not link.up:
            self._change({"op": "link_up", "name": name}, lambda: self.host.set_up(name, True), f"set {name} up")

    def nat(self, plan: Plan) -> None:
        n: NatPlan | None = plan.nat
        assert n is not None
        objs = ruleset.objects(n)
        nft = self.nft()
        actual = nft.table(ruleset.FAMILY, n.table)
        if actual is None or ruleset.normalize(actual) != objs:
            verb = "created" if actual is None else "replaced"
            rules = sum(1 for o in objs if "rule" in o)
            self._change(
                {"op": "nft_table", "name": n.table},
                lambda: nft.run(ruleset.replace_commands(objs), f"nft table inet {n.table}"),
                f"{verb} nft table inet {n.table} ({rules} rules: forward policy"
                f"{', masquerade out of ' + n.uplink if n.masquerade else ''})",
            )
        for s in plan.sysctls:
            old = sysctl.read(s.path)
            known = any(r.get("op") == "sysctl" and r["path"] == s.path for r in self.journal.records)
            if not known and old == s.value:
                # Already as needed (by the admin or another tunnel): journal the use, change nothing.
                self.journal.append({"op": "sysctl", "path": s.path, "old": old, "set": False})
            elif old != s.value:
                line = f"set sysctl {s.path.replace('/', '.')} = {s.value} (was {old})"
                if known:  # changed back behind our back: the journal already holds the original value
                    sysctl.write(s.path, s.value)
                    self.lines.append(line)
                else:
                    self._change(
                        {"op": "sysctl", "path": s.path, "old": old, "set": True},
                        partial(sysctl.write, s.path, s.value),
                        line,
                    )
