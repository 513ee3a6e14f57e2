"""The Ansible collection: scripts/build-collection makes tapliance-tapliance-<version>.tar.gz, ansible-galaxy
installs it into a fresh collections path, and a playbook of its own (not this repository's) that names the
role by its fully qualified name deploys the L2-bridge netns lab as playbooks/site.yml does: verify.yml sees
traffic through the tunnel, and a second run changes nothing. The repository's roles/ is kept out of reach
(ANSIBLE_ROLES_PATH empty, no roles/ beside the playbook), so only the installed collection can serve it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tapliance.lab import netns
from tapliance.lab.lab import Lab

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PLAYBOOK = """\
- name: Deploy tapliance from the installed collection
  hosts: tapliance
  become: true
  gather_facts: false
  roles:
    - role: tapliance.tapliance.tapliance
"""


@pytest.fixture
def lab() -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, sshd per box); run via scripts/test")
    lab = Lab("l2-bridge", prefix=netns.unique_prefix("tc"), echo=False)
    try:
        yield lab
    finally:
        lab.down(quiet=True)
        assert lab.leftovers() == []


def test_collection_installs_and_deploys_the_lab_by_fqcn(
    lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    t0 = time.monotonic()
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    built = subprocess.run(
        [str(REPO / "scripts" / "build-collection"), str(tmp_path / "out")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    tarball = Path(built.stdout.splitlines()[-1])
    assert tarball.name.startswith("tapliance-tapliance-") and tarball.is_file()
    collections = tmp_path / "collections"
    subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "-p", str(collections), str(tarball)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    installed = collections / "ansible_collections" / "tapliance" / "tapliance"
    assert (installed / "roles" / "tapliance" / "tasks" / "main.yml").is_file()
    assert (installed / "plugins" / "modules" / "tapliance_key.py").is_file()
    t_collection = time.monotonic() - t0

    playbook = tmp_path / "play" / "deploy.yml"
    playbook.parent.mkdir()
    playbook.write_text(PLAYBOOK)
    (tmp_path / "no-roles").mkdir()
    only_collection = {"ANSIBLE_COLLECTIONS_PATH": str(collections), "ANSIBLE_ROLES_PATH": str(tmp_path / "no-roles")}

    lab.build()
    lab.build_wheelhouse()
    first = lab.ansible(str(playbook), env_extra=only_collection)
    assert first.rc == 0, first.output[-6000:]
    assert "TASK [tapliance.tapliance.tapliance : Keys | make sure this host has a private key" in first.output
    assert set(first.recap) == {"site-a", "site-b"}
    assert all(v["changed"] > 0 and v["failed"] == 0 for v in first.recap.values()), first.recap_lines
    report = lab.verify()
    rx, tx = report["received"], report["sent"]
    assert isinstance(rx, dict) and isinstance(tx, dict) and rx["sha256"] == tx["sha256"]
    second = lab.ansible(str(playbook), env_extra=only_collection)
    assert second.rc == 0, second.output[-6000:]
    assert all(v["changed"] == 0 and v["failed"] == 0 for v in second.recap.values()), second.recap_lines
    with capsys.disabled():
        print(
            f"\n{tarball.name}: build + install {t_collection:.0f} s; deploy of l2-bridge by FQCN "
            f"{first.seconds:.0f} s, verify, second run {second.seconds:.0f} s (changed=0); "
            f"total {time.monotonic() - t0:.0f} s"
        )
