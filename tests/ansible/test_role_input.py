"""Bad playbook variables stop the tapliance role in its validate phase, with a message that names the
variable and what is wrong, before anything is changed on the host.

Runs the real playbooks/site.yml with ansible-playbook against two inventory hosts on a local connection,
with a tag that selects no phase: only what is tagged ``always`` runs (the argument-spec validation and
validate.yml), which reads and changes nothing. All target paths point into tmp_path, so a phase that ran
by mistake would leave files there; the test checks none appear. No root needed.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.ansible.test_playbooks import ansible, tool

GOOD: dict[str, Any] = {"tapliance_peers": [{"host": "peer1"}], "tapliance_interface_addresses": ["10.1.2.3/24"]}

CASES: list[tuple[str, dict[str, Any], str]] = [
    ("port-not-a-number", {"tapliance_listen_port": "ninety"}, "tapliance_listen_port"),
    ("peers-not-a-list", {"tapliance_peers": "site-b"}, "tapliance_peers"),
    ("unknown-peer-option", {"tapliance_peers": [{"host": "peer1", "endpiont": "1.2.3.4:9123"}]}, "endpiont"),
    ("suite-unknown", {"tapliance_suite": "rot13"}, "tapliance_suite"),
    ("no-peers", {"tapliance_peers": []}, "tapliance_peers is empty for h1"),
    (
        "host-and-key",
        {"tapliance_peers": [{"host": "peer1", "public_key": "A" * 43 + "="}]},
        "give either host (an inventory host other than this one) or public_key",
    ),
    ("peer-not-in-inventory", {"tapliance_peers": [{"host": "nosuchhost"}]}, "give either host"),
    ("short-key", {"tapliance_peers": [{"public_key": "abc"}]}, "44 base64 characters"),
    ("bridge-without-name", {"tapliance_bridge": {"ports": ["eth1"]}}, "tapliance_bridge needs a name"),
    ("nat-without-uplink", {"tapliance_nat": {"masquerade": True}}, "tapliance_nat needs an uplink"),
    ("long-ifname", {"tapliance_interface_name": "tap-much-too-long"}, "at most 15"),
    ("empty-wheelhouse", {"tapliance_wheelhouse_dir": "EMPTY"}, "must hold exactly one tapliance-*.whl, found 0"),
    ("peer-group-unknown", {"tapliance_peer_groups": ["nosuch"]}, "names groups the inventory does not have: nosuch"),
    ("pool-without-range", {"tapliance_pool": {"gateway": ["10.1.2.3"]}}, "tapliance_pool needs an ipv4 or ipv6 range"),
    (
        "pool-without-tap-address",
        {"tapliance_pool": {"ipv4": "10.1.2.100-10.1.2.199"}, "tapliance_interface_addresses": []},
        "tapliance_pool needs an ipv4 or ipv6 range inside the subnet of an address of the TAP",
    ),
    ("pool-unknown-key", {"tapliance_pool": {"ipv4": "10.1.2.100-10.1.2.199", "range": "x"}}, "range"),
    ("reserve-not-a-list", {"tapliance_reserve": {"ip": "10.1.2.150"}}, "tapliance_reserve"),
    (
        "fastpath-not-a-bool",
        {"tapliance_fastpath": "fast"},
        "argument 'tapliance_fastpath' is of type str and we were unable to convert to bool",
    ),
]


def run_role(tmp_path: Path, extra: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    wheels = tmp_path / "wheels"
    wheels.mkdir(exist_ok=True)
    (wheels / "tapliance-0.1.0-py3-none-any.whl").touch()
    (tmp_path / "empty").mkdir(exist_ok=True)
    target = tmp_path / "target"
    base = {f"tapliance_{d}_dir": str(target / d) for d in ("config", "venv", "state", "run", "log")}
    vars_ = {**base, "tapliance_wheelhouse_dir": str(wheels), **GOOD, **extra}
    if vars_["tapliance_wheelhouse_dir"] == "EMPTY":
        vars_["tapliance_wheelhouse_dir"] = str(tmp_path / "empty")
    local = {
        "ansible_connection": "local",
        "ansible_become": False,
        "ansible_python_interpreter": str(Path(tool("python3"))),
    }
    inventory = {"all": {"children": {"tapliance": {"hosts": {"h1": {**local, **vars_}, "peer1": local}}}}}
    inv = tmp_path / "inventory.json"
    inv.write_text(json.dumps(inventory))
    args = ("-i", str(inv), "--limit", "h1", "--tags", "no_phase_at_all", "playbooks/site.yml")
    p = ansible("ansible-playbook", *args, timeout=120)
    assert not target.exists(), "a phase ran although only validation was selected"
    return p


@pytest.mark.parametrize(
    "extra",
    [{}, {"tapliance_peers": [], "tapliance_peer_groups": ["tapliance"], "tapliance_pool": {"ipv4": "10.1.2.0/25"}}],
    ids=["peers", "peer-group-and-pool"],
)
def test_good_input_passes_validation(tmp_path: Path, extra: dict[str, Any]) -> None:
    p = run_role(tmp_path, extra)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "failed=0" in p.stdout


@pytest.mark.parametrize(("extra", "message"), [(e, m) for _, e, m in CASES], ids=[c[0] for c in CASES])
def test_bad_input_fails_in_validation_with_a_clear_message(
    tmp_path: Path, extra: dict[str, Any], message: str
) -> None:
    p = run_role(tmp_path, extra)
    out = p.stdout + p.stderr
    assert p.returncode == 2, out[-3000:]
    assert "failed=1" in p.stdout
    assert message in " ".join(out.split()), out[-3000:]
