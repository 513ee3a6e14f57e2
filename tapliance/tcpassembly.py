"""Config -> the QuickTun TCP protocol's peers, and for ``transport = "auto"`` the pairs of carriers
(tapliance.assembly builds the rest of the node). Password files are read here."""

from __future__ import annotations

import ipaddress
from typing import Any

from tapliance import config as C
from tapliance import keyfile
from tapliance.proto.events import Addr
from tapliance.proto.qtcp import wire as Q
from tapliance.proto.qtcp.peer import TcpPeerSpec
from tapliance.proto.qtcp.policy import Policy


def peer_name(p: C.PeerConfig, i: int) -> str:
    import base64

    return p.name or (base64.b64encode(p.public_key).decode()[:8] if p.public_key else f"tcp-{i}")


def _addr(ep: C.Endpoint | None) -> Addr | None:
    return (ep.host, ep.port) if ep is not None else None


def tcp_spec(cfg: C.Config, p: C.PeerConfig, i: int) -> TcpPeerSpec:
    password = keyfile.read_password(p.password_file) if p.password_file else None
    keepalive = cfg.tunnel.keepalive if p.keepalive is None else p.keepalive
    policy = Policy(
        encryption=p.tcp_encryption,
        password=password,
        require_password=p.require_password,
        password_in_clear=p.password_in_clear,
        anonymous=p.tcp_anonymous,
        public=p.tcp_public,
        rekey_after=cfg.tunnel.rekey_after_seconds,
        padding=p.tcp_padding,
        vnet=cfg.tap_offload,
        keepalive=keepalive or 10.0,
        accept_routes=p.accept_routes,
        accept_network_config=p.accept_addresses,
    )
    endpoint = p.tcp_endpoint if p.transport == "auto" else p.endpoint
    return TcpPeerSpec(peer_name(p, i), p.public_key, _addr(endpoint), policy, _assign(p), _routes(p))


def _assign(p: C.PeerConfig) -> Q.NetworkConfig | None:
    if not p.assign_addresses:
        return None
    v4 = next((a for a in p.assign_addresses if isinstance(a, ipaddress.IPv4Interface)), None)
    v6 = next((a for a in p.assign_addresses if isinstance(a, ipaddress.IPv6Interface)), None)
    return Q.NetworkConfig(ethernet=True, v4=v4, v6=v6)


def _routes(p: C.PeerConfig) -> tuple[Q.RouteUpdate, ...]:
    out = []
    for n in p.announce_routes:
        fam = Q.FAMILY_V4 if n.version == 4 else Q.FAMILY_V6
        out.append(Q.RouteUpdate(fam, True, n.network_address.packed, n.prefixlen))
    return tuple(out)


def tcp_specs(cfg: C.Config) -> list[tuple[int, TcpPeerSpec]]:
    """(peer index, spec) of every peer carried over TCP; raises KeyFileError for a bad password file."""
    return [(i, tcp_spec(cfg, p, i)) for i, p in enumerate(cfg.peers) if p.tcp]


def describe(spec: TcpPeerSpec) -> dict[str, Any]:
    """What check-config shows of a TCP peer."""
    pol = spec.policy
    return {
        "encryption": pol.encryption,
        "password": bool(pol.password),
        "require_password": pol.require_password,
        "public": pol.public,
        "anonymous": pol.anonymous,
    }
