"""The otp suite's pad on disk: the pad file, read where the codec asks, and this end's state file.

The state file is ``PAD_FILE.state``, beside the pad (one path less to configure, and it cannot be paired
with another pad by mistake); it names the pad's size and this end's side, and holds four offsets::

    tapliance otp state 1
    pad_size 1073741824
    side client
    send 1048592              our offsets below this may have been used: a start begins here
    send_burned 16            [half start + 16, send_burned) of our half is zeros on disk (pad_burn)
    receive 536870928         the far end's ranges below this are refused (the receive mark)
    receive_burned 536870928  [its half start + 16, receive_burned) is zeros on disk

Every write is durable before it returns: a temporary file is written and fsynced, renamed over the
state file, and the directory fsynced; so a crash at any moment leaves the old state or the new one.
``reserve`` and ``received`` (the codec's calls, one per RESERVE_CHUNK of traffic) write it. Burned pad
is written with pwrite as the codec goes and fdatasynced before the next state write records it.

A running end holds an exclusive lock (flock) on its pad file: a second daemon on the same pad is refused.
A start with burning on burns what the last run used but did not record as burned (at most about a
chunk after a crash). A missing state file means a new pad: both ends start at their halves' first
offsets. Deleting the state file of a used pad therefore reuses pad; with ``pad_burn`` the burned pad
reads as zeros and the codec refuses it (OTP_PAD_BURNED), without it nothing can tell.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass, replace
from pathlib import Path

from tapliance import keyfile
from tapliance.atomic import write_atomic
from tapliance.suites.padstore import MIN_PAD_SIZE, R_LEN, PadStoreError, halves

KeyFileError = keyfile.KeyFileError
MAGIC = "tapliance otp state 1"
KEYS = ("pad_size", "side", "send", "send_burned", "receive", "receive_burned")
ZEROS = bytes(1 << 16)


def state_path(pad: Path) -> Path:
    return pad.with_name(pad.name + ".state")


@dataclass(frozen=True)
class PadState:
    send: int
    send_burned: int
    receive: int
    receive_burned: int


def format_state(size: int, server: bool, st: PadState) -> bytes:
    values = (size, "server" if server else "client", st.send, st.send_burned, st.receive, st.receive_burned)
    return "".join([MAGIC + "\n", *(f"{k} {v}\n" for k, v in zip(KEYS, values, strict=True))]).encode()


def parse_state(content: bytes, path: Path, size: int, server: bool) -> PadState:
    """The state in ``content``, checked against the pad's size and our side (KeyFileError, one line)."""

    def corrupt(what: str) -> KeyFileError:
        return KeyFileError(
            f"{path}: corrupt otp state file ({what}); restore it, or retire the pad: a guessed offset can reuse pad"
        )

    try:
        lines = content.decode("ascii").split("\n")
    except UnicodeDecodeError:
        raise corrupt("not ASCII text") from None
    if lines[0] != MAGIC or len(lines) != len(KEYS) + 2 or lines[-1] != "":
        raise corrupt(f"expected {MAGIC!r} and {len(KEYS)} lines")
    values: dict[str, str] = {}
    for i, (key, line) in enumerate(zip(KEYS, lines[1:-1], strict=True), start=2):
        k, _, v = line.partition(" ")
        if k != key or not (v.isdigit() or key == "side") or v != v.strip():
            raise corrupt(f"line {i}: expected `{key} VALUE`")
        values[k] = v
    side = "server" if server else "client"
    if values["side"] not in ("client", "server"):
        raise corrupt("line 3: side is client or server")
    if values["side"] != side:
        raise KeyFileError(f"{path}: otp state file is the {values['side']} end's, but this end is the {side}")
    if int(values["pad_size"]) != size:
        raise KeyFileError(f"{path}: otp state file is for a pad of {values['pad_size']} bytes; this pad has {size}")
    st = PadState(*(int(values[k]) for k in KEYS[2:]))
    (lo, hi), (rlo, rhi) = halves(size, server)
    if not lo + R_LEN <= st.send_burned <= st.send <= hi:
        raise corrupt(f"send offsets outside this end's half [{lo + R_LEN}, {hi}]")
    if not rlo + R_LEN <= st.receive_burned <= st.receive <= rhi:
        raise corrupt(f"receive offsets outside the far end's half [{rlo + R_LEN}, {rhi}]")
    return st


def _write_durably(path: Path, content: bytes, dirfd: int) -> None:
    write_atomic(path, content, 0o600, dirfd)


