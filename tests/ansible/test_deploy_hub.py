"""The hub deployment by real `ansible-playbook` runs against netns lab boxes over ssh (8 boxes: the hub, its
LAN host, three client sites and their LAN hosts):

first run (the hub's peers from the `clients` group, each client's from `hub`, keys exchanged) ->
playbooks/verify.yml (the clients' handed-out addresses against the hub's leases, the reservation, pushed
routes, client-to-client and client-to-hub-LAN pings and TCP transfers with sha256) -> second run changed=0
-> lab down leaves nothing.
"""

from __future__ import annotations

import ipaddress
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tapliance.lab import netns
from tapliance.lab.lab import Lab
from tests.ansible.test_deploy import explain, recap

TUNNEL_HOSTS = {"hub-site", "client-1", "client-2", "client-3"}


@pytest.fixture
def hub_lab() -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, sshd per box); run via scripts/test")
    lab = Lab("hub", prefix=netns.unique_prefix("th"), echo=False)
    try:
        yield lab
    finally:
        lab.down(quiet=True)
        assert lab.leftovers() == []


def check_report(report: dict[str, Any]) -> None:
    leases = {entry["peer"]: entry for entry in report["leases"]}
    assert set(leases) == {"client-1", "client-2", "client-3"}, leases
    addrs = [ipaddress.ip_interface(entry["v4"]) for entry in leases.values()]
    assert len(set(addrs)) == 3
    assert all(a.network == ipaddress.ip_network("10.63.0.0/24") for a in addrs), addrs
    assert all(100 <= int(a.ip) & 0xFF <= 199 for a in addrs), addrs  # the pool 10.63.0.100-10.63.0.199
    assert leases["client-3"]["v4"] == "10.63.0.150/24" and leases["client-3"]["reserved"]
    assert not leases["client-1"]["reserved"] and not leases["client-2"]["reserved"]
    flows = {(f["flow"]["from"], f["flow"]["to"]): f for f in report["flows"]}
    assert set(flows) == {("client-1", "client-2"), ("client-2", "hub-lan"), ("client-1", "lan-3")}
    for f in flows.values():
        assert f["rx"]["sha256"] == f["tx"]["sha256"] and f["rx"]["bytes"] == f["tx"]["bytes"] == 8 << 20
    # client to client: the receiver saw the sender's handed-out address (relayed by the hub, no NAT)
    assert flows[("client-1", "client-2")]["rx"]["peer"] == leases["client-1"]["v4"].split("/")[0]
    assert flows[("client-2", "hub-lan")]["rx"]["peer"] == "192.168.63.2"  # masqueraded by the hub
    assert flows[("client-1", "lan-3")]["rx"]["peer"] == "192.168.73.2"  # routed to the reservation


def test_hub_deploy_verify_idempotent(hub_lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    t0 = time.monotonic()
    hub_lab.build()
    hub_lab.build_wheelhouse()
    first = hub_lab.deploy()
    assert first.rc == 0, explain(first)
    assert set(first.recap) == TUNNEL_HOSTS
    assert all(v["changed"] > 0 and v["failed"] == 0 for v in first.recap.values()), recap(first)

    report = hub_lab.verify()
    check_report(report)
    leases_file = Path(hub_lab.inventory_vars("hub-site")["tapliance_state_dir"]) / "leases" / "tap0.leases"
    saved = json.loads(leases_file.read_text())["leases"]
    assert sorted(v["v4"] for v in saved.values()) == sorted(e["v4"] for e in report["leases"])

    second = hub_lab.deploy()
    assert second.rc == 0, explain(second)
    assert set(second.recap) == TUNNEL_HOSTS
    assert all(v["changed"] == 0 and v["failed"] == 0 for v in second.recap.values()), recap(second)

    with capsys.disabled():
        print(
            f"\nhub: first run {first.seconds:.0f} s, verify, second run {second.seconds:.0f} s, "
            f"total {time.monotonic() - t0:.0f} s"
        )
        print("  " + "\n  ".join(str(line) for line in report["proof"]))
        print("  second: " + "\n          ".join(second.recap_lines))
