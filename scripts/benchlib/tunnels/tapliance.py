"""tapliance itself, from the repo's .venv: ``tapliance genkey``/``pubkey``, a TOML config per side,
``tapliance up -c`` in the foreground (SIGTERM tears it down)."""

from __future__ import annotations

from pathlib import Path

from ..lab import OVERLAY, SIDES, UNDERLAY, BenchError, Lab, run
from .base import Daemons, Tunnel, first_line

PORT = 9123
REPO = Path(__file__).resolve().parents[3]
TAPLIANCE = REPO / ".venv" / "bin" / "tapliance"
PYTHON = REPO / ".venv" / "bin" / "python"


class Tapliance(Tunnel):
    packages = ()

    def __init__(self, name: str, suite: str, tree: Path | None = None, commit: str = "") -> None:
        """``tree``: run the tapliance package found there (a checkout of ``commit``) instead of the repo's."""
        self.name = name
        self.suite = suite
        self.tree = tree
        self.commit = commit
        self.label = f"tapliance {suite}" + (f" @{commit[:8]}" if commit else "")

    def command(self) -> list[str]:
        if self.tree is None:
            return [str(TAPLIANCE)]
        return ["env", f"PYTHONPATH={self.tree}", str(PYTHON), "-m", "tapliance.cli"]

    def version(self) -> str:
        return first_line([*self.command(), "--version"]) + (f" (commit {self.commit})" if self.commit else "")

    def describe(self) -> str:
        where = f", code of commit {self.commit}" if self.commit else ""
        return f"tapliance up, suite {self.suite}, interface mtu 1500, offloads on (defaults){where}"

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
            endpoint = f'endpoint = "{UNDERLAY[other]}:{PORT}"\n' if s == "a" else ""
            conf = work / f"{self.name}-{s}.toml"
            conf.write_text(
                f'[interface]\nname = "tl0"\nmtu = 1500\naddresses = ["{OVERLAY[s]}/24"]\n\n'
                f'[tunnel]\nlisten = "{UNDERLAY[s]}:{PORT}"\nprivate_key_file = "{work / f"{self.name}-{s}.key"}"\n'
                f'suite = "{self.suite}"\ncontrol_socket = "{work / f"{self.name}-{s}.sock"}"\n\n'
                f'[[peer]]\nname = "{other}"\npublic_key = "{pub[other]}"\n{endpoint}'
            )
            argv[s] = [*self.command(), "up", "-c", str(conf)]
        return self.start_pair(lab, work, argv, "udp", PORT)
