"""Config and keys -> the sans-IO node: the one place settings become the core's parameters.

The core takes every setting as a required parameter (``NativeParams``, ``PeerSpec``); their defaults
live only in tapliance.config. Reading key files is the only I/O here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from tapliance import config as C
from tapliance import keyfile
from tapliance.proto.native.base import NativeParams
from tapliance.proto.native.peer import PeerSpec
from tapliance.proto.native.protocol import NativeProtocol
from tapliance.proto.node import Node
from tapliance.proto.protocol import Context, DatagramProtocol


def peer_specs(cfg: C.Config, private: bytes) -> list[PeerSpec]:
    """The configured peers with their pre-shared keys read; raises ConfigError / KeyFileError."""
    own = keyfile.public_from_private(private)
    specs = []
    for i, p in enumerate(cfg.peers):
        psk = keyfile.read(p.preshared_key_file, "pre-shared key") if p.preshared_key_file else None
        if p.public_key == own:
            raise C.ConfigError(f"{cfg.path}: peer[{i}].public_key: this is our own public key")
        ep = (p.endpoint.host, p.endpoint.port) if p.endpoint else None
        keepalive = cfg.tunnel.keepalive if p.keepalive is None else p.keepalive
        specs.append(PeerSpec(p.public_key, p.name, ep, psk, keepalive))
    if not specs:
        raise C.ConfigError(f"{cfg.path}: peer: no [[peer]] configured; a tunnel needs at least one")
    return specs


def native_params(tunnel: C.TunnelConfig) -> NativeParams:
    return NativeParams(
        suite=tunnel.suite,
        underlay_mtu=tunnel.underlay_mtu,
        ipv6=ipaddress.ip_address(tunnel.listen.host).version == 6,
        rekey_after_seconds=tunnel.rekey_after_seconds,
        rekey_after_bytes=tunnel.rekey_after_bytes,
        handshake_rate=tunnel.handshake_rate,
    )


Binding = tuple[DatagramProtocol[Any], C.Endpoint]  # a protocol and the UDP address it listens on


def build_node(
    cfg: C.Config,
    private: bytes,
    specs: list[PeerSpec],
    *,
    tap_vnet: bool,
    random: Callable[[int], bytes],
    now: float,
    unix_offset: float,
) -> tuple[Node, list[Binding]]:
    """The node of one daemon and the socket each of its protocols needs: today one native protocol on
    the tunnel's listen address."""
    ctx = Context(random, unix_offset)
    native = NativeProtocol(ctx, native_params(cfg.tunnel), static_private=private, peers=specs, now=now)
    return Node(ctx, [native], tap_vnet=tap_vnet), [(native, cfg.tunnel.listen)]
