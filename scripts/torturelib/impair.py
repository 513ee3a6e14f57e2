"""Figure 3: a large TCP transfer through the impairment relay (loss, reordering, duplication)."""

from __future__ import annotations

from .lab import Lab
from .report import Result, mib
from .session import Impairment, open_session
from .xfer import transfer

LOSS, DUP, REORDER = 0.05, 0.02, 8


def impaired_transfer(lab: Lab, size: int) -> Result:
    r = Result("impair", f"{size >> 20} MiB over UDP through {LOSS:.0%} loss, reorder depth {REORDER}, {DUP:.0%} dup",
               "sha256 intact; time and goodput reported")  # fmt: skip
    s = open_session(lab, "impair", relay=Impairment(loss=LOSS, dup=DUP, reorder=REORDER, seed=5))
    try:
        x = transfer(lab, size, timeout=1800)
        drops = {k: v for k, v in s.tunnel.drops("b").items() if v}
        salvaged = s.tunnel.status("b").get("reassembly_salvaged", 0)
    finally:
        stats = s.relay_stats()
        s.close()
    r.details = {"seconds": round(x.seconds, 2), "goodput_mbit": round(x.goodput_mbit, 1), "intact": x.intact,
                 "relay": stats, "b_drops": drops, "b_salvaged_segments": salvaged}  # fmt: skip
    r.measured = (
        f"{'intact' if x.intact else 'DAMAGED'} in {x.seconds:.1f} s = {x.goodput_mbit:.0f} Mbit/s "
        f"({stats.get('lost', 0)} lost, {stats.get('duplicated', 0)} duplicated of {stats.get('received', 0)} "
        f"datagrams; {mib(size)})"
    )
    r.passed = x.intact
    return r


def tcp_transport() -> Result:
    return Result(
        "impair-tcp",
        "the same over tapliance's TCP transport",
        "sha256 intact",
        measured="not run: tapliance has no TCP transport yet (UDP only; the loop's Transport seam is ready for one)",
        passed=None,
    )
