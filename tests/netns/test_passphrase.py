"""Shared-secret mode with real daemons: two sites that share only a passphrase carry a sha256-checked
transfer; with a wrong passphrase there is no tunnel, and the failed guesses are counted."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.netns.transfer import transfer
from tests.netns.tunnel import OVERLAY, PORT, UNDERLAY, TunnelLab

pytestmark = pytest.mark.netns


def _config(lab: TunnelLab, n: str, passphrase: str, *, endpoint: bool, guesses: int = 10) -> Path:
    s = lab.sides[n]
    other = "b" if n == "a" else "a"
    pw = lab.dir / f"{n}.pass"
    pw.write_text(passphrase + "\n")
    pw.chmod(0o600)
    ep = f'endpoint = "{UNDERLAY[other]}:{PORT}"\n' if endpoint else ""
    s.config.write_text(
        f'[interface]\nname = "tl0"\naddresses = ["{OVERLAY[n]}/24"]\n'
        f'[tunnel]\nlisten = "{UNDERLAY[n]}:{PORT}"\nprivate_key_file = "{s.name}.key"\n'
        f'control_socket = "{s.sock}"\nkeepalive = 2\npassphrase_guesses = {guesses}\n'
        f'[[peer]]\nname = "{other}"\npassphrase_file = "{pw}"\n{ep}'
        f'[log]\nlevel = "debug"\n'
    )
    return s.config


def _peer(lab: TunnelLab, n: str) -> dict[str, object]:
    return lab.status(n)["peers"][0]  # type: ignore[index, no-any-return]


def _drops(lab: TunnelLab, n: str) -> dict[str, int]:
    return lab.status(n)["drops"]  # type: ignore[return-value]


def test_two_daemons_with_only_a_passphrase_carry_a_checked_transfer(lab: TunnelLab) -> None:
    _config(lab, "a", "a passphrase of five words", endpoint=True)
    _config(lab, "b", "a passphrase of five words", endpoint=False)  # b learns a's address
    lab.start("a")
    lab.start("b")
    lab.wait_ping("a", OVERLAY["b"], timeout=20)
    a, b = _peer(lab, "a"), _peer(lab, "b")
    assert a["paired"] is True and b["paired"] is True and a["pairings"] == b["pairings"] == 1
    assert a["public_key"] == lab.status("b")["public_key"] and b["public_key"] == lab.status("a")["public_key"]
    transfer(lab.sides["a"].ns, lab.sides["b"].ns, OVERLAY["b"], 8 << 20)
    transfer(lab.sides["b"].ns, lab.sides["a"].ns, OVERLAY["a"], 2 << 20, port=5002)
    for n in ("a", "b"):
        assert not {k for k in _drops(lab, n) if k.startswith("pair_")}, _drops(lab, n)
    # a restart of the dialing side: it pairs again and traffic resumes without an operator
    lab.stop("a")
    lab.start("a")
    lab.wait_ping("a", OVERLAY["b"], timeout=20)
    assert _peer(lab, "b")["pairings"] == 2


def test_wrong_passphrase_gives_no_tunnel_and_counts_each_guess(lab: TunnelLab) -> None:
    _config(lab, "a", "a passphrase of five words", endpoint=True, guesses=2)
    _config(lab, "b", "a passphrase of six words", endpoint=False, guesses=2)
    lab.start("a")
    lab.start("b")
    assert not lab.ping("a", OVERLAY["b"], count=3)
    time.sleep(12)  # a retries every 5 s, within its budget of 2 guesses at once and 2 a minute
    assert not lab.ping("a", OVERLAY["b"], count=2)
    failed = _drops(lab, "a").get("pair_failed", 0)
    assert 1 <= failed <= 3, _drops(lab, "a")
    assert _peer(lab, "a")["paired"] is False and _peer(lab, "b")["paired"] is False
    assert _peer(lab, "a")["state"] != "up" and _peer(lab, "b")["state"] != "up"
