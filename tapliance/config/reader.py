"""Reading TOML values by their declared kind; every mistake becomes ``FILE: KEY: message``, one line.

``read_section`` reads one table by its dataclass's :func:`~tapliance.config.model.setting`
declarations: unknown keys, missing required keys, and each present value checked and converted by
the reader for its kind (``KINDS``). Absent keys keep the dataclass default.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from tapliance.config.fields import Endpoint
from tapliance.config.pool import read_addresses, read_range

IFNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,15}$")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
HOSTNAME_RE = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")
MAC_RE = re.compile(r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$")


class ConfigError(ValueError):
    """A config problem, already formatted as ``FILE: KEY: what is wrong``."""


def parse_public_key(s: str) -> bytes | None:
    """Decode a 32-byte key given in base64 (tapliance's form) or 64 hex digits (QuickTun's and tappet's),
    or None if it is neither. The two cannot be confused: 64 characters of base64 are 48 bytes."""
    s = s.strip()
    if len(s) == 64:
        try:
            return bytes.fromhex(s)
        except ValueError:
            return None
    try:
        raw = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


def _typename(typ: type | tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "a list"}
    if isinstance(typ, tuple):
        return " or ".join(names.get(t, t.__name__) for t in typ)
    return names.get(typ, typ.__name__)


class Reader:
    """Typed checks of one file's values; ``full`` is the key as the error names it (``peer[0].name``)."""

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

    def typed(self, full: str, v: Any, typ: type | tuple[type, ...]) -> Any:
        if isinstance(v, bool) and typ is not bool and typ != (bool,):
            raise self.error(full, f"must be {_typename(typ)}, got a boolean")
        if not isinstance(v, typ):
            raise self.error(full, f"must be {_typename(typ)}, got {type(v).__name__} {v!r}")
        return v

    def bounded(self, full: str, v: float, lo: float, hi: float, fmt: str) -> None:
        if not lo <= v <= hi:
            raise self.error(full, f"must be between {lo:{fmt}} and {hi:{fmt}}, got {v:{fmt}}")

    def strings(self, full: str, v: Any) -> list[str]:
        self.typed(full, v, list)
        for i, x in enumerate(v):
            if not isinstance(x, str):
                raise self.error(f"{full}[{i}]", f"must be a string, got {x!r}")
        return v  # type: ignore[no-any-return]

    def ifname(self, full: str, v: Any) -> str:
        self.typed(full, v, str)
        if not IFNAME_RE.match(v):
            raise self.error(full, f"not a valid interface name {v!r} (1-15 chars of A-Z a-z 0-9 _ . -)")
        return v  # type: ignore[no-any-return]

    def endpoint(self, full: str, s: Any, default_host: str | None = None, names: bool = False) -> Endpoint:
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
            if not names:
                raise self.error(full, f"{host!r} is not an IP address (names are not resolved here)") from None
            if not HOSTNAME_RE.match(host):
                raise self.error(full, f"{host!r} is neither an IP address nor a DNS name") from None
        return Endpoint(host, port)

    def filepath(self, full: str, v: Any) -> Path:
        self.typed(full, v, str)
        if not v:
            raise self.error(full, "must not be empty")
        p = Path(v)
        return p if p.is_absolute() else self.path_base() / p

    def path_base(self) -> Path:
        return self.path.parent if self.path.name != "<config>" else Path.cwd()


def _interfaces(r: Reader, full: str, v: Any, _m: dict[str, Any]) -> tuple[Any, ...]:
    out = []
    for i, s in enumerate(r.strings(full, v)):
        if "/" not in s:
            raise r.error(f"{full}[{i}]", f"{s!r} needs a prefix length, e.g. 10.1.2.3/24")
        try:
            out.append(ipaddress.ip_interface(s))
        except ValueError:
            raise r.error(f"{full}[{i}]", f"not an IP address with prefix: {s!r}") from None
    return tuple(out)


def _mac(r: Reader, full: str, v: Any, _m: dict[str, Any]) -> str:
    r.typed(full, v, str)
    if not MAC_RE.match(v):
        raise r.error(full, f"not a MAC address like 02:00:00:00:00:01: {v!r}")
    if int(v[:2], 16) & 1:
        raise r.error(full, f"{v} is a multicast address; use a unicast one (e.g. 02:...)")
    return str(v).lower()


def _public_key(r: Reader, full: str, v: Any, _m: dict[str, Any]) -> bytes:
    pk = parse_public_key(r.typed(full, v, str))
    if pk is None:
        raise r.error(full, f"not a base64 X25519 public key (32 bytes) nor 64 hex digits: {v!r}")
    return pk


def _number(r: Reader, full: str, v: Any, m: dict[str, Any]) -> float:
    x = float(r.typed(full, v, (int, float)))
    r.bounded(full, x, m["lo"], m["hi"], "g")
    return x


def _integer(r: Reader, full: str, v: Any, m: dict[str, Any]) -> int:
    x = int(r.typed(full, v, int))
    r.bounded(full, x, m["lo"], m["hi"], "")
    return x


def _choice(r: Reader, full: str, v: Any, m: dict[str, Any]) -> str:
    r.typed(full, v, str)
    if v not in m["choices"]:
        raise r.error(full, f"must be one of {', '.join(m['choices'])}, got {v!r}")
    return str(v)


def _ifnames(r: Reader, full: str, v: Any, _m: dict[str, Any]) -> tuple[str, ...]:
    names = r.strings(full, v)
    for i, p in enumerate(names):
        if not IFNAME_RE.match(p):
            raise r.error(f"{full}[{i}]", f"not a valid interface name {p!r}")
        if p in names[:i]:
            raise r.error(f"{full}[{i}]", f"{p!r} is listed twice")
    return tuple(names)


def _networks(r: Reader, full: str, v: Any, _m: dict[str, Any]) -> tuple[Any, ...]:
    out: list[Any] = []
    for i, s in enumerate(r.strings(full, v)):
        try:
            out.append(ipaddress.ip_network(s, strict=False))
        except ValueError:
            raise r.error(f"{full}[{i}]", f"not an IP network: {s!r}") from None
        if out[-1] in out[:-1]:
            raise r.error(f"{full}[{i}]", f"{out[-1]} is listed twice")
    return tuple(out)


def _network(r: Reader, full: str, v: Any, _m: dict[str, Any]) -> Any:
    r.typed(full, v, str)
    try:
        return ipaddress.ip_network(v, strict=True)
    except ValueError as e:
        raise r.error(full, f"not a network address: {v!r} ({e})") from None


def _address(r: Reader, full: str, v: Any, _m: dict[str, Any]) -> Any:
    r.typed(full, v, str)
    try:
        return ipaddress.ip_address(v)
    except ValueError:
        raise r.error(full, f"not an IP address: {v!r}") from None


KINDS: dict[str, Callable[[Reader, str, Any, dict[str, Any]], Any]] = {
    "bool": lambda r, full, v, m: r.typed(full, v, bool),
    "str": lambda r, full, v, m: r.typed(full, v, str),
    "int": _integer,
    "number": _number,
    "choice": _choice,
    "ifname": lambda r, full, v, m: r.ifname(full, v),
    "ifnames": _ifnames,
    "mac": _mac,
    "path": lambda r, full, v, m: r.filepath(full, v),
    "listen": lambda r, full, v, m: r.endpoint(full, v, default_host="0.0.0.0"),
    "listen_loopback": lambda r, full, v, m: r.endpoint(full, v, default_host="127.0.0.1"),
    "endpoint": lambda r, full, v, m: r.endpoint(full, v),
    "endpoint_name": lambda r, full, v, m: r.endpoint(full, v, names=True),
    "interfaces": _interfaces,
    "networks": _networks,
    "network": _network,
    "address": _address,
    "public_key": _public_key,
    "range": read_range,
    "addresses": read_addresses,
}


def read_section(r: Reader, t: dict[str, Any], where: str, cls: type) -> dict[str, Any]:
    """The keys of table ``t`` (named ``where`` in errors) read as ``cls`` declares them."""
    fs = fields(cls)
    r.only(t, where, {f.name for f in fs})
    out: dict[str, Any] = {}
    for f in fs:
        full = f"{where}.{f.name}"
        if f.name not in t:
            if f.metadata["required"]:
                raise r.error(full, f"missing ({f.metadata['required']})")
            continue
        out[f.name] = KINDS[f.metadata["kind"]](r, full, t[f.name], dict(f.metadata))
    return out
