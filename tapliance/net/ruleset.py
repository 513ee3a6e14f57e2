"""The NAT mode's nftables table as libnftables JSON, plus a text rendering for ``show``. Pure data.

Theory of operation: tapliance owns exactly one table, ``inet tapliance_<tap>``, and never touches any
other. The table holds two base chains with policy *accept*, so traffic that does not involve the tunnel
and the uplink passes through untouched (unrelated forwarding keeps working):

    chain forward      (filter, hook forward, priority filter)
        iifname TUN oifname UP  {ip|ip6} saddr SRC  accept      # tunnel -> uplink, per source network
        iifname UP  oifname TUN ct state established,related accept   # replies back
        iifname TUN oifname UP  drop                             # anything else between the two
        iifname UP  oifname TUN drop
    chain postrouting  (nat, hook postrouting, priority srcnat)
        oifname UP {ip|ip6} saddr SRC masquerade                 # when nat.masquerade

The objects are written exactly in the canonical form ``nft -j list table`` prints (checked by the netns
tests), so "is the table as planned" is a plain equality of lists once handles are stripped.
Replacement is one libnftables transaction: add table; delete table; add table, chains, rules — the kernel
applies all of it or nothing, and there is never a moment with half a ruleset.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from tapliance.net.plan import NatPlan

FAMILY = "inet"
Obj = dict[str, Any]


def objects(nat: NatPlan) -> list[Obj]:
    """The table, its chains and rules as listed by ``nft -j list table`` (without handles)."""
    t = {"family": FAMILY, "table": nat.table}
    out: list[Obj] = [{"table": {"family": FAMILY, "name": nat.table}}]
    out.append({"chain": {**t, "name": "forward", "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"}})
    out.append(
        {"chain": {**t, "name": "postrouting", "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}
    )
    tun, up = _ifname("iifname", nat.tunnel_dev), _ifname("oifname", nat.uplink)
    for src in nat.sources:
        out.append(_rule(t, "forward", [tun, up, _saddr(src), {"accept": None}]))
    back = [_ifname("iifname", nat.uplink), _ifname("oifname", nat.tunnel_dev)]
    state = {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}
    out.append(_rule(t, "forward", [*back, state, {"accept": None}]))
    out.append(_rule(t, "forward", [tun, up, {"drop": None}]))
    out.append(_rule(t, "forward", [*back, {"drop": None}]))
    if nat.masquerade:
        for src in nat.sources:
            out.append(_rule(t, "postrouting", [up, _saddr(src), {"masquerade": None}]))
    return out


def replace_commands(objs: list[Obj]) -> Obj:
    """One atomic batch that makes the table exactly ``objs`` (creating it if absent)."""
    table = objs[0]["table"]
    cmds: list[Obj] = [{"add": {"table": dict(table)}}, {"delete": {"table": dict(table)}}]
    cmds += [{"add": o} for o in objs]
    return {"nftables": cmds}


def delete_command(table: str) -> Obj:
    return {"nftables": [{"delete": {"table": {"family": FAMILY, "name": table}}}]}


def normalize(listing: list[Obj]) -> list[Obj]:
    """Strip what the kernel adds (handles, metainfo) from a ``list table`` answer, to compare with a plan."""
    out = []
    for item in listing:
        if "metainfo" in item:
            continue
        ((kind, body),) = item.items()
        out.append({kind: {k: v for k, v in body.items() if k != "handle"}})
    return out


def render(objs: list[Obj]) -> list[str]:
    """Human lines (close to ``nft list`` syntax) for ``show``; unknown expressions fall back to JSON."""
    lines = []
    for o in objs:
        if "table" in o:
            lines.append(f"nft table {o['table']['family']} {o['table']['name']}")
        elif "chain" in o:
            c = o["chain"]
            lines.append(
                f"nft chain {c['name']}: type {c.get('type')} hook {c.get('hook')} "
                f"priority {c.get('prio')} policy {c.get('policy')}"
            )
        elif "rule" in o:
            r = o["rule"]
            lines.append(f"nft rule {r['chain']}: " + " ".join(_expr_text(e) for e in r["expr"]))
    return lines


def _rule(t: dict[str, str], chain: str, expr: list[Obj]) -> Obj:
    return {"rule": {**t, "chain": chain, "expr": expr}}


def _ifname(key: str, name: str) -> Obj:
    return {"match": {"op": "==", "left": {"meta": {"key": key}}, "right": name}}


def _saddr(src: str) -> Obj:
    net = ipaddress.ip_network(src)
    proto = "ip" if net.version == 4 else "ip6"
    right: Any = str(net.network_address)
    if net.prefixlen != net.max_prefixlen:  # nft lists a /32 or /128 as a bare address
        right = {"prefix": {"addr": str(net.network_address), "len": net.prefixlen}}
    return {"match": {"op": "==", "left": {"payload": {"protocol": proto, "field": "saddr"}}, "right": right}}


def _expr_text(e: Obj) -> str:
    m = e.get("match")
    if m is not None:
        left, right = m["left"], m["right"]
        if "meta" in left:
            lhs = left["meta"]["key"]
        elif "payload" in left:
            lhs = f"{left['payload']['protocol']} {left['payload']['field']}"
        elif "ct" in left:
            lhs = f"ct {left['ct']['key']}"
        else:
            return json.dumps(e, sort_keys=True)
        if isinstance(right, dict) and "prefix" in right:
            rhs = f"{right['prefix']['addr']}/{right['prefix']['len']}"
        elif isinstance(right, list):
            rhs = ",".join(str(x) for x in right)
        elif isinstance(right, str):
            rhs = f'"{right}"' if "name" in lhs else right
        else:
            return json.dumps(e, sort_keys=True)
        op = "" if m["op"] in ("==", "in") else f"{m['op']} "
        return f"{lhs} {op}{rhs}"
    if len(e) == 1 and next(iter(e.values())) is None:
        return next(iter(e))
    return json.dumps(e, sort_keys=True)
