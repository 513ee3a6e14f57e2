"""Live peer changes: ``tapliance reload`` (and SIGHUP) re-reads the config and its ``peers.d``, and
applies the ``[[peer]]`` changes to the running daemon without touching the sessions of unchanged peers.

Native UDP peers and TCP peers are added, removed or (changed: removed and added anew) in place; a
legacy peer (its own socket) or a ``transport = "auto"`` peer that changed, a TCP peer where the daemon
has no TCP side yet, and any change outside ``[[peer]]`` are reported as needing a restart and not
applied. A config that does not load, or a key file that does not read, keeps the running
configuration: the reply says why, in one line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tapliance import config as C
from tapliance import keyfile
from tapliance.assembly import Built, Keys, _policies, peer_specs
from tapliance.tcpassembly import peer_name, tcp_specs

log = logging.getLogger("tapliance")
SECTIONS = ("interface", "tunnel", "bridge", "nat", "routes", "log", "metrics", "pool")


def identity(p: C.PeerConfig) -> tuple[object, ...]:
    return ("key", p.public_key) if p.public_key is not None else ("name", p.suite, p.name)


@dataclass
class Plan:
    added: list[int]  # indices into the new config's peers
    removed: list[C.PeerConfig]
    changed: list[int]
    restart: list[str]


class Reloader:
    def __init__(self, path: Path, cfg: C.Config, keys: Keys, built: Built, on_peers: Any = None) -> None:
        self.path, self.cfg, self.keys, self.built = path, cfg, keys, built
        self.on_peers = on_peers  # called with the new config after peers changed (the hub's handout)

    def plan(self, new: C.Config) -> Plan:
        old = {identity(p): p for p in self.cfg.peers}
        now = {identity(p): i for i, p in enumerate(new.peers)}
        plan = Plan([], [], [], [f"[{s}]" for s in SECTIONS if getattr(new, s) != getattr(self.cfg, s)])
        for ident, i in now.items():
            p = new.peers[i]
            if ident not in old:
                plan.added.append(i)
            elif old[ident] != p:
                plan.changed.append(i)
        plan.removed = [p for ident, p in old.items() if ident not in now]
        live = [new.peers[i] for i in plan.added + plan.changed] + plan.removed
        for p in live:
            why = self._needs_restart(p)
            if why:
                plan.restart.append(f"peer {p.name or p.suite}: {why}")
        return plan

    def _needs_restart(self, p: C.PeerConfig) -> str:
        if p.legacy:
            return f"suite {p.suite} has a socket of its own"
        if p.transport == "auto":
            return "transport auto"
        if p.tcp and self.built.tcp is None:
            return "the daemon has no TCP side yet (add the first TCP peer with a restart)"
        if p.udp and self.built.native is None:
            return "the daemon has no native UDP socket yet"
        return ""

    def reload(self) -> dict[str, Any]:
        try:
            new = C.load(self.path)
            plan = self.plan(new)
            live = [i for i in plan.added + plan.changed if not self._needs_restart(new.peers[i])]
            gone = [p for p in plan.removed if not self._needs_restart(p)]
            specs = {s.public_key: s for s in peer_specs(new, self.keys)} if any(new.peers[i].udp for i in live) else {}
            tspecs = dict(tcp_specs(new)) if any(new.peers[i].tcp for i in live) else {}
        except (C.ConfigError, keyfile.KeyFileError) as e:
            log.warning("reload refused, running configuration kept: %s", e)
            return {"ok": False, "error": str(e)}
        names = self._apply(new, live, gone, specs, tspecs)
        self.cfg = _merged(self.cfg, new, {identity(new.peers[i]) for i in live}, {identity(p) for p in gone})
        for line in plan.restart:
            log.warning("reload: not applied, needs a restart: %s", line)
        log.info("reload: %d added, %d removed, %d changed", *(len(names[k]) for k in ("added", "removed", "changed")))
        return {"ok": True, **names, "needs_restart": plan.restart}

    def _apply(
        self, new: C.Config, live: list[int], gone: list[C.PeerConfig], specs: dict[bytes, Any], tspecs: dict[int, Any]
    ) -> dict[str, list[str]]:
        native, tcp = self.built.native, self.built.tcp
        old_ids = {identity(p) for p in self.cfg.peers}
        out: dict[str, list[str]] = {"added": [], "removed": [], "changed": []}
        for p in gone + [new.peers[i] for i in live if identity(new.peers[i]) in old_ids]:
            old = next(q for q in self.cfg.peers if identity(q) == identity(p))
            if old.udp and native is not None and old.public_key in native.peers:
                native.remove_peer(old.public_key)
            if old.tcp and tcp is not None:
                tcp.remove_peer(old.public_key, old.name)
        for p in gone:
            out["removed"].append(p.name or "(unnamed)")
        for i in live:
            p = new.peers[i]
            if p.udp and native is not None and p.public_key is not None:
                native.add_peer(specs[p.public_key])
            if p.tcp and tcp is not None:
                tcp.add_peer(tspecs[i])
            out["changed" if identity(p) in old_ids else "added"].append(peer_name(p, i))
        node = self.built.node
        _policies(new, node.protocols)
        node.switch.set_ports([port for proto in node.protocols for port in proto.ports if port.via is None])
        if self.on_peers is not None:
            self.on_peers(new)
        return out


def _merged(old: C.Config, new: C.Config, applied: set[tuple[object, ...]], gone: set[tuple[object, ...]]) -> C.Config:
    """The configuration now running: the old one with the peer changes that were applied."""
    import dataclasses

    keep = [p for p in old.peers if identity(p) not in gone and identity(p) not in applied]
    added = [p for p in new.peers if identity(p) in applied]
    return dataclasses.replace(old, peers=tuple(keep + added))
