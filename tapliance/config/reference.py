"""The configuration reference, generated from the settings' declarations (model.py).

``python -m tapliance.config`` prints it as the Markdown table the README carries; a test keeps the
README's copy equal to this output, so a key's name, default and meaning have one home.
"""

from __future__ import annotations

from dataclasses import MISSING, Field, fields
from pathlib import Path
from typing import Any

from tapliance.config.fields import Endpoint
from tapliance.config.model import SECTIONS


def shown_default(f: Field[Any], shape: str) -> str:
    m = f.metadata
    if m["required"]:
        return "**required**" if shape == "array" else "**required in section**"
    if m["shown"] is not None:
        return str(m["shown"])
    d = f.default if f.default is not MISSING else None
    if isinstance(d, bool):
        return f"`{str(d).lower()}`"
    if isinstance(d, float) and d.is_integer():
        return f"`{int(d)}`"
    if isinstance(d, tuple):
        return "`[]`" if not d else f"`{list(map(str, d))}`"
    if isinstance(d, (Endpoint, Path, int, float, str)):
        return f"`{d}`"
    return "none"


def rows() -> list[tuple[str, str, str]]:
    """(key as `[section] name`, default as shown, meaning) for every key, in declaration order."""
    out = []
    for section, (cls, shape) in SECTIONS.items():
        head = f"[[{section}]]" if shape == "array" else f"[{section}]"
        for f in fields(cls):
            out.append((f"`{head} {f.name}`", shown_default(f, shape), f.metadata["doc"]))
    return out


def markdown() -> str:
    lines = ["| key | default | meaning |", "|-----|---------|---------|"]
    lines += [f"| {k} | {d} | {m} |" for k, d, m in rows()]
    return "\n".join(lines)
