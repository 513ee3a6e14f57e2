"""The topology tables (shared by the netns lab and the Vagrantfile) and the example inventories agree.

No root needed: these read files only.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
import yaml

from tapliance.lab import topology
from tapliance.lab.inventory import PLAYBOOKS

TOPOLOGIES = topology.names()


def test_both_deployments_exist() -> None:
    assert TOPOLOGIES == ["l2-bridge", "l3-nat"]


def _inventory(name: str) -> tuple[dict[str, set[str]], dict[str, dict[str, object]], dict[str, object]]:
    d = PLAYBOOKS / "inventories" / name
    hosts = yaml.safe_load((d / "hosts.yml").read_text())
    groups = {g: set((v or {}).get("hosts", {}) or {}) for g, v in hosts["all"]["children"].items()}
    host_vars = {p.stem: yaml.safe_load(p.read_text()) for p in (d / "host_vars").glob("*.yml")}
    all_vars = yaml.safe_load((d / "group_vars" / "all.yml").read_text())
    return groups, host_vars, all_vars


@pytest.mark.parametrize("name", TOPOLOGIES)
def test_inventory_matches_table(name: str) -> None:
    topo = topology.load(name)
    groups, host_vars, all_vars = _inventory(name)
    table_groups: dict[str, set[str]] = {}
    for h in topo.hosts:
        for g in h.groups:
            table_groups.setdefault(g, set()).add(h.name)
    assert groups == table_groups, "hosts.yml groups differ from the topology table's"
    # every tunnel endpoint address in the inventory is the wan address the table gives that box
    for host, hv in host_vars.items():
        ep = hv.get("tapliance_endpoint")
        if ep:
            ip = str(ep).rsplit(":", 1)[0]
            assert ip in [
                str(ipaddress.ip_interface(i.address).ip) for i in topo.host(host).interfaces if i.network == "wan"
            ], f"{host}: endpoint {ep} is not its wan address"
        for port in (hv.get("tapliance_bridge") or {}).get("ports", []):
            assert port in [i.ifname for i in topo.host(host).interfaces if not i.configure]
        nat = hv.get("tapliance_nat") or {}
        if nat:
            assert nat["uplink"] in [i.ifname for i in topo.host(host).interfaces if i.network == "lan"]
    lan = topo.host("lan-host").interfaces[0]
    assert all_vars["verify_target"] == str(ipaddress.ip_interface(lan.address).ip)
    assert ipaddress.ip_address(all_vars["verify_expect_peer"]) in ipaddress.ip_network(topo.networks["lan"])


@pytest.mark.parametrize("name", TOPOLOGIES)
def test_table_rules(name: str) -> None:
    topo = topology.load(name)
    assert {"tapliance", "gateway", "remote", "lan"} <= {g for h in topo.hosts for g in h.groups}
    assert all(i.ifname == f"eth{n}" for h in topo.hosts for n, i in enumerate(h.interfaces, 1))


def test_bad_table_is_explained(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"management": {"cidr": "10.0.0.0/24", "controller": "10.0.0.1"}, "networks": '
        '{"wan": {"cidr": "10.1.0.0/24"}}, "hosts": [{"name": "a", "groups": ["x"], "mgmt": "10.0.0.2",'
        ' "interfaces": [{"ifname": "eth1", "network": "lan", "address": "10.1.0.1/24"}]}]}'
    )
    with pytest.raises(topology.TopologyError, match="unknown network 'lan'"):
        topology.load(bad)
    with pytest.raises(topology.TopologyError, match="unknown topology"):
        topology.load("l9-nothing")
