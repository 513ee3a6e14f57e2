"""Addresses and routes a peer hands us at run time, on our TAP: the QuickTun TCP protocol's set network
configuration (command 11) and routing information update (command 12); the hub's address handout over
UDP is meant to use the same class (one implementation, two carriers).

New addresses replace the ones handed out before; routes are added (``valid``) or withdrawn; all of it is
removed when the daemon stops. A TAP the daemon created disappears with it anyway, so even a crash
leaves nothing behind there. Each change is one log line; a failure is logged, and the tunnel goes on.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from functools import partial

from tapliance.net.errors import NetError
from tapliance.net.host import Address, Host, Route

log = logging.getLogger("tapliance")
RTPROT_TAPLIANCE = 188  # routes we install from a peer's updates (rtnetlink protocol number, unassigned)


class Handout:
    def __init__(self, dev: str) -> None:
        self.dev = dev
        self.addresses: list[str] = []  # "10.8.0.2/24"
        self.routes: list[str] = []  # "192.168.50.0/24"
        self.via: dict[str, str | None] = {}

    def assign(self, peer: str, interfaces: list[ipaddress.IPv4Interface | ipaddress.IPv6Interface]) -> None:
        want = [str(i) for i in interfaces]
        host = Host()
        try:
            for a in [a for a in self.addresses if a not in want]:
                self._try(partial(host.del_address, self.dev, Address(a)), f"removed address {a} (from {peer})")
                self.addresses.remove(a)
            for a in [a for a in want if a not in self.addresses]:
                if self._try(partial(host.add_address, self.dev, Address(a)), f"address {a} from peer {peer}"):
                    self.addresses.append(a)
        finally:
            host.close()

    def route(
        self, peer: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network, valid: bool, via: str | None = None
    ) -> None:
        dst = str(network)
        r = Route(dst, via, self.dev, proto=RTPROT_TAPLIANCE)
        self.via[dst] = via
        host = Host()
        try:
            if valid and dst not in self.routes:
                how = f"route {dst}" + (f" via {via}" if via else "") + f" dev {self.dev} from peer {peer}"
                if self._try(partial(host.route, "replace", r), how):
                    self.routes.append(dst)
            elif not valid and dst in self.routes:
                self._try(partial(host.route, "del", r), f"withdrew route {dst} (peer {peer})")
                self.routes.remove(dst)
        finally:
            host.close()

    def clear(self) -> None:
        if not (self.addresses or self.routes):
            return
        host = Host()
        try:
            for dst in self.routes:
                self._try(
                    partial(host.route, "del", Route(dst, self.via.get(dst), self.dev, proto=RTPROT_TAPLIANCE)),
                    f"removed route {dst}",
                )
            for a in self.addresses:
                self._try(partial(host.del_address, self.dev, Address(a)), f"removed address {a}")
        finally:
            host.close()
        self.addresses.clear()
        self.routes.clear()

    @staticmethod
    def _try(action: Callable[[], object], line: str) -> bool:
        try:
            action()
        except NetError as e:
            log.warning("%s: failed: %s", line, e)
            return False
        log.info("%s", line)
        return True
