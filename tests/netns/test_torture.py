"""The reliability and attack suite's reduced run, as CI makes it: `scripts/torture --quick` must pass.

It builds its own namespaces (prefix tt + 4 hex digits) and removes them; the full run is the benchmark
(docs/reliability.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tapliance.lab import netns

ROOT = Path(__file__).resolve().parents[2]


def test_torture_quick(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, TAP devices); run via scripts/test")
    before = set(netns.list_ns("tt"))
    env = {**os.environ, "TAPLIANCE_PYTHON": sys.executable}
    p = subprocess.run(
        [str(ROOT / "scripts" / "torture"), "--quick", "--no-install", "--results-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        check=False,
    )
    assert set(netns.list_ns("tt")) == before, "namespaces left behind"
    assert p.returncode == 0 and p.stdout.rstrip().endswith("torture: PASS"), p.stdout + p.stderr[-3000:]
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["passed"] and {r["key"] for r in doc["results"]} >= {"fuzz", "replay", "flood", "faults"}
