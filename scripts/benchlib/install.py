"""Installs what the bench needs: the peers and tools from Debian packages, matplotlib into the venv."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterable

BASE_PACKAGES = ("iperf3", "iproute2", "iputils-ping", "nftables", "ethtool")


def missing_debs(packages: Iterable[str]) -> list[str]:
    out = []
    for p in packages:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True, check=False)
        if "ok installed" not in r.stdout:
            out.append(p)
    return out


def missing_for(packages: Iterable[str]) -> list[str]:
    """What of the bench's base tools and ``packages`` is not installed."""
    return missing_debs(dict.fromkeys([*BASE_PACKAGES, *packages]))


def ensure_debs(packages: Iterable[str]) -> None:
    missing = missing_for(packages)
    if not missing:
        return
    print(f"bench: installing Debian packages: {' '.join(missing)}", file=sys.stderr, flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]):
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if r.returncode != 0:
            raise SystemExit(f"bench: {' '.join(cmd[:2])} failed (exit {r.returncode}):\n{r.stderr.strip()[-2000:]}")


def ensure_matplotlib() -> bool:
    """matplotlib importable by this interpreter (pip-installs it into the venv if needed)."""
    if importlib.util.find_spec("matplotlib") is not None:
        return True
    print("bench: installing matplotlib into the venv", file=sys.stderr, flush=True)
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "matplotlib"],
        capture_output=True,
        text=True,
        check=False,
    )
    if r.returncode != 0:
        print(f"bench: pip install matplotlib failed (no plot): {r.stderr.strip()[-500:]}", file=sys.stderr)
    importlib.invalidate_caches()
    return r.returncode == 0 and importlib.util.find_spec("matplotlib") is not None
