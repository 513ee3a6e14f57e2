"""Differential: the compiled data path and the Python one produce identical wire bytes, TAP output, drop
counts, replay windows and counters for the same keys, clock and inputs, in every combination of the two
ends (tests/unit/fastpair.py lists what the scenario covers)."""

from __future__ import annotations

import pytest

from tapliance import fastpath
from tests.unit.fastpair import run

pytestmark = pytest.mark.skipif(fastpath.fast is None, reason=f"compiled path not built: {fastpath.unavailable}")
COMBOS = [(True, True), (True, False), (False, True)]


@pytest.fixture(autouse=True)
def _paths_as_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each end takes the path the test gives it: TAPLIANCE_FASTPATH (set by scripts/test's second run of the
    unit tier) would override the config of both."""
    monkeypatch.delenv(fastpath.ENV, raising=False)


@pytest.mark.parametrize("vnet", [False, True], ids=["plain", "offload"])
@pytest.mark.parametrize("fast", COMBOS, ids=["both-compiled", "a-compiled", "b-compiled"])
def test_compiled_and_python_paths_give_the_same_bytes(fast: tuple[bool, bool], vnet: bool) -> None:
    want = run(False, False, vnet)
    got = run(*fast, vnet)
    assert len(got["log"]) == len(want["log"])
    for i, (g, w) in enumerate(zip(got["log"], want["log"], strict=True)):
        assert g == w, f"entry {i} differs"
    assert got["drops"] == want["drops"]
    assert got["replay"] == want["replay"] and got["counters"] == want["counters"]


@pytest.mark.parametrize("vnet", [False, True], ids=["plain", "offload"])
def test_the_scenario_exercises_what_it_claims(vnet: bool) -> None:
    r = run(False, False, vnet)
    drops = r["drops"][1]
    assert drops.get("replay", 0) >= 4 and drops.get("decrypt", 0) >= 2 and drops.get("short", 0) == 1
    assert sum(1 for e in r["log"] if e.get("to_tap") == "b") >= 12
    udp = [bytes.fromhex(e["udp"]) for e in r["log"] if "udp" in e]
    assert any(d[3] > 1 for d in udp) and any(len(d) == 32 for d in udp)  # fragments and keepalives
    if vnet:  # a partial super-frame given up, its whole segments delivered
        assert drops.get("frag_overtaken", 0) >= 1, drops
