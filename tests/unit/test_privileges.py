"""Whom the daemon becomes (runtime/privdrop.py, privileges.py), without root: the rules and bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tapliance import config as C
from tapliance import privileges
from tapliance.runtime import privdrop


def test_nobody_to_become_when_not_root_or_told_not_to(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert privdrop.target("nobody", None) is None  # started unprivileged: nothing to drop
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert privdrop.target("", None) is None  # user = "": stay as started
    assert privdrop.target("root", None) is None
    t = privdrop.target("nobody", None)
    assert t is not None and t.uid == 65534 and t.group == "nogroup"


def test_a_missing_default_user_is_no_drop_a_missing_configured_one_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(privdrop, "DEFAULT_USER", "no-such-user-tl")
    assert privdrop.target(None, None) is None
    cfg = C.parse({"daemon": {"user": "no-such-user-tl"}}, tmp_path / "t.toml")
    with pytest.raises(C.ConfigError, match=r"t.toml: daemon.user: no user 'no-such-user-tl'"):
        privileges.resolve(cfg)
    cfg = C.parse({"daemon": {"user": "nobody", "group": "no-such-group-tl"}}, tmp_path / "t.toml")
    with pytest.raises(C.ConfigError, match=r"daemon\.group: no group"):
        privileges.resolve(cfg)


def test_writable_by_reads_owner_group_and_other_bits(tmp_path: Path) -> None:
    t = privdrop.Target("x", "x", uid=os.getuid() + 12345, gid=os.getgid() + 12345)
    tmp_path.chmod(0o755)
    assert not privdrop.writable_by(tmp_path, t)
    tmp_path.chmod(0o777)
    assert privdrop.writable_by(tmp_path, t)
    me = privdrop.Target("me", "me", uid=os.getuid(), gid=os.getgid())
    tmp_path.chmod(0o500)
    assert not privdrop.writable_by(tmp_path, me)
    tmp_path.chmod(0o700)
    assert privdrop.writable_by(tmp_path, me)


def test_capabilities_are_read_and_ours_are_a_superset_of_nothing() -> None:
    eff, perm, inh = privdrop.capabilities()
    assert eff & ~perm == 0 and inh >= 0


def test_the_role_unit_lets_root_drop_itself_and_keeps_no_ambient_setuid() -> None:
    unit = (Path(__file__).parents[2] / "roles/tapliance/templates/tapliance.service.j2").read_text()
    bounding = next(line for line in unit.splitlines() if line.startswith("CapabilityBoundingSet="))
    ambient = next(line for line in unit.splitlines() if line.startswith("AmbientCapabilities="))
    assert all(c in bounding for c in ("CAP_NET_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_CHOWN"))
    assert "SETUID" not in ambient and "CHOWN" not in ambient
