"""NAT mode on real kernel objects: masquerade + forward policy + routes, in namespaces.

Without a daemon the tunnel side is simulated by a veth whose appliance end carries the interface name
(`net apply` only needs the device to exist; the e2e test does the same over a real TAP and tunnel)::

    T (tunnel-side host, 10.1.2.4, default via 10.1.2.3)
        | veth "tl0" = the tunnel interface
    A (appliance: tl0 10.1.2.3/24, eth0 192.168.70.2/24)
        | veth eth0
    L (LAN host, 192.168.70.1/24, NO route back to 10.1.2.0/24: only masquerade makes replies work)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tapliance.lab import netns
from tests.netns.hostcmd import net_cmd, ping, sh

TRANSFER = str(Path(__file__).with_name("transfer.py"))
CONFIG = """
[interface]
name = "tl0"
addresses = ["10.1.2.3/24", "fd12::3/64"]
[nat]
uplink = "eth0"
[[route]]
to = "172.20.0.0/16"
via = "10.1.2.4"
"""


def tcp(src: str, dst: str, ip: str, port: int, size: int = 1 << 20) -> bool:
    """A checksummed TCP transfer from ``src`` to ``ip`` (a listener in ``dst``)."""
    rx = subprocess.Popen(
        ["ip", "netns", "exec", dst, sys.executable, TRANSFER, "recv", str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert rx.stdout is not None and rx.stdout.readline().strip() == "listening"
        tx = netns.ns_exec(src, [sys.executable, TRANSFER, "send", ip, str(port), str(size)], check=False, timeout=30)
        if tx.returncode != 0:
            return False
        out, _ = rx.communicate(timeout=30)
        return out.split() == tx.stdout.decode().split()
    finally:
        if rx.poll() is None:
            rx.kill()
            rx.wait()


def build(prefix: str, tmp_path: Path) -> tuple[str, str, str, Path]:
    a, t, lan = (netns.add_ns(f"{prefix}{n}") for n in ("a", "t", "l"))
    netns.add_veth(a, "tl0", t, "eth0", a_addr="10.1.2.3/24", b_addr="10.1.2.4/24")
    netns.add_veth(a, "eth0", lan, "lan0", a_addr="192.168.70.2/24", b_addr="192.168.70.1/24")
    netns.ns_exec(t, ["ip", "route", "add", "default", "via", "10.1.2.3"])
    for ns, dev, addr in (
        (a, "tl0", "fd12::3"),
        (t, "eth0", "fd12::4"),
        (a, "eth0", "fd70::2"),
        (lan, "lan0", "fd70::1"),
    ):
        netns.ns_exec(ns, ["ip", "addr", "add", f"{addr}/64", "dev", dev, "nodad"])
    netns.ns_exec(t, ["ip", "-6", "route", "add", "default", "via", "fd12::3"])
    cfg = tmp_path / "nat.toml"
    cfg.write_text(CONFIG)
    return a, t, lan, cfg


def test_masquerade_forward_policy_and_clean_teardown(prefix: str, tmp_path: Path) -> None:
    a, t, lan, cfg = build(prefix, tmp_path)
    sysctls = ("net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding")
    before = [sh(a, "sysctl", "-n", s) for s in sysctls]
    assert before == ["0\n", "0\n"]
    assert not ping(t, "192.168.70.1") and not ping(t, "fd70::1")

    p = net_cmd(a, "apply", cfg)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        "created nft table inet tapliance_tl0 (7 rules: forward policy, masquerade out of eth0)",
        "set sysctl net.ipv4.ip_forward = 1 (was 0)",
        "set sysctl net.ipv6.conf.all.forwarding = 1 (was 0)",
        "added route 172.20.0.0/16 via 10.1.2.4 dev tl0",
    ]
    assert ping(t, "192.168.70.1")  # L has no route to 10.1.2.0/24: the reply only works NATed
    assert tcp(t, lan, "192.168.70.1", 5071)
    assert ping(t, "fd70::1")  # IPv6 too: L has no route to fd12::/64 either
    ruleset = sh(a, "nft", "list", "ruleset")
    assert ruleset.count("table ") == 1 and "table inet tapliance_tl0 {" in ruleset
    assert "172.20.0.0/16 via 10.1.2.4 dev tl0" in sh(a, "ip", "route")

    # New connections from the uplink side into the tunnel are dropped, even with a route back.
    netns.ns_exec(lan, ["ip", "route", "add", "10.1.2.0/24", "via", "192.168.70.2"])
    assert not ping(lan, "10.1.2.4")
    assert ping(t, "192.168.70.1")  # while replies to the tunnel's own connections still pass

    again = net_cmd(a, "apply", cfg)
    assert (again.returncode, again.stdout) == (0, "")
    assert "in sync" in net_cmd(a, "show", cfg).stdout

    down = net_cmd(a, "teardown", cfg)
    assert down.returncode == 0, down.stderr
    assert sh(a, "nft", "list", "ruleset") == ""
    assert [sh(a, "sysctl", "-n", s) for s in sysctls] == before
    assert "172.20.0.0" not in sh(a, "ip", "route")
    assert not ping(t, "192.168.70.1")


def test_other_tables_and_unrelated_forwarding_are_left_alone(prefix: str, tmp_path: Path) -> None:
    a, t, lan, cfg = build(prefix, tmp_path)
    other = "table inet keepme {\n\tchain c {\n\t\ttype filter hook input priority 0; policy accept;\n\t}\n}\n"
    netns.ns_exec(a, ["nft", "-f", "-"], input=other.encode())
    netns.ns_exec(a, ["sysctl", "-w", "net.ipv4.ip_forward=1"])  # already on: must stay on after teardown
    # An unrelated forwarding path through A: a third namespace U on another interface of A.
    u = netns.add_ns(f"{prefix}u")
    netns.add_veth(a, "eth9", u, "u0", a_addr="10.9.0.1/24", b_addr="10.9.0.2/24")
    netns.ns_exec(u, ["ip", "route", "add", "192.168.70.0/24", "via", "10.9.0.1"])
    netns.ns_exec(lan, ["ip", "route", "add", "10.9.0.0/24", "via", "192.168.70.2"])
    assert ping(u, "192.168.70.1")

    p = net_cmd(a, "apply", cfg)
    assert p.returncode == 0, p.stderr
    assert "ip_forward" not in p.stdout
    assert ping(u, "192.168.70.1") and ping(lan, "10.9.0.2")  # not tunnel traffic: untouched
    assert ping(t, "192.168.70.1")
    assert "table inet keepme" in sh(a, "nft", "list", "ruleset")

    assert net_cmd(a, "teardown", cfg).returncode == 0
    assert sh(a, "nft", "list", "ruleset") == other.replace("priority 0", "priority filter")
    assert sh(a, "sysctl", "-n", "net.ipv4.ip_forward") == "1\n"


@pytest.mark.parametrize("first_down", ["tl0", "tl1"])
def test_two_tunnels_share_ip_forward_and_the_last_one_out_restores_it(
    prefix: str, tmp_path: Path, first_down: str
) -> None:
    a, t, _lan, cfg0 = build(prefix, tmp_path)
    netns.ns_exec(a, ["ip", "tuntap", "add", "mode", "tap", "name", "tl1"])
    cfg1 = tmp_path / "nat1.toml"
    cfg1.write_text('[interface]\nname = "tl1"\naddresses = ["10.1.3.3/24"]\n[nat]\nuplink = "eth0"\n')
    assert "ip_forward = 1 (was 0)" in net_cmd(a, "apply", cfg0).stdout
    assert "ip_forward" not in net_cmd(a, "apply", cfg1).stdout  # already on: used, not changed
    assert sh(a, "nft", "list", "tables").split() == [
        "table",
        "inet",
        "tapliance_tl0",
        "table",
        "inet",
        "tapliance_tl1",
    ]
    cfgs = {"tl0": cfg0, "tl1": cfg1}
    second = "tl1" if first_down == "tl0" else "tl0"
    down = net_cmd(a, "teardown", cfgs[first_down])
    assert down.returncode == 0 and f"left sysctl net.ipv4.ip_forward as is: {second} still uses it" in down.stdout
    assert sh(a, "sysctl", "-n", "net.ipv4.ip_forward") == "1\n"
    assert ping(t, "192.168.70.1") == (first_down == "tl1")  # tl0's NAT still works when tl1 leaves
    assert net_cmd(a, "teardown", cfgs[second]).returncode == 0
    assert sh(a, "sysctl", "-n", "net.ipv4.ip_forward") == "0\n"
    assert sh(a, "nft", "list", "ruleset") == ""
    assert not list((tmp_path / "state").glob("*.json"))
