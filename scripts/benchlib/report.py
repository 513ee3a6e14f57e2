"""The printed table, the target checks, the closing ratio line and the results JSON (all pure)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .stats import Row, best_peer, ratio

RATIO_PREFIX = "tapliance/best-peer throughput ratio:"
RSS_LIMIT_MIB = 60.0
SPEEDUP_TARGET = 4.0


def _fmt(scale: float, digits: int) -> Callable[[float | None], str]:
    def f(v: float | None) -> str:
        return "-" if v is None else f"{v / scale:.{digits}f}"

    return f


# (metric key, header, formatter); headers say the unit
COLUMNS: tuple[tuple[str, str, Callable[[float | None], str]], ...] = (
    ("tcp1_bps", "TCP 1x Gbit/s", _fmt(1e9, 2)),
    ("tcp4_bps", "TCP 4x Gbit/s", _fmt(1e9, 2)),
    ("tcp1_loss_bps", "TCP 1x lossy", _fmt(1e9, 2)),
    ("udp64_pps", "UDP64 kpps", _fmt(1e3, 0)),
    ("rtt_median_ms", "RTT med ms", _fmt(1, 3)),
    ("rtt_avg_ms", "RTT avg ms", _fmt(1, 3)),
    ("cpu_s_per_gb", "CPU s/GB", _fmt(1, 2)),
    ("rss_mib", "RSS MiB", _fmt(1, 1)),
    ("hwm_mib", "peak RSS MiB", _fmt(1, 1)),
)


def table(rows: Sequence[Row]) -> str:
    """Fixed-width text table: one line per tunnel, medians over rounds, failed tunnels say why."""
    head = ["tunnel", *(h for _, h, _ in COLUMNS), "status"]
    body = []
    for r in rows:
        if r.failed:
            body.append([r.label, *("-" for _ in COLUMNS), r.status()])
        else:
            body.append([r.label, *(f(r.value(k)) for k, _, f in COLUMNS), r.status()])
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head) - 1)]

    def fmt(line: list[str]) -> str:
        cells = [line[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(line[1:-1], widths[1:], strict=True)]
        return "  ".join([*cells, line[-1]]).rstrip()

    rule = "-" * (sum(widths) + 2 * len(widths) + len("status"))
    return "\n".join([fmt(head), rule, *(fmt(b) for b in body)])


def ratio_line(value: float | None) -> str:
    return f"{RATIO_PREFIX} {value:.2f}" if value is not None else f"{RATIO_PREFIX} n/a"


def targets(
    rows: Mapping[str, Row], subject: str, peers: Sequence[str], reference: str = "openvpn", baseline: str = "veth"
) -> list[str]:
    """One line per issue-5 target for ``subject``: the figures and PASS/FAIL (or n/a without data)."""
    out = []
    s = rows.get(subject)
    ref = rows.get(reference)

    def v(row: Row | None, key: str) -> float | None:
        return row.value(key) if row is not None else None

    r = ratio(rows, subject, peers)
    bp = best_peer(rows, peers)
    out.append(
        _check(
            f"single-stream TCP >= {SPEEDUP_TARGET:g}x best peer ({bp or 'none'})",
            None if r is None else (r >= SPEEDUP_TARGET, f"{r:.2f}x"),
        )
    )
    a, b = v(s, "udp64_pps"), v(ref, "udp64_pps")
    out.append(
        _check(
            f"64-byte frame rate >= {reference}",
            None if a is None or b is None else (a >= b, f"{a / 1e3:.0f} vs {b / 1e3:.0f} kpps"),
        )
    )
    a, b, base = v(s, "rtt_median_ms"), v(ref, "rtt_median_ms"), v(rows.get(baseline), "rtt_median_ms")
    if a is not None and b is not None:
        off = base or 0.0
        what = "added " if base is not None else ""
        out.append(_check(f"{what}RTT <= {reference}'s", (a <= b, f"{what}{a - off:.3f} vs {b - off:.3f} ms")))
    else:
        out.append(_check(f"RTT <= {reference}'s", None))
    out.append(_rss_check(s))
    return out


def _rss_check(s: Row | None) -> str:
    m = s.value("hwm_mib") if s is not None else None
    return _check(
        f"daemon peak RSS <= {RSS_LIMIT_MIB:g} MiB", None if m is None else (m <= RSS_LIMIT_MIB, f"{m:.1f} MiB")
    )


# issue 16: (key, what, the bar from the best peer's figure, higher is better, unit scale, unit)
FAST_TARGETS: tuple[tuple[str, str, float, bool, float, str], ...] = (
    ("rtt_median_ms", "added RTT <= the best peer's", 1.0, False, 1.0, "ms"),
    ("udp64_pps", "64-byte frame rate >= 1.5x the best peer's", 1.5, True, 1e3, "kpps"),
    ("tcp1_bps", "single-stream TCP >= 6x the best peer's", 6.0, True, 1e9, "Gbit/s"),
    ("tcp1_loss_bps", "single-stream TCP under loss >= 2x the best peer's", 2.0, True, 1e9, "Gbit/s"),
    ("cpu_s_per_gb", "CPU s/GB <= 1/6 of the best peer's", 1 / 6, False, 1.0, "s/GB"),
)


def fast_targets(rows: Mapping[str, Row], subject: str, peers: Sequence[str], baseline: str = "veth") -> list[str]:
    """One line per issue-16 target for ``subject``, each against the peer best at that figure (RTT less the
    baseline's: the RTT the tunnel adds)."""
    out = []
    s = rows.get(subject)
    base = rows[baseline].value("rtt_median_ms") if baseline in rows else None
    for key, what, factor, higher, scale, unit in FAST_TARGETS:
        off = (base or 0.0) if key == "rtt_median_ms" else 0.0
        mine = s.value(key) if s is not None else None
        theirs = {p: v - off for p in peers if p in rows and (v := rows[p].value(key)) is not None}
        if mine is None or not theirs or (key == "rtt_median_ms" and base is None):
            out.append(_check(what, None))
            continue
        mine -= off
        best = (max if higher else min)(theirs, key=lambda p: theirs[p])
        bar = factor * theirs[best]
        ok = mine >= bar if higher else mine <= bar
        figures = f"{mine / scale:.3g} vs {best} {theirs[best] / scale:.3g} {unit} ({mine / theirs[best]:.2f}x)"
        out.append(_check(what, (ok, figures)))
    out.append(_rss_check(s))
    return out


def legacy_target(rows: Mapping[str, Row], subject: str, original: str) -> str:
    """tapliance speaking a predecessor's format against the predecessor itself: single-stream TCP >= its own."""
    s, o = rows.get(subject), rows.get(original)
    a = s.value("tcp1_bps") if s is not None else None
    b = o.value("tcp1_bps") if o is not None else None
    what = f"{s.label if s else subject} single-stream TCP >= {o.label.split()[0] if o else original}'s own"
    return _check(what, None if a is None or b is None else (a >= b, f"{a / 1e9:.2f} vs {b / 1e9:.2f} Gbit/s"))


TCP_SPEEDUP = 3.0


def tcp_targets(rows: Mapping[str, Row], subject: str, others: Sequence[str]) -> list[str]:
    """tapliance over TCP: single-stream >= 3x the better of the TCP-only peers; lossy single-stream ahead
    of both."""
    s = rows.get(subject)
    out = []
    for key, what, factor in (
        ("tcp1_bps", f"TCP single-stream >= {TCP_SPEEDUP:g}x the better", TCP_SPEEDUP),
        ("tcp1_loss_bps", "TCP single-stream with 1% loss ahead of both", 1.0),
    ):
        mine = s.value(key) if s is not None else None
        theirs = {o: v for o in others if o in rows and (v := rows[o].value(key)) is not None}
        if mine is None or not theirs:
            out.append(_check(f"tapliance {what} of {', '.join(others)}", None))
            continue
        best = max(theirs, key=lambda o: theirs[o])
        figures = f"{mine / 1e9:.2f} vs {best} {theirs[best] / 1e9:.2f} Gbit/s ({mine / theirs[best]:.2f}x)"
        out.append(_check(f"tapliance {what} of {', '.join(others)}", (mine >= factor * theirs[best], figures)))
    return out


def _check(what: str, result: tuple[bool, str] | None) -> str:
    if result is None:
        return f"  n/a   {what}"
    ok, figures = result
    return f"  {'PASS' if ok else 'FAIL'}  {what}: {figures}"


def document(rows: Sequence[Row], meta: Mapping[str, Any], ratio_value: float | None) -> dict[str, Any]:
    """The results JSON: run metadata, per tunnel every round's sample, the medians and the status."""
    return {
        "meta": dict(meta),
        "ratio": ratio_value,
        "tunnels": [
            {
                "name": r.name,
                "label": r.label,
                "status": r.status(),
                "failed": r.failed,
                "median": r.medians(),
                "rounds": r.samples,
                "failures": r.failures,
                "errors": r.errors,
            }
            for r in rows
        ],
    }
