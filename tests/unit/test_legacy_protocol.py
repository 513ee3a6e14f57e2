"""Each legacy suite as the daemon runs it: built from config text and the predecessors' own key, nonce
and pad files, on the LegacyProtocol adapter, two ends carry frames both ways; the endpoint is learnt
only from authenticated datagrams; garbage is a counted drop; the TAP MTU fits the format."""

from __future__ import annotations

from pathlib import Path

import pytest

from tapliance import config as C
from tests.unit.legacy_pair import SUITES, LegacyNet
from tests.unit.pair import MAC_A, MAC_B, frame

ATTACKER = ("203.0.113.9", 666)


@pytest.mark.parametrize("suite", SUITES)
def test_two_ends_carry_frames_both_ways(tmp_path: Path, suite: str) -> None:
    net = LegacyNet(tmp_path, suite)
    net.advance(3)  # salty's key exchange, tappet's start-up keepalive
    # distinct frames: quicktun-raw and -nacl0 refuse a datagram identical to one of the last 0.5 s
    f1 = [frame(MAC_B, MAC_A, b"a to b %d" % i * 100) for i in range(3)]
    f2 = [frame(MAC_A, MAC_B, b"b to a %d" % i + bytes(40)) for i in range(3)]  # Ethernet minimum (60)
    for x, y in zip(f1, f2, strict=True):
        net.send(net.a, x)
        net.run()
        net.send(net.b, y)
        net.run()
    assert net.b.tap == f1 and net.a.tap == f2
    assert net.b.proto.peer.endpoint == net.a.addr  # learnt from A's authenticated datagrams
    assert net.a.node.drops == {} and net.b.node.drops == {}
    st = net.b.node.status(net.now)["peers"][0]
    assert st["state"] == "up" and st["suite"] == suite and st["rx_frames"] == 3
    assert (st["insecure"] is not None) == (suite in ("tinytaptunnel", "quicktun-raw", "quicktun-nacl0", "otptunnel"))


@pytest.mark.parametrize("suite", SUITES)
def test_garbage_is_a_counted_drop_and_moves_no_endpoint(tmp_path: Path, suite: str) -> None:
    net = LegacyNet(tmp_path, suite)
    net.advance(3)
    net.send(net.a, frame(MAC_B, MAC_A, b"x" * 60))
    net.run()
    before = net.b.proto.peer.endpoint
    n = sum(net.b.node.drops.values())
    for junk in (b"", b"\x00", b"\x80" + bytes(200), bytes(range(256)) * 3):
        net.b.proto.on_datagram(junk, ATTACKER, net.now)
    if suite != "quicktun-raw":  # raw cannot tell garbage from a frame: only its endpoint stays put
        assert sum(net.b.node.drops.values()) == n + 4
        assert net.b.node.to_tap == []
    assert net.b.proto.peer.endpoint == before


def test_a_replayed_datagram_is_dropped(tmp_path: Path) -> None:
    net = LegacyNet(tmp_path, "quicktun-nacltai")
    net.send(net.a, frame(MAC_B, MAC_A, b"once"))
    ((d, src, _dst),) = net.wire
    net.run()
    net.b.proto.on_datagram(d, src, net.now)
    assert net.b.node.drops == {"legacy_replay": 1} and len(net.b.tap) == 1


def test_nothing_is_sent_to_a_peer_whose_address_is_unknown(tmp_path: Path) -> None:
    net = LegacyNet(tmp_path, "quicktun-nacltai")
    net.send(net.b, frame(MAC_A, MAC_B, b"too early"))  # b has heard nothing from a yet
    assert net.wire == [] and net.b.node.drops == {"no_endpoint": 1}


@pytest.mark.parametrize(
    ("suite", "mtu"),
    [
        ("tinytaptunnel", 1418),
        ("tappet", 1402),
        ("quicktun-nacltai", 1426),
        ("otptunnel", 1436),
        ("otp", 1434),
        ("quicktun-salty", 1438),
    ],
)
def test_the_tap_mtu_fits_the_format(tmp_path: Path, suite: str, mtu: int) -> None:
    net = LegacyNet(tmp_path, suite)
    cfg = C.load(tmp_path / "a.toml")
    assert cfg.tap_mtu == mtu
    assert net.a.proto.codec.tap_mtu(1500) == mtu
    explicit = C.load(_with(tmp_path / "a.toml", "[interface]\nmtu = 1300\n"))
    assert explicit.tap_mtu == 1300


def _with(path: Path, text: str) -> Path:
    p = path.with_name("explicit.toml")
    p.write_text(text + path.read_text())
    return p


def test_tappet_writes_its_nonce_back_at_every_start(tmp_path: Path) -> None:
    LegacyNet(tmp_path, "tappet")
    assert (tmp_path / "a.nonce").read_bytes() == b"\x08\x00\x00\x00"
    assert (tmp_path / "b.nonce").read_bytes() == b"\x01\x00\x00\x00"
