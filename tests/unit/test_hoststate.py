"""tapliance.lab.hoststate's comparison: what the Vagrant lab's teardown and its test rely on."""

from __future__ import annotations

from tapliance.lab.hoststate import FOREIGN_LINK, differences

BEFORE: dict[str, object] = {
    "ruleset": {"inet tapliance_x": ["chain {}"]},
    "links": ["eth0", "lo"],
    "sysctls": {"ipv4/ip_forward": "0"},
}


def test_same_state_has_no_differences() -> None:
    assert differences(BEFORE, dict(BEFORE)) == []


def test_tables_links_and_sysctls_left_behind_are_named() -> None:
    after: dict[str, object] = {
        "ruleset": {"inet tapliance_x": ["chain {}", "rule {}"], "ip filter": ["chain {}"]},
        "links": ["eth0", "lo", "virbr1"],
        "sysctls": {"ipv4/ip_forward": "1"},
    }
    assert differences(BEFORE, after) == [
        "nft table ip filter: created",
        "nft table inet tapliance_x: changed",
        "link virbr1: created",
        "sysctl net/ipv4/ip_forward: '0' -> '1'",
    ]


def test_links_of_other_tests_are_not_compared() -> None:
    assert FOREIGN_LINK.match("tl3f9a-a") and FOREIGN_LINK.match("tlab-l2-bridge-sw")
    assert not FOREIGN_LINK.match("virbr0") and not FOREIGN_LINK.match("vnet3") and not FOREIGN_LINK.match("tap0")
