"""Why a peer is not up, in the words an operator needs: one line from its status and recent drops."""

from __future__ import annotations

from typing import Any

AUTH_FAILURES = ("handshake_decrypt", "unknown_peer", "bad_mac1")
LEGACY_AUTH = ("legacy_auth", "legacy_replay", "legacy_reflected")


def _ago(s: float) -> str:
    return f"{s / 60:.0f} min" if s >= 120 else f"{s:.0f} s"


def reason(peer: dict[str, Any], recent_drops: dict[str, int]) -> str | None:
    """None when the peer is up and traffic flows; otherwise the likely reason."""
    state = peer.get("state")
    heard = peer.get("last_received_ago")
    if state == "up":
        if heard is not None and heard > 60:
            return f"up, but nothing received for {_ago(heard)}"
        return None
    if peer.get("transport") == "tcp":  # the TCP protocol says why itself (refused, wrong password, ...)
        if recent_drops.get("tcp_password"):
            return "the TCP far end refused our password, or sent a wrong one"
        return str(peer.get("why") or "no TCP connection yet")
    if peer.get("transport") == "auto":
        tcp = peer.get("tcp") or {}
        udp_why = reason({k: v for k, v in peer.items() if k not in ("transport", "suite")}, recent_drops)
        return f"UDP: {udp_why}; TCP: {tcp.get('why') or tcp.get('state')}"
    if "suite" in peer:  # a legacy peer: no handshake, only traffic
        if any(recent_drops.get(r) for r in LEGACY_AUTH):
            return "datagrams arrive but fail authentication or replay checks: wrong key, pad or nonce file?"
        if peer.get("endpoint") is None:
            return "waiting for the far end's first datagram (no endpoint configured)"
        return f"nothing received for {_ago(heard)}" if heard is not None else "nothing received yet"
    if recent_drops.get("suite_mismatch"):
        return "handshakes arrive for another suite: both ends must set the same tunnel.suite"
    if any(recent_drops.get(r) for r in AUTH_FAILURES):
        return "handshake messages arrive but fail authentication: wrong key or pre-shared key?"
    if peer.get("endpoint") is None:
        return "waiting for the peer to connect (no endpoint configured; it is learnt from its first handshake)"
    since = peer.get("last_handshake_ago")
    if state == "down":
        return "no handshake answer for 90 s: is the peer running, and does UDP reach " + str(peer["endpoint"]) + "?"
    if since is not None:
        return f"no handshake for {_ago(since)}; trying again"
    return "handshaking: no answer yet from " + str(peer["endpoint"])
