"""Privilege drop with real daemons: after start-up the daemon runs as an unprivileged user with
CAP_NET_ADMIN only, carries traffic, and its teardown (nft table, sysctl, TAP, journal, control socket)
still leaves the namespace as it was. Three ways of starting it: as plain root (the supervisor, no
systemd), as root with the role's unit's capability bounding set, and already unprivileged with ambient
CAP_NET_ADMIN (the Debian package's unit), where the drop has nothing to do."""

from __future__ import annotations

import os
import shutil
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.netns.tunnel import OVERLAY, TAPLIANCE, TunnelLab

pytestmark = pytest.mark.netns
USER, GROUP = "nobody", "nogroup"  # present on every Debian host; the daemon's own user would be tapliance
UNIT_BOUNDING = "-all,+net_admin,+setuid,+setgid,+chown"  # roles/tapliance/templates/tapliance.service.j2


@pytest.fixture
def state(prefix: str) -> Iterator[Path]:
    """A state directory outside the test's 0700 tmp tree, so the dropped user can reach it."""
    d = Path(f"/run/{prefix}-state")
    d.mkdir(mode=0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _configure(lab: TunnelLab, state: Path, *, user: str | None = USER) -> None:
    lab.write_config("b")
    daemon = f'[daemon]\nuser = "{user}"\ngroup = "{GROUP}"\n' if user is not None else ""
    lab.write_config("a", tunnel_extra=f'control_socket = "{state}/a.sock"\n', extra='[nat]\nuplink = "ul0"\n')
    text = lab.sides["a"].config.read_text().replace(f'control_socket = "{lab.sides["a"].sock}"\n', "", 1)
    lab.sides["a"].config.write_text(text + daemon)
    lab.sides["a"].sock.symlink_to(state / "a.sock")  # where the lab's helpers look for it


def _proc(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def _daemon_pid(lab: TunnelLab) -> int:
    """The daemon's pid inside ``ip netns exec`` (which execs it: the same process)."""
    proc = lab.sides["a"].proc
    assert proc is not None
    return proc.pid


def _host_state(lab: TunnelLab) -> tuple[str, str, str]:
    nft = lab.sh("a", ["nft", "list", "tables"]).stdout.decode()
    fwd = lab.sh("a", ["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.decode().strip()
    links = lab.sh("a", ["ip", "-o", "link", "show"]).stdout.decode()
    return nft, fwd, " ".join(sorted(line.split(":")[1].strip() for line in links.splitlines()))


def _run_and_check(
    lab: TunnelLab, state: Path, mp: pytest.MonkeyPatch, wrap: list[str], *, expect_uid: int = 65534
) -> None:
    """Start b plainly, then a under ``wrap``; check a's credentials, its traffic and its teardown."""
    before = _host_state(lab)
    lab.start("b")
    mp.setattr("tests.netns.tunnel.TAPLIANCE", [*wrap, *TAPLIANCE])  # a only
    lab.start("a", env={"TAPLIANCE_STATE_DIR": str(state)})
    mp.undo()  # the status client runs as plain root
    lab.wait_ping("a", OVERLAY["b"], timeout=20)
    st = _proc(_daemon_pid(lab))
    assert st["Uid"].split()[:3] == [str(expect_uid)] * 3, st["Uid"]
    assert int(st["CapEff"], 16) == int(st["CapPrm"], 16) == 1 << 12, st  # CAP_NET_ADMIN only
    assert int(st["CapInh"], 16) == 0 and st["NoNewPrivs"].strip() == "1", st
    sock = (state / "a.sock").stat()
    assert stat.S_IMODE(sock.st_mode) == 0o660 and sock.st_uid in (0, expect_uid), oct(sock.st_mode)
    assert sock.st_gid == 65534  # root and the daemon's group only
    assert stat.S_IMODE(state.stat().st_mode) & 0o007 == 0  # others cannot even reach the socket
    assert "tapliance" in _host_state(lab)[0] and _host_state(lab)[1] == "1"
    assert lab.status("a")["peers"][0]["state"] == "up"  # type: ignore[index]
    assert lab.stop("a", signal.SIGTERM) == 0
    assert _host_state(lab) == before, (lab.sides["a"].log.read_text()[-2000:], before)
    assert not (state / "a.sock").exists()
    assert [p.name for p in state.iterdir() if p.suffix == ".json"] == []  # the journal is gone too
    log = lab.sides["a"].log.read_text()
    assert "tearing down" not in log and "Traceback" not in log, log[-2000:]


def test_dropped_from_root_without_systemd(lab: TunnelLab, state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As the supervisor starts it: plain root, then the daemon drops itself."""
    _configure(lab, state)
    _run_and_check(lab, state, monkeypatch, [])
    assert "dropped privileges: user nobody, group nogroup" in lab.sides["a"].log.read_text()


def test_dropped_from_root_under_the_role_units_bounding_set(
    lab: TunnelLab, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the role's unit starts it: root, capability bounding set CAP_NET_ADMIN + what the drop needs."""
    _configure(lab, state)
    _run_and_check(lab, state, monkeypatch, ["setpriv", f"--bounding-set={UNIT_BOUNDING}", "--no-new-privs"])
    assert int(_proc(os.getpid())["CapEff"], 16) != 1 << 12  # (the test itself stayed root)


def test_started_unprivileged_as_the_debian_unit_does_is_left_alone(
    lab: TunnelLab, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """User=tapliance + AmbientCapabilities=CAP_NET_ADMIN: nothing to drop, and teardown still works."""
    if stat.S_IMODE(os.stat("/dev/net/tun").st_mode) & 0o006 != 0o006:
        pytest.skip("/dev/net/tun is not 0666 on this host: only root may open it (Debian's udev makes it 0666)")
    _configure(lab, state, user=None)
    os.chown(state, 65534, 65534)
    state.chmod(0o750)  # RuntimeDirectory=tapliance, RuntimeDirectoryMode=0750
    for f in (lab.sides["a"].config, lab.dir / "a.key"):
        os.chown(f, 65534, 65534)
    lab.dir.chmod(0o755)
    for parent in lab.dir.parents:  # let nobody reach its config and key in the test's tmp tree
        if str(parent).startswith("/tmp/pytest-of-"):
            parent.chmod(parent.stat().st_mode | 0o005)
    setpriv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    setpriv += ["--inh-caps=+net_admin", "--ambient-caps=+net_admin", "--no-new-privs"]
    _run_and_check(lab, state, monkeypatch, setpriv)
    assert "started unprivileged: nothing to drop" in lab.sides["a"].log.read_text()
