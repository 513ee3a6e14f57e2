"""The netns lab builder (tapliance.lab): boxes, switches, sshd per box, isolation, and a `down` that leaves
nothing behind. The Ansible runs against a built lab are in tests/ansible/.
"""

from __future__ import annotations

import os

import pytest

from tapliance.lab import netns
from tapliance.lab.lab import Lab


@pytest.fixture
def lab(prefix: str) -> Lab:
    # default root (/var/lib/tapliance-lab): sshd StrictModes refuses keys below a world-writable /tmp
    return Lab("l3-nat", prefix=prefix, echo=False)


def ping(ns: str, ip: str) -> bool:
    return netns.ns_exec(ns, ["ping", "-c", "1", "-W", "1", ip], check=False).returncode == 0


def test_build_ssh_isolation_down(lab: Lab, prefix: str) -> None:
    try:
        lab.build()
        assert lab.exists()
        assert sorted(netns.list_ns(f"{prefix}-")) == sorted(lab.names.all(lab.topo))
        # every box answers over ssh with its own hostname (own UTS namespace), the machine's is untouched
        for h in lab.topo.hosts:
            out = netns.sh(lab.ssh_argv(h.name, "hostname; ip -br addr show eth0")).stdout.decode()
            assert out.splitlines()[0] == h.name and h.mgmt in out
        assert os.uname().nodename not in {h.name for h in lab.topo.hosts}
        # wires exist only where the table puts them
        a, b = (lab.names.host(n) for n in ("site-a", "site-b"))
        assert ping(b, "172.31.62.11") and ping(a, "192.168.62.10")
        assert not ping(b, "192.168.62.10")  # only through the tunnel, once deployed
        # the management network is reachable only from the lab's switch namespace, not from the root namespace
        assert netns.sh(["ping", "-c", "1", "-W", "1", "10.199.62.11"], check=False).returncode != 0
        # re-running build keeps a complete lab (same sshd pids)
        pid_before = (lab.host_dir("site-a") / "sshd" / "sshd.pid").read_text()
        lab.build()
        assert (lab.host_dir("site-a") / "sshd" / "sshd.pid").read_text() == pid_before
    finally:
        removed = lab.down(quiet=True)
    assert lab.leftovers() == []
    assert str(lab.dir) in removed
    assert netns.sh(["pgrep", "-f", f"{lab.dir}/"], check=False).stdout == b""  # no sshd left


def test_incomplete_lab_is_rebuilt(lab: Lab, prefix: str) -> None:
    try:
        lab.build()
        netns.sh(["ip", "netns", "del", lab.names.host("lan-host")])  # half-broken lab
        assert not lab.exists()
        lab.build()
        assert lab.exists()
    finally:
        lab.down(quiet=True)
    assert lab.leftovers() == []
    assert netns.sh(["pgrep", "-f", f"{lab.dir}/"], check=False).stdout == b""  # not even the orphaned sshd
