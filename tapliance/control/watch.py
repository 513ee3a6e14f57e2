"""`tapliance status --watch`: a live table of the peers with rates, redrawn in place until Ctrl-C."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from tapliance.control import client

CLEAR = "\x1b[H\x1b[2J"


def _rate(bits: float) -> str:
    for unit in ("bit/s", "kbit/s", "Mbit/s", "Gbit/s"):
        if bits < 1000 or unit == "Gbit/s":
            return f"{bits:.0f} {unit}" if unit == "bit/s" else f"{bits:.1f} {unit}"
        bits /= 1000
    return ""


def table(snap: dict[str, Any], prev: dict[str, Any] | None, dt: float) -> str:
    before = {p["name"]: p for p in (prev or {}).get("peers", [])}
    rows = [f"{'peer':<16} {'state':<12} {'endpoint':<24} {'in':>13} {'out':>13} {'received':>11} {'sent':>11}"]
    for p in snap.get("peers", []):
        b = before.get(p["name"], p)
        rin = max(p["rx_bytes"] - b["rx_bytes"], 0) * 8 / dt if prev else 0.0
        rout = max(p["tx_bytes"] - b["tx_bytes"], 0) * 8 / dt if prev else 0.0
        rows.append(
            f"{p['name'][:16]:<16} {p['state']:<12} {str(p.get('endpoint') or '-')[:24]:<24} "
            f"{_rate(rin):>13} {_rate(rout):>13} {client._size(p['rx_bytes']):>11} "
            f"{client._size(p['tx_bytes']):>11}"
        )
        if p.get("reason"):
            rows.append(f"{'':<16} {p['reason']}")
    drops = snap.get("drops_last_minute") or {}
    rows.append("drops in the last minute: " + (", ".join(f"{k}={v}" for k, v in drops.items()) or "none"))
    head = f"{snap.get('interface')}  uptime {snap.get('uptime', 0):.0f} s  (every {dt:g} s; Ctrl-C ends)"
    return head + "\n" + "\n".join(rows)


def run(sock: Path, interval: float, peer: str | None) -> int:
    prev: dict[str, Any] | None = None
    tty = sys.stdout.isatty()
    try:
        while True:
            snap = client.fetch(sock)
            if peer is not None:
                snap = client.only_peer(snap, peer)
            print((CLEAR if tty else "") + table(snap, prev, interval), flush=True)
            prev = snap
            time.sleep(interval)
    except KeyboardInterrupt:
        return 0
