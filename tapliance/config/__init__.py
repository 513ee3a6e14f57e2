"""TOML configuration -> frozen dataclasses (model.py, the single home of defaults).

Every error is a :class:`ConfigError` whose text names the file, the key and what is wrong, in one
line, e.g.::

    /etc/tapliance/tapliance.toml: peer[0].public_key: not a base64 X25519 public key (32 bytes)

Loading does no I/O beyond reading the one TOML file: key files are read later by
:mod:`tapliance.keyfile` (their path is validated for shape only here).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from tapliance.config.checks import check_peers, read_peer
from tapliance.config.fields import Endpoint, IPAddress, IPInterface, IPNetwork
from tapliance.config.model import (
    DEFAULT_PORT,
    SECTIONS,
    BridgeConfig,
    Config,
    DaemonConfig,
    InterfaceConfig,
    LogConfig,
    MetricsConfig,
    NatConfig,
    RouteConfig,
    TunnelConfig,
)
from tapliance.config.peer import PeerConfig
from tapliance.config.peersd import PeerReader, check_names, peer_files, read_peer_file
from tapliance.config.pool import PoolConfig, check_pool
from tapliance.config.reader import ConfigError, Reader, parse_public_key, read_section
from tapliance.config.tcpchecks import check_tcp_tunnel

__all__ = [
    "DEFAULT_PORT",
    "BridgeConfig",
    "Config",
    "ConfigError",
    "DaemonConfig",
    "Endpoint",
    "IPAddress",
    "IPInterface",
    "IPNetwork",
    "InterfaceConfig",
    "LogConfig",
    "MetricsConfig",
    "NatConfig",
    "PeerConfig",
    "RouteConfig",
    "TunnelConfig",
    "load",
    "parse",
    "parse_public_key",
]


def load(path: str | Path) -> Config:
    """Read and validate ``path``. Raises :class:`ConfigError` (one line) on any problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: TOML syntax error: {e}") from None
    return parse(data, path, files=True)


def parse(data: dict[str, Any], path: Path = Path("<config>"), *, files: bool = False) -> Config:
    """``files``: also read the peers directory (``load`` does; a config given as data has none)."""
    r = Reader(path)
    r.only(data, "", set(SECTIONS))
    interface = InterfaceConfig(**read_section(r, r.table(data, "interface"), "interface", InterfaceConfig))
    tunnel = TunnelConfig(**read_section(r, r.table(data, "tunnel"), "tunnel", TunnelConfig))
    tables = [(path, i, t) for i, t in enumerate(r.array_of_tables(data, "peer"))]
    if files:
        for f in peer_files(path, tunnel.peers_dir):
            tables += [(f, i, t) for i, t in enumerate(read_peer_file(f))]
    peers = tuple(read_peer(Reader(f), t, f"peer[{i}]") for f, i, t in tables)
    r = PeerReader(path, [(f, i) for f, i, _ in tables])
    check_names(r, peers)
    check_peers(r, peers, tunnel.listen)
    check_tcp_tunnel(r, peers, tunnel.tcp_listen, tunnel.tcp_share_backend, tunnel.tcp_proxy_protocol)
    bridge = _bridge(r, r.table(data, "bridge")) if "bridge" in data else None
    pool = PoolConfig(**read_section(r, r.table(data, "pool"), "pool", PoolConfig)) if "pool" in data else None
    check_pool(r, pool, interface.addresses + (bridge.addresses if bridge else ()), peers)
    return Config(
        path,
        interface,
        tunnel,
        peers,
        bridge,
        NatConfig(**read_section(r, r.table(data, "nat"), "nat", NatConfig)) if "nat" in data else None,
        tuple(_route(r, t, f"route[{i}]") for i, t in enumerate(r.array_of_tables(data, "route"))),
        LogConfig(**read_section(r, r.table(data, "log"), "log", LogConfig)),
        MetricsConfig(**read_section(r, r.table(data, "metrics"), "metrics", MetricsConfig)),
        pool,
        DaemonConfig(**read_section(r, r.table(data, "daemon"), "daemon", DaemonConfig)),
    )


def _bridge(r: Reader, t: dict[str, Any]) -> BridgeConfig:
    b = BridgeConfig(**read_section(r, t, "bridge", BridgeConfig))
    for i, p in enumerate(b.ports):
        if p == b.name:
            raise r.error(f"bridge.ports[{i}]", f"{p!r} is the bridge itself")
    if b.take_over is not None and b.take_over not in b.ports:
        raise r.error("bridge.take_over", f"{b.take_over!r} must also be listed in bridge.ports")
    for i, a in enumerate(b.addresses):
        if a.ip in [x.ip for x in b.addresses[:i]]:
            raise r.error(f"bridge.addresses[{i}]", f"{a.ip} is listed twice")
    return b


def _route(r: Reader, t: dict[str, Any], where: str) -> RouteConfig:
    route = RouteConfig(**read_section(r, t, where, RouteConfig))
    if route.via is not None and route.via.version != route.to.version:
        raise r.error(f"{where}.via", f"IPv{route.via.version} gateway for an IPv{route.to.version} route")
    return route
