"""Figure 9: fault injection during host setup: each netlink and nftables step made to fail in turn.

In the namespace, ``python -m torturelib.faults PHASE N CONFIG`` runs ``tapliance.net.apply`` (and
``teardown``) with its N-th host call failing, at the lowest level the code reaches: pyroute2's netlink
calls raise NetlinkError, libnftables runs and /proc/sys writes fail as they do when the kernel refuses.
``--writes`` counts only the calls that change something; otherwise reads (link and route dumps, nft
listings) fail in turn too. The sweep, outside, snapshots the namespace before and checks after each run:

  apply N      the failing apply must raise, roll back, and leave the host exactly as before, no journal left;
  teardown N   after a good apply, a teardown whose N-th call fails must keep the journal of what it has
               not undone, so that a second teardown leaves the host exactly as before.

PHASE ``count`` prints how many calls apply and teardown make.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

WATCHED = {"link", "addr", "route", "get_links", "get_addr", "get_routes", "link_lookup"}
WRITES = {"add", "set", "del", "replace"}


class Injector:
    """Counts host calls and makes the ``fail_at``-th one fail (0: none)."""

    def __init__(self, fail_at: int, writes_only: bool) -> None:
        self.fail_at, self.writes_only, self.calls, self.failed = fail_at, writes_only, 0, ""

    def step(self, what: str, write: bool) -> None:
        if self.writes_only and not write:
            return
        self.calls += 1
        if self.calls == self.fail_at:
            self.failed = what
            raise _Fault(what)


class _Fault(Exception):
    pass


def install(inj: Injector) -> None:
    """Patch tapliance.net's netlink, nftables and sysctl calls to go through ``inj``."""
    from pyroute2.netlink.exceptions import NetlinkError

    from tapliance.net import host, nftables, sysctl
    from tapliance.net.errors import RUNTIME, NetError

    real_ipr, real_run, real_write = host.IPRoute, nftables.Nftables.run, sysctl.write  # type: ignore[attr-defined]

    class FaultyIPRoute:
        def __init__(self) -> None:
            self._ipr = real_ipr()

        def __getattr__(self, name: str) -> Any:
            attr = getattr(self._ipr, name)
            if name not in WATCHED:
                return attr

            def call(*a: Any, **kw: Any) -> Any:
                try:
                    inj.step(f"netlink {name} {a[0] if a else ''}".strip(), bool(a) and a[0] in WRITES)
                except _Fault:
                    raise NetlinkError(errno.EIO, "injected failure") from None
                return attr(*a, **kw)

            return call

    def run(self: Any, doc: dict[str, Any], what: str) -> list[dict[str, Any]]:
        write = any("list" not in cmd for cmd in doc.get("nftables", []))
        try:
            inj.step(f"nft {'commit' if write else 'list'} {what}", write)
        except _Fault:
            raise NetError(f"{what}: injected failure", RUNTIME) from None
        return real_run(self, doc, what)

    def write(path: str, value: str) -> None:
        try:
            inj.step(f"sysctl write {path}", True)
        except _Fault:
            raise NetError(
                f"sysctl {path.replace('/', '.')}: cannot set to {value}: injected failure", RUNTIME
            ) from None
        real_write(path, value)

    host.IPRoute = FaultyIPRoute  # type: ignore[attr-defined]
    nftables.Nftables.run = run  # type: ignore[method-assign]
    sysctl.write = write


def _inject(phase: str, n: int, cfg_path: str, writes_only: bool) -> dict[str, Any]:
    from tapliance import config, net

    cfg = config.load(cfg_path)
    inj = Injector(n if phase == "apply" else 0, writes_only)
    install(inj)
    out: dict[str, Any] = {}
    if phase == "count":
        net.apply(cfg)
        out["apply"], inj.calls = inj.calls, 0
        net.teardown(cfg)
        return {**out, "teardown": inj.calls}
    try:
        net.apply(cfg)
        if phase == "teardown":
            inj.fail_at, inj.calls = n, 0
            net.teardown(cfg)
        out["error"] = ""
    except net.NetError as e:
        out.update(error=str(e), exit_code=e.exit_code)
    out["failed_call"] = inj.failed
    if phase == "teardown":
        out["retry"] = net.teardown(cfg)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description="fail the N-th host call of tapliance.net apply or teardown")
    p.add_argument("phase", choices=("count", "apply", "teardown"))
    p.add_argument("n", type=int)
    p.add_argument("config")
    p.add_argument("--writes", action="store_true")
    a = p.parse_args()
    print(json.dumps(_inject(a.phase, a.n, a.config, a.writes)))


