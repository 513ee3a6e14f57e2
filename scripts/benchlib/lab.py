"""Two network namespaces joined by a veth: the underlay every tunnel runs over.

Everything is created under one unique name prefix (``tb`` + 4 hex digits) so that teardown removes
exactly what this run made: deleting a namespace destroys the devices in it, and the veth with them.
Traffic only ever goes between these two namespaces.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

NETNS_DIR = Path("/run/netns")
UNDERLAY = {"a": "10.98.0.1", "b": "10.98.0.2"}  # veth ul0 in each namespace, /24
OVERLAY = {"a": "10.99.0.1", "b": "10.99.0.2"}  # tunnel addresses, /24
SIDES = ("a", "b")


class BenchError(RuntimeError):
    """A step failed; the text is one line, fit for the table's 'failed' column."""


def one_line(text: str | bytes, limit: int = 160) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    s = lines[-1] if lines else ""
    return s if len(s) <= limit else s[: limit - 3] + "..."


def run(
    args: Sequence[str],
    *,
    check: bool = True,
    timeout: float = 60,
    input: bytes | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    try:
        p = subprocess.run(list(args), capture_output=True, timeout=timeout, input=input, check=False, cwd=cwd)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{' '.join(args[:6])}: timed out after {timeout:g} s") from None
    if check and p.returncode != 0:
        raise BenchError(f"{' '.join(args[:6])}: exit {p.returncode}: {one_line(p.stderr or p.stdout)}")
    return p


@dataclass
class Lab:
    prefix: str
    dir: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @classmethod
    def create(cls, workdir: Path) -> Lab:
        lab = cls(f"tb{secrets.token_hex(2)}", workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            for s in SIDES:
                run(["ip", "netns", "add", lab.ns(s)])
                lab.sh(s, ["ip", "link", "set", "lo", "up"])
            lab.sh("a", ["ip", "link", "add", "ul0", "type", "veth", "peer", "name", "ul0", "netns", lab.ns("b")])
            for s in SIDES:
                lab.sh(s, ["ip", "addr", "add", f"{UNDERLAY[s]}/24", "dev", "ul0"])
                lab.sh(s, ["ip", "link", "set", "ul0", "up"])
        except BaseException:
            lab.destroy()
            raise
        return lab

    def ns(self, side: str) -> str:
        return f"{self.prefix}{side}"

    def sh(self, side: str, args: Sequence[str], **kw: object) -> subprocess.CompletedProcess[bytes]:
        return run(["ip", "netns", "exec", self.ns(side), *args], **kw)  # type: ignore[arg-type]

    def spawn(
        self, side: str, args: Sequence[str], log: Path, *, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start a long-running process in ``side``; ``ip netns exec`` execs it, so its pid is the program's."""
        with open(log, "ab") as f:
            p = subprocess.Popen(
                ["ip", "netns", "exec", self.ns(side), *args],
                stdout=f,
                stderr=f,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        self.procs.append(p)
        return p

    def stop(self, p: subprocess.Popen[bytes], timeout: float = 10) -> None:
        """SIGTERM (graceful teardown), then SIGKILL if it lingers."""
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=5)
        if p in self.procs:
            self.procs.remove(p)

    def wait_ping(
        self, side: str, addr: str, timeout: float = 30, procs: Sequence[subprocess.Popen[bytes]] = ()
    ) -> float:
        """Ping ``addr`` from ``side`` until it answers; seconds taken. Raises if a daemon exits first."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.sh(side, ["ping", "-c", "1", "-W", "1", "-q", addr], check=False).returncode == 0:
                return time.monotonic() - t0
            for p in procs:
                if p.poll() is not None:
                    raise BenchError(f"daemon exited with status {p.returncode} before the tunnel came up")
            time.sleep(0.1)
        raise BenchError(f"{addr} did not answer ping within {timeout:g} s")

    def wait_listening(
        self, side: str, proto: str, port: int, proc: subprocess.Popen[bytes], timeout: float = 15
    ) -> None:
        """Wait until a socket of ``proto`` ("udp"/"tcp") is bound to ``port`` in ``side``.

        Daemons on side b are started and waited for first, so side a's first handshake is answered
        at once instead of after the daemon's retry timer (tinc 5 s, fastd ~20 s with a crossed
        handshake), which would otherwise dominate and randomise the setup time.
        """
        flag = "-u" if proto == "udp" else "-t"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.sh(side, ["ss", "-Hln", flag, f"sport = :{port}"], check=False).stdout.strip():
                return
            if proc.poll() is not None:
                raise BenchError(f"daemon exited with status {proc.returncode} during startup")
            time.sleep(0.05)
        raise BenchError(f"nothing listening on {proto}/{port} in namespace {side} after {timeout:g} s")

    def destroy(self) -> None:
        """Stop our processes, kill anything else left in our namespaces, delete them."""
        for p in list(self.procs):
            with contextlib.suppress(Exception):
                self.stop(p, timeout=3)
        for ns in list_ns(self.prefix):
            pids = run(["ip", "netns", "pids", ns], check=False).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            run(["ip", "netns", "del", ns], check=False)


def list_ns(prefix: str) -> list[str]:
    try:
        return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(prefix))
    except FileNotFoundError:
        return []
