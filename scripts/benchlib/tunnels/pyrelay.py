"""Reference rows: the bare Python TAP <-> UDP relay of ``benchlib/pyrelay.py``, without and with one
ChaCha20-Poly1305 call per frame. Not tunnels anyone should deploy (no handshake, fixed key): they show
the floor of a Python data path on the machine, so tapliance's RTT can be read against it."""

from __future__ import annotations

import sys
from pathlib import Path

from ..lab import OVERLAY, SIDES, UNDERLAY, Lab
from .base import Daemons, Tunnel

PORT = 9124
RELAY = Path(__file__).resolve().parents[1] / "pyrelay.py"


class PyRelay(Tunnel):
    def __init__(self, name: str, aead: bool) -> None:
        self.name = name
        self.aead = aead
        self.label = "ref: Python relay" + (" + ChaCha20" if aead else ", plaintext")

    def version(self) -> str:
        return f"Python {sys.version.split()[0]}"

    def describe(self) -> str:
        return "one frame per read and per datagram, selector loop, TAP mtu 1400" + (
            ", ChaCha20-Poly1305 per frame (fixed key)" if self.aead else ", no crypto"
        )

    def up(self, lab: Lab, work: Path) -> Daemons:
        argv = {}
        for s in SIDES:
            other = "b" if s == "a" else "a"
            argv[s] = [
                sys.executable,
                str(RELAY),
                "--tap",
                "pr0",
                "--address",
                f"{OVERLAY[s]}/24",
                "--listen",
                f"{UNDERLAY[s]}:{PORT}",
                "--peer",
                f"{UNDERLAY[other]}:{PORT}",
                *(["--aead"] if self.aead else []),
            ]
        return self.start_pair(lab, work, argv, "udp", PORT)
