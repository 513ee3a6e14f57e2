"""How a config key is declared: :func:`setting` (name, default, bounds, meaning in one place), and the
value types the keys hold."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def setting(
    default: Any,
    doc: str,
    *,
    kind: str,
    lo: float | None = None,
    hi: float | None = None,
    choices: tuple[str, ...] = (),
    shown: str | None = None,
    required: str = "",
    suites: tuple[str, ...] = (),
) -> Any:
    """A config key: ``kind`` names the reader's check (reader.KINDS), ``lo``/``hi`` bound numbers,
    ``choices`` enumerate strings, ``shown`` is the default as the docs print it; ``required`` (a hint
    for the error message) marks a key that must be present, the dataclass default being a placeholder;
    ``suites`` (peer keys) names the suites the key means something for (empty: every suite)."""
    meta = {
        "doc": doc,
        "kind": kind,
        "lo": lo,
        "hi": hi,
        "choices": choices,
        "shown": shown,
        "required": required,
        "suites": suites,
    }
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Endpoint:
    host: str  # a literal IP address (v4 or v6), or for a native peer's endpoint a DNS name
    port: int

    @property
    def is_name(self) -> bool:
        return not (":" in self.host or self.host.replace(".", "").isdigit())

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
