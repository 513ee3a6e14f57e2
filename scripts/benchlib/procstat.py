"""CPU time and memory of daemon processes, from /proc.

A daemon is counted with its whole process tree (workers it forks), so a multi-process data plane is
measured fully. utime/stime in /proc/<pid>/stat already include every thread of the process.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def parse_stat(text: str) -> tuple[int, int, int]:
    """``(ppid, utime, stime)`` (ticks) from one /proc/<pid>/stat line.

    The command name (field 2) is in parentheses and may itself contain spaces and parentheses, so the
    fields are counted from the *last* ``)``: proc(5) numbers them state=3, ppid=4, utime=14, stime=15.
    """
    rest = text[text.rindex(")") + 2 :].split()
    return int(rest[1]), int(rest[11]), int(rest[12])


def parse_status(text: str) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` in KiB from /proc/<pid>/status (missing for kernel threads / zombies)."""
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def tree(roots: Iterable[int]) -> list[int]:
    """The given pids and all their live descendants."""
    children: dict[int, list[int]] = {}
    for d in PROC.iterdir():
        if d.name.isdigit() and (t := _read(d / "stat")) is not None:
            with contextlib.suppress(ValueError, IndexError):
                children.setdefault(parse_stat(t)[0], []).append(int(d.name))
    out, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        if pid not in out:
            out.append(pid)
            todo.extend(children.get(pid, ()))
    return out


def cpu_seconds(pids: Iterable[int]) -> float:
    """utime + stime of these processes and their descendants, in seconds."""
    ticks = 0
    for pid in tree(pids):
        if (t := _read(PROC / str(pid) / "stat")) is not None:
            _, u, s = parse_stat(t)
            ticks += u + s
    return ticks / CLK_TCK


@dataclass(frozen=True)
class Memory:
    rss_kib: int
    hwm_kib: int


def memory(pids: Iterable[int]) -> Memory:
    """Summed VmRSS and VmHWM of one daemon's process tree."""
    rss = hwm = 0
    for pid in tree(pids):
        if (t := _read(PROC / str(pid) / "status")) is not None:
            m = parse_status(t)
            rss += m.get("VmRSS", 0)
            hwm += m.get("VmHWM", 0)
    return Memory(rss, hwm)
