"""scripts/bench's reference rows: the bare Python relay carries traffic both in plaintext and sealed, at
its full TAP MTU without fragmenting the underlay, and the bench lab leaves nothing behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scripts.benchlib.lab import NETNS_DIR, OVERLAY, Lab
from scripts.benchlib.tunnels.pyrelay import PyRelay


@pytest.mark.parametrize("aead", [False, True], ids=["plaintext", "aead"])
def test_python_relay_reference_carries_full_size_frames(aead: bool, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, TAP devices); run via scripts/test")
    lab = Lab.create(tmp_path)
    try:
        relay = PyRelay("pyrelay-aead" if aead else "pyrelay", aead=aead)
        daemons = relay.up(lab, tmp_path)
        try:
            # 1372 bytes of ICMP payload = a 1400-byte IP packet: the TAP MTU, sent with DF
            out = lab.sh("a", ["ping", "-c", "3", "-i", "0.2", "-W", "2", "-M", "do", "-s", "1372", OVERLAY["b"]])
            assert b" 0% packet loss" in out.stdout
        finally:
            relay.down(lab, daemons)
        assert all(p.poll() is not None for p in daemons.procs.values())
    finally:
        lab.destroy()
    assert not any(NETNS_DIR.glob(f"{lab.prefix}*"))
