"""The issue's two deployments end to end, with two real `tapliance up` daemons (TunnelLab).

L2 bridge (tinytaptunnel's l2_bridge_up.sh)::

    L (lan0 192.168.50.1) --veth-- A: eth1 -> br0 (+ tl0) ==tunnel== B: tl0 192.168.50.7 (on A's LAN)

L3 NAT (l3_nat_up.sh + the peer's `ip route add 192.168.1.0/24 via 10.1.2.3 dev tap0`)::

    L (lan0 192.168.70.1, no route back) --veth-- A: eth0 192.168.70.2, NAT ==tunnel== B: tl0 10.232.0.2,
                                                  tl0 10.232.0.1                       route 192.168.70.0/24 via A
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tapliance.lab import netns
from tests.netns.hostcmd import l3_state, ping, sh
from tests.netns.transfer import transfer
from tests.netns.tunnel import OVERLAY, TunnelLab


@pytest.fixture
def lab(lab: TunnelLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TunnelLab:
    """conftest's two-namespace lab, with the daemons' network journal kept in tmp_path."""
    monkeypatch.setenv("TAPLIANCE_STATE_DIR", str(tmp_path / "state"))  # inherited by the daemons
    return lab


def test_l2_bridge_example(lab: TunnelLab, prefix: str, tmp_path: Path) -> None:
    a, b = lab.sides["a"].ns, lab.sides["b"].ns
    lan = netns.add_ns(f"{prefix}l")
    netns.add_veth(a, "eth1", lan, "lan0", a_addr="192.168.50.2/24", b_addr="192.168.50.1/24")
    netns.ns_exec(a, ["ip", "route", "add", "default", "via", "192.168.50.1"])
    before = l3_state(a, "eth1")
    cfg = lab.write_config("a", extra='[bridge]\nname = "br0"\nports = ["eth1"]\ntake_over = "eth1"\n')
    cfg.write_text(cfg.read_text().replace(f'addresses = ["{OVERLAY["a"]}/24"]', "addresses = []"))
    cfg_b = lab.write_config("b")
    cfg_b.write_text(cfg_b.read_text().replace(f"{OVERLAY['b']}/24", "192.168.50.7/24"))
    lab.start("a")
    lab.start("b")

    assert "master br0" in sh(a, "ip", "link", "show", "tl0")
    assert "default via 192.168.50.1 dev br0" in sh(a, "ip", "route")
    lab.wait_ping("b", "192.168.50.1")  # B is a host on A's LAN now
    lan_mac = sh(lan, "cat", "/sys/class/net/lan0/address").strip()
    assert lan_mac in sh(b, "ip", "neigh", "show", "192.168.50.1")  # ARP (broadcast) crossed
    assert ping(lan, "192.168.50.7", 3) and ping(b, "192.168.50.2")
    transfer(b, lan, "192.168.50.1", 4 << 20, port=5081, timeout=60)

    assert lab.stop("a") == 0
    assert l3_state(a, "eth1") == before  # A's LAN side as it was: addresses and default route
    assert "br0" not in sh(a, "ip", "-br", "link")
    assert ping(lan, "192.168.50.2") and ping(a, "192.168.50.1")
    assert not list((tmp_path / "state").glob("*.net.json"))  # journal gone (learnt endpoints stay)


def test_l3_nat_example(lab: TunnelLab, prefix: str, tmp_path: Path) -> None:
    a, b = lab.sides["a"].ns, lab.sides["b"].ns
    lan = netns.add_ns(f"{prefix}l")
    netns.add_veth(a, "eth0", lan, "lan0", a_addr="192.168.70.2/24", b_addr="192.168.70.1/24")
    forward = sh(a, "sysctl", "-n", "net.ipv4.ip_forward")
    lab.write_config("a", extra='[nat]\nuplink = "eth0"\n')
    lab.write_config("b", extra=f'[[route]]\nto = "192.168.70.0/24"\nvia = "{OVERLAY["a"]}"\n')
    lab.start("a")
    lab.start("b")

    assert f"192.168.70.0/24 via {OVERLAY['a']} dev tl0" in sh(b, "ip", "route")
    lab.wait_ping("b", "192.168.70.1")  # L has no route to the tunnel subnet: only NAT makes this work
    transfer(b, lan, "192.168.70.1", 4 << 20, port=5082, timeout=60)
    ruleset = sh(a, "nft", "list", "ruleset")
    assert ruleset.count("table ") == 1 and "table inet tapliance_tl0" in ruleset
    assert sh(a, "sysctl", "-n", "net.ipv4.ip_forward") == "1\n"

    assert lab.stop("b") == 0
    assert "192.168.70.0" not in sh(b, "ip", "route")
    assert lab.stop("a") == 0
    assert sh(a, "nft", "list", "ruleset") == ""
    assert sh(a, "sysctl", "-n", "net.ipv4.ip_forward") == forward
    assert not list((tmp_path / "state").glob("*.net.json"))  # journal gone (learnt endpoints stay)