def _open_pad(path: Path, writable: bool) -> int:
    st = keyfile.check_secret_file(path, "otp pad")
    if st.st_size < MIN_PAD_SIZE:
        raise KeyFileError(
            f"{path}: otp pad of {st.st_size} bytes is too small (at least {MIN_PAD_SIZE}; "
            "`tapliance pad generate --size 1G -o FILE` makes one)"
        )
    try:
        return os.open(path, (os.O_RDWR if writable else os.O_RDONLY) | os.O_CLOEXEC)
    except OSError as e:
        why = " for burning" if writable else ""
        raise KeyFileError(f"{path}: cannot open otp pad file{why}: {e.strerror}") from None


class FilePadStore:
    """The codec's PadStore on a pad file and its state file (see the module docstring).

    ``write=False`` (check-config) only reads: nothing is burned, created or written."""

    def __init__(self, path: Path, *, server: bool, burn: bool, write: bool = True) -> None:
        self.path, self.state_file = path, state_path(path)
        self.server, self.burning = server, burn and write
        self.fd = _open_pad(path, self.burning)
        self.size = os.fstat(self.fd).st_size
        (self._lo, self._hi), (self._rlo, _) = halves(self.size, server)
        self.existed = self.state_file.exists() or self.state_file.is_symlink()
        try:
            self.state = self._load()
        except BaseException:
            os.close(self.fd)
            raise
        self.send_start, self.receive_floor = self.state.send, self.state.receive
        self._live = {"send": self.state.send_burned, "receive": self.state.receive_burned}
        self._dirty = False
        self._error: str | None = None
        self._dirfd = -1
        if write:
            self._start()

    def _load(self) -> PadState:
        if not self.existed:
            return PadState(self._lo + R_LEN, self._lo + R_LEN, self._rlo + R_LEN, self._rlo + R_LEN)
        try:
            with open(self.state_file, "rb") as f:
                content = f.read(4096)
        except OSError as e:
            raise KeyFileError(f"{self.state_file}: cannot read otp state file: {e.strerror}") from None
        return parse_state(content, self.state_file, self.size, self.server)

    def _start(self) -> None:
        """Burn what the last run used and did not record as burned, and write the state (so a state file
        that cannot be written stops the start, not the first datagram)."""
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released by the kernel if we are killed
        except BlockingIOError:
            self.close_fds()
            raise KeyFileError(
                f"{self.path}: otp pad file is in use by another process (a pad serves one tunnel)"
            ) from None
        try:
            self._dirfd = os.open(self.state_file.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            st = self.state
            self.burn(st.send_burned, st.send - st.send_burned)
            self.burn(st.receive_burned, st.receive - st.receive_burned)
            self._commit(st)
        except (OSError, PadStoreError) as e:
            self.close_fds()
            raise KeyFileError(str(e) if isinstance(e, PadStoreError) else f"{self.state_file}: {e.strerror}") from None

    # -- the PadStore protocol (suites/otp.py)
    def read(self, offset: int, n: int) -> bytes:
        try:
            data = os.pread(self.fd, n, offset)
        except OSError as e:
            raise PadStoreError(f"{self.path}: cannot read the pad: {e.strerror}") from None
        if len(data) != n:
            raise PadStoreError(f"{self.path}: the pad ends before offset {offset + n} (was it changed?)")
        return data

    def reserve(self, end: int) -> None:
        self._commit(replace(self.state, send=end))

    def received(self, mark: int) -> None:
        self._commit(replace(self.state, receive=mark))

    def burn(self, offset: int, n: int) -> None:
        """Zeros over [offset, offset + n) if burning; an error is raised by the next durable write."""
        if not self.burning or n <= 0 or self._error:
            return
        way = "send" if self._lo <= offset < self._hi else "receive"
        try:
            for at in range(offset, offset + n, len(ZEROS)):
                os.pwrite(self.fd, memoryview(ZEROS)[: min(len(ZEROS), offset + n - at)], at)
        except OSError as e:
            self._error = f"cannot burn the pad: {e.strerror}"
            return
        if offset <= self._live[way]:
            self._live[way] = max(self._live[way], offset + n)
        self._dirty = True

    def close(self, send_next: int) -> None:
        try:
            self._commit(replace(self.state, send=send_next))
        finally:
            self.close_fds()

    def _commit(self, new: PadState) -> None:
        if self._error:
            raise PadStoreError(f"{self.path}: {self._error}")
        try:
            if self._dirty:
                os.fdatasync(self.fd)  # burned pad on disk before the state says so
                self._dirty = False
            new = replace(new, send_burned=min(self._live["send"], new.send))
            new = replace(new, receive_burned=min(self._live["receive"], new.receive))
            _write_durably(self.state_file, format_state(self.size, self.server, new), self._dirfd)
        except OSError as e:
            raise PadStoreError(f"{self.state_file}: cannot write the otp state: {e.strerror}") from None
        self.state = new

    def close_fds(self) -> None:
        for fd in (self.fd, self._dirfd):
            if fd >= 0:
                os.close(fd)
        self.fd = self._dirfd = -1
