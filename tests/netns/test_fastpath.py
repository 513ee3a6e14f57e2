"""The compiled data path between real daemons (issue 16): a mixed pair, one end compiled and one end Python,
carries a sha256-checked transfer both ways, with offloads (super-frames, GSO/GRO) and without; the config key
selects the path when the environment does not, and the environment overrides the config."""

from __future__ import annotations

import pytest

from tapliance import fastpath
from tests.netns.transfer import transfer
from tests.netns.tunnel import OVERLAY, TunnelLab

pytestmark = pytest.mark.skipif(fastpath.fast is None, reason=f"compiled path not built: {fastpath.unavailable}")
ENV = fastpath.ENV


@pytest.mark.parametrize("offload", [True, False], ids=["offload", "plain"])
def test_a_mixed_pair_carries_a_checked_transfer_both_ways(lab: TunnelLab, offload: bool) -> None:
    for n in ("a", "b"):
        lab.write_config(n, iface_extra=f"offload = {str(offload).lower()}")
    lab.start("a", env={ENV: "1"})
    lab.start("b", env={ENV: "0"})
    lab.wait_ping("a", OVERLAY["b"])
    assert lab.status("a")["data_path"] == "compiled" and lab.status("b")["data_path"] == "python"
    assert lab.ping("a", OVERLAY["b"], count=2, size=8000)  # fragmented frames both ways
    transfer(lab.sides["a"].ns, lab.sides["b"].ns, OVERLAY["b"], 16 << 20)
    transfer(lab.sides["b"].ns, lab.sides["a"].ns, OVERLAY["a"], 16 << 20, port=5003)
    for n in ("a", "b"):
        drops = lab.status(n)["drops"]
        assert not {"decrypt", "internal_error", "bad_header"} & set(drops), (n, drops)  # type: ignore[arg-type]


def test_the_config_key_selects_and_the_environment_overrides(lab: TunnelLab) -> None:
    lab.write_config("a", tunnel_extra="fastpath = true")
    lab.write_config("b", tunnel_extra="fastpath = true")
    lab.start("a", env={ENV: ""})
    lab.start("b", env={ENV: "0"})
    lab.wait_ping("a", OVERLAY["b"])
    assert lab.status("a")["data_path"] == "compiled" and lab.status("b")["data_path"] == "python"
    transfer(lab.sides["b"].ns, lab.sides["a"].ns, OVERLAY["a"], 4 << 20)
    assert "data path: Python (tunnel.fastpath = false, or TAPLIANCE_FASTPATH=0)" in lab.sides["b"].log.read_text()


def test_the_default_runs_the_worker_point_to_point_and_python_where_no_worker_can(lab: TunnelLab) -> None:
    """tunnel.fastpath unset (auto): a's one peer is point to point, so the compiled path runs with its worker;
    b has a second peer configured, so no worker can run and b stays on the Python path, saying why."""
    from tapliance import keyfile

    lab.write_config("a")
    other = keyfile.encode(keyfile.public_from_private(keyfile.generate_private()))
    lab.write_config("b", extra=f'[[peer]]\nname = "elsewhere"\npublic_key = "{other}"\n')
    lab.start("a", env={ENV: ""})
    lab.start("b", env={ENV: ""})
    lab.wait_ping("a", OVERLAY["b"])
    assert lab.status("a")["data_path"] == "compiled" and lab.status("b")["data_path"] == "python"
    transfer(lab.sides["a"].ns, lab.sides["b"].ns, OVERLAY["b"], 4 << 20)
    log_a, log_b = (lab.sides[n].log.read_text() for n in ("a", "b"))
    assert "with a worker thread" in log_a, log_a[-2000:]
    assert "data path: Python (no worker thread: not point to point" in log_b, log_b[-2000:]
