"""Bridge mode on real kernel objects: `tapliance net apply|show|teardown` inside a namespace.

Topology (no daemon: the TAP is a persistent one made with `ip tuntap`, as `net apply` requires)::

    LAN host L (lan0 192.168.50.1, fd50::1)
        |  veth
    A: eth1 --+-- br0 --+-- tap0          R (far side of the bridge, 192.168.50.9)
              |         +-- eth2 ------------- veth r0
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from tapliance.lab import netns
from tests.netns.hostcmd import l3_state, net_cmd, ping, sh


def build(prefix: str) -> tuple[str, str, str]:
    a, lan, r = (netns.add_ns(f"{prefix}{n}") for n in ("a", "l", "r"))
    netns.ns_exec(a, ["ip", "tuntap", "add", "mode", "tap", "name", "tap0"])
    netns.add_veth(a, "eth1", lan, "lan0", b_addr="192.168.50.1/24")
    netns.ns_exec(lan, ["ip", "addr", "add", "fd50::1/64", "dev", "lan0", "nodad"])
    netns.add_veth(a, "eth2", r, "r0", b_addr="192.168.50.9/24")
    return a, lan, r


def test_take_over_moves_addresses_and_default_route_and_teardown_restores_them(prefix: str, tmp_path: Path) -> None:
    a, lan, r = build(prefix)
    netns.ns_exec(a, ["ip", "addr", "add", "192.168.50.2/24", "dev", "eth1"])
    netns.ns_exec(a, ["ip", "addr", "add", "192.168.50.3/24", "dev", "eth1"])  # a secondary
    netns.ns_exec(a, ["ip", "addr", "add", "fd50::2/64", "dev", "eth1", "nodad"])
    netns.ns_exec(a, ["ip", "route", "add", "default", "via", "192.168.50.1", "metric", "7"])
    netns.ns_exec(a, ["ip", "-6", "route", "add", "default", "via", "fd50::1"])
    before = l3_state(a, "eth1")
    cfg = tmp_path / "br.toml"
    cfg.write_text('[interface]\nname = "tap0"\n[bridge]\nname = "br0"\nports = ["eth2", "eth1"]\ntake_over = "eth1"\n')

    p = net_cmd(a, "apply", cfg)
    assert p.returncode == 0, p.stderr
    assert "created bridge br0 (stp off, forward delay 15s)" in p.stdout
    assert "moved route 0.0.0.0/0 via 192.168.50.1 dev eth1 metric 7 to br0" in p.stdout
    routes = sh(a, "ip", "route")
    assert "default via 192.168.50.1 dev br0 metric 7" in routes and "eth1" not in routes
    assert "default via fd50::1 dev br0" in sh(a, "ip", "-6", "route")
    assert l3_state(a, "br0")[0] == before[0]  # the same addresses, now on the bridge
    assert l3_state(a, "eth1")[0] == []
    assert sh(a, "cat", "/sys/class/net/br0/address") == sh(a, "cat", "/sys/class/net/eth1/address")
    assert ping(a, "192.168.50.1") and ping(a, "fd50::1")  # the host itself still reaches the LAN
    assert ping(r, "192.168.50.1") and ping(r, "192.168.50.2")  # across the bridge from the far side
    lan_mac = sh(lan, "cat", "/sys/class/net/lan0/address").strip()
    assert lan_mac in sh(r, "ip", "neigh", "show", "192.168.50.1")  # ARP crossed the bridge

    again = net_cmd(a, "apply", cfg)
    assert (again.returncode, again.stdout) == (0, "")
    show = net_cmd(a, "show", cfg)
    assert show.returncode == 0 and "in sync" in show.stdout, show.stdout

    down = net_cmd(a, "teardown", cfg)
    assert down.returncode == 0, down.stderr
    assert "deleted bridge br0" in down.stdout
    assert l3_state(a, "eth1") == before
    assert "br0" not in sh(a, "ip", "-br", "link")
    assert ping(a, "192.168.50.1")
    assert not list((tmp_path / "state").glob("*.json"))
    assert net_cmd(a, "teardown", cfg).stdout == ""  # nothing left to do is not an error


def test_bridge_with_own_address_and_stp_then_show_diff_after_manual_change(prefix: str, tmp_path: Path) -> None:
    a, lan, r = build(prefix)
    cfg = tmp_path / "br.toml"
    cfg.write_text(
        '[interface]\nname = "tap0"\n[bridge]\nname = "br0"\nports = ["eth1", "eth2"]\n'
        'stp = true\nforward_delay = 2\naddresses = ["192.168.50.5/24"]\n'
    )
    p = net_cmd(a, "apply", cfg)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[:3] == [
        "created bridge br0 (stp on, forward delay 2s)",
        "set br0 up",
        "added address 192.168.50.5/24 to br0",
    ]
    data = json.loads(sh(a, "ip", "-j", "-d", "link", "show", "br0"))[0]["linkinfo"]["info_data"]
    assert data["stp_state"] == 1 and data["forward_delay"] == 200
    members = sh(a, "ip", "-br", "link", "show", "master", "br0")
    assert all(x in members for x in ("tap0", "eth1", "eth2"))
    # STP: ports listen/learn for 2 x forward_delay before forwarding
    t0 = time.monotonic()
    while not ping(lan, "192.168.50.5") and time.monotonic() - t0 < 15:
        time.sleep(0.5)
    assert ping(lan, "192.168.50.5") and ping(r, "192.168.50.1")

    netns.ns_exec(a, ["ip", "link", "set", "eth2", "nomaster"])  # drift: show must name it
    show = net_cmd(a, "show", cfg).stdout
    assert "differences (- planned, + actual):" in show
    assert "  -bridge br0 port eth2\n  +bridge br0 port eth2: not a member" in show
    fix = net_cmd(a, "apply", cfg)
    assert fix.stdout.strip() == "added eth2 to bridge br0"
    assert net_cmd(a, "teardown", cfg).returncode == 0
    assert "br0" not in sh(a, "ip", "-br", "link")
