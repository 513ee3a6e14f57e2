"""Endpoints learnt at run time, remembered across restarts: a native peer configured without an address
(it dials us) is known only once it has sent; after a crash and restart the far end would wait for its
dead-peer rule (keepalive + 5 s) before it initiates again. So every learnt or roamed endpoint is written
to ``$TAPLIANCE_STATE_DIR/<interface>[@<netns>].endpoints.json`` (atomically), and at start a peer without a
configured endpoint gets its remembered one: it initiates at once, and if the address is stale its
handshake simply goes unanswered until the peer speaks from where it is."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

from tapliance.atomic import write_atomic
from tapliance.net.journal import netns_tag, state_dir
from tapliance.proto.events import EndpointChanged, Event

log = logging.getLogger("tapliance")


def path_for(interface: str) -> Path:
    return state_dir() / f"{interface}{netns_tag()}.endpoints.json"


class Endpoints:
    def __init__(self, path: Path, native: Any) -> None:
        self.path = path
        self.native = native
        self.known: dict[str, list[object]] = {}

    def restore(self, configured: set[bytes]) -> int:
        """Give remembered endpoints to peers that have none configured; how many."""
        try:
            self.known = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.known = {}
        n = 0
        for key, peer in self.native.peers.items():
            ep = self.known.get(base64.b64encode(key).decode())
            if key in configured or peer.endpoint is not None or not isinstance(ep, list) or len(ep) != 2:
                continue
            peer.endpoint = (str(ep[0]), int(ep[1]))  # type: ignore[call-overload]
            n += 1
        if n:
            log.info("endpoints: %d peer(s) start from their last known address (%s)", n, self.path)
        return n

    def on_event(self, ev: Event) -> None:
        if not isinstance(ev, EndpointChanged):
            return
        peer = next((p for p in self.native.peers.values() if p.name == ev.peer), None)
        if peer is None:
            return
        self.known[base64.b64encode(peer.public_key).decode()] = [ev.new[0], ev.new[1]]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, json.dumps(self.known).encode(), 0o640)
        except OSError as e:
            log.debug("endpoints: cannot write %s: %s", self.path, e)
