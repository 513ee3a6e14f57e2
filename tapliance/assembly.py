"""Config and keys -> the sans-IO node and the sockets its protocols need.

The core takes every setting as a required parameter (``NativeParams``, ``PeerSpec``, a codec's
arguments); their defaults live only in tapliance.config. Reading key files is the only I/O here.

One daemon, many protocols: the native peers share one NativeProtocol on ``tunnel.listen`` (it tells
them apart by session index); each legacy peer is a LegacyProtocol on a socket of its own. All of
them are ports of the one switch.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tapliance import config as C
from tapliance import keyfile
from tapliance.compat.build import legacy_protocol, listen_address
from tapliance.proto.native.base import NativeParams
from tapliance.proto.native.peer import PeerSpec
from tapliance.proto.native.protocol import NativeProtocol
from tapliance.proto.node import Node
from tapliance.proto.protocol import Context, DatagramProtocol

Binding = tuple[DatagramProtocol[Any], C.Endpoint]  # a protocol and the UDP address it listens on


@dataclass
class Keys:
    """The tunnel's private key, read from its file the first time a peer needs it."""

    cfg: C.Config
    _private: list[bytes] = field(default_factory=list)

    def private(self) -> bytes:
        if not self._private:
            self._private.append(keyfile.read(self.cfg.tunnel.private_key_file, "private key"))
        return self._private[0]

    def public(self) -> bytes:
        return keyfile.public_from_private(self.private())


def peer_specs(cfg: C.Config, keys: Keys) -> list[PeerSpec]:
    """The native peers with their pre-shared keys read; raises ConfigError / KeyFileError."""
    specs = []
    for i, p in enumerate(cfg.peers):
        if p.legacy:
            continue
        assert p.public_key is not None
        psk = keyfile.read(p.preshared_key_file, "pre-shared key") if p.preshared_key_file else None
        if p.public_key == keys.public():
            raise C.ConfigError(f"{cfg.path}: peer[{i}].public_key: this is our own public key")
        ep = (p.endpoint.host, p.endpoint.port) if p.endpoint else None
        keepalive = cfg.tunnel.keepalive if p.keepalive is None else p.keepalive
        specs.append(PeerSpec(p.public_key, p.name, ep, psk, keepalive))
    return specs


def native_params(tunnel: C.TunnelConfig, offload: bool) -> NativeParams:
    return NativeParams(
        suite=tunnel.suite,
        underlay_mtu=tunnel.underlay_mtu,
        ipv6=ipaddress.ip_address(tunnel.listen.host).version == 6,
        rekey_after_seconds=tunnel.rekey_after_seconds,
        rekey_after_bytes=tunnel.rekey_after_bytes,
        handshake_rate=tunnel.handshake_rate,
        handshake_cpu=tunnel.handshake_cpu,
        offload=offload,
    )


def build_node(
    cfg: C.Config,
    keys: Keys,
    *,
    tap_vnet: bool,
    random: Callable[[int], bytes],
    now: float,
    unix_offset: float,
    cpu_time: Callable[[], float] | None = None,
) -> tuple[Node, list[Binding]]:
    """The node of one daemon and the socket each of its protocols needs (raises ConfigError or
    KeyFileError before anything is set up). ``cpu_time``: the CPU clock handshakes are metered with."""
    ctx = Context(random, unix_offset) if cpu_time is None else Context(random, unix_offset, cpu_time=cpu_time)
    bindings: list[Binding] = []
    specs = peer_specs(cfg, keys)
    if specs:
        native = NativeProtocol(
            ctx, native_params(cfg.tunnel, cfg.interface.offload), static_private=keys.private(), peers=specs, now=now
        )
        bindings.append((native, cfg.tunnel.listen))
    for i, p in enumerate(cfg.peers):
        if p.legacy:
            bindings.append((legacy_protocol(ctx, p, i, keys.private), listen_address(p)))
    return Node(ctx, [proto for proto, _ in bindings], tap_vnet=tap_vnet), bindings
