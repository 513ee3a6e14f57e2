"""Writing a file so that nobody ever reads half of it, and a crash leaves the old or the new one: a
temporary file beside it, fsync, rename over it, fsync of the directory."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, content: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tapliance-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
