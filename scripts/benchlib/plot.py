"""PNG of throughput per tunnel: bars are medians, dots the individual rounds.

Two panels with their own scales: the encrypted tunnels (the comparison that matters, with the issue's
"4x the best peer" line) and the kernel references (bare veth, plaintext VXLAN), which are an order of
magnitude faster and would flatten the encrypted bars on a shared axis. The bare Python relays are
latency references and stay in the table only.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .stats import Row

SERIES = (("tcp1_bps", "TCP, 1 stream", "#1f77b4"), ("tcp4_bps", "TCP, 4 streams", "#ff7f0e"))
KERNEL = ("veth", "vxlan")
TABLE_ONLY = ("pyrelay", "pyrelay-aead")  # latency references, not tunnels: in the table, not in the plot


def throughput_png(rows: Sequence[Row], path: Path, title: str, target: float | None = None) -> None:
    """Write the plot. ``target``: a horizontal line (bit/s) on the encrypted panel, e.g. 4x best peer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [r for r in rows if not r.failed and r.name not in TABLE_ONLY]
    enc = [r for r in shown if r.name not in KERNEL]
    ref = [r for r in shown if r.name in KERNEL]
    panels = [
        (ax_rows, name) for ax_rows, name in ((enc, "encrypted L2 tunnels"), (ref, "kernel references")) if ax_rows
    ]
    if not panels:
        return
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(12, 5.5),
        dpi=110,
        squeeze=False,
        gridspec_kw={"width_ratios": [max(1, len(p[0])) for p in panels]},
    )
    for ax, (prs, name) in zip(axes[0], panels, strict=True):
        _bars(ax, prs)
        ax.set_title(name, fontsize=10)
        if prs is enc and target:
            ax.axhline(target / 1e9, color="firebrick", linestyle="--", linewidth=1)
            ax.text(
                -0.45,
                target / 1e9,
                "target: 4x best peer (1 stream)",
                color="firebrick",
                fontsize=8,
                ha="left",
                va="bottom",
            )
    axes[0][0].set_ylabel("Gbit/s (iperf3, received)")
    axes[0][0].legend(loc="upper left", fontsize=8)
    fig.suptitle(title, fontsize=10)
    failed = [r.label for r in rows if r.failed]
    if failed:
        fig.text(0.01, 0.01, "failed to come up: " + ", ".join(failed), fontsize=8, color="firebrick")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _bars(ax: Any, rows: Sequence[Row]) -> None:
    width = 0.38
    for i, (key, name, color) in enumerate(SERIES):
        xs = [j + (i - 0.5) * width for j in range(len(rows))]
        bars = ax.bar(xs, [(r.value(key) or 0) / 1e9 for r in rows], width, label=name, color=color)
        ax.bar_label(bars, fmt="%.2f", fontsize=8, padding=2)
        for x, r in zip(xs, rows, strict=True):
            pts = [s[key] / 1e9 for s in r.samples if s.get(key) is not None]
            ax.scatter([x] * len(pts), pts, s=9, color="black", zorder=3)
    ax.set_xticks(range(len(rows)), [textwrap.fill(r.label, 16, break_long_words=False) for r in rows], fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.margins(y=0.12)
