"""Kernel parameters, read and written through /proc/sys (per network namespace), never via `sysctl`."""

from __future__ import annotations

from pathlib import Path

from tapliance.net.errors import RUNTIME, NetError

PROC_SYS = Path("/proc/sys")


def read(path: str) -> str:
    """The current value of ``path`` (e.g. ``net/ipv4/ip_forward``), stripped."""
    try:
        return (PROC_SYS / path).read_text().strip()
    except OSError as e:
        raise NetError(f"sysctl {path.replace('/', '.')}: cannot read: {e.strerror}", RUNTIME) from None


def write(path: str, value: str) -> None:
    try:
        (PROC_SYS / path).write_text(value + "\n")
    except OSError as e:
        raise NetError(f"sysctl {path.replace('/', '.')}: cannot set to {value}: {e.strerror}", RUNTIME) from None
