"""What goes wrong: clear one-line errors with the host unchanged, rollback, and kill -9 recovery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tapliance.lab import netns
from tests.netns.hostcmd import net_cmd

BRIDGE = '[interface]\nname = "tap0"\n[bridge]\nname = "br0"\nports = ["eth1"]\n'


def snapshot(ns: str) -> str:
    """Links (with masters), addresses, routes, nftables and forwarding: everything apply may touch."""
    cmds = [
        ["ip", "-d", "-br", "link"],
        ["ip", "-br", "addr"],
        ["ip", "route"],
        ["ip", "-6", "route"],
        ["nft", "list", "ruleset"],
        ["sysctl", "net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"],
    ]
    return "\n".join(netns.ns_exec(ns, c, timeout=30).stdout.decode() for c in cmds)


@pytest.fixture
def appliance(prefix: str, tmp_path: Path) -> str:
    a, lan = netns.add_ns(f"{prefix}a"), netns.add_ns(f"{prefix}l")
    netns.ns_exec(a, ["ip", "tuntap", "add", "mode", "tap", "name", "tap0"])
    netns.ns_exec(a, ["ip", "addr", "add", "10.1.2.3/24", "dev", "tap0"])
    netns.add_veth(a, "eth1", lan, "lan0", a_addr="192.168.80.5/24", b_addr="192.168.80.1/24")
    netns.add_veth(a, "eth2", lan, "lan1")
    netns.ns_exec(a, ["ip", "route", "add", "default", "via", "192.168.80.1"])
    return a


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            '[interface]\nname = "tap0"\naddresses = ["10.1.2.3/24"]\n[nat]\nuplink = "nosuch0"\n',
            "tapliance: nat.uplink nosuch0: no such device",
        ),
        (
            '[interface]\nname = "tap0"\n[bridge]\nname = "eth2"\nports = ["eth1"]\n',
            "tapliance: bridge eth2: a veth device of that name exists (not a bridge); choose another bridge.name",
        ),
        (
            BRIDGE.replace('ports = ["eth1"]', 'ports = ["eth2"]\naddresses = ["192.168.80.5/24"]'),
            "tapliance: address 192.168.80.5/24: already assigned to eth1",
        ),
        (
            BRIDGE.replace('ports = ["eth1"]', 'ports = ["eth2"]\naddresses = ["192.168.80.6/24"]'),
            "tapliance: address 192.168.80.6/24: network 192.168.80.0/24 is already on eth1 (192.168.80.5/24)",
        ),
        (
            '[interface]\nname = "tap9"\n[bridge]\nname = "br0"\n',
            "tapliance: interface tap9: no such device; `tapliance up` creates it",
        ),
        (
            '[interface]\nname = "tap0"\naddresses = ["10.1.2.3/24"]\n[[route]]\nto = "0.0.0.0/0"\nvia = "10.1.2.9"\n',
            "tapliance: route 0.0.0.0/0 via 10.1.2.9 dev tap0: a route to 0.0.0.0/0 via 192.168.80.1 dev eth1 already",
        ),
        (
            '[interface]\nname = "tap0"\n[bridge]\nname = "br0"\nports = ["eth1", "eth9"]\n',
            "tapliance: port of bridge br0 eth9: no such device",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    appliance: str, tmp_path: Path, config: str, message: str
) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(config)
    before = snapshot(appliance)
    p = net_cmd(appliance, "apply", cfg)
    assert p.returncode == 2, p.stderr
    message = message.replace("tapliance: ", f"tapliance: {cfg}: ", 1)  # bad input names its config file
    assert p.stderr.startswith(message) and p.stderr.count("\n") == 1, p.stderr
    assert "Traceback" not in p.stderr and p.stdout == ""
    assert snapshot(appliance) == before
    assert not list((tmp_path / "state").glob("*.json"))


def test_kernel_refusal_mid_way_rolls_back_with_exit_1(appliance: str, tmp_path: Path) -> None:
    cfg = tmp_path / "late.toml"
    # The bridge is made first; the route's gateway is unreachable, which only the kernel can tell.
    cfg.write_text(BRIDGE + 'addresses = ["10.50.0.1/24"]\n[[route]]\nto = "10.60.0.0/16"\nvia = "172.31.9.9"\n')
    before = snapshot(appliance)
    p = net_cmd(appliance, "apply", cfg)
    assert p.returncode == 1
    assert p.stderr.startswith("tapliance: route 10.60.0.0/16 via 172.31.9.9 dev br0: cannot add: ")
    assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
    assert snapshot(appliance) == before
    assert not list((tmp_path / "state").glob("*.json"))


CRASH = """
import os, signal, sys
from tapliance import config, net
from tapliance.net import host
real = host.Host.set_master
def set_master(self, port, master):
    real(self, port, master)
    if port == "eth1":
        os.kill(os.getpid(), signal.SIGKILL)  # die half-way: bridge made, ports enslaved, no addresses yet
