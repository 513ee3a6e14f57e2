"""The native suite's wire output for fixed keys, randomness and clock is exactly what was recorded
(tests/unit/vectors/native-v1.json, made by tests/unit/wirevectors.py from the code before the core was
restructured): handshake initiation and response, data in both directions, fragments, a frame with a
virtio-net header, keepalives, a rekey, a cookie reply under load and the initiation carrying mac2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.wirevectors import record

RECORDED = json.loads((Path(__file__).parent / "vectors" / "native-v1.json").read_text())
NOW = record()


@pytest.mark.parametrize("scenario", sorted(RECORDED))
def test_wire_output_unchanged(scenario: str) -> None:
    want, got = RECORDED[scenario], NOW[scenario]
    assert len(got["log"]) == len(want["log"])
    for i, (g, w) in enumerate(zip(got["log"], want["log"], strict=True)):
        assert g == w, f"{scenario}: entry {i} differs"
    assert got.get("drops") == want.get("drops")


def test_vectors_cover_every_message_type() -> None:
    types = {bytes.fromhex(e["udp"])[0] for s in RECORDED.values() for e in s["log"] if "udp" in e}
    assert types == {1, 2, 3, 4}
