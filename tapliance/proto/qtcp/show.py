"""What ``tapliance status`` shows of a TCP peer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tapliance.proto.qtcp.peer import TcpPeer


def show(port: TcpPeer, now: float) -> dict[str, Any]:
    """One TCP peer's status (``tapliance status``, /api/status, metrics)."""
    c = port.conn
    state = "up" if c is not None and c.enabled else "handshaking" if c is not None or port.dialling else "down"
    return {
        "name": port.name,
        "suite": "quicktun-tcp",
        "transport": "tcp",
        "public_key": port.spec.public_key.hex() if port.spec.public_key else None,
        "endpoint": f"{port.endpoint[0]}:{port.endpoint[1]}" if port.endpoint else None,
        "state": state,
        "rtt": round(c.rtt, 6) if c is not None and c.rtt is not None else None,
        "queued_frames": len(c.frames) if c is not None else 0,
        "queue_drops": c.queue_drops if c is not None else 0,
        "encrypted": bool(c is not None and c.send.encrypted and c.recv.encrypted),
        "last_received_ago": round(now - c.last_rx, 1) if c is not None else None,
        "why": None if state == "up" else port.reason,
        "rx_bytes": port.rx_bytes,
        "tx_bytes": port.tx_bytes,
        "rx_frames": port.rx_frames,
        "tx_frames": port.tx_frames,
        "endpoint_changes": port.endpoint_changes,
    }
