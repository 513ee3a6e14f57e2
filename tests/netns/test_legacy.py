"""Every legacy suite between two real ``tapliance up`` daemons in two namespaces: the TAP MTU the format
fits, ping (up to a full-size frame with DF), a sha256-checked 16 MiB transfer, and the files the
originals keep (tinytaptunnel's key created 0600, tappet's nonce incremented at each start)."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.netns.legacy import MIB, PORT, SUITE_MTU, LegacyLab, suite_lines
from tests.netns.transfer import transfer
from tests.netns.tunnel import OVERLAY, UNDERLAY

# drops that real traffic between two honest ends never causes
BAD_DROPS = ("legacy_auth", "legacy_short", "legacy_replay", "legacy_reflected", "ttt_stale", "ttt_future")


@pytest.fixture
def lab(prefix: str, tmp_path: Path) -> Iterator[LegacyLab]:
    lab = LegacyLab.build(prefix, tmp_path)
    try:
        yield lab
    finally:
        lab.stop_all()


def mtu(lab: LegacyLab, n: str, dev: str = "tl0") -> int:
    link = json.loads(lab.sh(n, ["ip", "-j", "link", "show", dev]).stdout)[0]
    return int(link["mtu"])


def start_pair(lab: LegacyLab, suite: str, lines: dict[str, str]) -> None:
    lab.write_legacy("a", suite, lines["a"], endpoint=True)
    lab.write_legacy("b", suite, lines["b"], endpoint=False)  # learns a's address from its first datagram
    lab.start("b")
    lab.start("a")


@pytest.mark.parametrize("suite", list(SUITE_MTU))
def test_suite_carries_ping_and_16mib(lab: LegacyLab, suite: str) -> None:
    start_pair(lab, suite, suite_lines(lab.dir, suite))
    assert mtu(lab, "a") == mtu(lab, "b") == SUITE_MTU[suite]
    lab.wait_ping("a", OVERLAY["b"], timeout=15)
    assert lab.ping("b", OVERLAY["a"], count=2)
    full = SUITE_MTU[suite] - 28  # ICMP payload of a frame that fills the TAP MTU, DF set
    r = lab.sh("a", ["ping", "-c", "2", "-i", "0.2", "-W", "2", "-M", "do", "-s", str(full), OVERLAY["b"]], check=False)
    assert r.returncode == 0, r.stdout.decode() + lab.logs()
    transfer(lab.sides["a"].ns, lab.sides["b"].ns, OVERLAY["b"], 16 * MIB)
    for n in ("a", "b"):
        st = lab.status(n)
        (peer,) = st["peers"]  # type: ignore[misc]
        assert peer["suite"] == suite and peer["state"] == "up"
        assert peer["rx_frames"] > 1000 and peer["tx_frames"] > 1000
        bad = {k: v for k, v in st["drops"].items() if k in BAD_DROPS}  # type: ignore[attr-defined]
        assert not bad, f"{n}: {bad}"
    assert lab.status("b")["peers"][0]["endpoint"] == f"{UNDERLAY['a']}:{PORT}"  # type: ignore[index]


def test_tinytaptunnel_key_file_is_created_0600(lab: LegacyLab) -> None:
    lines = suite_lines(lab.dir, "tinytaptunnel")
    key_a = lab.dir / "ttt-a.key"
    key_a.unlink()  # a has none: it makes one, as tinytaptunnel does
    lab.write_legacy("a", "tinytaptunnel", lines["a"], endpoint=True)
    lab.start("a")
    assert key_a.stat().st_mode & 0o777 == 0o600
    content = key_a.read_bytes()
    assert len(content) == 44 and not content.endswith(b"\n")  # base64 of 32 bytes, no newline (the original's)
    (lab.dir / "ttt-b.key").write_bytes(content)  # the operator copies it to the far end
    lab.write_legacy("b", "tinytaptunnel", lines["b"], endpoint=False)
    lab.start("b")
    lab.wait_ping("a", OVERLAY["b"], timeout=15)
    lab.stop("a")
    lab.start("a")  # the second start reads the file it made
    assert key_a.read_bytes() == content
    lab.wait_ping("a", OVERLAY["b"], timeout=15)


def test_tappet_nonce_file_is_incremented_at_each_start(lab: LegacyLab) -> None:
    lines = suite_lines(lab.dir, "tappet")
    nonce = {n: lab.dir / f"tappet-{n}.nonce" for n in "ab"}
    start_pair(lab, "tappet", lines)
    assert [nonce[n].read_bytes() for n in "ab"] == [b"\x08\x00\x00\x00", b"\x01\x00\x00\x00"]
    lab.wait_ping("a", OVERLAY["b"], timeout=15)
    for expect in (9, 10):
        lab.stop("a", signal.SIGKILL)  # even without a clean exit: the file was written before the first datagram
        lab.sides["a"].sock.unlink()  # stale: start() waits for the new daemon's socket
        lab.start("a")
        assert int.from_bytes(nonce["a"].read_bytes(), "little") == expect
        lab.wait_ping("a", OVERLAY["b"], timeout=15)  # the server accepts the client's new, larger prefix
    assert nonce["b"].read_bytes() == b"\x01\x00\x00\x00"