def run_in(ns: str, phase: str, n: int, cfg: Path, writes: bool, state: Path) -> dict[str, Any]:
    here = Path(__file__).resolve().parents[1]  # scripts/: this package as torturelib, the repo for tapliance
    path = os.pathsep.join(filter(None, [str(here), str(here.parent), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "TAPLIANCE_STATE_DIR": str(state), "PYTHONPATH": path}
    args = ["ip", "netns", "exec", ns, sys.executable, "-m", "torturelib.faults", phase, str(n), str(cfg)]
    cmd = [*args, *(["--writes"] if writes else [])]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60, check=False)
    if p.returncode != 0:
        return {"error": f"exit {p.returncode}: {p.stderr.strip().splitlines()[-1:]}", "crashed": True}
    return json.loads(p.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def sweep(ns: str, cfg: Path, state: Path, snapshot: Callable[[], str], writes: bool) -> dict[str, Any]:
    """Every apply and teardown call failing in turn; what went wrong, per run (empty lists: nothing)."""
    before = snapshot()
    counts = run_in(ns, "count", 0, cfg, writes, state)
    if snapshot() != before or "apply" not in counts:
        return {"counts": counts, "bad": ["the fault-free apply and teardown did not restore the host"]}
    bad, failed_calls = [], []
    for phase in ("apply", "teardown"):
        for n in range(1, counts[phase] + 1):
            r = run_in(ns, phase, n, cfg, writes, state)
            failed_calls.append(r.get("failed_call", ""))
            journal = list(state.glob("*.json"))
            if r.get("crashed") or not r.get("error") or snapshot() != before or journal:
                bad.append(f"{phase} {n} ({r.get('failed_call', '?')}): {r.get('error') or 'no error'}")
                run_in(ns, "count", 0, cfg, writes, state)  # put the host back for the next run
    return {"counts": counts, "runs": len(failed_calls), "calls": failed_calls, "bad": bad}


FAULT_CONFIG = """[interface]
name = "tap0"
[bridge]
name = "br0"
ports = ["eth2", "eth1"]
take_over = "eth1"
addresses = ["10.50.0.1/24"]
[nat]
uplink = "eth3"
[[route]]
to = "10.60.0.0/16"
via = "10.50.0.9"
"""


def host_setup(lab: Any, writes: bool) -> Any:
    """The row: a namespace like an appliance (a persistent TAP, a LAN port with the default route, a
    second port, an uplink) and a config that uses every kind of step: bridge, take_over, NAT, a route."""
    from .report import Result

    what = "every netlink, nft and sysctl write" if writes else "every netlink, nft and sysctl call (reads too)"
    r = Result("faults", f"host setup with {what} failing in turn", "host never left half-configured")
    ns = f"{lab.prefix}f"
    lab.sh("m", ["true"])  # the lab exists
    subprocess.run(["ip", "netns", "add", ns], check=True)
    for cmd in (
        "ip link set lo up",
        "sysctl -qw net.ipv4.ip_forward=0",  # a new namespace copies the host's: NAT must turn it on itself
        "ip tuntap add mode tap name tap0",
        "ip addr add 10.1.2.3/24 dev tap0",
        "ip link add eth1 type veth peer name eth1p",
        "ip link add eth2 type veth peer name eth2p",
        "ip link add eth3 type veth peer name eth3p",
        "ip addr add 192.168.80.5/24 dev eth1",
        "ip link set eth1 up",
        "ip link set eth3 up",
        "ip route add default via 192.168.80.1",
    ):
        subprocess.run(["ip", "netns", "exec", ns, *cmd.split()], check=True)
    cfg, state = lab.dir / "faults.toml", lab.dir / "faults-state"
    cfg.write_text(FAULT_CONFIG)

    def snapshot() -> str:
        cmds = ["ip -d -br link", "ip -br addr", "ip route show table all", "nft list ruleset",
                "sysctl net.ipv4.ip_forward net.ipv6.conf.all.forwarding"]  # fmt: skip
        run = [subprocess.run(["ip", "netns", "exec", ns, *c.split()], capture_output=True, text=True, check=False)
               for c in cmds]  # fmt: skip
        return "\n".join(p.stdout for p in run)

    res = sweep(ns, cfg, state, snapshot, writes)
    r.details = res
    counts = res["counts"]
    r.measured = (
        f"{res.get('runs', 0)} runs (apply {counts.get('apply', '?')} + teardown {counts.get('teardown', '?')} "
        f"calls failing in turn): {len(res['bad'])} left the host changed or did not report it"
    )
    r.passed = not res["bad"] and res.get("runs", 0) > 0
    return r


if __name__ == "__main__":
    main()
