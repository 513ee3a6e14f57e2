"""The last 15 minutes of each peer's traffic, sampled every 10 s, for the status page's charts; and the
drop counters of a minute ago, so the page can say what is going wrong now rather than since start."""

from __future__ import annotations

from collections import deque
from itertools import pairwise
from typing import Any

STEP = 10.0  # seconds between samples
WINDOW = 900.0  # seconds of history kept


class History:
    def __init__(self, step: float = STEP, window: float = WINDOW) -> None:
        self.step = step
        self.window = window
        self._samples: deque[tuple[float, dict[str, tuple[int, int]], dict[str, int]]] = deque(
            maxlen=int(window / step) + 1
        )

    def sample(self, unix_time: float, snap: dict[str, Any]) -> None:
        peers = {p["name"]: (p["rx_bytes"], p["tx_bytes"]) for p in snap.get("peers", [])}
        self._samples.append((unix_time, peers, dict(snap.get("drops", {}))))

    def series(self) -> dict[str, Any]:
        """Per peer, bits per second received and sent over each interval: ``{"t": [...], "peers": {name:
        {"rx": [...], "tx": [...]}}}`` with ``t`` the end of each interval (Unix seconds)."""
        s = list(self._samples)
        out: dict[str, Any] = {
            "step": self.step,
            "window": self.window,
            "t": [round(t) for t, _, _ in s[1:]],
            "peers": {},
        }
        for (t0, p0, _), (t1, p1, _) in pairwise(s):
            dt = max(t1 - t0, 1e-3)
            for name, (rx, tx) in p1.items():
                prx, ptx = p0.get(name, (rx, tx))
                row = out["peers"].setdefault(name, {"rx": [], "tx": []})
                row["rx"].append(round(max(rx - prx, 0) * 8 / dt))
                row["tx"].append(round(max(tx - ptx, 0) * 8 / dt))
        return out

    def recent_drops(self, drops: dict[str, int], age: float = 60.0) -> dict[str, int]:
        """How much each drop counter rose in about the last ``age`` seconds (since start if younger)."""
        if not self._samples:
            return dict(drops)
        newest = self._samples[-1][0]
        base = self._samples[0][2]
        for t, _, d in reversed(self._samples):
            if newest - t >= age:
                base = d
                break
        return {k: v - base.get(k, 0) for k, v in drops.items() if v - base.get(k, 0) > 0}
