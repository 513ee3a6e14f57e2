"""One figure of a benchmark that is measured against a bar (``--hub``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Figure:
    what: str
    bar: str
    measured: str = ""
    passed: bool | None = None
    details: dict[str, Any] | None = None
