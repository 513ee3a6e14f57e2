"""Static quality bars for roles/ and playbooks/: --syntax-check of every playbook, ansible-lint with the
production profile (offline), and the argument specs covering every public variable. No root needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tapliance.lab.topology import load

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PLAYBOOKS = sorted([*REPO.glob("playbooks/*.yml"), REPO / "site.yml"])
ROLES = sorted(p.parent.parent for p in REPO.glob("roles/*/meta/main.yml"))


def tool(name: str) -> str:
    exe = BIN / name
    found = str(exe) if exe.exists() else shutil.which(name)
    if not found:
        pytest.skip(f"{name} not installed (scripts/bootstrap installs the test extras)")
    return found


def env() -> dict[str, str]:
    return {
        **os.environ,
        "ANSIBLE_ROLES_PATH": str(REPO / "roles"),
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "ANSIBLE_NOCOLOR": "1",
    }


def ansible(tool_name: str, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """An Ansible tool (ansible-playbook, ansible-lint, ...) from the repository with the tests' environment;
    its output captured, its exit status the caller's to judge."""
    return subprocess.run(
        [tool(tool_name), *args], cwd=REPO, env=env(), capture_output=True, text=True, check=False, timeout=timeout
    )


@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=lambda p: str(p.relative_to(REPO)))
@pytest.mark.parametrize("inventory", ["l2-bridge", "l3-nat", "hub"])
def test_syntax_check(playbook: Path, inventory: str) -> None:
    p = ansible("ansible-playbook", "--syntax-check", "-i", f"playbooks/inventories/{inventory}", str(playbook))
    assert p.returncode == 0, p.stdout + p.stderr


def test_ansible_lint_production_profile_offline() -> None:
    args = ("--offline", "-c", "tests/ansible/ansible-lint.yml", "--nocolor", "playbooks/", "roles/", "site.yml")
    p = ansible("ansible-lint", *args, timeout=600)
    assert p.returncode == 0, p.stdout[-5000:] + p.stderr[-5000:]
    assert "Profile 'production' was required, and it passed" in p.stdout + p.stderr


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_argument_specs_cover_public_defaults(role: Path) -> None:
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}
    spec = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert sorted(defaults) == sorted(spec), "every default is specified and every option has a default"
    for name, opt in spec.items():
        assert name.startswith(f"{role.name}_") and not name.startswith(f"{role.name}__"), name
        assert opt.get("description"), f"{name}: no description"
        if isinstance(defaults[name], str) and "{{" in defaults[name]:
            continue
        assert opt.get("default") == defaults[name], f"{name}: spec default differs from defaults/main.yml"


@pytest.mark.parametrize("topology", ["l2-bridge", "l3-nat", "hub"])
def test_vagrant_validate(topology: str, tmp_path: Path) -> None:
    """`vagrant validate` of the top-level Vagrantfile for each topology table: with --ignore-provider it names
    every machine it defines (the table's boxes); with the vagrant-libvirt plugin installed (scripts/vagrant-lab
    installs it) the libvirt provider options are validated too."""
    vagrant = shutil.which("vagrant")
    if not vagrant:
        pytest.skip("vagrant not installed (apt-get install --no-install-recommends vagrant)")
    env = {**os.environ, "TAPLIANCE_TOPOLOGY": topology, "VAGRANT_DOTFILE_PATH": str(tmp_path)}

    def validate(*args: str) -> str:
        p = subprocess.run(
            [vagrant, "validate", *args], cwd=REPO, capture_output=True, text=True, check=False, env=env, timeout=120
        )
        assert p.returncode == 0 and "validated successfully" in p.stdout, p.stdout + p.stderr
        return p.stdout

    out = validate("--ignore-provider")
    for name in (h.name for h in load(topology).hosts):
        assert f"==> {name}: Ignoring provider config" in out
    plugins = subprocess.run([vagrant, "plugin", "list"], capture_output=True, text=True, check=False).stdout
    if "vagrant-libvirt" in plugins:
        validate()
