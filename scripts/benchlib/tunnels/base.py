"""What every tunnel provides to the runner."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..lab import OVERLAY, BenchError, Lab, one_line, run


@dataclass
class Daemons:
    """The processes carrying one tunnel, per side (empty for kernel tunnels)."""

    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    helpers: list[subprocess.Popen[bytes]] = field(default_factory=list)  # e.g. a scraper: not counted as CPU

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs.values()]


class Tunnel:
    name = ""  # key for --only and in the JSON
    label = ""  # table row
    packages: tuple[str, ...] = ()  # Debian packages it needs
    far = OVERLAY["b"]  # address the measurements target, reached through the tunnel
    underlay: tuple[str, int] = ("udp", 0)  # what carries it on the underlay: the lossy test drops 1% of these

    def version(self) -> str:
        return ""

    def up(self, lab: Lab, work: Path) -> Daemons:
        """Bring the tunnel up between the namespaces; return once ``far`` answers ping from side a.
        Raises :class:`BenchError` (one line) if it cannot."""
        raise NotImplementedError

    def down(self, lab: Lab, daemons: Daemons) -> None:
        for p in [*daemons.helpers, *daemons.procs.values()]:
            lab.stop(p)

    def describe(self) -> str:
        """Configuration summary for the docs/JSON."""
        return ""

    def start_pair(
        self, lab: Lab, work: Path, argv: dict[str, list[str]], proto: str, port: int, timeout: float = 30
    ) -> Daemons:
        """Start the daemons: side b (the listener) first and wait until its ``proto``/``port`` is bound,
        then side a; return once ``far`` answers ping. On failure stop both and raise with the log's last
        line. Logs: ``work/<name>-<side>.log``."""
        d = Daemons()
        side = "b"
        try:
            d.procs["b"] = lab.spawn("b", argv["b"], work / f"{self.name}-b.log")
            lab.wait_listening("b", proto, port, d.procs["b"])
            side = "a"
            d.procs["a"] = lab.spawn("a", argv["a"], work / f"{self.name}-a.log")
            lab.wait_ping("a", self.far, timeout=timeout, procs=list(d.procs.values()))
        except BenchError as e:
            self.down(lab, d)
            logs = "; ".join(
                f"{self.name}-{s}: {log_tail(work / f'{self.name}-{s}.log')}"
                for s in dict.fromkeys((side, "b"))
                if s in d.procs
            )
            raise BenchError(f"{e}; {logs}") from None
        except BaseException:
            self.down(lab, d)
            raise
        return d


def first_line(args: list[str]) -> str:
    p = run(args, check=False, timeout=10)
    return one_line((p.stdout or p.stderr).decode(errors="replace").splitlines()[0] if (p.stdout or p.stderr) else "")


def log_tail(path: Path) -> str:
    """The last meaningful line of a daemon log, for a failure reason."""
    try:
        return one_line(path.read_text(errors="replace"))
    except FileNotFoundError:
        return "(no log)"
