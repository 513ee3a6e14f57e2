"""The torture lab: four network namespaces, and sockets the run opens inside them.

    a (ul0 10.77.1.1) --- va  m  vb --- (ul0 10.77.2.1) b        m routes between a, b and x and runs the
                              vx                                   impairment relay (relay.py) when asked
                              |
                         (ul0 10.77.3.1) x                         x: the attacker (fuzz, replay, flood)

Spoofed flood sources (10.200.0.0/16) are routed back to x, which drops what it is sent. Every name
carries one run's prefix (``tt`` + 4 hex digits); ``destroy`` kills what runs in the namespaces and
deletes them, which removes every device in them. IPv6 is off everywhere, so no autoconfiguration
chatter crosses the tunnel while frames are counted.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from tapliance.lab import netns

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
SIDES = ("a", "m", "b", "x")
ADDR = {"a": "10.77.1.1", "b": "10.77.2.1", "x": "10.77.3.1"}
ROUTER = {"a": "10.77.1.254", "b": "10.77.2.254", "x": "10.77.3.254"}
ROAMED = ("10.77.4.1", "10.77.4.254")  # a's address after it moves, and m's on that network
SPOOFED = "10.200.0.0/16"
OVERLAY = {"a": "10.78.0.1", "b": "10.78.0.2"}
LAN = "192.168.77.0/24"  # behind b (a veth lan0), NAT'd out of it; a routes to it through the tunnel


class LabError(RuntimeError):
    """A lab step failed; one line."""


def run(args: Sequence[str], **kw: Any) -> subprocess.CompletedProcess[bytes]:
    """tapliance.lab.netns.run, failing with a LabError."""
    return netns.run(args, error=LabError, **kw)


@dataclass
class Lab(netns.NsLab):
    Error: ClassVar[type[Exception]] = LabError
    TAG: ClassVar[str] = "tt"

    def _build(self) -> None:
        for s in SIDES:
            run(["ip", "netns", "add", self.ns(s)])
            for conf in ("all", "default"):
                self.sh(s, ["sysctl", "-qw", f"net.ipv6.conf.{conf}.disable_ipv6=1"])
            self.sh(s, ["sysctl", "-qw", f"net.ipv4.ip_forward={1 if s == 'm' else 0}"])
            self.sh(s, ["ip", "link", "set", "lo", "up"])
        for s in ("a", "b", "x"):
            self.sh("m", ["ip", "link", "add", f"v{s}", "type", "veth", "peer", "name", "ul0", "netns", self.ns(s)])
            self.sh("m", ["ip", "addr", "add", f"{ROUTER[s]}/24", "dev", f"v{s}"])
            self.sh("m", ["ip", "link", "set", f"v{s}", "up"])
            self.sh(s, ["ip", "addr", "add", f"{ADDR[s]}/24", "dev", "ul0"])
            self.sh(s, ["ip", "link", "set", "ul0", "up"])
            self.sh(s, ["ip", "route", "add", "default", "via", ROUTER[s]])
        self.sh("m", ["ip", "addr", "add", f"{ROAMED[1]}/24", "dev", "va"])
        self.sh("m", ["ip", "route", "add", SPOOFED, "via", ADDR["x"]])
        self.sh("b", ["ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lan1"])  # no dummy module here
        self.sh("b", ["ip", "addr", "add", "192.168.77.1/24", "dev", "lan0"])
        self.sh("b", ["ip", "link", "set", "lan0", "up"])

    @contextlib.contextmanager
    def inside(self, side: str) -> Iterator[None]:
        """Run the block in ``side``'s network namespace (this thread only): sockets made here stay there."""
        libc = ctypes.CDLL(None, use_errno=True)
        home = os.open("/proc/self/ns/net", os.O_RDONLY)
        target = os.open(NETNS_DIR / self.ns(side), os.O_RDONLY)
        try:
            if libc.setns(target, CLONE_NEWNET) != 0:
                raise LabError(f"setns {self.ns(side)}: {os.strerror(ctypes.get_errno())}")
            try:
                yield
            finally:
                if libc.setns(home, CLONE_NEWNET) != 0:
                    raise LabError(f"setns back: {os.strerror(ctypes.get_errno())}")
        finally:
            os.close(home)
            os.close(target)

    def udp_socket(self, side: str, bind: tuple[str, int] = ("0.0.0.0", 0)) -> socket.socket:
        with self.inside(side):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind(bind)
        return s

    def raw_socket(self, side: str) -> socket.socket:
        """An IPv4 raw socket in ``side`` that sends whole IP packets (any source address)."""
        with self.inside(side):
            s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        return s
