"""A comparable snapshot of a legacy codec's state, for "a drop changes nothing" checks in the suite tests."""

from __future__ import annotations

from typing import Any


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
