"""Boxes and wires: a topology table -> network namespaces joined by veths and lab-private switches.

Layout for a lab with name prefix ``P``::

    P-sw            the lab's switch namespace: one Linux bridge per network (``s-<net>``) plus ``s-mgmt``,
                    which also carries the controller's address: Ansible runs *inside* P-sw, so the
                    management network is reachable only from namespaces the lab made, never from the
                    root namespace (nothing in the root namespace is touched at all).
    P-<host>        one namespace per box: eth0 on the management network, eth1.. on its networks,
                    each a veth whose other end (``h<i>e<n>``) is a port of that network's switch.

Switch bridges carry no addresses except the controller's on ``s-mgmt``, so the switch namespace
cannot route between networks: boxes talk only where the table wires them together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tapliance.lab import netns
from tapliance.lab.topology import Topology

MGMT = "mgmt"


@dataclass(frozen=True)
class Names:
    prefix: str

    @property
    def switch(self) -> str:
        return f"{self.prefix}-sw"

    def host(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    @staticmethod
    def bridge(network: str) -> str:
        return f"s-{network}"[:15]

    @staticmethod
    def port(host_index: int, eth: int) -> str:
        return f"h{host_index}e{eth}"

    def all(self, topo: Topology) -> list[str]:
        return [self.switch, *(self.host(h.name) for h in topo.hosts)]


def build(topo: Topology, names: Names, log: Callable[[str], None] = print) -> None:
    """Create every namespace, switch and wire of ``topo``. The caller cleans up on failure."""
    sw = netns.add_ns(names.switch)
    _quiet_ipv6(sw)
    for net in (MGMT, *topo.networks):
        br = names.bridge(net)
        netns.ns_exec(sw, ["ip", "link", "add", br, "type", "bridge", "stp_state", "0", "forward_delay", "0"])
        netns.ns_exec(sw, ["ip", "link", "set", br, "up"])
    netns.ns_exec(sw, ["ip", "addr", "add", f"{topo.controller}/{topo.mgmt_prefixlen}", "dev", names.bridge(MGMT)])
    log(
        f"  switch namespace {sw}: bridges {', '.join(names.bridge(n) for n in (MGMT, *topo.networks))}; "
        f"controller {topo.controller} on the management network"
    )
    for hi, h in enumerate(topo.hosts):
        ns = netns.add_ns(names.host(h.name))
        _quiet_ipv6(ns)
        wires: list[tuple[int, str, str | None]] = [(0, MGMT, f"{h.mgmt}/{topo.mgmt_prefixlen}")]
        wires += [(n, i.network, i.address if i.configure else None) for n, i in enumerate(h.interfaces, 1)]
        for eth, net, addr in wires:
            port = names.port(hi, eth)
            netns.add_veth(ns, f"eth{eth}", sw, port, a_addr=addr)
            netns.ns_exec(sw, ["ip", "link", "set", port, "master", names.bridge(net)])
        desc = ", ".join(f"eth{eth} {net} {addr or '(no address: the deployment uses it)'}" for eth, net, addr in wires)
        log(f"  box {h.name:<9} namespace {ns}: {desc}")


def _quiet_ipv6(ns: str) -> None:
    # The lab is IPv4; without IPv6 the boxes send no router solicitations or DAD probes into the switches.
    netns.ns_exec(
        ns, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"], check=False
    )


def exists(topo: Topology, names: Names) -> bool:
    have = set(netns.list_ns(f"{names.prefix}-"))
    return all(n in have for n in names.all(topo))
