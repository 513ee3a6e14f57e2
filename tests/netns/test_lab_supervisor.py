"""tapliance-supervisor (roles/tapliance/files): start/status/stop, restart after a crash, precheck and
readiness failures reported. A stand-in daemon (a tiny Python script) is supervised; no root needed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SUPERVISOR = Path(__file__).resolve().parents[2] / "roles" / "tapliance" / "files" / "tapliance-supervisor"

DAEMON = """\
import os, signal, socket, sys, time
path = sys.argv[1]
if os.path.exists(path):
    os.unlink(path)  # left by a killed predecessor (tapliance's control server does the same)
s = socket.socket(socket.AF_UNIX); s.bind(path); s.listen(1)
def bye(*_):
    os.unlink(path); print("daemon: clean exit", flush=True); sys.exit(0)
signal.signal(signal.SIGTERM, bye)
print("daemon: up", os.environ.get("MARK"), flush=True)
while True: time.sleep(1)
"""


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "daemon.py").write_text(DAEMON)
    spec = {
        "name": "fake",
        "command": [sys.executable, str(tmp_path / "daemon.py"), str(tmp_path / "ctl.sock")],
        "precheck": ["true"],
        "environment": {"MARK": "env-passed"},
        "pidfile": str(tmp_path / "run/fake.pid"),
        "log": str(tmp_path / "log/fake.log"),
        "ready": str(tmp_path / "ctl.sock"),
        "stop_timeout": 5,
    }
    p = tmp_path / "fake.json"
    p.write_text(json.dumps(spec))
    try:
        yield p
    finally:
        run(p, "stop")


def run(svc: Path, action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SUPERVISOR), "-s", str(svc), action],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def pids(svc: Path) -> list[str]:
    spec = json.loads(svc.read_text())
    return Path(spec["pidfile"]).read_text().split()


def test_start_status_crash_restart_stop(svc: Path, tmp_path: Path) -> None:
    assert run(svc, "status").returncode == 3
    r = run(svc, "start")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "ctl.sock").exists()
    sup, child, _ = pids(svc)
    assert run(svc, "start").stdout.strip().startswith("fake: already running")
    assert run(svc, "status").returncode == 0
    os.kill(int(child), signal.SIGKILL)  # the daemon crashes: the supervisor starts a new one
    deadline = time.monotonic() + 10
    while pids(svc)[1] in (child, "-"):
        assert time.monotonic() < deadline, "daemon was not restarted"
        time.sleep(0.1)
    assert pids(svc)[0] == sup and pids(svc)[2] == "1"
    assert run(svc, "stop").returncode == 0
    assert run(svc, "status").returncode == 3
    log = (tmp_path / "log/fake.log").read_text()
    assert "daemon: up env-passed" in log and "ended with signal 9" in log and "daemon: clean exit" in log
    assert not (tmp_path / "ctl.sock").exists()  # SIGTERM reached the daemon: it cleaned up


def test_precheck_failure_is_reported(svc: Path) -> None:
    spec = json.loads(svc.read_text())
    spec["precheck"] = [sys.executable, "-c", "import sys; sys.exit('tapliance: bad config: peer[0]')"]
    svc.write_text(json.dumps(spec))
    r = run(svc, "start")
    assert r.returncode == 1 and "bad config: peer[0]" in r.stderr
    assert run(svc, "status").returncode == 3


def test_daemon_that_dies_at_start_fails_start_with_its_log(svc: Path) -> None:
    spec = json.loads(svc.read_text())
    spec["command"] = [sys.executable, "-c", "import sys; print('tapliance: cannot open /dev/net/tun'); sys.exit(1)"]
    svc.write_text(json.dumps(spec))
    t0 = time.monotonic()
    r = run(svc, "start")
    assert r.returncode == 1 and "cannot open /dev/net/tun" in r.stderr
    assert time.monotonic() - t0 < 15  # reported after the first failure, not after the readiness timeout
    assert run(svc, "status").returncode == 3
