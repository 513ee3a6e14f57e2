"""The run: build the lab, then rounds x tunnels (alternating), then table, targets, JSON, plot.

Noise spreads evenly because every round visits every tunnel, each round starting one tunnel further
along; a tunnel is set up fresh for each visit and torn down right after. The namespaces are removed
on every exit path: normal end, an exception, Ctrl-C, SIGTERM or SIGHUP.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from . import baseline, install, procstat, report, tunnels
from .lab import BenchError, Lab, one_line, run
from .measure import Runner
from .stats import Row, ratio
from .tunnels.base import Daemons, Tunnel, first_line
from .tunnels.tapliance import Tapliance

REPO = Path(__file__).resolve().parents[2]
MAX_FAILURES = 2  # a tunnel that failed to come up this often is not tried again in this run


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Side-by-side benchmark: tapliance vs kernel veth/VXLAN, OpenVPN, tinc and fastd, and tapliance's "
        "quicktun-nacltai suite vs QuickTun, between two network namespaces. Needs root; installs the peers itself.",
    )
    p.add_argument("--rounds", type=int, default=3, help="rounds through all tunnels; medians are reported (3)")
    p.add_argument("--duration", type=float, default=4.0, help="seconds per iperf3 test (4)")
    p.add_argument("--pings", type=int, default=50, help="pings per RTT measurement (50)")
    p.add_argument(
        "--ping-interval", type=float, default=0.02, help="seconds between pings (0.02); ping needs >= 0.002 without -f"
    )
    p.add_argument(
        "--loss",
        type=float,
        default=1.0,
        help="percent of tunnel datagrams dropped at random on the underlay for the lossy single-stream "
        "TCP test (1.0; 0 skips it)",
    )
    p.add_argument(
        "--only",
        help="comma-separated tunnels: "
        + ",".join(t.name for t in tunnels.ALL)
        + " ('tapliance' selects both native suites on the default path, the Python path and the compiled calls in"
        " the loop; the default table has every tunnel but " + ", ".join(tunnels.EXPLICIT) + ", which point to point"
        " run what the default runs)",
    )
    p.add_argument("--quick", action="store_true", help="smoke run: 1 round, 1 s tests, 10 pings")
    p.add_argument(
        "--results-dir",
        type=Path,
        default=REPO / "bench-results",
        help="where results.json, throughput.png and the daemon logs go (bench-results/)",
    )
    p.add_argument("--no-install", action="store_true", help="do not apt-get/pip install anything")
    p.add_argument(
        "--hub",
        action="store_true",
        help="instead of the tunnel table: the hub at scale (200 clients, 10,000 configured peers, client-to-client "
        "TCP through the hub against OpenVPN --server-bridge --client-to-client)",
    )
    p.add_argument(
        "--metrics",
        action="store_true",
        help="also run tapliance (default suite) with [metrics] on and a scraper reading /metrics and /api/status "
        "every second, as a row beside the plain one: the cost of metrics, measured",
    )
    p.add_argument(
        "--baseline",
        metavar="COMMIT",
        help="also run tapliance (default suite) as of COMMIT, checked out under the results directory, "
        "as a row of its own in the same alternating rounds: an A/B comparison of two versions",
    )
    a = p.parse_args(argv)
    if a.quick:
        a.rounds, a.duration, a.pings = 1, 1.0, 10
    if a.rounds < 1 or a.duration <= 0 or a.pings < 1:
        p.error("--rounds, --duration and --pings must be positive")
    if not 0.002 <= a.ping_interval <= 1:
        p.error("--ping-interval must be between 0.002 and 1 seconds")
    if not 0 <= a.loss <= 50:
        p.error("--loss must be a percentage between 0 and 50")
    a.results_dir = a.results_dir.resolve()  # configs written there name their key files by this path
    try:
        a.tunnels = tunnels.select(a.only)
    except ValueError as e:
        p.error(str(e))
    if a.metrics:
        a.tunnels.append(Tapliance("tapliance-metrics", "chacha20-poly1305", metrics=True))
    if a.baseline:
        try:
            a.tunnels.append(baseline.tunnel(a.baseline, a.results_dir / "baseline"))
        except BenchError as e:
            p.error(str(e))
    return a


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        log("bench: needs root (network namespaces, TAP devices): run sudo scripts/bench")
        return 2
    if args.hub:
        return _hub(args)
    packages = [p for t in args.tunnels for p in t.packages]
    if not args.no_install:
        install.ensure_debs(packages)
    else:
        missing = install.missing_for(packages)
        if missing:
            log(
                f"bench: --no-install, and these Debian packages are missing: {' '.join(missing)} "
                "(run without --no-install, or leave their tunnels out with --only)"
            )
            return 2
    can_plot = install.ensure_matplotlib() if not args.no_install else _has_matplotlib()
    results: Path = args.results_dir
    work = results / "work"
    shutil.rmtree(work, ignore_errors=True)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _terminate)  # also when started with SIGINT ignored (e.g. as a background job)
    rows = {t.name: Row(t.name, t.label) for t in args.tunnels}
    meta = _meta(args)
    lab = Lab.create(work)
    try:
        log(
            f"bench: namespaces {lab.ns('a')} <-> {lab.ns('b')}; {args.rounds} round(s) of "
            f"{len(args.tunnels)} tunnel(s), {args.duration:g} s per test"
        )
        runner = Runner(lab, args.duration, omit=0, pings=args.pings, loss_pct=args.loss)
        for rnd in range(args.rounds):
            k = rnd % len(args.tunnels)
            for t in args.tunnels[k:] + args.tunnels[:k]:
                row = rows[t.name]
                if len(row.failures) >= MAX_FAILURES:
                    continue
                _visit(lab, runner, t, row, rnd, args)
    except KeyboardInterrupt as e:
        log(f"bench: interrupted ({e or 'Ctrl-C'}); removing namespaces {lab.prefix}a/b")
        return 130
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        lab.destroy()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
    meta["loadavg_end"] = os.getloadavg()
    ordered = [rows[t.name] for t in args.tunnels]
    value = ratio(rows, tunnels.TAPLIANCE, tunnels.PEERS)
    results.mkdir(parents=True, exist_ok=True)
    (results / "results.json").write_text(json.dumps(report.document(ordered, meta, value), indent=2) + "\n")
    if can_plot:
        from .plot import throughput_png

        title = (
            f"{meta['date'][:16]} · {meta['cpus']} CPUs · {args.rounds} round(s) x {args.duration:g} s · "
            f"commit {meta['commit'][:10]}"
        )
        best = max((v for p in tunnels.PEERS if p in rows and (v := rows[p].value("tcp1_bps"))), default=None)
        throughput_png(
            ordered, results / "throughput.png", title, target=best * report.SPEEDUP_TARGET if best else None
        )
    print()
    print(report.table(ordered))
    print()
    print(
        f"medians of {args.rounds} round(s); results: {results / 'results.json'}"
        + (f", plot: {results / 'throughput.png'}" if can_plot else " (no plot: matplotlib unavailable)")
    )
    if args.loss:
        print(
            f"TCP 1x lossy: one stream while {args.loss:g}% of the tunnel's packets (UDP datagrams; TCP segments for "
            "tunnels over TCP) are dropped at random on the underlay (nft numgen; sender's veth without segmentation "
            "offloads)"
        )
    print("targets (issue 5, tapliance default suite):")
    print("\n".join(report.targets(rows, tunnels.TAPLIANCE, tunnels.PEERS)))
    print("targets (issue 16, tapliance default suite on its default path, each against the best peer at it):")
    print("\n".join(report.fast_targets(rows, tunnels.TAPLIANCE, tunnels.PEERS)))
    subject, others = tunnels.TCP_ROWS
    if subject in rows:
        print("targets (issue 12, tapliance over TCP against OpenVPN and tinc over TCP):")
        print("\n".join(report.tcp_targets(rows, subject, others)))
    if any(s in rows or o in rows for s, o in tunnels.LEGACY_PAIRS):
        print("targets (legacy suites, against the original program):")
        print("\n".join(report.legacy_target(rows, s, o) for s, o in tunnels.LEGACY_PAIRS))
    print(report.ratio_line(value), flush=True)
    return 0


def _hub(args: argparse.Namespace) -> int:
    from . import hubbench

    if not args.no_install:
        install.ensure_debs(["openvpn", "iperf3"])
    work = args.results_dir / "hub-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log("bench --hub: 200 clients, 10,000 configured peers, client-to-client through a hub")
    figures = hubbench.run(work, args.duration)
    doc = [{"figure": f.what, "bar": f.bar, "measured": f.measured, "passed": f.passed, "details": f.details}
           for f in figures]  # fmt: skip
    (args.results_dir / "hub.json").write_text(json.dumps({"meta": _meta(args), "figures": doc}, indent=2) + "\n")
    print(hubbench.table(figures))
    ok = all(f.passed for f in figures)
    print(f"hub: {'PASS' if ok else 'FAIL'}; results: {args.results_dir / 'hub.json'}", flush=True)
    return 0 if ok else 1


def _visit(lab: Lab, runner: Runner, t: Tunnel, row: Row, rnd: int, args: argparse.Namespace) -> None:
    """Set ``t`` up, measure it, tear it down; the sample or the failure goes into ``row``."""
    tag = f"round {rnd + 1}/{args.rounds} {t.name}"
    work = lab.dir / f"r{rnd + 1}-{t.name}"
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    try:
        daemons = t.up(lab, work)
    except BenchError as e:
        row.failures.append(str(e))
        log(f"{tag}: FAILED to come up: {e}")
        return
    except Exception as e:  # a bug or an unexpected tool failure: report it, keep going
        row.failures.append(one_line(f"{type(e).__name__}: {e}"))
        log(f"{tag}: FAILED to come up: {type(e).__name__}: {e}")
        return
    up_s = time.monotonic() - t0
    try:
        sample = _measure(runner, t, daemons, row, args)
        sample["setup_s"] = round(up_s, 2)
        row.samples.append(sample)
        log(f"{tag}: " + _progress(sample))
    finally:
        t.down(lab, daemons)


def _measure(runner: Runner, t: Tunnel, daemons: Daemons, row: Row, args: argparse.Namespace) -> dict[str, Any]:
    s: dict[str, Any] = {}

    def attempt(what: str, fn: Any) -> Any:
        try:
            return fn()
        except BenchError as e:
            row.errors.append(f"{what}: {e}")
            log(f"  {t.name} {what}: {e}")
            return None

    rtt = attempt("ping", lambda: runner.ping(t.far, args.ping_interval))
    if rtt is not None:
        s["rtt_median_ms"], s["rtt_avg_ms"] = rtt.median_ms, rtt.avg_ms
        s["ping_answered"] = f"{rtt.answered}/{rtt.sent}"
    pids = daemons.pids()
    cpu0 = procstat.cpu_seconds(pids)
    moved = 0
    for streams in (1, 4):
        res = attempt(f"tcp{streams}", lambda n=streams: runner.tcp(t.far, n))
        if res is not None:
            s[f"tcp{streams}_bps"] = res[0]
            moved += res[1]
    if pids and moved:
        s["cpu_s_per_gb"] = (procstat.cpu_seconds(pids) - cpu0) / (moved / 1e9)
    if runner.loss_per_mille and t.name != "veth":  # veth carries TCP itself: no tunnel datagrams to drop
        lossy = attempt("tcp1-loss", lambda: runner.tcp_lossy(t.far, t.underlay))
        if lossy is not None:
            s["tcp1_loss_bps"], s["loss_dropped"] = lossy
    pps = attempt("udp64", lambda: runner.udp64(t.far))
    if pps is not None:
        s["udp64_pps"] = pps
    if pids:
        mems = [procstat.memory([p.pid]) for p in daemons.procs.values()]
        s["rss_mib"] = max(m.rss_kib for m in mems) / 1024
        s["hwm_mib"] = max(m.hwm_kib for m in mems) / 1024
    dead = [side for side, p in daemons.procs.items() if p.poll() is not None]
    if dead:
        row.errors.append(f"daemon on side {','.join(dead)} exited during the measurements")
    return s


def _progress(s: dict[str, Any]) -> str:
    def g(k: str, scale: float, fmt: str) -> str:
        return "-" if s.get(k) is None else format(s[k] / scale, fmt)

    return (
        f"tcp1 {g('tcp1_bps', 1e9, '.2f')} tcp4 {g('tcp4_bps', 1e9, '.2f')} "
        f"tcp1-lossy {g('tcp1_loss_bps', 1e9, '.2f')} Gbit/s, "
        f"udp64 {g('udp64_pps', 1e3, '.0f')} kpps, rtt {g('rtt_median_ms', 1, '.3f')} ms, "
        f"cpu {g('cpu_s_per_gb', 1, '.2f')} s/GB, rss {g('rss_mib', 1, '.1f')}/{g('hwm_mib', 1, '.1f')} MiB, "
        f"up in {s['setup_s']:.1f} s"
    )


def _has_matplotlib() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def _meta(args: argparse.Namespace) -> dict[str, Any]:
    commit = run(["git", "-C", str(REPO), "rev-parse", "HEAD"], check=False).stdout.decode().strip()
    dirty = bool(
        run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"], check=False).stdout.strip()
    )
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "scripts/bench " + " ".join(sys.argv[1:]),
        "commit": commit or "unknown",
        "dirty_tree": dirty,
        "kernel": platform.release(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "rounds": args.rounds,
        "duration_s": args.duration,
        "pings": args.pings,
        "ping_interval_s": args.ping_interval,
        "loss_pct": args.loss,
        "loadavg_start": os.getloadavg(),
        "iperf3": first_line(["iperf3", "--version"]),
        "tunnels": {t.name: {"label": t.label, "config": t.describe(), "version": t.version()} for t in args.tunnels},
    }
