"""TOML configuration -> frozen dataclasses.

This module is the single home of defaults. Every error is a :class:`ConfigError` whose text names the
file, the key and what is wrong, in one line, e.g.::

    /etc/tapliance/tapliance.toml: peer[0].public_key: not a base64 X25519 public key (32 bytes)

Loading does no I/O beyond reading the one TOML file: key files are read later by
:mod:`tapliance.keyfile` (their path is validated for shape only here).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_PORT = 9123
SUITES = ("chacha20-poly1305", "aes-256-gcm")
IFNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,15}$")
MAC_RE = re.compile(r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$")

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ConfigError(ValueError):
    """A config problem, already formatted as ``FILE: KEY: what is wrong``."""


@dataclass(frozen=True)
class Endpoint:
    host: str  # literal IP address (v4 or v6); names are resolved at load time
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class InterfaceConfig:
    name: str = "tap0"
    mtu: int = 1500
    addresses: tuple[IPInterface, ...] = ()
    mac: str | None = None
    # True: create the TAP (or attach to a pre-created persistent one of that name) and remove it on exit
    # if we created it.
    create: bool = True
    # TAP offloads (virtio-net header, TSO/checksum): 64 KiB super-frames per read/write
    offload: bool = True


@dataclass(frozen=True)
class TunnelConfig:
    listen: Endpoint = Endpoint("0.0.0.0", DEFAULT_PORT)
    private_key_file: Path = Path("/etc/tapliance/host.key")
    suite: str = "chacha20-poly1305"
    keepalive: float = 10.0  # seconds of tx silence before an empty keepalive; 0 disables
    underlay_mtu: int = 1500  # largest IP packet the underlay carries; datagrams are sized to fit it
    rekey_after_seconds: float = 120.0
    rekey_after_bytes: int = 1 << 36  # 64 GiB sealed under one key, then rekey
    control_socket: Path | None = None  # default: /run/tapliance/<interface>.sock
    handshake_rate: int = 50  # handshake messages per second processed before rate limiting


@dataclass(frozen=True)
class PeerConfig:
    public_key: bytes
    name: str = ""
    endpoint: Endpoint | None = None
    preshared_key_file: Path | None = None
    keepalive: float | None = None  # None: tunnel.keepalive


@dataclass(frozen=True)
class BridgeConfig:
    name: str
    ports: tuple[str, ...] = ()  # the TAP is always added; these are extra members (e.g. the LAN uplink)
    stp: bool = False
    forward_delay: float = 15.0
    addresses: tuple[IPInterface, ...] = ()
    take_over: str | None = None  # move this port's addresses and default route onto the bridge


@dataclass(frozen=True)
class NatConfig:
    uplink: str
    masquerade: bool = True
    # sources allowed out of the uplink; empty: the networks of interface.addresses
    sources: tuple[IPNetwork, ...] = ()


@dataclass(frozen=True)
class RouteConfig:
    to: IPNetwork
    via: IPAddress | None = None
    dev: str | None = None  # default: the TAP interface


@dataclass(frozen=True)
class Config:
    path: Path
    interface: InterfaceConfig = field(default_factory=InterfaceConfig)
    tunnel: TunnelConfig = field(default_factory=TunnelConfig)
    peers: tuple[PeerConfig, ...] = ()
    bridge: BridgeConfig | None = None
    nat: NatConfig | None = None
    routes: tuple[RouteConfig, ...] = ()
    log_level: str = "info"

    @property
    def control_socket(self) -> Path:
        return self.tunnel.control_socket or Path(f"/run/tapliance/{self.interface.name}.sock")


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
    return parse(data, path)


def parse(data: dict[str, Any], path: Path = Path("<config>")) -> Config:
    r = _Reader(path)
    r.only(data, "", {"interface", "tunnel", "peer", "bridge", "nat", "route", "log"})
    iface = _interface(r, r.table(data, "interface"))
    tunnel = _tunnel(r, r.table(data, "tunnel"))
    peers = tuple(_peer(r, p, f"peer[{i}]") for i, p in enumerate(r.array_of_tables(data, "peer")))
    keys = [p.public_key for p in peers]
    for i, k in enumerate(keys):
        if k in keys[:i]:
            raise r.error(f"peer[{i}].public_key", "duplicate: the same public key is listed twice")
    bridge = _bridge(r, data["bridge"]) if "bridge" in data else None
    nat = _nat(r, data["nat"]) if "nat" in data else None
    routes = tuple(_route(r, t, f"route[{i}]") for i, t in enumerate(r.array_of_tables(data, "route")))
    log = r.table(data, "log")
    r.only(log, "log", {"level"})
    level = r.choice(log, "log.level", "level", ("debug", "info", "warning", "error"), "info")
    return Config(path, iface, tunnel, peers, bridge, nat, routes, level)


class _Reader:
    """Typed accessors that turn every mistake into ``FILE: KEY: message``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, key: str, msg: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key}: {msg}" if key else f"{self.path}: {msg}")

    def only(self, t: dict[str, Any], where: str, allowed: set[str]) -> None:
        for k in t:
            if k not in allowed:
                name = f"{where}.{k}" if where else k
                raise self.error(name, f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def table(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        v = data.get(key, {})
        if not isinstance(v, dict):
            raise self.error(key, "must be a table ([" + key + "])")
        return v

    def array_of_tables(self, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
        v = data.get(key, [])
        if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
            raise self.error(key, f"must be an array of tables ([[{key}]])")
        return v

    def get(self, t: dict[str, Any], full: str, k: str, typ: type | tuple[type, ...], default: Any) -> Any:
        if k not in t:
            return default
        v = t[k]
        if isinstance(v, bool) and typ is not bool and typ != (bool,):
            raise self.error(full, f"must be {_typename(typ)}, got a boolean")
        if not isinstance(v, typ):
            raise self.error(full, f"must be {_typename(typ)}, got {type(v).__name__} {v!r}")
        return v

    def number(self, t: dict[str, Any], full: str, k: str, default: float, lo: float, hi: float) -> float:
        v = float(self.get(t, full, k, (int, float), default))
        if not lo <= v <= hi:
            raise self.error(full, f"must be between {lo:g} and {hi:g}, got {v:g}")
        return v

    def integer(self, t: dict[str, Any], full: str, k: str, default: int, lo: int, hi: int) -> int:
        v = int(self.get(t, full, k, int, default))
        if not lo <= v <= hi:
            raise self.error(full, f"must be between {lo} and {hi}, got {v}")
        return v

    def choice(self, t: dict[str, Any], full: str, k: str, options: tuple[str, ...], default: str) -> str:
        v = self.get(t, full, k, str, default)
        if v not in options:
            raise self.error(full, f"must be one of {', '.join(options)}, got {v!r}")
        return str(v)

    def ifname(self, t: dict[str, Any], full: str, k: str, default: str | None) -> str | None:
        v = self.get(t, full, k, str, default)
        if v is not None and not IFNAME_RE.match(v):
            raise self.error(full, f"not a valid interface name {v!r} (1-15 chars of A-Z a-z 0-9 _ . -)")
        return v  # type: ignore[no-any-return]

    def strings(self, t: dict[str, Any], full: str, k: str) -> list[str]:
        v = self.get(t, full, k, list, [])
        for i, x in enumerate(v):
            if not isinstance(x, str):
                raise self.error(f"{full}[{i}]", f"must be a string, got {x!r}")
        return v  # type: ignore[no-any-return]

    def interfaces(self, t: dict[str, Any], full: str, k: str) -> tuple[IPInterface, ...]:
        out = []
        for i, s in enumerate(self.strings(t, full, k)):
            if "/" not in s:
                raise self.error(f"{full}[{i}]", f"{s!r} needs a prefix length, e.g. 10.1.2.3/24")
            try:
                out.append(ipaddress.ip_interface(s))
            except ValueError:
                raise self.error(f"{full}[{i}]", f"not an IP address with prefix: {s!r}") from None
        return tuple(out)

    def endpoint(self, full: str, s: Any, default_host: str | None = None) -> Endpoint:
        if not isinstance(s, str):
            raise self.error(full, f"must be a string 'HOST:PORT', got {s!r}")
        m = re.match(r"^\[([0-9a-fA-F:.]+)\]:(\d+)$", s) or re.match(r"^([^:\[\]]*):(\d+)$", s)
        if not m:
            raise self.error(full, f"expected HOST:PORT or [IPv6]:PORT, got {s!r}")
        host, port = m.group(1), int(m.group(2))
        if not 1 <= port <= 65535:
            raise self.error(full, f"port must be 1-65535, got {port}")
        if host == "" and default_host is not None:
            host = default_host
        try:
            host = str(ipaddress.ip_address(host))
        except ValueError:
            raise self.error(full, f"{host!r} is not an IP address (names are not resolved)") from None
        return Endpoint(host, port)

    def filepath(self, t: dict[str, Any], full: str, k: str, default: Path | None) -> Path | None:
        v = self.get(t, full, k, str, None)
        if v is None:
            return default
        if not v:
            raise self.error(full, "must not be empty")
        p = Path(v)
        if not p.is_absolute():
            p = self.path_base() / p
        return p

    def path_base(self) -> Path:
        return self.path.parent if self.path.name != "<config>" else Path.cwd()


def _typename(typ: type | tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "a list"}
    if isinstance(typ, tuple):
        return " or ".join(names.get(t, t.__name__) for t in typ)
    return names.get(typ, typ.__name__)


def _interface(r: _Reader, t: dict[str, Any]) -> InterfaceConfig:
    r.only(t, "interface", {"name", "mtu", "addresses", "mac", "create", "offload"})
    name = r.ifname(t, "interface.name", "name", "tap0")
    mtu = r.integer(t, "interface.mtu", "mtu", 1500, 576, 65000)
    addrs = r.interfaces(t, "interface.addresses", "addresses")
    mac = r.get(t, "interface.mac", "mac", str, None)
    if mac is not None and not MAC_RE.match(mac):
        raise r.error("interface.mac", f"not a MAC address like 02:00:00:00:00:01: {mac!r}")
    if mac is not None and int(mac[:2], 16) & 1:
        raise r.error("interface.mac", f"{mac} is a multicast address; use a unicast one (e.g. 02:...)")
    create = r.get(t, "interface.create", "create", bool, True)
    offload = r.get(t, "interface.offload", "offload", bool, True)
    assert name is not None
    return InterfaceConfig(name, mtu, addrs, mac.lower() if mac else None, create, offload)


def _tunnel(r: _Reader, t: dict[str, Any]) -> TunnelConfig:
    allowed = {"listen", "private_key_file", "suite", "keepalive", "underlay_mtu", "rekey_after_seconds",
               "rekey_after_bytes", "control_socket", "handshake_rate"}
    r.only(t, "tunnel", allowed)
    listen = TunnelConfig.listen
    if "listen" in t:
        listen = r.endpoint("tunnel.listen", t["listen"], default_host="0.0.0.0")
    key = r.filepath(t, "tunnel.private_key_file", "private_key_file", TunnelConfig.private_key_file)
    assert key is not None
    return TunnelConfig(
        listen=listen,
        private_key_file=key,
        suite=r.choice(t, "tunnel.suite", "suite", SUITES, "chacha20-poly1305"),
        keepalive=r.number(t, "tunnel.keepalive", "keepalive", 10.0, 0, 3600),
        underlay_mtu=r.integer(t, "tunnel.underlay_mtu", "underlay_mtu", 1500, 576, 65535),
        rekey_after_seconds=r.number(t, "tunnel.rekey_after_seconds", "rekey_after_seconds", 120.0, 1, 86400),
        rekey_after_bytes=r.integer(t, "tunnel.rekey_after_bytes", "rekey_after_bytes", 1 << 36,
                                    1 << 16, 1 << 60),
        control_socket=r.filepath(t, "tunnel.control_socket", "control_socket", None),
        handshake_rate=r.integer(t, "tunnel.handshake_rate", "handshake_rate", 50, 1, 100000),
    )


def parse_public_key(s: str) -> bytes | None:
    """Decode a base64 32-byte key, or None if it is not one."""
    try:
        raw = base64.b64decode(s.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


def _peer(r: _Reader, t: dict[str, Any], where: str) -> PeerConfig:
    r.only(t, where, {"name", "public_key", "endpoint", "preshared_key_file", "keepalive"})
    if "public_key" not in t:
        raise r.error(f"{where}.public_key", "missing (the peer's key from `tapliance pubkey`)")
    pk_s = r.get(t, f"{where}.public_key", "public_key", str, "")
    pk = parse_public_key(pk_s)
    if pk is None:
        raise r.error(f"{where}.public_key", f"not a base64 X25519 public key (32 bytes): {pk_s!r}")
    ep = r.endpoint(f"{where}.endpoint", t["endpoint"]) if "endpoint" in t else None
    ka = r.number(t, f"{where}.keepalive", "keepalive", -1, -1, 3600) if "keepalive" in t else None
    return PeerConfig(
        public_key=pk,
        name=r.get(t, f"{where}.name", "name", str, ""),
        endpoint=ep,
        preshared_key_file=r.filepath(t, f"{where}.preshared_key_file", "preshared_key_file", None),
        keepalive=ka,
    )


def _bridge(r: _Reader, t: Any) -> BridgeConfig:
    if not isinstance(t, dict):
        raise r.error("bridge", "must be a table ([bridge])")
    r.only(t, "bridge", {"name", "ports", "stp", "forward_delay", "addresses", "take_over"})
    name = r.ifname(t, "bridge.name", "name", None)
    if name is None:
        raise r.error("bridge.name", "missing (the bridge device to create, e.g. br0)")
    ports = r.strings(t, "bridge.ports", "ports")
    for i, p in enumerate(ports):
        if not IFNAME_RE.match(p):
            raise r.error(f"bridge.ports[{i}]", f"not a valid interface name {p!r}")
        if p == name:
            raise r.error(f"bridge.ports[{i}]", f"{p!r} is the bridge itself")
        if p in ports[:i]:
            raise r.error(f"bridge.ports[{i}]", f"{p!r} is listed twice")
    take = r.ifname(t, "bridge.take_over", "take_over", None)
    if take is not None and take not in ports:
        raise r.error("bridge.take_over", f"{take!r} must also be listed in bridge.ports")
    addrs = r.interfaces(t, "bridge.addresses", "addresses")
    for i, a in enumerate(addrs):
        if a.ip in [x.ip for x in addrs[:i]]:
            raise r.error(f"bridge.addresses[{i}]", f"{a.ip} is listed twice")
    return BridgeConfig(name, tuple(ports), r.get(t, "bridge.stp", "stp", bool, False),
                        r.number(t, "bridge.forward_delay", "forward_delay", 15.0, 2, 30), addrs, take)


def _nat(r: _Reader, t: Any) -> NatConfig:
    if not isinstance(t, dict):
        raise r.error("nat", "must be a table ([nat])")
    r.only(t, "nat", {"uplink", "masquerade", "sources"})
    up = r.ifname(t, "nat.uplink", "uplink", None)
    if up is None:
        raise r.error("nat.uplink", "missing (the interface traffic leaves by, e.g. eth0)")
    srcs = []
    for i, s in enumerate(r.strings(t, "nat.sources", "sources")):
        try:
            srcs.append(ipaddress.ip_network(s, strict=False))
        except ValueError:
            raise r.error(f"nat.sources[{i}]", f"not an IP network: {s!r}") from None
        if srcs[-1] in srcs[:-1]:
            raise r.error(f"nat.sources[{i}]", f"{srcs[-1]} is listed twice")
    return NatConfig(up, r.get(t, "nat.masquerade", "masquerade", bool, True), tuple(srcs))


def _route(r: _Reader, t: dict[str, Any], where: str) -> RouteConfig:
    r.only(t, where, {"to", "via", "dev"})
    to_s = r.get(t, f"{where}.to", "to", str, None)
    if to_s is None:
        raise r.error(f"{where}.to", "missing (destination network, e.g. 192.168.1.0/24)")
    try:
        to = ipaddress.ip_network(to_s, strict=True)
    except ValueError as e:
        raise r.error(f"{where}.to", f"not a network address: {to_s!r} ({e})") from None
    via_s = r.get(t, f"{where}.via", "via", str, None)
    via = None
    if via_s is not None:
        try:
            via = ipaddress.ip_address(via_s)
        except ValueError:
            raise r.error(f"{where}.via", f"not an IP address: {via_s!r}") from None
        if via.version != to.version:
            raise r.error(f"{where}.via", f"IPv{via.version} gateway for an IPv{to.version} route")
    return RouteConfig(to, via, r.ifname(t, f"{where}.dev", "dev", None))
