"""The pure parts of scripts/torture: the fuzzer (each of its datagrams is one counted drop for an
established node, in-process here as at a running daemon there), the relay's record, the flood's packets,
the table."""

from __future__ import annotations

import socket
from pathlib import Path

from scripts.torturelib import flood, fuzzgen, relay, report
from scripts.torturelib.cli import parse_args
from tapliance.proto.native import handshake as hs
from tapliance.proto.native import primitives as P
from tapliance.proto.native import wire as W
from tests.unit.pair import MAC_A, MAC_B, frame, pair

ATTACKER = ("203.0.113.99", 666)


def test_every_fuzzed_datagram_is_exactly_one_counted_drop() -> None:
    net, a, b = pair()
    net.advance(1)
    net.send_frame(a, frame(MAC_B, MAC_A, b"z" * 3000))
    net.run()
    genuine = [d for d, _src, _dst in net.captured]
    gen = fuzzgen.Fuzzer(1, genuine, b.public)
    for d in gen.datagrams(3000):
        if len(d) > 1600:
            continue  # oversized ones cost time here; the daemon gets them in scripts/torture
        before, handshakes = sum(b.n.drops.values()), b.p.ports[0].handshakes
        b.p.on_datagram(d, ATTACKER, net.now)
        b.p.tx.clear()  # cookie replies under load
        assert sum(b.n.drops.values()) == before + 1, d.hex()
        assert b.n.to_tap == [] and b.p.ports[0].handshakes == handshakes
    assert all(gen.counts.values()) and sum(gen.counts.values()) == 3000


def test_the_fuzzers_mac1_datagrams_pass_mac1() -> None:
    _net, _a, b = pair()
    gen = fuzzgen.Fuzzer(2, [b"\x04" + bytes(40)], b.public)
    d = gen._mac1(gen.rng)
    assert len(d) == W.INIT_LEN
    assert P.equal(P.mac(hs.mac1_key(b.public), d[: W.INIT_MAC1_OFF]), d[W.INIT_MAC1_OFF : W.INIT_MAC2_OFF])
    assert max(len(gen._oversized(gen.rng)) for _ in range(20)) <= fuzzgen.MAX_UDP


def test_the_relay_record_reads_back(tmp_path: Path) -> None:
    f = tmp_path / "rec"
    f.write_bytes(relay.REC.pack(b"a", 3) + b"abc" + relay.REC.pack(b"b", 0) + relay.REC.pack(b"a", 1) + b"x")
    assert relay.read_record(f) == [("a", b"abc"), ("b", b""), ("a", b"x")]


def test_flood_packets_are_ipv4_udp_from_spoofed_networks() -> None:
    pkts = flood.flood_packets(bytes(32), 100)
    assert all(p[0] == 0x45 and p[9] == 17 and socket.inet_ntoa(p[12:16]).startswith("10.200.") for p in pkts)
    assert {len(p) for p in pkts[::2]} == {20 + 8 + W.INIT_LEN}
    assert len({p[12:15] for p in pkts}) > 50  # many /24 networks


def test_the_table() -> None:
    rows = [report.Result("k", "fig", "bar", "m", True), report.Result("e", "fig2", "bar2", error="boom")]
    t = report.table(rows).splitlines()
    assert t[0].startswith("| figure") and "PASS" in t[2] and "ERROR" in t[3] and "boom" in t[3]
    assert report.document(rows, {})["passed"] is False


def test_a_relative_results_dir_is_made_absolute() -> None:
    # every row's daemons, and the corpus's judge, name files by this path from other directories
    a = parse_args(["--results-dir", "torture-results/x"])
    assert a.results_dir.is_absolute() and a.results_dir.parts[-2:] == ("torture-results", "x")
