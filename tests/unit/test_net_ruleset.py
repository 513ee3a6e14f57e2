"""The NAT table as data: shape of the policy, the atomic replace batch, normalisation and rendering."""

from __future__ import annotations

from tapliance.net import ruleset as R
from tapliance.net.plan import NatPlan

NAT = NatPlan(
    table="tapliance_tap0",
    tunnel_dev="tap0",
    uplink="eth0",
    masquerade=True,
    sources=("10.1.2.0/24", "fd00::/64", "10.9.9.9/32"),
)


def test_rendered_policy() -> None:
    assert R.render(R.objects(NAT)) == [
        "nft table inet tapliance_tap0",
        "nft chain forward: type filter hook forward priority 0 policy accept",
        "nft chain postrouting: type nat hook postrouting priority 100 policy accept",
        'nft rule forward: iifname "tap0" oifname "eth0" ip saddr 10.1.2.0/24 accept',
        'nft rule forward: iifname "tap0" oifname "eth0" ip6 saddr fd00::/64 accept',
        'nft rule forward: iifname "tap0" oifname "eth0" ip saddr 10.9.9.9 accept',
        'nft rule forward: iifname "eth0" oifname "tap0" ct state established,related accept',
        'nft rule forward: iifname "tap0" oifname "eth0" drop',
        'nft rule forward: iifname "eth0" oifname "tap0" drop',
        'nft rule postrouting: oifname "eth0" ip saddr 10.1.2.0/24 masquerade',
        'nft rule postrouting: oifname "eth0" ip6 saddr fd00::/64 masquerade',
        'nft rule postrouting: oifname "eth0" ip saddr 10.9.9.9 masquerade',
    ]


def test_no_masquerade_means_no_nat_rules_but_the_same_forward_policy() -> None:
    objs = R.objects(NatPlan("t", "tap0", "eth0", False, ("10.1.2.0/24",)))
    assert [o["rule"]["chain"] for o in objs if "rule" in o] == ["forward"] * 4


def test_replace_is_one_batch_that_recreates_the_table() -> None:
    objs = R.objects(NAT)
    cmds = R.replace_commands(objs)["nftables"]
    table = {"table": {"family": "inet", "name": "tapliance_tap0"}}
    assert cmds[:3] == [{"add": table}, {"delete": table}, {"add": table}]
    assert [c["add"] for c in cmds[3:]] == objs[1:]


def test_normalize_strips_handles_and_metainfo() -> None:
    objs = R.objects(NAT)
    listing = [{"metainfo": {"version": "1.0.6"}}]
    for i, o in enumerate(objs):
        ((kind, body),) = o.items()
        listing.append({kind: {**body, "handle": i + 1}})
    assert R.normalize(listing) == objs


def test_unknown_expressions_render_as_json() -> None:
    rule = {"rule": {"family": "inet", "table": "x", "chain": "forward", "expr": [{"counter": {"packets": 1}}]}}
    assert R.render([rule]) == ['nft rule forward: {"counter": {"packets": 1}}']
