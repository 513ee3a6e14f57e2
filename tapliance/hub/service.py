"""The hub's address handout at run time: leases handed to each client when its session (or TCP tunnel)
comes up and again every ``REFRESH`` seconds (a lost control message costs at most that long), over
whichever protocol carries the client; the leases file written when a lease was added."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from tapliance.hub.leases import Leases, read_file, write_file
from tapliance.proto.events import ConnectionChanged, Event, HandshakeCompleted
from tapliance.proto.protocol import Port

log = logging.getLogger("tapliance")
REFRESH = 60.0


def port_key(port: Any) -> bytes | None:
    """A port's public key, whatever protocol it belongs to."""
    for obj in (port, getattr(port, "udp", None), getattr(port, "spec", None)):
        key = getattr(obj, "public_key", None)
        if isinstance(key, bytes):
            return key
    return None


class Handout:
    def __init__(self, leases: Leases, path: Path, switch: Any) -> None:
        self.leases = leases
        self.path = path
        self.switch = switch
        self.leases.load(read_file(path))

    @property
    def ports(self) -> dict[str, Port]:
        return {p.name: p for p in self.switch.ports}

    def update(self, cfg: Any) -> None:
        """The peers changed (a reload): who takes which lease is recomputed, the leases kept."""
        old = self.leases
        self.leases = Leases(cfg.pool, _own(cfg), _peers(cfg))
        self.leases.load(old.dump())
        self.leases.dirty = old.dirty or len(self.leases.leases) != len(old.leases)
        self.save()

    def on_event(self, ev: Event, now: float) -> None:
        if isinstance(ev, HandshakeCompleted) or (isinstance(ev, ConnectionChanged) and ev.up):
            port = self.ports.get(ev.peer)
            if port is not None:
                self.send(port, now)

    def send(self, port: Port, now: float) -> None:
        key = port_key(port)
        lease = self.leases.get(key, now) if key is not None else None
        if lease is None:
            return
        for msg in self.leases.messages(lease):
            port.protocol.send_control(port, msg, now)
        self.save()

    def refresh(self, now: float) -> None:
        for port in self.ports.values():
            self.send(port, now)

    def save(self) -> None:
        if not self.leases.dirty:
            return
        try:
            write_file(self.path, self.leases.dump())
            self.leases.dirty = False
        except OSError as e:
            log.warning("leases file %s: cannot write: %s (kept in memory; trying again)", self.path, e)

    def status(self) -> list[dict[str, Any]]:
        return self.leases.status()


def _own(cfg: Any) -> Any:
    return cfg.interface.addresses + (cfg.bridge.addresses if cfg.bridge else ())


def _peers(cfg: Any) -> list[tuple[bytes, str, Any, bool]]:
    from tapliance.tcpassembly import peer_name

    return [(p.public_key, peer_name(p, i), p.reserve, p.lease) for i, p in enumerate(cfg.peers)
            if not p.legacy and p.public_key is not None]  # fmt: skip


def hub_side(cfg: Any, rt: Any, switch: Any) -> Handout:
    """The daemon's hub: leases of ``cfg.pool`` handed to its clients (a listener on the runtime's events,
    a refresh ticker) and shown in status (``leases``)."""
    import time

    peers = _peers(cfg)
    handout = Handout(Leases(cfg.pool, _own(cfg), peers), cfg.leases_file, switch)
    rt.listeners.append(lambda ev: handout.on_event(ev, time.monotonic()))
    rt.every(REFRESH, handout.refresh)
    before = rt.enrich

    def enrich(s: dict[str, Any]) -> None:
        if before is not None:
            before(s)
        s["leases"] = handout.status()

    rt.enrich = enrich
    log.info(
        "hub: handing out %s to %d peer(s); leases in %s",
        ", ".join(str(r) for r in (cfg.pool.ipv4, cfg.pool.ipv6) if r),
        len(peers),
        cfg.leases_file,
    )
    return handout
