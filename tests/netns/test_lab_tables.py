"""The topology tables (shared by the netns lab and the Vagrantfile) and the example inventories agree.

No root needed: these read files only.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
import yaml

from tapliance.lab import topology
from tapliance.lab.inventory import PLAYBOOKS

TOPOLOGIES = topology.names()
POINT_TO_POINT = ["l2-bridge", "l3-nat"]


def test_every_deployment_exists() -> None:
    assert sorted(["hub", *POINT_TO_POINT]) == TOPOLOGIES


def _inventory(name: str) -> tuple[dict[str, set[str]], dict[str, dict[str, Any]], dict[str, Any]]:
    """Groups, the variables of each host (its groups' group_vars, then its host_vars), and group all's."""
    d = PLAYBOOKS / "inventories" / name
    hosts = yaml.safe_load((d / "hosts.yml").read_text())
    groups = {g: set((v or {}).get("hosts", {}) or {}) for g, v in hosts["all"]["children"].items()}
    group_vars = {p.stem: yaml.safe_load(p.read_text()) for p in (d / "group_vars").glob("*.yml")}
    host_vars: dict[str, dict[str, Any]] = {}
    for host in sorted(set().union(*groups.values())):
        merged = dict(group_vars.get("all", {}))
        for g in sorted(g for g, members in groups.items() if host in members):
            merged.update(group_vars.get(g, {}))
        hv = d / "host_vars" / f"{host}.yml"
        merged.update(yaml.safe_load(hv.read_text()) if hv.exists() else {})
        host_vars[host] = merged
    return groups, host_vars, group_vars["all"]


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
            assert nat["uplink"] in [i.ifname for i in topo.host(host).interfaces if i.network != "wan"]
    if name not in POINT_TO_POINT:
        return
    lan = topo.host("lan-host").interfaces[0]
    assert all_vars["verify_target"] == str(ipaddress.ip_interface(lan.address).ip)
    assert ipaddress.ip_address(all_vars["verify_expect_peer"]) in ipaddress.ip_network(topo.networks["lan"])


@pytest.mark.parametrize("name", POINT_TO_POINT)
def test_table_rules(name: str) -> None:
    topo = topology.load(name)
    assert {"tapliance", "gateway", "remote", "lan"} <= {g for h in topo.hosts for g in h.groups}
    assert all(i.ifname == f"eth{n}" for h in topo.hosts for n, i in enumerate(h.interfaces, 1))


def _address(topo: topology.Topology, host: str, network: str) -> str:
    (i,) = [i for i in topo.host(host).interfaces if i.network == network]
    return str(ipaddress.ip_interface(i.address).ip)


def test_hub_table_and_inventory() -> None:
    """One hub and at least three client sites, each client with a LAN host on a network of its own; the
    clients get their tunnel addresses from the hub's pool (none of their own), one by a reservation; the
    flows verify.yml checks name the boxes' table addresses."""
    topo = topology.load("hub")
    groups, hv, all_vars = _inventory("hub")
    (hub,) = groups["hub"]
    clients = sorted(groups["clients"])
    assert len(clients) >= 3 and groups["tapliance"] == {hub, *clients}
    for c in clients:
        (lan,) = [i.network for i in topo.host(c).interfaces if i.network != "wan"]
        others = [h.name for h in topo.hosts if h.name != c and any(i.network == lan for i in h.interfaces)]
        assert len(others) == 1 and others[0] in groups["client_lans"], (c, lan, others)
        assert hv[c]["tapliance_peer_groups"] == ["hub"] and not hv[c].get("tapliance_interface_addresses")
    assert hv[hub]["tapliance_peer_groups"] == ["clients"]
    pool = hv[hub]["tapliance_pool"]
    first, last = (ipaddress.ip_address(a) for a in pool["ipv4"].split("-"))
    (tap,) = (ipaddress.ip_interface(a) for a in hv[hub]["tapliance_interface_addresses"])
    assert first in tap.network and last in tap.network and pool["gateway"] == [str(tap.ip)]
    reserved = {c: hv[c]["tapliance_reserve"] for c in clients if hv[c].get("tapliance_reserve")}
    assert len(reserved) == 1 and all(first <= ipaddress.ip_address(a[0]) <= last for a in reserved.values())
    (routed,) = hv[hub]["tapliance_routes"]  # the reserved client's LAN, via its reservation
    (c3,) = reserved
    assert routed["via"] == reserved[c3][0] and routed["to"] in pool["routes"]
    assert routed["to"] == str(ipaddress.ip_interface(topo.host(c3).interfaces[1].address).network)
    for flow in all_vars["verify_flows"]:
        assert flow["from"] in clients and flow["to"] in set().union(*groups.values())
        if "address" in flow:
            assert flow["address"] == _address(topo, flow["to"], topo.host(flow["to"]).interfaces[0].network)
    assert {f["to"] for f in all_vars["verify_flows"]} & set(clients), "no client-to-client flow"
    assert {f["to"] for f in all_vars["verify_flows"]} & groups["hub_lan"], "no flow to the hub's LAN"


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
