"""``tapliance net show``: the planned state and the actual state as parallel lines, and a diff.

Both sides are rendered in the same line vocabulary, one line per object, in plan order, so a unified
diff of the two reads as "what apply would change".
"""

from __future__ import annotations

import difflib

from tapliance.net import ruleset, sysctl
from tapliance.net.errors import NetError
from tapliance.net.host import Host, Route
from tapliance.net.journal import Journal
from tapliance.net.nftables import Nftables
from tapliance.net.plan import Plan
from tapliance.net.undo import has_address, has_route


def planned(plan: Plan) -> list[str]:
    lines = []
    if plan.bridge:
        b = plan.bridge
        lines.append(f"bridge {b.name}: up, stp {'on' if b.stp else 'off'}, forward delay {b.forward_delay_cs}cs")
        lines += [f"bridge {b.name} port {p}" for p in b.ports]
        lines += [f"address {a} dev {b.name}" for a in b.addresses]
        if b.take_over:
            lines.append(f"take_over {b.take_over}: no addresses or gateway routes left (moved to {b.name})")
    if plan.nat:
        lines += ruleset.render(ruleset.objects(plan.nat))
    lines += [f"sysctl {s.path.replace('/', '.')} = {s.value}" for s in plan.sysctls]
    lines += [str(r) for r in plan.routes]
    return lines


def actual(plan: Plan, host: Host, nft: Nftables | None) -> list[str]:
    lines = []
    if plan.bridge:
        b = plan.bridge
        link = host.link(b.name)
        if link is None or link.kind != "bridge":
            lines.append(f"bridge {b.name}: " + ("absent" if link is None else f"is a {link.kind} device"))
        else:
            lines.append(
                f"bridge {b.name}: {'up' if link.up else 'down'}, stp {'on' if link.stp else 'off'}, "
                f"forward delay {link.forward_delay_cs}cs"
            )
        for p in b.ports:
            pl = host.link(p)
            if pl is None:
                state = ": no such device"
            elif pl.master != b.name:
                state = f": in bridge {pl.master}" if pl.master else ": not a member"
            else:
                state = ""
            lines.append(f"bridge {b.name} port {p}{state}")
        for a in b.addresses:
            lines.append(f"address {a} dev {b.name}" + ("" if has_address(host, b.name, a) else ": absent"))
        if b.take_over:
            left = [a.iface for a in host.addresses(b.take_over)] if host.link(b.take_over) else []
            left += [str(r) for r in host.routes() if r.dev == b.take_over and r.gateway]
            lines.append(
                f"take_over {b.take_over}: "
                + (
                    f"still has {', '.join(left)}"
                    if left
                    else f"no addresses or gateway routes left (moved to {b.name})"
                )
            )
    if plan.nat:
        table = nft.table(ruleset.FAMILY, plan.nat.table) if nft else None
        if table is None:
            lines.append(f"nft table {ruleset.FAMILY} {plan.nat.table}: absent")
        else:
            lines += ruleset.render(ruleset.normalize(table))
    for s in plan.sysctls:
        lines.append(f"sysctl {s.path.replace('/', '.')} = {sysctl.read(s.path)}")
    for r in plan.routes:
        present = host.link(r.dev) is not None and has_route(host, Route(r.dst, r.gateway, r.dev))
        lines.append(str(r) + ("" if present else ": absent"))
    return lines


def render(plan: Plan, host: Host, nft: Nftables | None, journal: Journal) -> str:
    want = planned(plan)
    try:
        have = actual(plan, host, nft)
    except NetError as e:
        have = [f"(cannot read the host state: {e})"]
    out = [f"tapliance net: interface {plan.tap}"]
    if not want:
        out.append("planned: nothing (no [bridge], [nat] or [[route]] in the config)")
    else:
        out += ["planned:", *(f"  {x}" for x in want), "actual:", *(f"  {x}" for x in have)]
        if want == have:
            out.append("in sync")
        else:
            out.append("differences (- planned, + actual):")
            diff = difflib.unified_diff(want, have, "planned", "actual", lineterm="", n=0)
            out += [f"  {x}" for x in diff if not x.startswith("@@")]
    n = len(journal.records)
    out.append(f"journal: {n} change(s) recorded in {journal.path}" if n else "journal: no changes recorded")
    return "\n".join(out)
