"""tapliance itself, from the repo's .venv: ``tapliance genkey``/``pubkey``, a TOML config per side,
``tapliance up -c`` in the foreground (SIGTERM tears it down)."""

from __future__ import annotations

from pathlib import Path

from ..lab import OVERLAY, SIDES, UNDERLAY, BenchError, Lab, run
from .base import Daemons, Tunnel, first_line

PORT = 9123
TCP_PORT = 8443
REPO = Path(__file__).resolve().parents[3]
TAPLIANCE = REPO / ".venv" / "bin" / "tapliance"
PYTHON = REPO / ".venv" / "bin" / "python"


SCRAPER = """
import time, urllib.request
while True:
    for path in ("/metrics", "/api/status"):
        urllib.request.urlopen("http://127.0.0.1:9124" + path, timeout=5).read()
    time.sleep(1)
"""


FASTPATH = {None: "", True: "fastpath = true", False: "fastpath = false"}


class Tapliance(Tunnel):
    packages = ()

    def __init__(
        self,
        name: str,
        suite: str,
        tree: Path | None = None,
        commit: str = "",
        metrics: bool = False,
        tcp: bool = False,
        fastpath: bool | None = None,
        worker: bool = True,
        queues: int | None = None,
    ) -> None:
        """``tree``: run the tapliance package found there (a checkout of ``commit``) instead of the repo's;
        ``metrics``: side a serves [metrics] and a scraper reads /metrics and /api/status every second;
        ``fastpath``: None writes no key (the default, auto: the worker thread point to point; what a
        baseline's commit runs by default); true: both sides run the compiled data path
        (``tunnel.fastpath = true``), with its worker thread unless ``worker`` is false
        (``TAPLIANCE_WORKER=0``: the compiled calls inside the Python loop); false: the Python path."""
        self.name = name
        self.suite = suite
        self.tree = tree
        self.commit = commit
        self.metrics = metrics
        self.tcp = tcp
        self.fastpath = fastpath
        self.worker = worker
        self.queues = queues
        self.underlay = ("tcp", TCP_PORT) if tcp else ("udp", PORT)
        over = " over TCP" if tcp else ""
        self.label = (
            f"tapliance {'quicktun-tcp' if tcp else suite}{over}"
            + (f" @{commit[:8]}" if commit else "")
            + (" +metrics" if metrics else "")
            + (" compiled" if fastpath else " Python path" if fastpath is False else "")
            + (" in the loop (no worker)" if fastpath and not worker else "")
            + (f", {queues} TAP queue{'s' if queues > 1 else ''}" if queues is not None else "")
        )

    def command(self) -> list[str]:
        env = ["env", "TAPLIANCE_WORKER=0"] if self.fastpath and not self.worker else []
        if self.queues is not None:
            env = [*(env or ["env"]), f"TAPLIANCE_TAP_QUEUES={self.queues}"]
        if self.tree is None:
            return [*env, str(TAPLIANCE)]
        # -P: no working directory in front of sys.path (scripts/bench runs in the repo, whose tapliance would
        # shadow the tree's: every --baseline row measured the current code until this)
        return [*(env or ["env"]), f"PYTHONPATH={self.tree}", str(PYTHON), "-P", "-m", "tapliance.cli"]

    def version(self) -> str:
        return first_line([*self.command(), "--version"]) + (f" (commit {self.commit})" if self.commit else "")

    def describe(self) -> str:
        where = f", code of commit {self.commit}" if self.commit else ""
        scraped = ", [metrics] on side a, scraped every second" if self.metrics else ""
        how = (
            'transport = "tcp" (QuickTun TCP protocol, encrypted, authenticated)' if self.tcp else f"suite {self.suite}"
        )
        fast = {
            None: ", tunnel.fastpath unset (auto: "
            + ("the Python path over TCP)" if self.tcp else "the compiled data path's worker thread point to point)"),
            True: ", the compiled data path (tunnel.fastpath = true)",
            False: ", the Python data path (tunnel.fastpath = false)",
        }[self.fastpath]
        fast += ", its worker thread off (TAPLIANCE_WORKER=0)" if self.fastpath and not self.worker else ""
        fast += f", TAPLIANCE_TAP_QUEUES={self.queues}" if self.queues is not None else ""
        return f"tapliance up, {how}, interface mtu 1500, offloads on (defaults){where}{scraped}{fast}"

    def up(self, lab: Lab, work: Path) -> Daemons:
        if not TAPLIANCE.exists():
            raise BenchError(f"{TAPLIANCE} missing: run scripts/bootstrap")
        pub = {}
        for s in SIDES:
            key = work / f"{self.name}-{s}.key"
            key.unlink(missing_ok=True)
            run([str(TAPLIANCE), "genkey", "-o", str(key)])
            pub[s] = run([str(TAPLIANCE), "pubkey"], input=key.read_bytes()).stdout.decode().strip()
        argv = {}
        for s in SIDES:
            other = "b" if s == "a" else "a"
            port = TCP_PORT if self.tcp else PORT
            endpoint = f'endpoint = "{UNDERLAY[other]}:{port}"\n' if s == "a" else ""
            if self.tcp:
                endpoint += 'transport = "tcp"\n'
            listen_tcp = f'tcp_listen = "{UNDERLAY[s]}:{TCP_PORT}"\n' if self.tcp and s == "b" else ""
            conf = work / f"{self.name}-{s}.toml"
            conf.write_text(
                f'[interface]\nname = "tl0"\nmtu = 1500\naddresses = ["{OVERLAY[s]}/24"]\n\n'
                f'[tunnel]\nlisten = "{UNDERLAY[s]}:{PORT}"\nprivate_key_file = "{work / f"{self.name}-{s}.key"}"\n'
                f'suite = "{self.suite}"\n{FASTPATH[self.fastpath]}\n'  # no key: the default (and a baseline's)
                f'control_socket = "{work / f"{self.name}-{s}.sock"}"\n{listen_tcp}\n'
                f'[[peer]]\nname = "{other}"\npublic_key = "{pub[other]}"\n{endpoint}'
            )
            if self.metrics and s == "a":
                conf.write_text(conf.read_text() + '\n[metrics]\nlisten = "127.0.0.1:9124"\n')
            argv[s] = [*self.command(), "up", "-c", str(conf)]
        daemons = self.start_pair(lab, work, argv, *self.underlay)
        if self.metrics:
            daemons.helpers.append(lab.spawn("a", [str(PYTHON), "-c", SCRAPER], work / f"{self.name}-scraper.log"))
        return daemons
