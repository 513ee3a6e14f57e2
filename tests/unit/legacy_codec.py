"""Helpers of the legacy suite tests: the shared codec contract, and state snapshots for "a drop changes nothing"."""

from __future__ import annotations

import inspect
import math
from typing import Any

from tapliance.proto.drops import Drop


def assert_contract(codec: Any, frame: bytes, now: float) -> None:
    """The shape every legacy codec shares (see any tapliance/suites legacy module's docstring)."""
    cls = type(codec)
    assert isinstance(cls.name, str) and isinstance(cls.overhead, int)
    assert cls.insecure is None or (isinstance(cls.insecure, str) and "\n" not in cls.insecure)
    assert isinstance(cls.tap_mtu(1500), int) and cls.tap_mtu(1500, ipv6=True) == cls.tap_mtu(1500) - 20
    for method in ("seal", "open"):
        assert list(inspect.signature(getattr(codec, method)).parameters)[1:] == ["now"]
    assert isinstance(codec.control, list)
    deadline = codec.on_timer(now)
    assert isinstance(deadline, float) and (deadline > now or deadline == math.inf)
    datagram = codec.seal(frame, now)
    assert isinstance(datagram, Drop) or len(datagram) == len(frame) + cls.overhead


def snapshot(obj: Any) -> Any:
    """Plain values stay; containers and objects become tuples of snapshots; callables their identity."""
    if obj is None or isinstance(obj, bytes | bytearray | int | float | str):
        return bytes(obj) if isinstance(obj, bytearray) else obj
    if isinstance(obj, list | tuple):
        return tuple(snapshot(x) for x in obj)
    if isinstance(obj, set | frozenset):
        return frozenset(obj)
    if isinstance(obj, dict):
        return tuple((k, snapshot(v)) for k, v in obj.items())
    if callable(obj) and not hasattr(obj, "__slots__"):
        return ("callable", id(obj))
    names = list(getattr(obj, "__dict__", {}))
    for cls in type(obj).__mro__:
        names += [n for n in getattr(cls, "__slots__", ()) if n not in names]
    return (type(obj).__name__, tuple((n, snapshot(getattr(obj, n))) for n in sorted(names) if hasattr(obj, n)))
