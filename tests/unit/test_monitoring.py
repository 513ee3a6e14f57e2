"""The Grafana dashboard and the Prometheus scrape configuration in docs/monitoring: they load, and every
metric the dashboard queries exists in tapliance's exposition (tapliance.control.metrics)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tapliance.control.metrics import METRICS

DIR = Path(__file__).resolve().parents[2] / "docs" / "monitoring"
EXPOSED = {f"tapliance_{name}" + ("_total" if kind == "counter" else "") for name, kind, *_ in METRICS}


def test_every_metric_the_dashboard_queries_exists() -> None:
    dash = json.loads((DIR / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    exprs += [v["query"] for v in dash["templating"]["list"] if v["type"] == "query"]
    used = {m for e in exprs for m in re.findall(r"\btapliance_[a-z_]+", e)}
    assert used and used <= EXPOSED, used - EXPOSED
    assert len(used) >= 12


def test_the_scrape_config_loads() -> None:
    cfg = yaml.safe_load((DIR / "prometheus.yml").read_text())
    (job,) = cfg["scrape_configs"]
    assert job["job_name"] == "tapliance" and job["static_configs"][0]["targets"]
