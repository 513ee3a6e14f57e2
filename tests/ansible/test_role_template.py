"""The role's config template (roles/tapliance/templates/tapliance.toml.j2) rendered by the real Ansible
``template`` module, one inventory host per value of a variable, in one ``ansible-playbook`` run on a local
connection: the role's defaults as the inventory's group variables (the lowest precedence, as role defaults
have), its private constants (vars/main.yml) as the play's vars_files, and each host's own value on top. The
output is read back with the daemon's own config parser. No root, no ssh, writes only into tmp_path.
"""

from __future__ import annotations

import base64
import json
import shutil
import tomllib
from pathlib import Path
from typing import Any

from tapliance.config import Config, parse
from tests.ansible.test_playbooks import REPO, ansible, tool

ROLE = REPO / "roles" / "tapliance"
PEER_KEY = base64.b64encode(bytes(range(1, 33))).decode()


def render(tmp_path: Path, hosts: dict[str, dict[str, Any]]) -> dict[str, tuple[str, Config]]:
    """Render tapliance.toml for each host (its variables over the role's defaults); host -> (text, parsed)."""
    inv = tmp_path / "inventory"
    (inv / "group_vars" / "all").mkdir(parents=True)
    shutil.copy(ROLE / "defaults" / "main.yml", inv / "group_vars" / "all" / "defaults.yml")
    base = {
        "ansible_connection": "local",
        "ansible_python_interpreter": tool("python3"),
        "tapliance_peers": [{"name": "far", "public_key": PEER_KEY, "endpoint": "192.0.2.1:9123"}],
    }
    (inv / "hosts.json").write_text(json.dumps({"all": {"hosts": {h: {**base, **v} for h, v in hosts.items()}}}))
    out = tmp_path / "out"
    play = [
        {
            "hosts": "all",
            "gather_facts": False,
            "vars_files": [str(ROLE / "vars" / "main.yml")],
            "tasks": [
                {
                    "name": "Render tapliance.toml",
                    "ansible.builtin.template": {
                        "src": str(ROLE / "templates" / "tapliance.toml.j2"),
                        "dest": f"{out}/{{{{ inventory_hostname }}}}.toml",
                        "mode": "0600",
                    },
                }
            ],
        }
    ]
    (tmp_path / "render.yml").write_text(json.dumps(play))
    out.mkdir()
    p = ansible("ansible-playbook", "-i", str(inv), str(tmp_path / "render.yml"), timeout=120)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    texts = {h: (out / f"{h}.toml").read_text() for h in hosts}
    return {h: (t, parse(tomllib.loads(t))) for h, t in texts.items()}


def test_fastpath_renders_into_the_tunnel_section_only_when_set(tmp_path: Path) -> None:
    hosts: dict[str, dict[str, Any]] = {
        "unset": {},
        "off": {"tapliance_fastpath": False},
        "on": {"tapliance_fastpath": True},
        "yes": {"tapliance_fastpath": "yes"},  # what the argument spec accepts as a bool, as a string
        "no": {"tapliance_fastpath": "no"},
    }
    rendered = render(tmp_path, hosts)
    for host, want in [("unset", None), ("off", False), ("on", True), ("yes", True), ("no", False)]:
        text, cfg = rendered[host]
        assert cfg.tunnel.fastpath is want, (host, text)
        tunnel = tomllib.loads(text)["tunnel"]
        assert tunnel.get("fastpath") is want, (host, text)
        assert ("fastpath" in text) is (want is not None), f"{host}: unset renders no line\n{text}"
