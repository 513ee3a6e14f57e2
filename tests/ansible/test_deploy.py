"""Real `ansible-playbook` runs against netns lab boxes over ssh, for both deployments:

first run (deploys, restarts) -> traffic check (playbooks/verify.yml: ping + 8 MiB TCP with sha256) ->
second run changed=0 -> `--check --diff` with a changed variable shows the diff and changes nothing ->
`--limit` to one end (the peer's key is read from the other host) changed=0 -> lab down leaves nothing.
l2-bridge runs a mixed pair (a supported case): site-a on the default (the compiled data path's worker, point to
point), site-b with ``tapliance_fastpath: false`` on the Python path, each checked in its ``tapliance status
--json``; l3-nat runs both ends on the default.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tapliance.lab import netns
from tapliance.lab.lab import Lab, RunResult


@pytest.fixture(params=["l2-bridge", "l3-nat"])
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, sshd per box); run via scripts/test")
    lab = Lab(request.param, prefix=netns.unique_prefix("ta"), echo=False)
    try:
        yield lab
    finally:
        lab.down(quiet=True)
        assert lab.leftovers() == []


def recap(r: RunResult) -> str:
    return "\n".join(r.recap_lines)


def explain(r: RunResult) -> str:
    return f"exit {r.rc}\n{r.output[-6000:]}"


def fastpath_inventory(lab: Lab) -> tuple[str, ...]:
    """ansible-playbook arguments giving l2-bridge's site-b the Python data path (none for l3-nat)."""
    if lab.topo.name != "l2-bridge":
        return ()
    extra = lab.dir / "fastpath.yml"
    extra.write_text("all:\n  hosts:\n    site-b:\n      tapliance_fastpath: false\n")
    return ("-i", str(extra))


def data_path(lab: Lab, host: str) -> str:
    """The data path the daemon on ``host`` runs, from ``tapliance status --json`` there (over ssh)."""
    paths = lab.inventory_vars(host)
    status = [f"{paths['tapliance_venv_dir']}/bin/tapliance", "status", "--json"]
    argv = lab.ssh_argv(host, *status, "-s", f"{paths['tapliance_run_dir']}/tap0.sock")
    p = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    path: str = json.loads(p.stdout)["data_path"]
    return path


def test_deploy_verify_idempotent_checkmode_limit(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    t0 = time.monotonic()
    lab.build()
    lab.build_wheelhouse()
    fp = fastpath_inventory(lab)
    first = lab.deploy(*fp)
    assert first.rc == 0, explain(first)
    assert set(first.recap) == {"site-a", "site-b"}
    assert all(v["changed"] > 0 and v["failed"] == 0 for v in first.recap.values()), recap(first)

    report = lab.verify()
    rx, tx = report["received"], report["sent"]
    assert isinstance(rx, dict) and isinstance(tx, dict)
    assert rx["sha256"] == tx["sha256"] and rx["bytes"] == tx["bytes"] == 8 << 20
    paths = {h: data_path(lab, h) for h in ("site-a", "site-b")}
    assert paths == {"site-a": "compiled", "site-b": "python" if fp else "compiled"}, paths

    second = lab.deploy(*fp)
    assert second.rc == 0, explain(second)
    assert all(v["changed"] == 0 and v["failed"] == 0 for v in second.recap.values()), recap(second)

    cfg = Path(lab.inventory_vars("site-a")["tapliance_config_dir"]) / "tapliance.toml"
    before = cfg.read_bytes()
    check = lab.deploy(*fp, "--check", "--diff", "-e", "tapliance_keepalive=17")
    assert check.rc == 0, explain(check)
    assert "-keepalive = 10.0" in check.output and "+keepalive = 17.0" in check.output
    assert all(v["changed"] == 1 for v in check.recap.values()), recap(check)  # the config, nothing else
    assert cfg.read_bytes() == before

    limited = lab.deploy(*fp, "--limit", "site-b")
    assert limited.rc == 0, explain(limited)
    assert list(limited.recap) == ["site-b"] and limited.recap["site-b"]["changed"] == 0, recap(limited)

    # --limit with the peer down (its ssh port closed): a clear failure naming the peer and why
    down = lab.dir / "peer-down.yml"
    down.write_text("all:\n  hosts:\n    site-a:\n      ansible_host: 127.0.0.1\n      ansible_port: 1\n")
    unreachable = lab.deploy(*fp, "--limit", "site-b", "-i", str(down))
    assert unreachable.rc != 0, explain(unreachable)
    assert "peer site-a of site-b has no public key: it is not in this run" in unreachable.output, explain(unreachable)
    assert lab.verify()["received"], "the failed run must leave the working tunnel alone"

    with capsys.disabled():
        print(
            f"\n{lab.topo.name}: first run {first.seconds:.0f} s, verify, second run {second.seconds:.0f} s, "
            f"check {check.seconds:.0f} s, limit {limited.seconds:.0f} s, total {time.monotonic() - t0:.0f} s"
        )
        print("  first:  " + "\n          ".join(first.recap_lines))
        print("  second: " + "\n          ".join(second.recap_lines))
