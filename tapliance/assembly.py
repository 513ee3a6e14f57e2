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
from tapliance import fastpath, keyfile
from tapliance.compat.build import legacy_protocol, listen_address
from tapliance.proto import failover as FO
from tapliance.proto.hubpolicy import PortPolicy
from tapliance.proto.native.base import NativeParams
from tapliance.proto.native.peer import PeerSpec
from tapliance.proto.native.protocol import NativeProtocol
from tapliance.proto.node import Node
from tapliance.proto.protocol import Context, DatagramProtocol, Protocol
from tapliance.proto.qtcp.crypto import KeyPair
from tapliance.proto.qtcp.protocol import QtcpProtocol
from tapliance.tcpassembly import peer_name, tcp_specs

MIN_PASSPHRASE = 8  # bytes; the pairing resists offline guessing, but online guesses still add up
Binding = tuple[DatagramProtocol[Any], C.Endpoint]  # a protocol and the UDP address it listens on


@dataclass
class Built:
    """A daemon's node and what its transports need: each datagram protocol's UDP address, the TCP
    protocol (if any peer is carried over TCP) and which native peers have DNS names to resolve."""

    node: Node
    bindings: list[Binding]
    tcp: QtcpProtocol | None = None
    native: NativeProtocol | None = None
    names: dict[bytes, C.Endpoint] = field(default_factory=dict)  # native peer key -> endpoint by DNS name


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
        if not p.udp:
            continue
        passphrase = _passphrase(p) if p.passphrase_file else None
        assert p.public_key is not None or passphrase is not None
        psk = keyfile.read(p.preshared_key_file, "pre-shared key") if p.preshared_key_file else None
        if p.public_key == keys.public():
            raise C.ConfigError(f"{cfg.path}: peer[{i}].public_key: this is our own public key")
        ep = (p.endpoint.host, p.endpoint.port) if p.endpoint and not p.endpoint.is_name else None  # names: later
        keepalive = cfg.tunnel.keepalive if p.keepalive is None else p.keepalive
        auto = p.transport == "auto"
        if auto:  # a live UDP session is known within seconds (proto/failover.py)
            keepalive = min(keepalive or FO.KEEPALIVE, FO.KEEPALIVE)
        name = peer_name(p, i) if auto else p.name
        specs.append(
            PeerSpec(
                p.public_key or bytes(32),
                name or ("passphrase" if passphrase else ""),
                ep,
                psk,
                keepalive,
                mirror=auto and p.endpoint is None,
                accept_addresses=p.accept_addresses,
                accept_routes=p.accept_routes,
                passphrase=passphrase,
            )
        )
    return specs


def _passphrase(p: C.PeerConfig) -> bytes:
    assert p.passphrase_file is not None
    text = keyfile.read_password(p.passphrase_file)
    if len(text) < MIN_PASSPHRASE:
        raise keyfile.KeyFileError(
            f"{p.passphrase_file}: passphrase too short: at least {MIN_PASSPHRASE} characters (better: 4+ random words)"
        )
    return text


def native_params(tunnel: C.TunnelConfig, offload: bool) -> NativeParams:
    return NativeParams(
        suite=tunnel.suite,
        underlay_mtu=tunnel.underlay_mtu,
        ipv6=ipaddress.ip_address(tunnel.listen.host).version == 6,
        rekey_after_seconds=tunnel.rekey_after_seconds,
        rekey_after_bytes=tunnel.rekey_after_bytes,
        handshake_rate=tunnel.handshake_rate,
        handshake_cpu=tunnel.handshake_cpu,
        passphrase_guesses=tunnel.passphrase_guesses,
        offload=offload,
        fastpath=fastpath_wanted(tunnel.fastpath),
    )


def fastpath_wanted(configured: bool | None) -> bool | None:
    """``tunnel.fastpath`` (None: auto), or TAPLIANCE_FASTPATH where it is set (tapliance.fastpath)."""
    try:
        return fastpath.wanted(configured)
    except ValueError as e:
        raise C.ConfigError(str(e)) from None


def build_node(
    cfg: C.Config,
    keys: Keys,
    *,
    tap_vnet: bool,
    random: Callable[[int], bytes],
    now: float,
    unix_offset: float,
    cpu_time: Callable[[], float] | None = None,
) -> Built:
    """The node of one daemon and the sockets its protocols need (raises ConfigError or KeyFileError
    before anything is set up). ``cpu_time``: the CPU clock handshakes are metered with."""
    ctx = Context(random, unix_offset) if cpu_time is None else Context(random, unix_offset, cpu_time=cpu_time)
    bindings: list[Binding] = []
    specs = peer_specs(cfg, keys)
    native = None
    if specs:
        native = NativeProtocol(
            ctx, native_params(cfg.tunnel, cfg.interface.offload), static_private=keys.private(), peers=specs, now=now
        )
        bindings.append((native, cfg.tunnel.listen))
    for i, p in enumerate(cfg.peers):
        if p.legacy:
            bindings.append((legacy_protocol(ctx, p, i, keys.private), listen_address(p)))
    protocols: list[Protocol[Any]] = [proto for proto, _ in bindings]
    tcp = None
    tspecs = tcp_specs(cfg)
    if tspecs:
        tcp = QtcpProtocol(ctx, KeyPair.from_secret(keys.private()), [s for _, s in tspecs])
        pairs = []
        for (i, _), tport in zip(tspecs, tcp.ports, strict=True):
            p = cfg.peers[i]
            if p.transport == "auto" and native is not None and p.public_key is not None:
                pairs.append((peer_name(p, i), native.peers[p.public_key], tport))
        if pairs:
            # before the TCP protocol: its carrier rule takes a TCP member out of standby, and the node runs
            # the protocols' timers in list order, so that member dials in the same pass
            protocols.append(FO.FailoverProtocol(ctx, pairs, now))
        protocols.append(tcp)
    names = {
        p.public_key: p.endpoint
        for p in cfg.peers
        if p.udp and p.public_key is not None and p.endpoint is not None and p.endpoint.is_name
    }
    _policies(cfg, protocols)
    return Built(Node(ctx, protocols, tap_vnet=tap_vnet), bindings, tcp, native, names)


def _policies(cfg: C.Config, protocols: list[Protocol[Any]]) -> None:
    """Each switch port gets its peer's hub policy (isolation, MAC cap, flood limit), matched by name."""
    by_name: dict[str, PortPolicy] = {}
    for i, p in enumerate(cfg.peers):
        policy = PortPolicy(p.client_to_client, p.group, p.max_macs, float(p.flood_rate))
        for name in {p.name, peer_name(p, i), f"{p.suite}-{i}"}:
            by_name.setdefault(name, policy)
    for proto in protocols:
        for port in proto.ports:
            if port.via is None and port.name in by_name:
                port.policy = by_name[port.name]
