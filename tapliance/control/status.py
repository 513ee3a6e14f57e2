"""What the control side adds to a status snapshot: why each peer that is not up is not, and which drops
rose in the last minute (from the history the loop samples every 10 s)."""

from __future__ import annotations

import time
from typing import Any

from tapliance.control.diagnosis import reason
from tapliance.control.history import History


class StatusSide:
    """Owns the history; ``sample`` runs every 10 s from the loop, ``enrich`` on every snapshot."""

    def __init__(self, history: History | None = None) -> None:
        self.history = history or History()

    def sample(self, snapshot: dict[str, Any]) -> None:
        self.history.sample(time.time(), snapshot)

    def enrich(self, s: dict[str, Any]) -> None:
        recent = self.history.recent_drops(s.get("drops", {}))
        s["drops_last_minute"] = recent
        for p in s.get("peers", []):
            p["reason"] = reason(p, recent)
