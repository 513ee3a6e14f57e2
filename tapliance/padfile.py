"""``tapliance pad generate``: a new one-time pad for the otp suite, written from the OS random source.

A pad is only as good as the randomness it came from. ``os.urandom`` is the kernel's random generator:
a pad from it is as strong as that generator (a cipher), not the information-theoretic secrecy a true
one-time pad gives; for that, the bytes must come from a physical random source. The file is created
with O_EXCL (an existing file is never overwritten: a pad is never reused) and mode 0600, written in
1 MiB chunks and fsynced, file and directory; a failure or an interrupt removes the partial file.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from pathlib import Path

from tapliance.suites.padstore import MIN_PAD_SIZE

SIZE_RE = re.compile(r"(\d+)\s*([KMGT]?)(?:i?B)?", re.IGNORECASE)
UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
CHUNK = 1 << 20
PROGRESS_FROM = 64 << 20  # pads this big report their progress (every 10 %)


class PadFileError(ValueError):
    """A pad that cannot be made; the message is one line."""


def parse_size(text: str) -> int:
    """``123456`` bytes, or with K, M, G or T (powers of 1024; ``64M``, ``1G``, ``2GiB``)."""
    m = SIZE_RE.fullmatch(text.strip())
    if not m:
        raise PadFileError(f"pad size {text!r}: expected bytes, or a number with K, M, G or T (e.g. 64M, 1G)")
    size = int(m.group(1)) * UNITS[m.group(2).upper()]
    if size < MIN_PAD_SIZE:
        raise PadFileError(f"pad size {text}: a pad must have at least {MIN_PAD_SIZE} bytes (64K)")
    return size


def _size(n: int) -> str:
    return f"{n / (1 << 30):.2f} GiB" if n >= 1 << 30 else f"{n >> 20} MiB"


def generate(
    path: Path,
    size: int,
    *,
    random: Callable[[int], bytes] = os.urandom,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Write a new pad of ``size`` random bytes to ``path`` (PadFileError, one line; nothing left behind)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        raise PadFileError(f"{path}: already exists; refusing to overwrite it (a pad is never reused)") from None
    except OSError as e:
        raise PadFileError(f"{path}: cannot create: {e.strerror}") from None
    done = False
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        written, report = 0, size // 10
        while written < size:
            data = memoryview(random(min(CHUNK, size - written)))
            while data:
                data = data[os.write(fd, data) :]
            written = os.lseek(fd, 0, os.SEEK_CUR)
            if progress is not None and size >= PROGRESS_FROM and written >= report:
                progress(f"{path}: {100 * written // size} % ({_size(written)} of {_size(size)})")
                report += size // 10
        os.fsync(fd)
        done = True
    except OSError as e:
        raise PadFileError(f"{path}: cannot write the pad: {e.strerror} (the partial file is removed)") from None
    finally:
        os.close(fd)
        if not done:
            with contextlib.suppress(OSError):
                os.unlink(path)
    dirfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dirfd)
    finally:
        os.close(dirfd)
