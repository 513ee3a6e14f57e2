"""Lab topology tables: one JSON file per deployment, read by the netns lab *and* the Vagrantfile.

Why JSON: the Vagrantfile is Ruby and must read the very same file; Ruby's standard library parses JSON
(and YAML) but not TOML, and Python's standard library parses JSON (and TOML) but not YAML. JSON is the
one format both read without extra gems or wheels.

A table describes boxes and wires, never the tunnel itself (that is the Ansible inventory's job, see
playbooks/inventories/<topology>/):

- ``management``: the network Ansible reaches the boxes over. The netns lab builds it (eth0 in every
  box, the controller's end in the lab's switch namespace); Vagrant uses its own management NIC (eth0).
- ``networks``: the private networks between boxes, each one L2 segment.
- ``hosts``: boxes in order, their Ansible groups, and their interfaces eth1, eth2, ... in the order the
  networks are attached (Vagrant attaches private networks in definition order, so a VM's ethN matches).
  ``configure: false`` marks a port whose address is applied by the deployment (e.g. on a bridge), not by
  the box: the netns lab leaves it bare, Vagrant passes ``auto_config: false``.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TABLES = Path(__file__).with_name("topologies")
HOSTNAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,11}$")  # short: host names appear in namespace names
GROUP_RE = re.compile(r"^[a-z_][a-z0-9_]*$")  # valid Ansible group names


class TopologyError(ValueError):
    pass


@dataclass(frozen=True)
class Interface:
    ifname: str
    network: str
    address: str  # with prefix length
    configure: bool = True


@dataclass(frozen=True)
class Host:
    name: str
    groups: tuple[str, ...]
    mgmt: str  # management address, no prefix length
    interfaces: tuple[Interface, ...]


@dataclass(frozen=True)
class Topology:
    name: str
    summary: str
    diagram: tuple[str, ...]
    mgmt_cidr: str
    controller: str
    networks: dict[str, str]  # name -> cidr
    hosts: tuple[Host, ...]

    @property
    def mgmt_prefixlen(self) -> int:
        return ipaddress.ip_network(self.mgmt_cidr).prefixlen

    def host(self, name: str) -> Host:
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)


def names() -> list[str]:
    return sorted(p.stem for p in TABLES.glob("*.json"))


def load(name_or_path: str | Path) -> Topology:
    """Load a table by name (``l2-bridge``) or path; raise :class:`TopologyError` naming what is wrong."""
    p = Path(name_or_path)
    if not p.suffix:
        p = TABLES / f"{name_or_path}.json"
        if not p.exists():
            raise TopologyError(f"unknown topology {name_or_path!r} (known: {', '.join(names())})")
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise TopologyError(f"{p}: {e}") from None
    return parse(data, str(p))


def parse(d: dict[str, Any], where: str = "<topology>") -> Topology:
    def fail(msg: str) -> TopologyError:
        return TopologyError(f"{where}: {msg}")

    try:
        mgmt = ipaddress.ip_network(d["management"]["cidr"])
        controller = ipaddress.ip_address(d["management"]["controller"])
        nets = {n: str(ipaddress.ip_network(v["cidr"])) for n, v in d["networks"].items()}
        hosts = []
        for h in d["hosts"]:
            ifs = tuple(
                Interface(i["ifname"], i["network"], i["address"], bool(i.get("configure", True)))
                for i in h["interfaces"]
            )
            hosts.append(Host(h["name"], tuple(h["groups"]), h["mgmt"], ifs))
    except (KeyError, TypeError, ValueError) as e:
        raise fail(f"malformed table: {type(e).__name__}: {e}") from None
    if controller not in mgmt:
        raise fail(f"management.controller {controller} is outside {mgmt}")
    seen_mgmt = {str(controller)}
    for h in hosts:
        if not HOSTNAME_RE.match(h.name):
            raise fail(f"host {h.name!r}: name must match {HOSTNAME_RE.pattern}")
        for g in h.groups:
            if not GROUP_RE.match(g):
                raise fail(f"host {h.name}: group {g!r} is not a valid Ansible group name")
        if ipaddress.ip_address(h.mgmt) not in mgmt or h.mgmt in seen_mgmt:
            raise fail(f"host {h.name}: mgmt {h.mgmt} outside {mgmt} or used twice")
        seen_mgmt.add(h.mgmt)
        for n, i in enumerate(h.interfaces, start=1):
            if i.ifname != f"eth{n}":
                raise fail(f"host {h.name}: interface {n} must be eth{n} (Vagrant numbers NICs in order)")
            if i.network not in nets:
                raise fail(f"host {h.name}: {i.ifname} on unknown network {i.network!r}")
            if ipaddress.ip_interface(i.address).network != ipaddress.ip_network(nets[i.network]):
                raise fail(f"host {h.name}: {i.ifname} address {i.address} is not in {nets[i.network]}")
    if len({h.name for h in hosts}) != len(hosts):
        raise fail("host names must be unique")
    return Topology(
        d.get("name", where),
        d.get("summary", ""),
        tuple(d.get("diagram", ())),
        str(mgmt),
        str(controller),
        nets,
        tuple(hosts),
    )
