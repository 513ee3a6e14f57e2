"""Minimal, explicit helpers for building namespace topologies (used by the lab and by the tests).

Every object is created under a caller-chosen prefix so a run can find and remove exactly what it made
(``cleanup(prefix)``), even after a crash. Commands run through ``ip netns exec``; interfaces and
namespaces are made with iproute2 here because these helpers build *test fixtures and lab hosts*, not
the appliance's own host setup (which is tapliance.net, on netlink via pyroute2).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Self

NETNS_DIR = "/run/netns"


class LabError(RuntimeError):
    pass


def unique_prefix(tag: str = "tl") -> str:
    """A short unique prefix like ``tl3f9a`` so that prefixed interface names stay <= 15 chars."""
    return f"{tag}{secrets.token_hex(2)}"


def sh(
    args: Sequence[str], *, check: bool = True, input: bytes | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    p = subprocess.run(list(args), input=input, capture_output=True, timeout=timeout, check=False)
    if check and p.returncode != 0:
        raise LabError(f"{' '.join(args)} -> exit {p.returncode}: {p.stderr.decode(errors='replace').strip()}")
    return p


def ns_exec(ns: str, args: Sequence[str], **kw: object) -> subprocess.CompletedProcess[bytes]:
    return sh(["ip", "netns", "exec", ns, *args], **kw)  # type: ignore[arg-type]


def add_ns(name: str) -> str:
    """A namespace that starts like a freshly booted host: loopback up, IPv4 forwarding off.

    A new namespace copies net.ipv4.ip_forward from the host's (net.core.devconf_inherit_init_net=0), so
    on a host where libvirt or Docker turned forwarding on, every lab box would silently be a router.
    """
    sh(["ip", "netns", "add", name])
    ns_exec(name, ["ip", "link", "set", "lo", "up"])
    ns_exec(name, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=0"])
    return name


def add_veth(
    a_ns: str,
    a_if: str,
    b_ns: str,
    b_if: str,
    *,
    a_addr: str | None = None,
    b_addr: str | None = None,
    mtu: int | None = None,
) -> None:
    """A veth pair with one end in each namespace (created in ``a_ns`` to avoid name clashes on the host)."""
    ns_exec(a_ns, ["ip", "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", b_ns])
    for ns, ifn, addr in ((a_ns, a_if, a_addr), (b_ns, b_if, b_addr)):
        if mtu:
            ns_exec(ns, ["ip", "link", "set", ifn, "mtu", str(mtu)])
        if addr:
            ns_exec(ns, ["ip", "addr", "add", addr, "dev", ifn])
        ns_exec(ns, ["ip", "link", "set", ifn, "up"])


def list_ns(prefix: str) -> list[str]:
    try:
        return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(prefix))
    except FileNotFoundError:
        return []


def kill_ns_processes(ns: str) -> None:
    p = sh(["ip", "netns", "pids", ns], check=False)
    for pid in p.stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), 9)


def cleanup(prefix: str) -> list[str]:
    """Kill processes in and delete every namespace named ``prefix*``; return the names removed.

    Deleting a namespace destroys the veth/tap/bridge devices inside it, and a veth's peer with it.
    """
    removed = []
    for ns in list_ns(prefix):
        kill_ns_processes(ns)
        sh(["ip", "netns", "del", ns], check=False)
        removed.append(ns)
    etc = Path("/etc/netns")  # per-namespace /etc files (e.g. a hosts file a test wrote)
    for d in etc.glob(f"{prefix}*") if prefix and etc.is_dir() else []:
        shutil.rmtree(d, ignore_errors=True)
    return removed


def last_line(text: str | bytes, limit: int = 160) -> str:
    """The last non-empty line of a command's output, at most ``limit`` characters: an error's one line."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def run(
    args: Sequence[str],
    *,
    check: bool = True,
    timeout: float = 60,
    input: bytes | None = None,
    cwd: Path | None = None,
    error: type[Exception] = LabError,
) -> subprocess.CompletedProcess[bytes]:
    """Run a command, output captured; a failure or a timeout raises ``error`` with one line."""
    try:
        p = subprocess.run(list(args), capture_output=True, timeout=timeout, input=input, check=False, cwd=cwd)
    except subprocess.TimeoutExpired:
        raise error(f"{' '.join(args[:8])}: timed out after {timeout:g} s") from None
    if check and p.returncode != 0:
        raise error(f"{' '.join(args[:8])}: exit {p.returncode}: {last_line(p.stderr or p.stdout)}")
    return p


@dataclass
class NsLab:
    """Namespaces named ``prefix`` + a side, and the long-running processes started in them: the base of the
    bench's and the torture suite's labs (scripts/benchlib, scripts/torturelib), which build the topology."""

    prefix: str
    dir: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    Error: ClassVar[type[Exception]] = LabError
    TAG: ClassVar[str] = "tl"  # the prefix's letters, before 4 random hex digits

    @classmethod
    def create(cls, workdir: Path) -> Self:
        """A lab under a new prefix, built (``_build``); a failed build is torn down before the error goes on."""
        lab = cls(unique_prefix(cls.TAG), workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            lab._build()
        except BaseException:
            lab.destroy()
            raise
        return lab

    def _build(self) -> None:
        """The topology: namespaces ``ns(side)`` and what joins them (each lab's own)."""

    def ns(self, side: str) -> str:
        return f"{self.prefix}{side}"

    def sh(self, side: str, args: Sequence[str], **kw: object) -> subprocess.CompletedProcess[bytes]:
        return run(["ip", "netns", "exec", self.ns(side), *args], error=self.Error, **kw)  # type: ignore[arg-type]

    def spawn(
        self, side: str, args: Sequence[str], log: Path, *, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """A long-running process in ``side``; ``ip netns exec`` execs it, so its pid is the program's."""
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

    def stop(self, p: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        """Send ``sig`` (SIGKILL to its group after ``timeout`` if it lingers); the exit status."""
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(sig)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=5)
        if p in self.procs:
            self.procs.remove(p)
        return p.returncode

    def destroy(self) -> None:
        """Stop our processes, kill anything else left in our namespaces, delete them (and their devices)."""
        for p in list(self.procs):
            with contextlib.suppress(Exception):
                self.stop(p, timeout=3)
        cleanup(self.prefix)
