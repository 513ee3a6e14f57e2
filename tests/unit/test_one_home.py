"""Each name and default has one home, and what repeats it elsewhere is checked against that home:
drop reasons (tapliance.proto.drops) in docs/protocol.md; config keys and defaults (tapliance.config.model)
in the README's configuration reference and in the Ansible role's defaults and argument_specs; suite names
(tapliance.suites) in the config's choices and the role's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tapliance.config import DEFAULT_PORT, InterfaceConfig, LogConfig, TunnelConfig
from tapliance.config.model import DEFAULT_MTU, Config
from tapliance.config.peer import PeerConfig
from tapliance.config.pool import PoolConfig
from tapliance.config.reference import markdown
from tapliance.proto.drops import Drop
from tapliance.suites import NATIVE, REGISTRY

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "tapliance"


def drop_table() -> str:
    rows = [f"| `{d.value}` | {d.meaning} |" for d in Drop]
    return "\n".join(["| reason | counted when |", "|--------|--------------|", *rows])


def test_docs_list_every_drop_reason_with_its_meaning() -> None:
    doc = (ROOT / "docs" / "protocol.md").read_text()
    assert drop_table() in doc, "docs/protocol.md's drop table is stale: run scripts/docs-tables"


def test_drop_reasons_are_unique_and_snake_case() -> None:
    assert len({d.value for d in Drop}) == len(Drop)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", d.value) and d.meaning for d in Drop)


def test_readme_configuration_reference_is_generated_from_the_model() -> None:
    readme = (ROOT / "README.md").read_text()
    assert markdown() in readme, "README's configuration table is stale: run scripts/docs-tables"


def test_suite_choices_come_from_the_registry() -> None:
    from dataclasses import fields

    (suite,) = [f for f in fields(TunnelConfig) if f.name == "suite"]
    assert suite.metadata["choices"] == NATIVE
    assert set(NATIVE) <= set(REGISTRY)


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


ROLE_DEFAULTS = _yaml(ROLE / "defaults" / "main.yml")
SPECS = _yaml(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
T, IF, L, P = TunnelConfig(), InterfaceConfig(), LogConfig(), PeerConfig()
# role variable -> the config default it renders into tapliance.toml (roles/tapliance/templates/tapliance.toml.j2)
SAME: dict[str, Any] = {
    "tapliance_interface_name": IF.name,
    "tapliance_interface_mtu": DEFAULT_MTU,  # interface.mtu unset: 1500 for the native peers the role deploys
    "tapliance_interface_addresses": list(IF.addresses),
    "tapliance_interface_mac": IF.mac or "",
    "tapliance_listen_address": T.listen.host,
    "tapliance_listen_port": T.listen.port,
    "tapliance_suite": T.suite,
    "tapliance_keepalive": T.keepalive,
    "tapliance_underlay_mtu": T.underlay_mtu,
    "tapliance_log_level": L.level,
    "tapliance_fastpath": T.fastpath,  # None (auto): rendered only when set
    # per-peer keys: the role renders a host's value into each of its [[peer]]s (a hub: into the peer of that
    # host), and only when it differs from the default
    "tapliance_accept_addresses": P.accept_addresses,
    "tapliance_accept_routes": list(P.accept_routes),
    "tapliance_reserve": list(P.reserve),
    "tapliance_lease": P.lease,
}


@pytest.mark.parametrize("var", sorted(SAME))
def test_role_defaults_equal_the_config_defaults(var: str) -> None:
    assert ROLE_DEFAULTS[var] == SAME[var], f"roles/tapliance/defaults/main.yml: {var}"
    assert SPECS[var]["default"] == SAME[var], f"roles/tapliance/meta/argument_specs.yml: {var}"


def test_role_choices_equal_the_config_choices() -> None:
    assert SPECS["tapliance_suite"]["choices"] == list(NATIVE)
    from dataclasses import fields

    (level,) = [f for f in fields(LogConfig) if f.name == "level"]
    assert SPECS["tapliance_log_level"]["choices"] == list(level.metadata["choices"])


def test_default_port_and_control_socket() -> None:
    assert T.listen.port == DEFAULT_PORT
    assert ROLE_DEFAULTS["tapliance_control_socket"] == "{{ tapliance_run_dir }}/{{ tapliance_interface_name }}.sock"
    assert ROLE_DEFAULTS["tapliance_run_dir"] == "/run/tapliance"  # as Config.control_socket's default


def test_every_role_variable_is_specified_and_every_spec_has_a_default_in_defaults() -> None:
    assert set(ROLE_DEFAULTS) == set(SPECS)


def test_role_pool_options_are_the_pool_keys() -> None:
    """tapliance_pool renders [pool] key by key: its options are exactly the section's settings, and empty
    means no section (the config's default)."""
    from dataclasses import fields

    assert ROLE_DEFAULTS["tapliance_pool"] == {} and SPECS["tapliance_pool"]["default"] == {}
    assert {f.name for f in fields(Config) if f.name == "pool"} == {"pool"}
    assert sorted(SPECS["tapliance_pool"]["options"]) == sorted(f.name for f in fields(PoolConfig))


def test_role_peer_options_that_are_peer_keys() -> None:
    from dataclasses import fields

    keys = {f.name for f in fields(PeerConfig)}
    options = set(SPECS["tapliance_peers"]["options"])
    assert options - {"host"} <= keys, options - keys
    assert {"reserve", "lease", "accept_addresses", "accept_routes"} <= options
