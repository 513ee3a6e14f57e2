"""Server side of the control socket: a unix stream socket answering one JSON snapshot per request.

Requests are one line: ``status``, or an action the daemon registered (``reload``). The socket is
0660, its group the daemon's: only root and that group (``tapliance`` after the privilege drop,
privileges.py, which also makes its owner root) may read the counters and peer list; the default
directory /run/tapliance is the daemon's own, mode 0750.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("tapliance.control")


class ControlServer:
    def __init__(self, path: Path, snapshot: Callable[[], dict[str, Any]]) -> None:
        self.path = path
        self.snapshot = snapshot
        self.actions: dict[bytes, Callable[[], dict[str, Any]]] = {}
        path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        if path.exists() or path.is_symlink():
            _refuse_if_live(path)
            path.unlink()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o117)
        try:
            self.sock.bind(str(path))
        finally:
            os.umask(old)
        self.sock.listen(8)
        self.sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def handle(self) -> None:
        """Serve one pending connection (called when the socket is readable)."""
        try:
            conn, _ = self.sock.accept()
        except BlockingIOError:
            return
        with conn:
            conn.settimeout(0.5)
            try:
                req = conn.recv(256).strip()
                if req == b"status":
                    reply: dict[str, Any] = self.snapshot()
                elif req in self.actions:
                    conn.settimeout(10)
                    reply = self.actions[req]()
                else:
                    reply = {"error": f"unknown request {req[:32]!r}; try 'status'"}
                conn.sendall(json.dumps(reply).encode())
            except OSError as e:
                log.debug("control client: %s", e)

    def close(self) -> None:
        self.sock.close()
        self.path.unlink(missing_ok=True)


def _refuse_if_live(path: Path) -> None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(str(path))
    except OSError:
        return  # stale socket from a dead daemon: safe to replace
    finally:
        s.close()
    raise RuntimeError(f"{path}: another tapliance daemon is running with this control socket")
