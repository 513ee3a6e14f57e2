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
import subprocess
from collections.abc import Sequence
from pathlib import Path

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
