"""Root-tier helpers for the TCP transport: namespaces on veth links, tapliance configs with peers over TCP
(or ``auto``), daemons started and stopped, a password file, status read back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tapliance import keyfile
from tapliance.lab import netns
from tests.netns.tunnel import TAPLIANCE

TCP_PORT = 8443
UDP_PORT = 9123


@dataclass
class Node:
    name: str
    ns: str
    dir: Path
    underlay: str  # our address on the veth towards the server (or the server's own)
    overlay: str  # "10.252.0.1/24"
    key: bytes = field(default_factory=keyfile.generate_private)
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        kf = self.dir / f"{self.name}.key"
        kf.write_text(keyfile.encode(self.key) + "\n")
        kf.chmod(0o600)

    @property
    def public(self) -> str:
        return keyfile.encode(keyfile.public_from_private(self.key))

    @property
    def sock(self) -> Path:
        return self.dir / f"{self.name}.sock"

    @property
    def log(self) -> Path:
        return self.dir / f"{self.name}.log"

    @property
    def config(self) -> Path:
        return self.dir / f"{self.name}.toml"

    @property
    def ip(self) -> str:
        return self.overlay.split("/")[0]

    def write(self, peers: str, tunnel: str = "", addresses: bool = True) -> None:
        addr = f'addresses = ["{self.overlay}"]\n' if addresses else ""
        self.config.write_text(
            f'[interface]\nname = "tl0"\n{addr}\n[tunnel]\nlisten = ":{UDP_PORT}"\n'
            f'private_key_file = "{self.name}.key"\ncontrol_socket = "{self.sock}"\nkeepalive = 2\n{tunnel}\n'
            f'{peers}\n[log]\nlevel = "debug"\n'
        )

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", self.ns, *TAPLIANCE, "up", "-c", str(self.config)], stdout=log, stderr=log
            )
        deadline = time.monotonic() + 10
        while not self.sock.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{self.name} did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)
        self.proc = None
        if sig == signal.SIGKILL:
            self.sock.unlink(missing_ok=True)

    def status(self) -> dict[str, Any]:
        out = netns.ns_exec(self.ns, [*TAPLIANCE, "status", "--json", "-s", str(self.sock)]).stdout
        return json.loads(out)  # type: ignore[no-any-return]

    def sh(self, *args: str, check: bool = False, timeout: float = 30) -> subprocess.CompletedProcess[bytes]:
        return netns.ns_exec(self.ns, list(args), check=check, timeout=timeout)

    def ping(self, ip: str, count: int = 1) -> bool:
        return self.sh("ping", "-c", str(count), "-i", "0.2", "-W", "1", ip).returncode == 0

    def wait_ping(self, ip: str, timeout: float = 20, *others: Node) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.ping(ip):
                return time.monotonic() - t0
        logs = "\n".join(f"--- {n.name}\n{n.log.read_text()[-2500:]}" for n in (self, *others) if n.log.exists())
        raise AssertionError(f"{ip} not reachable from {self.name} within {timeout} s\n{logs}")


def star(prefix: str, d: Path, clients: int) -> tuple[Node, list[Node]]:
    """A server ``s`` and ``clients`` clients, each on a veth link of its own (10.251.N.0/24: server .1)."""
    server_ns = netns.add_ns(f"{prefix}s")
    server = Node("s", server_ns, d, "10.251.1.1", "10.252.0.1/24")
    out = []
    for i in range(1, clients + 1):
        ns = netns.add_ns(f"{prefix}c{i}")
        netns.add_veth(server_ns, f"to{i}", ns, "ul0", a_addr=f"10.251.{i}.1/24", b_addr=f"10.251.{i}.2/24")
        out.append(Node(f"c{i}", ns, d, f"10.251.{i}.2", f"10.252.0.{10 + i}/24"))
    return server, out


def password_file(d: Path, name: str, password: str) -> Path:
    p = d / name
    p.write_text(password + "\n")
    os.chmod(p, 0o600)
    return p


def tcp_peer(
    name: str, *, key: str | None = None, endpoint: str | None = None, transport: str = "tcp", extra: str = ""
) -> str:
    lines = [f'[[peer]]\nname = "{name}"\ntransport = "{transport}"']
    if key:
        lines.append(f'public_key = "{key}"')
    if endpoint:
        lines.append(f'endpoint = "{endpoint}"')
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n"


def stop_all(*nodes: Node) -> None:
    for n in nodes:
        n.stop()
