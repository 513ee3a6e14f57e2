"""Per-round samples -> one row per tunnel (medians), and the figures the issue's targets are about."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# metric key -> how rounds combine: memory ceilings take the worst round, everything else the median
METRICS = (
    "tcp1_bps",
    "tcp4_bps",
    "tcp1_loss_bps",
    "udp64_pps",
    "rtt_median_ms",
    "rtt_avg_ms",
    "cpu_s_per_gb",
    "rss_mib",
    "hwm_mib",
)
WORST = {"rss_mib", "hwm_mib"}


def median(values: Iterable[float | None]) -> float | None:
    """Median of the values that are present; None when there are none."""
    vs = [v for v in values if v is not None]
    return statistics.median(vs) if vs else None


@dataclass
class Row:
    """One tunnel over all rounds."""

    name: str
    label: str
    samples: list[dict[str, Any]] = field(default_factory=list)  # one per round that came up
    failures: list[str] = field(default_factory=list)  # one-line reason per round that did not
    errors: list[str] = field(default_factory=list)  # a measurement that failed inside a working round

    @property
    def failed(self) -> bool:
        return not self.samples and bool(self.failures)

    def value(self, key: str) -> float | None:
        vals = [s.get(key) for s in self.samples]
        if key in WORST:
            present = [v for v in vals if v is not None]
            return max(present) if present else None
        return median(vals)

    def medians(self) -> dict[str, float | None]:
        return {k: self.value(k) for k in METRICS}

    def status(self) -> str:
        if self.failed:
            return f"FAILED: {self.failures[-1]}"
        notes = []
        if self.failures:
            notes.append(
                f"{len(self.samples)}/{len(self.samples) + len(self.failures)} rounds up "
                f"(last failure: {self.failures[-1]})"
            )
        if self.errors:
            notes.append(f"{len(self.errors)} measurement error(s), last: {self.errors[-1]}")
        return "ok" if not notes else "ok; " + "; ".join(notes)


def ratio(rows: Mapping[str, Row], subject: str, peers: Sequence[str], key: str = "tcp1_bps") -> float | None:
    """subject's median ``key`` over the best peer's; None if either side has no number."""
    s = rows[subject].value(key) if subject in rows else None
    best = max((v for p in peers if p in rows and (v := rows[p].value(key)) is not None), default=None)
    if s is None or not best:
        return None
    return s / best


def best_peer(rows: Mapping[str, Row], peers: Sequence[str], key: str = "tcp1_bps") -> str | None:
    scored = [(v, p) for p in peers if p in rows and (v := rows[p].value(key)) is not None]
    return max(scored)[1] if scored else None
