"""Checks across keys: what each suite needs from a ``[[peer]]``, and how the peers' sockets fit together.

Native peers share the tunnel's socket (``tunnel.listen``): the native protocol tells them apart by
session index. A legacy peer has a socket of its own, at its ``listen`` address or, without one, an
ephemeral port towards its ``endpoint``; no two sockets may claim the same port.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from tapliance.config.fields import Endpoint
from tapliance.config.peer import PeerConfig
from tapliance.config.peersd import PeerReader
from tapliance.config.reader import Reader, read_section
from tapliance.config.tcpchecks import check_tcp_peer
from tapliance.suites import REGISTRY

# suite -> keys it cannot do without (a tuple inside: one of them)
NEEDS: dict[str, tuple[str | tuple[str, ...], ...]] = {
    "native": ("public_key",),
    "tinytaptunnel": ("key_file",),
    "quicktun-raw": (),
    "quicktun-nacl0": ("public_key",),
    "quicktun-nacltai": ("public_key",),
    "quicktun-salty": ("public_key",),
    "tappet": ("private_key_file", "nonce_file", ("public_key", "public_key_file")),
    "otptunnel": ("pad_file",),
    "otp": ("pad_file", "server"),
}
HINTS = {
    "public_key": "the peer's key from `tapliance pubkey` (or its QuickTun/tappet public key in hex)",
    "key_file": "tinytaptunnel's key file",
    "private_key_file": "tappet's NAME.key",
    "nonce_file": "tappet's nonce file",
    "pad_file": "the pad file both ends share",
    "server": "true at exactly one end, false at the other: the two ends send from different halves of the pad",
}
_SUITES_OF = {f.name: f.metadata["suites"] for f in fields(PeerConfig)}


def read_peer(r: Reader, t: dict[str, Any], where: str) -> PeerConfig:
    """One ``[[peer]]`` table, read and checked for its suite."""
    values = read_section(r, t, where, PeerConfig)
    peer = PeerConfig(**values)
    for key in values:
        used_by = _SUITES_OF[key]
        if used_by and peer.suite not in used_by:
            raise r.error(f"{where}.{key}", f"not used by suite {peer.suite} (only by {', '.join(used_by)})")
    check_tcp_peer(r, peer, values, where)
    if peer.passphrase_file is not None:
        for key in ("public_key", "preshared_key_file", "password_file"):
            if key in values:
                raise r.error(f"{where}.{key}", "a passphrase peer's key and psk come from the pairing: leave it out")
        if peer.transport != "udp":
            raise r.error(f"{where}.transport", 'a passphrase peer pairs over UDP: transport = "udp"')
    for need in NEEDS[peer.suite]:
        if need == "public_key" and peer.suite == "native":
            continue  # checked with the TCP rules (a TCP server peer may be known by its password)
        options = need if isinstance(need, tuple) else (need,)
        if not any(k in values for k in options):
            hint = HINTS.get(options[0], "")
            raise r.error(
                f"{where}.{options[0]}",
                f"missing: suite {peer.suite} needs it"
                + (f" ({hint})" if hint else "")
                + (f"; or {', '.join(options[1:])}" if len(options) > 1 else ""),
            )
    weakness = REGISTRY[peer.suite].insecure if peer.legacy else None
    if weakness and not peer.allow_insecure:
        raise r.error(
            f"{where}.allow_insecure",
            f"suite {peer.suite} is insecure ({weakness}); set allow_insecure = true to run it anyway",
        )
    if peer.suite == "tappet" and peer.server and peer.listen is None:
        raise r.error(f"{where}.listen", "a tappet server needs the address to listen on (tappet's IP and port)")
    if peer.legacy and peer.listen is None and peer.endpoint is None:
        raise r.error(
            f"{where}.listen", f"a {peer.suite} peer needs its own UDP address (listen) or the far end's (endpoint)"
        )
    return peer


def _clash(a: Endpoint, b: Endpoint) -> bool:
    wild = ("0.0.0.0", "::")
    return a.port == b.port and (a.host == b.host or a.host in wild or b.host in wild)


def check_peers(r: Reader, peers: tuple[PeerConfig, ...], tunnel_listen: Endpoint) -> None:
    """Across peers: native keys are unique; no two otp peers share a pad; no two sockets claim one port."""
    seen: dict[bytes, int] = {}
    for i, p in enumerate(peers):
        if not p.legacy and p.public_key is not None:
            if p.public_key in seen:
                where = r.where(seen[p.public_key]) if isinstance(r, PeerReader) else "listed before"
                raise r.error(f"peer[{i}].public_key", f"duplicate: the same public key is also {where}")
            seen[p.public_key] = i
    shared = [i for i, p in enumerate(peers) if p.passphrase_file is not None]
    if len(shared) > 1:
        raise r.error(f"peer[{shared[1]}].passphrase_file", f"also peer[{shared[0]}] has one: at most one per tunnel")
    if shared:
        seen[b"passphrase"] = shared[0]  # it shares the tunnel's socket
    pads: dict[object, int] = {}
    for i, p in enumerate(peers):
        if p.suite == "otp" and p.pad_file is not None:
            key = p.pad_file.resolve()
            if key in pads:
                raise r.error(f"peer[{i}].pad_file", f"also peer[{pads[key]}]'s pad: a pad serves one tunnel only")
            pads[key] = i
    sockets: list[tuple[str, Endpoint]] = [("tunnel.listen", tunnel_listen)] if seen else []
    for i, p in enumerate(peers):
        if p.legacy and p.listen is not None:
            for other, ep in sockets:
                if _clash(p.listen, ep):
                    raise r.error(
                        f"peer[{i}].listen",
                        f"{p.listen} is also {other}'s port: a legacy peer needs a UDP port of its own",
                    )
            sockets.append((f"peer[{i}].listen", p.listen))
