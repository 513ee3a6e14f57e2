"""What the metrics listener serves: ``/metrics`` (Prometheus), the status page (``/`` and its two assets,
shipped in the package: these appliances often have no internet, so nothing comes from a CDN),
``/api/status`` (the snapshot `tapliance status --json` shows) and ``/api/history`` (the charts' data)."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from typing import Any

from tapliance.control.history import History
from tapliance.control.metrics import exposition
from tapliance.runtime.http import Response, Route

ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript"),
    "/style.css": ("style.css", "text/css"),
}
PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"
PUBLIC = frozenset({*ASSETS, "/index.html"})  # the page's own files: no data in them, no token needed


def _asset(name: str, kind: str) -> Route:
    body = resources.files("tapliance.control").joinpath("web", name).read_bytes()  # read once, at start
    return lambda: Response(200, kind, body)


def _json(make: Callable[[], Any]) -> Route:
    return lambda: Response(200, "application/json", json.dumps(make(), sort_keys=True).encode())


def routes(snapshot: Callable[[], dict[str, Any]], history: History) -> dict[str, Route]:
    out = {path: _asset(name, kind) for path, (name, kind) in ASSETS.items()}
    out["/index.html"] = out["/"]
    out["/metrics"] = lambda: Response(200, PROMETHEUS, exposition(snapshot))
    out["/api/status"] = _json(snapshot)
    out["/api/history"] = _json(history.series)
    return out
