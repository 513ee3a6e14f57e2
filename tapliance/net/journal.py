"""The write-ahead journal of host changes: what tapliance did, so that teardown can undo exactly that.

One JSON file per tunnel interface, ``$TAPLIANCE_STATE_DIR/<interface>.net.json`` (default
/run/tapliance: tmpfs, so a reboot — which also forgets every change — forgets the journal too).
Named network namespaces share the host's /run, so inside one the name carries it:
``<interface>@<netns>.net.json`` (the lab runs several "hosts" with a ``tl0`` each on one box).

A record is appended and fsync'ed *before* the change it describes is made. A process killed at any
point therefore leaves a journal that covers at least everything it did; undoing a record whose change
never happened is harmless by construction (every undo step checks first, see undo.py). Records are
plain dicts ``{"op": ..., ...}``; the set of ops is the table in undo.py.

One lock file per network namespace serialises every apply/teardown in it, whatever the interface:
they are short, and a teardown may hand a shared sysctl over to another interface's journal.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tapliance.net.errors import RUNTIME, NetError

DEFAULT_STATE_DIR = "/run/tapliance"
STATE_DIR_ENV = "TAPLIANCE_STATE_DIR"
VERSION = 1

Record = dict[str, Any]


def state_dir() -> Path:
    return Path(os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)


def netns_tag() -> str:
    """``@<name>`` inside a named network namespace (``ip netns``: they share the host's /run), else ""."""
    try:
        me = os.stat("/proc/self/ns/net")
        names = sorted(os.listdir("/run/netns"))
    except OSError:
        return ""
    for name in names:
        with contextlib.suppress(OSError):
            st = os.stat(f"/run/netns/{name}")
            if (st.st_dev, st.st_ino) == (me.st_dev, me.st_ino):
                return f"@{name}"
    return ""


def journal_path(interface: str) -> Path:
    return state_dir() / f"{interface}{netns_tag()}.net.json"


def others(interface: str) -> list[Journal]:
    """The journals of the *other* interfaces in this network namespace (call with the lock held)."""
    tag, out = netns_tag(), []
    for p in sorted(state_dir().glob("*.net.json")):
        name, _, ns = p.name.removesuffix(".net.json").partition("@")
        if name != interface and (f"@{ns}" if ns else "") == tag:
            out.append(Journal(name))
    return out


class Journal:
    """The records of one interface, loaded from and saved to disk on every change."""

    def __init__(self, interface: str) -> None:
        self.interface = interface
        self.path = journal_path(interface)
        self.records: list[Record] = self._load()

    def _load(self) -> list[Record]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as e:
            raise NetError(f"journal {self.path}: unreadable ({e}); inspect and remove it by hand", RUNTIME) from None
        if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("records"), list):
            raise NetError(f"journal {self.path}: not a tapliance v{VERSION} journal", RUNTIME)
        records: list[Record] = data["records"]
        return records

    def append(self, record: Record) -> None:
        self.records.append(record)
        self._save()

    def save(self) -> None:
        """Persist records changed in place (see Undo.sysctl_value)."""
        self._save()

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` records (the rest were undone); remove the file when none are left."""
        del self.records[n:]
        if self.records:
            self._save()
        else:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def _save(self) -> None:
        try:
            self.path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".tmp")
            with open(tmp, "w") as f:
                json.dump({"version": VERSION, "interface": self.interface, "records": self.records}, f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as e:
            raise NetError(f"journal {self.path}: cannot write: {e.strerror}", RUNTIME) from None


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """Hold this network namespace's exclusive lock while changing or undoing host setup."""
    d = state_dir()
    try:
        d.mkdir(mode=0o755, parents=True, exist_ok=True)
        fd = os.open(d / f"net{netns_tag()}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise NetError(f"state directory {d}: {e.strerror}", RUNTIME) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
