"""Client side of the control socket: fetch a status snapshot, render it for a terminal."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any


class ControlError(RuntimeError):
    pass


def fetch(path: Path, request: str = "status", timeout: float = 3.0) -> dict[str, Any]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(str(path))
        s.sendall(request.encode() + b"\n")
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    except FileNotFoundError:
        raise ControlError(f"{path}: no control socket (is `tapliance up` running for this config?)") from None
    except (ConnectionRefusedError, OSError) as e:
        raise ControlError(f"{path}: cannot talk to the daemon: {e.strerror or e}") from None
    finally:
        s.close()
    try:
        data = json.loads(b"".join(chunks))
    except ValueError:
        raise ControlError(f"{path}: the daemon sent an invalid reply") from None
    if not isinstance(data, dict):
        raise ControlError(f"{path}: the daemon sent an invalid reply")
    return data


def _size(n: int) -> str:
    f = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if f < 1024 or unit == "TiB":
            return f"{f:.0f} {unit}" if unit == "B" else f"{f:.2f} {unit}"
        f /= 1024
    return str(n)


def only_peer(snap: dict[str, Any], name: str) -> dict[str, Any]:
    """The snapshot with only peer ``name``; ControlError naming the peers there are if it has none such."""
    peers = [p for p in snap.get("peers", []) if p.get("name") == name]
    if not peers:
        names = ", ".join(p.get("name", "?") for p in snap.get("peers", [])) or "none"
        raise ControlError(f"no peer named {name!r} (peers: {names})")
    return {**snap, "peers": peers}


DETAIL = (
    "public_key",
    "suite",
    "offload",
    "handshakes",
    "key_age",
    "handshake_rtt",
    "endpoint_changes",
    "last_received_ago",
    "insecure",
)


def _peer_lines(p: dict[str, Any], detail: bool = False) -> list[str]:
    hs = p.get("last_handshake")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(hs)) if hs else "never"
    who = f"  ({p['public_key']})" if p.get("public_key") else ""
    lines = [f"peer: {p['name']}{who}" + (f"  suite: {p['suite']}" if p.get("suite") else "")]
    if p.get("insecure"):
        lines.append(f"  INSECURE: {p['insecure']}")
    lines.append(f"  state: {p['state']}  endpoint: {p.get('endpoint') or '(not yet known)'}")
    if "last_handshake" in p:
        lines.append(f"  last handshake: {when}" + (f" ({p['last_handshake_ago']} s ago)" if hs else ""))
    elif p.get("last_received_ago") is not None:
        lines.append(f"  last received: {p['last_received_ago']} s ago")
    lines.append(
        f"  transfer: {_size(p['rx_bytes'])} / {p['rx_frames']} frames received, "
        f"{_size(p['tx_bytes'])} / {p['tx_frames']} frames sent"
    )
    if "pad_send_left" in p:  # the otp suite
        lines.append(f"  pad: {_size(p['pad_send_left'])} left to send, {_size(p['pad_receive_left'])} to receive")
        if p.get("pad_stopped"):
            lines.append(f"  STOPPED: {p['pad_stopped']}")
    if p.get("reason"):
        lines.append(f"  why not up: {p['reason']}")
    if detail:
        lines += [f"  {k}: {p[k]}" for k in DETAIL if p.get(k) is not None]
    return lines


def render(s: dict[str, Any], detail: bool = False) -> str:
    native = f"  listen: {s.get('listen')}  suite: {s.get('suite')}" if s.get("public_key") else ""
    lines = [f"interface: {s.get('interface')}{native}  mode: {'hub' if s.get('hub') else 'point-to-point'}"]
    if s.get("public_key"):
        path = f"  data path: {s['data_path']}" if s.get("data_path") else ""
        lines.append(f"  public key: {s.get('public_key')}{path}")
    lines.append(f"  uptime: {s.get('uptime', 0):.0f} s  pid: {s.get('pid')}")
    for p in s.get("peers", []):
        lines += _peer_lines(p, detail)
    drops = s.get("drops") or {}
    lines.append("drops: " + (", ".join(f"{k}={v}" for k, v in drops.items()) if drops else "none"))
    return "\n".join(lines)
