"""Privilege drop: once the TAP, the sockets and the host setup exist, run as an unprivileged user that
keeps CAP_NET_ADMIN and nothing else (docs/security.md, "Privileges").

Why CAP_NET_ADMIN and only it: after start-up the daemon still changes the network at run time
(addresses and routes a hub hands out, net/handout.py) and undoes its host setup at exit (bridge, NAT
table, routes, the sysctls it set: /proc/sys/net grants a CAP_NET_ADMIN holder root's access), all
over netlink and nftables' netlink; everything else (TAP, sockets, key files) is already open or
read. CAP_NET_BIND_SERVICE is not kept: every socket is bound before the drop and none later.

How (Linux, via libc through ctypes; no helper process): PR_SET_KEEPCAPS, setgroups / setresgid /
setresuid to the target, capset to permitted = effective = {CAP_NET_ADMIN}, inheritable empty, then
PR_SET_NO_NEW_PRIVS (nothing it might execute can gain anything back). Before that, as root, the
directories it writes later are handed to the user: the state directory (the net-setup journal and
its lock) and the hub's leases directory; the control socket goes to root:GROUP, mode 0660.

Already unprivileged (the Debian package's unit runs it as ``tapliance`` with ambient CAP_NET_ADMIN):
nothing to do. ``[daemon] user`` unset and no ``tapliance`` user: it stays as started.
"""

from __future__ import annotations

import ctypes
import grp
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

CAP_CHOWN, CAP_SETGID, CAP_SETUID, CAP_NET_ADMIN = 0, 6, 7, 12
KEPT = 1 << CAP_NET_ADMIN
DEFAULT_USER = "tapliance"
_PR_SET_KEEPCAPS = 8
_PR_SET_NO_NEW_PRIVS = 38
_CAP_V3 = 0x20080522


class DropError(RuntimeError):
    """The drop cannot be done as configured (a one-line message for the operator)."""


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


_libc = ctypes.CDLL(None, use_errno=True)


def capabilities() -> tuple[int, int, int]:
    """This process's (effective, permitted, inheritable) capability sets, as bit masks."""
    hdr, data = _Header(_CAP_V3, 0), (_Data * 2)()
    if _libc.capget(ctypes.byref(hdr), data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    lo, hi = data[0], data[1]
    return (
        lo.effective | hi.effective << 32,
        lo.permitted | hi.permitted << 32,
        lo.inheritable | hi.inheritable << 32,
    )


def _capset(effective: int, permitted: int, inheritable: int) -> None:
    hdr, data = _Header(_CAP_V3, 0), (_Data * 2)()
    for i in (0, 1):
        data[i] = _Data(effective >> 32 * i & 0xFFFFFFFF, permitted >> 32 * i & 0xFFFFFFFF, inheritable >> 32 * i)
    if _libc.capset(ctypes.byref(hdr), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def _prctl(option: int, value: int) -> None:
    if _libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl")


@dataclass(frozen=True)
class Target:
    user: str
    group: str
    uid: int
    gid: int


def target(user: str | None, group: str | None) -> Target | None:
    """Whom to become: ``user`` (None: ``tapliance`` if that user exists; ""/root: nobody else).
    DropError for a configured user or group that does not exist."""
    if user == "" or (os.geteuid() != 0):
        return None
    name = DEFAULT_USER if user is None else user
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        if user is None:
            return None
        raise DropError(f'daemon.user: no user {name!r} on this host (create it, or set user = "")') from None
    if pw.pw_uid == 0:
        return None
    try:
        gr = grp.getgrnam(group) if group else grp.getgrgid(pw.pw_gid)
    except KeyError:
        raise DropError(f"daemon.group: no group {group!r} on this host") from None
    return Target(name, gr.gr_name, pw.pw_uid, gr.gr_gid)


def writable_by(path: Path, t: Target) -> bool:
    """Could ``t`` create and rename files in directory ``path`` (owner, group or other write + search)?"""
    st = path.stat()
    if st.st_uid == t.uid:
        return st.st_mode & 0o300 == 0o300
    if st.st_gid == t.gid:
        return st.st_mode & 0o030 == 0o030
    return st.st_mode & 0o003 == 0o003


def hand_over(t: Target, own_dirs: list[Path], control_socket: Path) -> None:
    """As root, before the drop: our own directories (and what is in them) to the user, mode 0750 at
    most; the control socket to root:GROUP, 0660 (root and the group only)."""
    needed = 1 << CAP_CHOWN | 1 << CAP_SETGID | 1 << CAP_SETUID
    if capabilities()[0] & needed != needed:  # checked before anything changes hands
        raise DropError(f"dropping privileges to {t.user} needs CAP_SETUID, CAP_SETGID and CAP_CHOWN")
    try:
        os.chmod(control_socket, 0o660)  # first: root without CAP_DAC_OVERRIDE cannot enter the dirs after
        os.chown(control_socket, 0, t.gid)
        for d in own_dirs:  # chmod while root still owns it: the unit's root has no CAP_FOWNER
            d.mkdir(mode=0o750, parents=True, exist_ok=True)
            os.chmod(d, stat.S_IMODE(d.stat().st_mode) & 0o750 | 0o700)
            for f in d.iterdir():
                if f.is_file() and not f.is_symlink():
                    os.chown(f, t.uid, t.gid)
            os.chown(d, t.uid, t.gid)
    except OSError as e:
        raise DropError(f"handing {e.filename or 'a directory'} to {t.user}: {e.strerror or e}") from None


def drop(t: Target) -> None:
    """Become ``t`` keeping CAP_NET_ADMIN only; verify it (DropError if anything did not take)."""
    try:
        _prctl(_PR_SET_KEEPCAPS, 1)
        os.setgroups([t.gid])
        os.setresgid(t.gid, t.gid, t.gid)
        os.setresuid(t.uid, t.uid, t.uid)
        _capset(KEPT, KEPT, 0)
        _prctl(_PR_SET_KEEPCAPS, 0)
        _prctl(_PR_SET_NO_NEW_PRIVS, 1)
    except OSError as e:
        raise DropError(f"dropping privileges to {t.user}: {e.strerror or e}") from None
    eff, perm, inh = capabilities()
    if os.getresuid() != (t.uid,) * 3 or (eff, perm, inh) != (KEPT, KEPT, 0):
        raise DropError(f"dropping privileges to {t.user}: still uid {os.getresuid()}, caps {eff:#x}/{perm:#x}")
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise DropError("dropping privileges: setuid(0) still works")  # pragma: no cover - would be a kernel bug
