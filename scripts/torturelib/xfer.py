"""A TCP transfer with a sha256 on both ends, timed, run inside namespaces; and how the run drives it.

    python -m torturelib.xfer recv PORT              -> {"bytes": N, "sha256": H, "seconds": T} on stdout
    python -m torturelib.xfer send HOST PORT BYTES   -> the same for what it sent

The bytes are pseudo-random (seeded by the size), so a lost, duplicated or reordered datagram that the
tunnel or TCP failed to repair shows as a different hash.
"""

from __future__ import annotations

import hashlib
import json
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from .lab import OVERLAY, Lab, LabError

IDLE_TIMEOUT = 120  # seconds without progress before either end gives up


def recv(port: int) -> None:
    srv = socket.create_server(("", port), family=socket.AF_INET)
    srv.settimeout(IDLE_TIMEOUT)
    print("listening", flush=True)
    conn, _ = srv.accept()
    conn.settimeout(IDLE_TIMEOUT)
    t0 = time.monotonic()
    h, n = hashlib.sha256(), 0
    while data := conn.recv(1 << 16):
        h.update(data)
        n += len(data)
    conn.sendall(b"k")
    print(json.dumps({"bytes": n, "sha256": h.hexdigest(), "seconds": time.monotonic() - t0}), flush=True)


def send(host: str, port: int, total: int) -> None:
    rnd = random.Random(total)
    t0 = time.monotonic()
    s = socket.create_connection((host, port), timeout=IDLE_TIMEOUT)
    h, n = hashlib.sha256(), 0
    while n < total:
        chunk = rnd.randbytes(min(1 << 16, total - n))
        s.sendall(chunk)
        h.update(chunk)
        n += len(chunk)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)  # the receiver has everything
    s.close()
    print(json.dumps({"bytes": n, "sha256": h.hexdigest(), "seconds": time.monotonic() - t0}), flush=True)


@dataclass(frozen=True)
class Transfer:
    size: int
    seconds: float
    intact: bool

    @property
    def goodput_mbit(self) -> float:
        return self.size * 8 / self.seconds / 1e6 if self.seconds > 0 else 0.0


class Receiver:
    """The receiving end in ``side``, started before the sender."""

    def __init__(self, lab: Lab, side: str, port: int = 5001) -> None:
        self.port = port
        self.p = subprocess.Popen(
            ["ip", "netns", "exec", lab.ns(side), sys.executable, "-m", "torturelib.xfer", "recv", str(port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        lab.procs.append(self.p)  # type: ignore[arg-type]
        assert self.p.stdout is not None
        if self.p.stdout.readline().strip() != "listening":
            raise LabError("transfer receiver did not start")

    def result(self, timeout: float) -> dict[str, Any]:
        out, _ = self.p.communicate(timeout=timeout)
        return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def transfer(lab: Lab, size: int, src: str = "a", dst: str = "b", timeout: float = 600) -> Transfer:
    """``size`` bytes from ``src`` to ``dst``'s overlay address through the tunnel, sha256 compared."""
    rx = Receiver(lab, dst)
    args = [sys.executable, "-m", "torturelib.xfer", "send", OVERLAY[dst], str(rx.port), str(size)]
    tx = lab.sh(src, args, timeout=timeout)
    sent = json.loads(tx.stdout.decode().strip().splitlines()[-1])
    got = rx.result(timeout=30)
    return Transfer(size, float(sent["seconds"]), got["sha256"] == sent["sha256"] and got["bytes"] == size)


if __name__ == "__main__":
    if sys.argv[1] == "recv":
        recv(int(sys.argv[2]))
    else:
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
