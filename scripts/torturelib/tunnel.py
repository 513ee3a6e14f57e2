"""Two real ``tapliance up`` daemons, a and b, in the lab: keys, configs, start, kill, status, memory.

The daemons are this checkout's code (``sys.executable -m tapliance.cli`` with the inherited PYTHONPATH).
Each end knows the other's endpoint (directly, or the relay's address for it), so whichever end restarts
initiates at once. ``host_setup`` adds what the host-diff figure needs: b NATs its LAN out of a veth
device (an nftables table and ip_forward), a routes to that LAN through the tunnel.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tapliance import keyfile
from tapliance.control.client import ControlError, fetch

from .lab import ADDR, LAN, OVERLAY, Lab, LabError

PORT = 9123
TCP_PORT = 8443
TAPLIANCE = [sys.executable, "-m", "tapliance.cli"]
OTHER = {"a": "b", "b": "a"}


@dataclass
class Daemon:
    side: str
    dir: Path
    key: bytes
    endpoint: str = ""  # where this side sends to its peer
    proc: subprocess.Popen[bytes] | None = None
    extra_peers: list[tuple[str, bytes]] = field(default_factory=list)  # (name, public key): hub mode

    @property
    def public(self) -> bytes:
        return keyfile.public_from_private(self.key)

    @property
    def config(self) -> Path:
        return self.dir / f"{self.side}.toml"

    @property
    def sock(self) -> Path:
        return self.dir / f"{self.side}.sock"

    @property
    def log(self) -> Path:
        return self.dir / f"{self.side}.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


class Tunnel:
    def __init__(self, lab: Lab, name: str) -> None:
        self.lab = lab
        self.dir = lab.dir / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "TAPLIANCE_STATE_DIR": str(self.dir / "state")}
        self.d: dict[str, Daemon] = {}
        for s in ("a", "b"):
            d = self.d[s] = Daemon(s, self.dir, keyfile.generate_private(), endpoint=f"{ADDR[OTHER[s]]}:{PORT}")
            kf = self.dir / f"{s}.key"
            kf.write_text(keyfile.encode(d.key) + "\n")
            kf.chmod(0o600)

    def configure(
        self, side: str, *, keepalive: float = 10, host_setup: bool = False, tunnel_extra: str = "", tcp: bool = False
    ) -> None:
        """``tcp``: the peer over tapliance's TCP transport (a dials b's ``TCP_PORT``)."""
        d, o = self.d[side], self.d[OTHER[side]]
        if tcp:
            tunnel_extra += f'tcp_listen = "0.0.0.0:{TCP_PORT}"\n' if side == "b" else ""
        peers = [(OTHER[side], o.public, d.endpoint), *((n, k, "") for n, k in d.extra_peers)]
        text = (
            f'[interface]\nname = "tl0"\naddresses = ["{OVERLAY[side]}/24"]\n\n'
            f'[tunnel]\nlisten = "0.0.0.0:{PORT}"\nprivate_key_file = "{side}.key"\ncontrol_socket = "{d.sock}"\n'
            f"keepalive = {keepalive:g}\n{tunnel_extra}\n"
        )
        for name, pub, ep in peers:
            text += f'[[peer]]\nname = "{name}"\npublic_key = "{keyfile.encode(pub)}"\n'
            where = ep
            if tcp:
                text += 'transport = "tcp"\n'
                where = f"{ADDR['b']}:{TCP_PORT}" if side == "a" else ""
            text += f'endpoint = "{where}"\n\n' if where else "\n"
        if host_setup and side == "b":
            text += '[nat]\nuplink = "lan0"\n\n'
        if host_setup and side == "a":
            text += f'[[route]]\nto = "{LAN}"\nvia = "{OVERLAY["b"]}"\n\n'
        d.config.write_text(text + '[log]\nlevel = "info"\n')

    def start(self, side: str, timeout: float = 15) -> float:
        """Start ``side``'s daemon; seconds until its control socket answers."""
        d = self.d[side]
        if not d.config.exists():
            self.configure(side)
        t0 = time.monotonic()
        d.proc = self.lab.spawn(side, [*TAPLIANCE, "up", "-c", str(d.config)], d.log, env=self.env)
        while time.monotonic() - t0 < timeout:
            if d.proc.poll() is not None:
                raise LabError(f"daemon {side} exited with {d.proc.returncode}: {tail(d.log)}")
            try:
                fetch(d.sock, timeout=1)
                return time.monotonic() - t0
            except ControlError:
                time.sleep(0.05)
        raise LabError(f"daemon {side} did not come up within {timeout:g} s: {tail(d.log)}")

    def stop(self, side: str, sig: int = signal.SIGTERM) -> int:
        d = self.d[side]
        assert d.proc is not None
        rc = self.lab.stop(d.proc, sig)
        d.proc = None
        return rc

    def stop_all(self) -> None:
        for s, d in self.d.items():
            if d.proc is not None:
                self.stop(s)

    def status(self, side: str) -> dict[str, Any]:
        return fetch(self.d[side].sock, timeout=5)

    def drops(self, side: str) -> dict[str, int]:
        st: dict[str, int] = self.status(side)["drops"]
        return st

    def peer(self, side: str, name: str | None = None) -> dict[str, Any]:
        name = name or OTHER[side]
        peer: dict[str, Any] = next(p for p in self.status(side)["peers"] if p["name"] == name)
        return peer

    def alive(self, side: str) -> bool:
        d = self.d[side]
        return d.proc is not None and d.proc.poll() is None

    def handshakes_from(self, side: str, host: str) -> int:
        """Handshakes ``side``'s daemon completed with an initiation from ``host`` (its log says so)."""
        text = self.d[side].log.read_text(errors="replace") if self.d[side].log.exists() else ""
        return sum(f" with {host}:" in ln for ln in text.splitlines() if "handshake completed" in ln or "rekeyed" in ln)

    def tracebacks(self) -> int:
        return sum(d.log.read_text(errors="replace").count("Traceback") for d in self.d.values() if d.log.exists())

    def ping(self, src: str, count: int = 1, interval: float = 0.2, wait: float = 1) -> int:
        """Echo replies ``src`` got from the other side's overlay address."""
        args = ["ping", "-n", "-q", "-c", str(count), "-i", f"{interval:g}", "-W", f"{wait:g}", OVERLAY[OTHER[src]]]
        out = self.lab.sh(src, args, check=False, timeout=count * interval + wait + 10).stdout.decode()
        for line in out.splitlines():
            if "received" in line:
                return int(line.split(",")[1].split()[0])
        return 0

    def wait_ping(self, src: str, timeout: float = 20) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.ping(src, wait=0.5):
                return time.monotonic() - t0
        raise LabError(f"no ping across the tunnel from {src} within {timeout:g} s")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def tail(path: Path, lines: int = 3) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""
