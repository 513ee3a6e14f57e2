"""Checks for peers carried over TCP (``transport = "tcp"`` or ``"auto"``, docs/protocol-tcp.md) and the
tunnel's TCP listener: every combination that cannot work, or works insecurely without saying so, is a
one-line error naming the key."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from tapliance.config.fields import Endpoint
from tapliance.config.peer import PeerConfig
from tapliance.config.reader import Reader

TCP_ONLY = (
    "tcp_endpoint",
    "tcp_encryption",
    "password_file",
    "require_password",
    "password_in_clear",
    "tcp_public",
    "tcp_anonymous",
    "tcp_padding",
    "assign_addresses",
    "announce_routes",
)
WEAK = {
    "auth-only": "keys authenticate both ends, then the traffic crosses unencrypted",
    "off": "no encryption and no authentication at all (QuickTun's raw mode)",
}
_DEFAULTS = {f.name: f.default for f in fields(PeerConfig)}


def check_tcp_peer(r: Reader, p: PeerConfig, values: dict[str, Any], where: str) -> None:
    """One native peer's TCP settings (``values``: the keys present in its table)."""
    if p.endpoint is not None and p.endpoint.is_name and p.legacy:
        raise r.error(f"{where}.endpoint", "a legacy peer's endpoint must be an IP address")
    if p.legacy:
        return
    if p.transport == "udp":
        for key in TCP_ONLY:
            if key in values:
                raise r.error(f"{where}.{key}", 'only for transport = "tcp" or "auto"')
    if p.public_key is None and p.passphrase_file is None:
        _keyless(r, p, where)
    if p.transport == "auto":
        if (p.endpoint is None) != (p.tcp_endpoint is None):
            raise r.error(
                f"{where}.tcp_endpoint",
                'transport = "auto" dials both: give endpoint and tcp_endpoint (or neither, to wait for the far end)',
            )
    elif "tcp_endpoint" in values:
        raise r.error(f"{where}.tcp_endpoint", 'only for transport = "auto" (with "tcp", endpoint is the TCP address)')
    if p.tcp_encryption != "required" and not p.allow_insecure:
        raise r.error(
            f"{where}.tcp_encryption",
            f"{p.tcp_encryption} is insecure ({WEAK[p.tcp_encryption]}); set allow_insecure = true to run it anyway",
        )
    if p.password_in_clear and not p.allow_insecure:
        raise r.error(
            f"{where}.password_in_clear",
            "a password in the clear can be read on the path; set allow_insecure = true to allow it",
        )
    if p.require_password and p.password_file is None:
        raise r.error(f"{where}.password_file", "missing: require_password needs the password (a file, mode 0600)")
    if p.tcp_encryption == "auth-only" and p.password_file is not None:
        raise r.error(f"{where}.password_file", "an auth-only session is authenticated by its keys; no password")
    if p.tcp_anonymous and (p.endpoint is None or p.tcp_encryption != "required"):
        raise r.error(f"{where}.tcp_anonymous", "an anonymous client dials (endpoint) and encrypts")
    _server_side(r, p, values, where)


def _keyless(r: Reader, p: PeerConfig, where: str) -> None:
    how = p.require_password or p.tcp_public or p.tcp_encryption == "off"
    if p.transport != "tcp" or p.endpoint is not None or not how:
        raise r.error(
            f"{where}.public_key",
            "missing: a native peer needs it; only a TCP peer that dials us may go "
            'without, known by require_password, tcp_public = true or tcp_encryption = "off"',
        )


def _server_side(r: Reader, p: PeerConfig, values: dict[str, Any], where: str) -> None:
    if p.tcp_public and (p.public_key is not None or p.password_file is not None or p.endpoint is not None):
        raise r.error(f"{where}.tcp_public", "a public peer has no public_key and no password, and dials nobody")
    if p.tcp_public and p.tcp_encryption != "required":
        raise r.error(f"{where}.tcp_public", 'a public peer needs encryption (tcp_encryption = "required")')
    if p.assign_addresses:
        if p.endpoint is not None:
            raise r.error(f"{where}.assign_addresses", "a server hands out addresses: this peer dials (endpoint)")
        versions = [a.version for a in p.assign_addresses]
        if len(set(versions)) != len(versions):
            raise r.error(f"{where}.assign_addresses", "one address per family (IPv4, IPv6)")
    if "accept_addresses" in values and p.endpoint is None and p.transport == "tcp":
        raise r.error(f"{where}.accept_addresses", "only a client (a peer we dial) is handed addresses over TCP")


def check_tcp_tunnel(
    r: Reader, peers: tuple[PeerConfig, ...], listen: Endpoint | None, backend: Endpoint | None, proxy: bool
) -> None:
    """Across peers and the tunnel's TCP keys."""
    for i, p in enumerate(peers):
        if p.tcp and p.endpoint is None and listen is None:
            raise r.error(
                f"peer[{i}].transport",
                f'transport = "{p.transport}" without endpoint waits for the far end to dial us: set tunnel.tcp_listen',
            )
    keyless = [i for i, p in enumerate(peers) if p.tcp and p.public_key is None and not p.require_password]
    if len(keyless) > 1:
        raise r.error(
            f"peer[{keyless[1]}].public_key",
            f"also peer[{keyless[0]}] takes any client without key or password: only one may",
        )
    if backend is not None:
        if listen is None:
            raise r.error("tunnel.tcp_share_backend", "port sharing needs tunnel.tcp_listen")
        if backend.port == listen.port and (backend.host == listen.host or listen.host in ("0.0.0.0", "::")):
            raise r.error("tunnel.tcp_share_backend", f"{backend} is tunnel.tcp_listen itself (a loop)")
    elif proxy:
        raise r.error("tunnel.tcp_proxy_protocol", "only with tunnel.tcp_share_backend")
    if listen is not None and not any(p.tcp for p in peers):
        raise r.error("tunnel.tcp_listen", 'no peer has transport = "tcp" or "auto"')
