"""Commands the root-tier tests run inside namespaces: the tapliance CLI, shell, ping, L3 state."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tapliance.lab import netns
from tests.netns.tunnel import TAPLIANCE


def net_cmd(ns: str, action: str, cfg: Path) -> subprocess.CompletedProcess[str]:
    """`tapliance net ACTION -c CFG` inside ``ns``, journal kept next to the config."""
    env = {**os.environ, "TAPLIANCE_STATE_DIR": str(cfg.parent / "state")}
    return subprocess.run(
        ["ip", "netns", "exec", ns, *TAPLIANCE, "net", action, "-c", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def sh(ns: str, *args: str) -> str:
    return netns.ns_exec(ns, list(args), timeout=30).stdout.decode()


def ping(ns: str, ip: str, count: int = 1) -> bool:
    return netns.ns_exec(ns, ["ping", "-c", str(count), "-W", "2", ip], check=False, timeout=30).returncode == 0


def l3_state(ns: str, dev: str) -> tuple[object, ...]:
    """Addresses (with flags), routes of both families: what take_over must restore exactly."""
    addrs = [
        (a["local"], a["prefixlen"], a.get("noprefixroute", False), a.get("nodad", False))
        for a in json.loads(sh(ns, "ip", "-j", "addr", "show", "dev", dev))[0]["addr_info"]
        if a.get("scope") == "global"
    ]
    return (addrs, sh(ns, "ip", "route"), sh(ns, "ip", "-6", "route", "show", "table", "main"))
