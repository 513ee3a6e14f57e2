"""Two network namespaces joined by a veth: the underlay every tunnel runs over.

Everything is created under one unique name prefix (``tb`` + 4 hex digits) so that teardown removes
exactly what this run made: deleting a namespace destroys the devices in it, and the veth with them.
Traffic only ever goes between these two namespaces.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from tapliance.lab import netns

NETNS_DIR = Path("/run/netns")
UNDERLAY = {"a": "10.98.0.1", "b": "10.98.0.2"}  # veth ul0 in each namespace, /24
OVERLAY = {"a": "10.99.0.1", "b": "10.99.0.2"}  # tunnel addresses, /24
SIDES = ("a", "b")


class BenchError(RuntimeError):
    """A step failed; the text is one line, fit for the table's 'failed' column."""


one_line = netns.last_line


def run(args: Sequence[str], **kw: Any) -> subprocess.CompletedProcess[bytes]:
    """tapliance.lab.netns.run, failing with a BenchError."""
    return netns.run(args, error=BenchError, **kw)


@dataclass
class Lab(netns.NsLab):
    Error: ClassVar[type[Exception]] = BenchError
    TAG: ClassVar[str] = "tb"

    def _build(self) -> None:
        for s in SIDES:
            run(["ip", "netns", "add", self.ns(s)])
            self.sh(s, ["ip", "link", "set", "lo", "up"])
        self.sh("a", ["ip", "link", "add", "ul0", "type", "veth", "peer", "name", "ul0", "netns", self.ns("b")])
        for s in SIDES:
            self.sh(s, ["ip", "addr", "add", f"{UNDERLAY[s]}/24", "dev", "ul0"])
            self.sh(s, ["ip", "link", "set", "ul0", "up"])

    def wait_ping(
        self, side: str, addr: str, timeout: float = 30, procs: Sequence[subprocess.Popen[bytes]] = ()
    ) -> float:
        """Ping ``addr`` from ``side`` until it answers; seconds taken. Raises if a daemon exits first."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.sh(side, ["ping", "-c", "1", "-W", "1", "-q", addr], check=False).returncode == 0:
                return time.monotonic() - t0
            for p in procs:
                if p.poll() is not None:
                    raise BenchError(f"daemon exited with status {p.returncode} before the tunnel came up")
            time.sleep(0.1)
        raise BenchError(f"{addr} did not answer ping within {timeout:g} s")

    def wait_listening(
        self, side: str, proto: str, port: int, proc: subprocess.Popen[bytes], timeout: float = 15
    ) -> None:
        """Wait until a socket of ``proto`` ("udp"/"tcp") is bound to ``port`` in ``side``.

        Daemons on side b are started and waited for first, so side a's first handshake is answered
        at once instead of after the daemon's retry timer (tinc 5 s, fastd ~20 s with a crossed
        handshake), which would otherwise dominate and randomise the setup time.
        """
        flag = "-u" if proto == "udp" else "-t"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.sh(side, ["ss", "-Hln", flag, f"sport = :{port}"], check=False).stdout.strip():
                return
            if proc.poll() is not None:
                raise BenchError(f"daemon exited with status {proc.returncode} during startup")
            time.sleep(0.05)
        raise BenchError(f"nothing listening on {proto}/{port} in namespace {side} after {timeout:g} s")


list_ns = netns.list_ns
