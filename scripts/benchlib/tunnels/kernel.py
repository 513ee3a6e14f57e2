"""Kernel references: the bare veth (no tunnel at all) and VXLAN (plaintext L2 tunnel upper bound)."""

from __future__ import annotations

from pathlib import Path

from ..lab import OVERLAY, SIDES, UNDERLAY, Lab
from .base import Daemons, Tunnel

VXLAN_ID = 42
VXLAN_PORT = 4789


class Veth(Tunnel):
    name = "veth"
    label = "baseline veth (no tunnel)"
    far = UNDERLAY["b"]

    def up(self, lab: Lab, work: Path) -> Daemons:
        lab.wait_ping("a", self.far, timeout=5)
        return Daemons()

    def describe(self) -> str:
        return "the underlay itself, MTU 1500"


class Vxlan(Tunnel):
    name = "vxlan"
    label = "kernel VXLAN (plaintext)"

    def up(self, lab: Lab, work: Path) -> Daemons:
        for s in SIDES:
            other = "b" if s == "a" else "a"
            lab.sh(
                s,
                [
                    "ip",
                    "link",
                    "add",
                    "vx0",
                    "type",
                    "vxlan",
                    "id",
                    str(VXLAN_ID),
                    "local",
                    UNDERLAY[s],
                    "remote",
                    UNDERLAY[other],
                    "dstport",
                    str(VXLAN_PORT),
                    "dev",
                    "ul0",
                ],
            )
            lab.sh(s, ["ip", "addr", "add", f"{OVERLAY[s]}/24", "dev", "vx0"])
            lab.sh(s, ["ip", "link", "set", "vx0", "up"])
        lab.wait_ping("a", self.far, timeout=10)
        return Daemons()

    def down(self, lab: Lab, daemons: Daemons) -> None:
        for s in SIDES:
            lab.sh(s, ["ip", "link", "del", "vx0"], check=False)

    def describe(self) -> str:
        return f"vxlan id {VXLAN_ID} udp/{VXLAN_PORT}, MTU 1450 (kernel default over a 1500 underlay)"
