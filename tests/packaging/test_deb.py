"""The Debian package end to end: built by scripts/build-deb from a clean clone (lintian: no errors), installed
with apt into a clean Debian 12 root (debootstrap), two tunnels started by its supervisor (no systemd in a
chroot; the template unit runs in the Vagrant lab's VMs) in two network namespaces with traffic between
them, then `apt-get remove` (tunnels stopped, units and program gone, configs and keys kept) and `purge`
(configs, keys, user and group gone). About a minute and a half; needs root, debootstrap and a mirror.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tapliance.lab import netns
from tests.packaging.debroot import DebRoot

REPO = Path(__file__).resolve().parents[2]
UNDERLAY = {"a": "10.233.0.1", "b": "10.233.0.2"}
OVERLAY = {"a": "10.234.0.1", "b": "10.234.0.2"}

pytestmark = pytest.mark.slow


@pytest.fixture
def root(tmp_path: Path) -> Iterator[DebRoot]:
    if os.geteuid() != 0:
        pytest.skip("needs root (debootstrap, chroot, network namespaces)")
    if not shutil.which("debootstrap"):
        pytest.skip("debootstrap not installed (scripts/bootstrap installs it)")
    r = DebRoot.create(tmp_path / "root")
    try:
        yield r
    finally:
        r.close()


def build_from_clean_clone(tmp: Path) -> tuple[Path, str]:
    clone = tmp / "clone"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(REPO), str(clone)], check=True)
    r = subprocess.run([str(clone / "scripts" / "build-deb")], cwd=clone, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    debs = list((clone / "build" / "deb").glob("tapliance_*.deb"))
    assert len(debs) == 1 and debs[0] == Path(r.stdout.splitlines()[-1]), r.stdout
    lintian = (clone / "build" / "deb" / "lintian.txt").read_text()
    assert not re.search(r"^E: ", lintian, re.M), lintian
    return debs[0], lintian


def config(side: str, ifname: str, peer_key: str, with_endpoint: bool) -> str:
    other = "b" if side == "a" else "a"
    endpoint = f'endpoint = "{UNDERLAY[other]}:9123"\n' if with_endpoint else ""
    return (
        f'[interface]\nname = "{ifname}"\naddresses = ["{OVERLAY[side]}/24"]\n\n'
        f'[tunnel]\nlisten = "{UNDERLAY[side]}:9123"\nprivate_key_file = "/etc/tapliance/{side}.key"\n\n'
        f'[[peer]]\nname = "{other}"\npublic_key = "{peer_key}"\n{endpoint}'
    )


def start_two_tunnels(root: DebRoot, prefix: str) -> dict[str, str]:
    """Instances a and b of the package, each in its own namespace on one veth; returns {side: namespace}."""
    spaces = {s: netns.add_ns(f"{prefix}{s}") for s in ("a", "b")}
    netns.add_veth(spaces["a"], "ul0", spaces["b"], "ul0", a_addr=f"{UNDERLAY['a']}/24", b_addr=f"{UNDERLAY['b']}/24")
    etc = root.path / "etc" / "tapliance"
    for s in spaces:
        root.run("tapliance", "genkey", "-o", f"/etc/tapliance/{s}.key")
    keys = {s: root.run("sh", "-c", f"tapliance pubkey < /etc/tapliance/{s}.key").strip() for s in spaces}
    for s in spaces:
        other = "b" if s == "a" else "a"
        (etc / f"{s}.toml").write_text(config(s, f"{prefix}t{s}", keys[other], with_endpoint=s == "a"))
    for s, ns in spaces.items():
        out = root.run("/usr/lib/tapliance/tapliance-supervisor", "--instance", s, "start", ns=ns)
        assert f"{s}: started" in out, out
    return spaces


def test_deb_builds_installs_runs_two_tunnels_and_is_removed_cleanly(
    root: DebRoot, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    t0 = time.monotonic()
    deb, lintian = build_from_clean_clone(tmp_path)
    t_build = time.monotonic() - t0

    t1 = time.monotonic()
    shutil.copy(deb, root.path / "tmp" / deb.name)
    root.apt("update", "-qq")
    root.apt("install", "--no-install-recommends", f"/tmp/{deb.name}")
    t_install = time.monotonic() - t1
    assert "usage: tapliance" in root.run("tapliance", "--help")
    assert root.run("stat", "-c", "%a %U %G", "/etc/tapliance").split() == ["700", "tapliance", "tapliance"]
    assert root.run("getent", "passwd", "tapliance").split(":")[6].strip() == "/usr/sbin/nologin"
    for f in ("lib/systemd/system/tapliance@.service", "usr/share/man/man8/tapliance.8.gz",
              "usr/share/man/man5/tapliance.toml.5.gz", "usr/share/bash-completion/completions/tapliance"):  # fmt: skip
        assert (root.path / f).is_file(), f
    unit = (root.path / "lib/systemd/system/tapliance@.service").read_text()
    assert "ExecStart=/usr/bin/tapliance up -c /etc/tapliance/%i.toml" in unit and "User=tapliance" in unit

    prefix = netns.unique_prefix("tp")
    try:
        t2 = time.monotonic()
        spaces = start_two_tunnels(root, prefix)
        ping = ["ip", "netns", "exec", spaces["a"], "ping", "-c", "3", "-i", "0.2", "-W", "2", OVERLAY["b"]]
        for _ in range(10):  # a, which knows b's endpoint, starts the handshake with its first packet
            r = subprocess.run(ping, capture_output=True, text=True, check=False)
            if r.returncode == 0:
                break
        assert r.returncode == 0, r.stdout + r.stderr
        status = root.run("tapliance", "status", "-c", "/etc/tapliance/a.toml", ns=spaces["a"])
        assert "state: up" in status, status
        t_run = time.monotonic() - t2

        # an enabled instance, as `systemctl enable tapliance@a` leaves it: remove must not leave it dangling
        wants = root.path / "etc/systemd/system/multi-user.target.wants"
        wants.mkdir(parents=True, exist_ok=True)
        (wants / "tapliance@a.service").symlink_to("/lib/systemd/system/tapliance@.service")

        t3 = time.monotonic()
        root.apt("remove", "tapliance")
        for s, ns in spaces.items():  # the tunnels were stopped: their TAPs are gone
            links = subprocess.run(["ip", "-n", ns, "-o", "link"], capture_output=True, text=True, check=True).stdout
            assert f"{prefix}t{s}" not in links, links
        assert not (root.path / "usr/lib/tapliance").exists() and not (root.path / "usr/bin/tapliance").exists()
        assert not (root.path / "lib/systemd/system/tapliance@.service").exists()
        assert not (wants / "tapliance@a.service").is_symlink()
        kept = sorted(p.name for p in (root.path / "etc/tapliance").iterdir())
        assert kept == ["a.key", "a.toml", "b.key", "b.toml"], kept
        assert "tapliance" in root.run("getent", "passwd", "tapliance")

        root.apt("purge", "tapliance")
        t_remove = time.monotonic() - t3
        assert not (root.path / "etc/tapliance").exists()
        assert root.run("getent", "passwd", "tapliance", check=False).strip() == ""
        assert root.run("getent", "group", "tapliance", check=False).strip() == ""
        assert "tapliance" not in root.run("dpkg-query", "-W", "-f", "${Package} ${Status}\n", check=False)
    finally:
        netns.cleanup(prefix)
    with capsys.disabled():
        warnings = [ln for ln in lintian.splitlines() if ln.startswith(("E:", "W:"))]
        print(
            f"\n{deb.name}: build from a clean clone {t_build:.0f} s, apt install in a clean root {t_install:.0f} s, "
            f"two tunnels up and pinging {t_run:.0f} s, remove + purge {t_remove:.0f} s; "
            f"lintian: {len(warnings)} warnings/errors: {warnings}"
        )
