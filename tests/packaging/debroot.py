"""A clean Debian 12 root for the package tests: ``debootstrap --variant=minbase bookworm`` into a directory
(about 25 s from a nearby mirror), entered with chroot, optionally inside a network namespace.

Its /dev is its own (a tmpfs with null, zero, random, urandom and net/tun at mode 0666, as Debian's udev
makes it), its /proc the kernel's, so a daemon in it opens TAPs and reads its namespace's sysctls without
any host device being re-permissioned. ``close`` unmounts and deletes everything.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

DEVICES = {"null": (1, 3), "zero": (1, 5), "random": (1, 8), "urandom": (1, 9), "net/tun": (10, 200)}


def mirror() -> str:
    """The first Debian archive URI of this machine's apt sources (what scripts/build-box uses too)."""
    if os.environ.get("DEBIAN_MIRROR"):
        return os.environ["DEBIAN_MIRROR"]
    files = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for f in files:
        with contextlib.suppress(OSError):
            for uri in re.findall(r"(?:URIs:|^deb)\s+(?:\[[^]]*\]\s+)?(https?://\S+)", f.read_text(), re.M):
                if "security" not in uri and "debian" in uri:
                    return uri
    return "http://deb.debian.org/debian"


class DebRoot:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.mounts: list[Path] = []

    @classmethod
    def create(cls, path: Path) -> DebRoot:
        r = subprocess.run(
            ["debootstrap", "--variant=minbase", "bookworm", str(path), mirror()],
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
        if r.returncode != 0:
            raise RuntimeError(f"debootstrap failed:\n{r.stdout[-3000:]}{r.stderr[-3000:]}")
        root = cls(path)
        root.mount("proc", "proc", "proc")
        root.mount("tmpfs", "dev", "tmpfs", "-o", "mode=0755")
        for name, (major, minor) in DEVICES.items():
            dev = path / "dev" / name
            dev.parent.mkdir(exist_ok=True)
            os.mknod(dev, 0o666 | 0o020000, os.makedev(major, minor))
            dev.chmod(0o666)
        shutil.copy("/etc/resolv.conf", path / "etc" / "resolv.conf")
        return root

    def mount(self, source: str, target: str, fstype: str, *opts: str) -> None:
        where = self.path / target
        subprocess.run(["mount", "-t", fstype, *opts, source, str(where)], check=True)
        self.mounts.append(where)

    def run(self, *argv: str, ns: str | None = None, check: bool = True, timeout: float = 600) -> str:
        """Run argv in the root (as root, with Debian's PATH), inside network namespace ``ns`` if given."""
        cmd: Sequence[str] = ["chroot", str(self.path), "/usr/bin/env", "-i", *ENV, *argv]
        if ns:
            cmd = ["ip", "netns", "exec", ns, *cmd]
        r = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(argv)}: exit {r.returncode}\n{r.stdout[-4000:]}{r.stderr[-4000:]}")
        return r.stdout + r.stderr

    def apt(self, *args: str) -> str:
        return self.run("apt-get", "-y", "-q", "-o", "Dpkg::Use-Pty=0", *args)

    def close(self) -> None:
        for where in reversed(self.mounts):
            subprocess.run(["umount", "-l", str(where)], check=False)
        self.mounts.clear()
        with open("/proc/mounts") as f:
            assert f" {self.path}/" not in f.read(), f"still mounted under {self.path}"
        shutil.rmtree(self.path, ignore_errors=True)


ENV = ("PATH=/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C.UTF-8", "HOME=/root")
