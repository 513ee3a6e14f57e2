"""The run: build the lab, run each figure's row, print one table, write results.json.

Rows run one after another in one lab; each sets up the daemons it needs and stops them afterwards. A row
that cannot run is an ERROR line in the table, and the others still run. The namespaces are removed on
every exit path: normal end, an exception, Ctrl-C, SIGTERM or SIGHUP.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from . import corpus, faults, flood, fuzz, heal, impair, reasm
from .lab import Lab, LabError
from .report import Result, document, table

REPO = Path(__file__).resolve().parents[2]
ROWS = ("replay", "fuzz", "impair", "impair-tcp", "kill9", "roam", "flood", "reasm", "configs", "faults")
FULL = {"fuzz": 1_000_000, "capture": 4 << 20, "impair": 64 << 20, "roam": 32 << 20, "flood_s": 5.0,
        "flood_rounds": 3, "flood_keep": flood.KEEP, "frames": 160, "macs": 20_000, "writes_only": False}  # fmt: skip
QUICK = {"fuzz": 20_000, "capture": 1 << 20, "impair": 4 << 20, "roam": 8 << 20, "flood_s": 1.5,
         "flood_rounds": 3, "flood_keep": 0.5, "frames": 80, "macs": 10_000, "writes_only": True}  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="scripts/torture",
        description="Reliability and attack figures of tapliance between network namespaces, each against its "
        "bar, in one table (docs/reliability.md). Needs root.",
    )
    p.add_argument("--quick", action="store_true", help="the reduced run CI makes (a few minutes)")
    p.add_argument("--only", help="comma-separated rows: " + ",".join(ROWS))
    p.add_argument("--fuzz", type=int, help="fuzzed datagrams (1,000,000; --quick 20,000)")
    p.add_argument("--results-dir", type=Path, default=REPO / "torture-results", help="(torture-results/)")
    p.add_argument("--no-install", action="store_true", help="(scripts/torture: do not run scripts/bootstrap)")
    a = p.parse_args(argv)
    a.results_dir = a.results_dir.resolve()  # the daemons' configs name key files and sockets by this path
    a.rows = [r.strip() for r in a.only.split(",")] if a.only else list(ROWS)
    if unknown := [r for r in a.rows if r not in ROWS]:
        p.error(f"unknown row(s): {', '.join(unknown)}; choose from {', '.join(ROWS)}")
    a.p = dict(QUICK if a.quick else FULL)
    if a.fuzz:
        a.p["fuzz"] = a.fuzz
    return a


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _attempt(results: list[Result], key: str, fn: Callable[[], Result]) -> None:
    t0 = time.monotonic()
    log(f"torture: {key} ...")
    try:
        r = fn()
    except Exception as e:  # a row that cannot run is reported, the others still run
        r = Result(key, key, "", error=f"{type(e).__name__}: {e}".splitlines()[0][:200])
    r.details["row_seconds"] = round(time.monotonic() - t0, 1)
    log(f"torture: {key}: {r.verdict} ({r.details['row_seconds']} s): {r.error or r.measured}")
    results.append(r)


def run_rows(lab: Lab, rows: list[str], p: dict[str, Any]) -> list[Result]:
    results: list[Result] = []
    if "replay" in rows or "fuzz" in rows:
        try:
            session = fuzz.capture_session(lab, p["capture"])
        except Exception as e:
            for k in ("replay", "fuzz"):
                if k in rows:
                    results.append(Result(k, k, "", error=f"capture session: {type(e).__name__}: {e}"[:200]))
        else:
            try:
                if "replay" in rows:
                    _attempt(results, "replay", lambda: fuzz.replay(lab, session))
                if "fuzz" in rows:
                    _attempt(results, "fuzz", lambda: fuzz.fuzz(lab, session, p["fuzz"]))
            finally:
                session.close()
    steps: dict[str, Callable[[], Result]] = {
        "impair": lambda: impair.impaired_transfer(lab, p["impair"]),
        "impair-tcp": lambda: impair.tcp_transport(lab, p["impair"]),
        "kill9": lambda: heal.kill9(lab),
        "roam": lambda: heal.roam(lab, p["roam"]),
        "flood": lambda: flood.handshake_flood(lab, p["flood_s"], p["flood_rounds"], p["flood_keep"]),
        "reasm": lambda: reasm.reassembly(lab, p["frames"], p["macs"]),
        "configs": lambda: corpus.configs(lab),
        "faults": lambda: faults.host_setup(lab, p["writes_only"]),
    }
    for key, fn in steps.items():
        if key in rows:
            _attempt(results, key, fn)
        if key == "kill9" and key in rows:
            _attempt(results, "kill9-discovery", lambda: heal.kill9_discovery(lab))
    return results


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        log("torture: needs root (network namespaces, TAP devices, nftables): run sudo scripts/torture")
        return 2
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _terminate)
    t0, meta = time.monotonic(), _meta(args)
    try:
        lab = Lab.create(args.results_dir / "work")
    except LabError as e:
        log(f"torture: cannot build the lab: {e}")
        return 1
    log(f"torture: namespaces {lab.prefix}a/m/b/x; rows {', '.join(args.rows)}{' (quick)' if args.quick else ''}")
    try:
        results = run_rows(lab, args.rows, args.p)
    except KeyboardInterrupt as e:
        log(f"torture: interrupted ({e or 'Ctrl-C'}); removing namespaces {lab.prefix}*")
        return 130
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        lab.destroy()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
    meta["seconds"] = round(time.monotonic() - t0, 1)
    doc = document(results, meta)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / "results.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print()
    print(table(results))
    print()
    print(f"{meta['command']} on {meta['date'][:10]}, commit {meta['commit'][:10]}, {meta['seconds']:.0f} s; "
          f"results: {args.results_dir / 'results.json'}")  # fmt: skip
    print(f"torture: {'PASS' if doc['passed'] else 'FAIL'}", flush=True)
    return 0 if doc["passed"] else 1


def _meta(args: argparse.Namespace) -> dict[str, Any]:
    def git(*a: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *a], capture_output=True, text=True, check=False).stdout.strip()

    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "scripts/torture " + " ".join(sys.argv[1:] if argv_is_cli() else []),
        "commit": git("rev-parse", "HEAD") or "unknown",
        "dirty_tree": bool(git("status", "--porcelain", "--untracked-files=no")),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "quick": args.quick,
        "parameters": args.p,
        "loadavg_start": os.getloadavg(),
    }


def argv_is_cli() -> bool:
    return Path(sys.argv[0]).name in ("__main__.py", "torture")
