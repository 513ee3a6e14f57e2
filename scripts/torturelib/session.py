"""A tunnel between a and b for one figure: direct (routed through m) or through the relay in m.

Through the relay, each daemon's endpoint for the other is the relay's address on its side, so the relay
sees (and can impair, record or re-address) every datagram. Static ARP entries for the overlay addresses
keep the kernel from sending frames of its own while frames are counted.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .lab import ADDR, OVERLAY, ROUTER, Lab
from .relay import read_record
from .tunnel import OTHER, PORT, Tunnel

RELAY_PORT = {"a": 7001, "b": 7002}  # the relay's socket on a's side and on b's side


@dataclass
class Impairment:
    loss: float = 0.0
    dup: float = 0.0
    reorder: int = 1
    record: bool = False
    seed: int = 1


@dataclass
class Session:
    lab: Lab
    tunnel: Tunnel
    relay: Any = None  # the relay's Popen, if any
    files: dict[str, Path] = field(default_factory=dict)

    def relay_stats(self) -> dict[str, Any]:
        """Stop the relay and return its counters."""
        if self.relay is None:
            return {}
        self.lab.stop(self.relay)
        self.relay = None
        return json.loads(self.files["stats"].read_text())  # type: ignore[no-any-return]

    def recorded(self) -> list[tuple[str, bytes]]:
        """The datagrams the relay recorded: ('a', d) arrived from a (for b), ('b', d) from b (for a)."""
        return read_record(self.files["record"])

    def rebind(self) -> None:
        """b sees a's datagrams from a new address: the relay moves its b-side socket to a new port."""
        assert self.relay is not None
        self.relay.send_signal(signal.SIGUSR1)

    def close(self) -> None:
        self.tunnel.stop_all()
        if self.relay is not None:
            self.lab.stop(self.relay)
            self.relay = None


def open_session(
    lab: Lab,
    name: str,
    *,
    relay: Impairment | None = None,
    host_setup: bool = False,
    keepalive: float = 10,
    discovery: bool = False,
    tcp: bool = False,
) -> Session:
    """``discovery``: b is configured without a's address and learns it from a's first handshake;
    ``tcp``: over tapliance's TCP transport (routed through m, no relay)."""
    t = Tunnel(lab, name)
    s = Session(lab, t)
    try:
        if relay is not None:
            _start_relay(s, relay)
            for side in ("a", "b"):
                t.d[side].endpoint = f"{ROUTER[side]}:{RELAY_PORT[side]}"
        if discovery:
            t.d["b"].endpoint = ""
        for side in ("b", "a"):
            t.configure(side, keepalive=keepalive, host_setup=host_setup, tcp=tcp)
            t.start(side)
        t.wait_ping("a", timeout=20)
        static_arp(lab)
    except BaseException:
        s.close()
        raise
    return s


def _start_relay(s: Session, imp: Impairment) -> None:
    d = s.tunnel.dir
    s.files = {"stats": d / "relay.json", "record": d / "relay.rec", "log": d / "relay.log"}
    args = [
        sys.executable,
        "-m",
        "torturelib.relay",
        f"--a={ROUTER['a']}:{RELAY_PORT['a']}",
        f"--to-a={ADDR['a']}:{PORT}",
        f"--b={ROUTER['b']}:{RELAY_PORT['b']}",
        f"--to-b={ADDR['b']}:{PORT}",
        f"--loss={imp.loss}",
        f"--dup={imp.dup}",
        f"--reorder={imp.reorder}",
        f"--seed={imp.seed}",
        f"--stats={s.files['stats']}",
    ]
    if imp.record:
        args.append(f"--record={s.files['record']}")
    s.relay = s.lab.spawn("m", args, s.files["log"], env=s.tunnel.env)
    time.sleep(0.3)  # bound before the daemons send


def static_arp(lab: Lab) -> None:
    macs = {}
    for side in ("a", "b"):
        info = json.loads(lab.sh(side, ["ip", "-j", "link", "show", "tl0"]).stdout)
        macs[side] = info[0]["address"]
    for side in ("a", "b"):
        o = OTHER[side]
        lab.sh(side, ["ip", "neigh", "replace", OVERLAY[o], "lladdr", macs[o], "dev", "tl0", "nud", "permanent"])
