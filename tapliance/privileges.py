"""Whom the daemon runs as after start-up, and what it hands over before it drops (runtime/privdrop.py).

``resolve`` runs first, before anything is touched: a configured user or group that does not exist,
or a metrics token readable by a group other than root's or the daemon's, is bad input (exit 2).
``apply`` runs once the TAP, the sockets, the host setup and the control socket exist. The
directories the daemon writes after the drop must be writable by its user: its own (the state
directory with the net-setup journal, the default leases directory) are handed to it; any other (a
control socket, a leases file or an otp pad's state outside them) must already be. If one is not,
a configured ``[daemon] user`` is an error (exit 1, everything undone), the default one is skipped
with a warning: the daemon then stays as started, as before this existed.
"""

from __future__ import annotations

import grp
import logging
import os
from pathlib import Path

from tapliance import config as C
from tapliance.net import journal
from tapliance.runtime import privdrop
from tapliance.runtime.privdrop import DropError, Target

log = logging.getLogger("tapliance")
DEFAULT_LEASES_DIR = Path("/var/lib/tapliance")


def resolve(cfg: C.Config) -> Target | None:
    """The user to become, or None. ConfigError (one line, file and key) for bad input."""
    try:
        t = privdrop.target(cfg.daemon.user, cfg.daemon.group)
    except DropError as e:
        raise C.ConfigError(f"{cfg.path}: {e}") from None
    token = cfg.metrics.token_file
    if token is not None and t is not None:
        try:
            st = token.stat()
        except OSError:
            return t  # reported by the token check itself
        if st.st_mode & 0o040 and st.st_gid not in (0, t.gid):
            raise C.ConfigError(
                f"{cfg.path}: metrics.token_file: {token} is readable by group {_group(st.st_gid)}; "
                f"only root and {t.group} may read it (chgrp {t.group} {token})"
            )
    return t


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _written_later(cfg: C.Config) -> tuple[list[Path], list[Path]]:
    """(our own directories, other directories) the daemon writes after the drop."""
    own = [journal.state_dir()]
    others = [cfg.control_socket.parent]
    if cfg.pool is not None:
        leases = cfg.leases_file.parent
        (own if leases == DEFAULT_LEASES_DIR else others).append(leases)
    others += [p.pad_file.parent for p in cfg.peers if p.suite == "otp" and p.pad_file is not None]
    return own, [d for d in dict.fromkeys(others) if d not in own]


def apply(cfg: C.Config, t: Target | None) -> None:
    """Drop to ``t`` (see the module docstring); log what the daemon runs as either way."""
    if t is None:
        if os.geteuid() != 0:
            eff = privdrop.capabilities()[0]
            has = "with" if eff & privdrop.KEPT else "without"
            log.info("running as uid %d %s CAP_NET_ADMIN (started unprivileged: nothing to drop)", os.getuid(), has)
        elif cfg.daemon.user != "":
            log.info("running as root: no user %s on this host ([daemon] user)", privdrop.DEFAULT_USER)
        return
    own, others = _written_later(cfg)
    blocked = [d for d in others if not d.is_dir() or not privdrop.writable_by(d, t)]
    if blocked:
        why = f"{blocked[0]} is not writable by user {t.user} (the daemon writes there after start-up)"
        if cfg.daemon.user is not None:
            raise DropError(f"{cfg.path}: daemon.user: {why}")
        log.warning("not dropping privileges to %s: %s", t.user, why)
        return
    privdrop.hand_over(t, own, cfg.control_socket)
    privdrop.drop(t)
    log.info("dropped privileges: user %s, group %s, capabilities CAP_NET_ADMIN only", t.user, t.group)