host.Host.set_master = set_master
net.apply(config.load(sys.argv[1]))
"""


def test_kill_9_half_way_then_teardown_cleans_up(appliance: str, tmp_path: Path) -> None:
    cfg = tmp_path / "crash.toml"
    cfg.write_text(BRIDGE.replace('ports = ["eth1"]', 'ports = ["eth2", "eth1"]\ntake_over = "eth1"'))
    before = snapshot(appliance)
    env = {**os.environ, "TAPLIANCE_STATE_DIR": str(tmp_path / "state")}
    p = subprocess.run(
        ["ip", "netns", "exec", appliance, sys.executable, "-c", CRASH, str(cfg)],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert p.returncode == -signal.SIGKILL
    assert "master br0" in netns.ns_exec(appliance, ["ip", "link", "show", "eth1"]).stdout.decode()
    assert (tmp_path / "state" / f"tap0@{appliance}.net.json").exists()  # namespaces share /run
    down = net_cmd(appliance, "teardown", cfg)
    assert down.returncode == 0, down.stderr
    assert "deleted bridge br0" in down.stdout
    assert snapshot(appliance) == before
    assert not list((tmp_path / "state").glob("*.json"))


def test_kill_9_of_the_process_that_applied_then_teardown(appliance: str, tmp_path: Path) -> None:
    cfg = tmp_path / "nat.toml"
    cfg.write_text('[interface]\nname = "tap0"\naddresses = ["10.1.2.3/24"]\n[nat]\nuplink = "eth1"\n')
    before = snapshot(appliance)
    env = {**os.environ, "TAPLIANCE_STATE_DIR": str(tmp_path / "state")}
    code = (
        "import sys, time\nfrom tapliance import config, net\nnet.apply(config.load(sys.argv[1]))\n"
        "print('up', flush=True)\ntime.sleep(600)\n"
    )
    proc = subprocess.Popen(
        ["ip", "netns", "exec", appliance, sys.executable, "-c", code, str(cfg)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
        assert "tapliance_tap0" in netns.ns_exec(appliance, ["nft", "list", "tables"]).stdout.decode()
    finally:
        proc.kill()  # SIGKILL: no chance to clean up
        proc.wait(timeout=10)
    time.sleep(0.1)
    down = net_cmd(appliance, "teardown", cfg)
    assert down.returncode == 0, down.stderr
    assert snapshot(appliance) == before


def test_each_netlink_and_nft_write_failing_in_turn_leaves_the_host_as_it_was(appliance: str, tmp_path: Path) -> None:
    """Fault injection (scripts/torturelib/faults.py; scripts/torture's `faults` row fails reads too): every
    change apply and teardown make fails in turn, in-process, at the netlink/libnftables/sysctl call. A failed
    apply rolls back to exactly the host before; a failed teardown keeps the journal of the rest, and a second
    teardown restores the host exactly."""
    from scripts.torturelib import faults

    lan = netns.list_ns(appliance[:-1] + "l")[0]
    netns.add_veth(appliance, "eth3", lan, "lan2")
    netns.ns_exec(appliance, ["sysctl", "-qw", "net.ipv4.ip_forward=0"])
    cfg = tmp_path / "faults.toml"
    cfg.write_text(
        BRIDGE.replace('ports = ["eth1"]', 'ports = ["eth2", "eth1"]\ntake_over = "eth1"\naddresses = ["10.50.0.1/24"]')
        + '[nat]\nuplink = "eth3"\n[[route]]\nto = "10.60.0.0/16"\nvia = "10.50.0.9"\n'
    )
    result = faults.sweep(appliance, cfg, tmp_path / "state", lambda: snapshot(appliance), writes=True)
    assert result["counts"]["apply"] >= 10 and result["counts"]["teardown"] >= 10, result
    assert result["bad"] == [], result["bad"]
    kinds = {c.split()[0] + " " + c.split()[1] for c in result["calls"]}
    assert {"netlink link", "netlink addr", "netlink route", "nft commit", "sysctl write"} <= kinds, kinds
