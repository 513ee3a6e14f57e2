"""Writing a file so that nobody ever reads half of it, and a crash leaves the old or the new one: a
temporary file beside it, fsync, rename over it, fsync of the directory (a failed write leaves no
temporary file behind)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def write_atomic(path: Path, content: bytes, mode: int, dirfd: int | None = None) -> None:
    """``dirfd``: the directory, already open (a caller that writes often keeps it)."""
    tmp = path.with_name(f".{path.name}.tapliance-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        try:
            os.write(fd, content)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if dirfd is not None:
        os.fsync(dirfd)
        return
    dfd = os.open(path.parent, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
