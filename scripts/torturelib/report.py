"""The figures: one Result per row, the table, and the results document."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Result:
    key: str  # the row's name in --only and in the JSON
    figure: str  # what was done, in a few words
    bar: str  # what it must reach
    measured: str = ""  # what it reached
    passed: bool | None = None  # None: not judged (informational), or the row failed to run
    details: dict[str, Any] = field(default_factory=dict)
    error: str = ""  # the row could not be run: one line

    @property
    def verdict(self) -> str:
        if self.error:
            return "ERROR"
        return {True: "PASS", False: "FAIL", None: "info"}[self.passed]


def table(results: list[Result]) -> str:
    rows = [("figure", "bar", "measured", "result")]
    rows += [(r.figure, r.bar, r.error or r.measured, r.verdict) for r in results]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def document(results: list[Result], meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "meta": meta,
        "passed": all(r.passed is not False and not r.error for r in results),
        "results": [{**asdict(r), "verdict": r.verdict} for r in results],
    }


def mib(n: float) -> str:
    return f"{n / (1 << 20):.1f} MiB"
