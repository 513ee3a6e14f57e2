"""scripts/bench: medians over rounds, the table, the target checks, the closing ratio line, the JSON."""

from __future__ import annotations

import json

import pytest

from scripts.benchlib import report
from scripts.benchlib.stats import Row, best_peer, median, ratio

PEERS = ("openvpn", "tinc", "fastd")


def sample(
    tcp1: float, *, tcp4: float | None = None, pps: float = 40e3, rtt: float = 0.3, hwm: float | None = 9.0
) -> dict[str, float | None]:
    return {
        "tcp1_bps": tcp1,
        "tcp4_bps": tcp4 if tcp4 is not None else tcp1,
        "udp64_pps": pps,
        "rtt_median_ms": rtt,
        "rtt_avg_ms": rtt * 1.1,
        "cpu_s_per_gb": 20.0,
        "rss_mib": hwm,
        "hwm_mib": hwm,
    }


def rows() -> dict[str, Row]:
    r = {
        "veth": Row("veth", "baseline veth (no tunnel)", [sample(14e9, rtt=0.05, hwm=None)]),
        "openvpn": Row(
            "openvpn",
            "OpenVPN tap AES-256-GCM",
            [sample(0.55e9, rtt=0.35), sample(0.60e9, rtt=0.30), sample(0.50e9, rtt=0.40)],
        ),
        "tinc": Row("tinc", "tinc 1.0 switch", [sample(0.66e9), sample(0.59e9), sample(0.62e9)]),
        "fastd": Row("fastd", "fastd salsa2012+umac", [], failures=["fastd: timed out", "fastd: timed out"]),
        "tapliance": Row(
            "tapliance",
            "tapliance chacha20-poly1305",
            [
                sample(2.7e9, pps=50e3, rtt=0.2, hwm=43.0),
                sample(2.9e9, pps=52e3, rtt=0.25, hwm=45.5),
                sample(3.1e9, pps=30e3, rtt=0.9, hwm=44.0),
            ],
        ),
    }
    return r


def test_median_skips_missing_values() -> None:
    assert median([3.0, None, 1.0, 2.0]) == 2.0
    assert median([1.0, 2.0]) == 1.5
    assert median([None, None]) is None
    assert median([]) is None


def test_row_takes_medians_but_the_worst_round_for_memory() -> None:
    t = rows()["tapliance"]
    assert t.value("tcp1_bps") == 2.9e9
    assert t.value("udp64_pps") == 50e3
    assert t.value("hwm_mib") == 45.5
    assert rows()["veth"].value("hwm_mib") is None


def test_status_texts() -> None:
    r = rows()
    assert r["tinc"].status() == "ok"
    assert r["fastd"].failed
    assert r["fastd"].status() == "FAILED: fastd: timed out"
    partial = Row("x", "x", [sample(1e9)], failures=["did not answer ping"], errors=["udp64: iperf3: boom"])
    assert not partial.failed
    assert partial.status() == (
        "ok; 1/2 rounds up (last failure: did not answer ping); 1 measurement error(s), last: udp64: iperf3: boom"
    )


def test_ratio_is_tapliance_median_over_the_best_peer_median() -> None:
    r = rows()
    assert best_peer(r, PEERS) == "tinc"
    assert ratio(r, "tapliance", PEERS) == pytest.approx(2.9e9 / 0.62e9)
    del r["tapliance"]
    assert ratio(r, "tapliance", PEERS) is None
    assert ratio(rows(), "tapliance", ("fastd",)) is None  # the only peer failed


def test_ratio_line_is_two_decimals_or_na() -> None:
    assert report.ratio_line(4.6774) == "tapliance/best-peer throughput ratio: 4.68"
    assert report.ratio_line(None) == "tapliance/best-peer throughput ratio: n/a"


def test_table_has_one_aligned_line_per_tunnel_and_failures_say_why() -> None:
    order = ["veth", "openvpn", "tinc", "fastd", "tapliance"]
    text = report.table([rows()[n] for n in order])
    lines = text.splitlines()
    assert len(lines) == 2 + len(order)
    assert lines[0].split()[:3] == ["tunnel", "TCP", "1x"]
    assert set(lines[1]) == {"-"}
    by_label = {ln.split("  ")[0].strip(): ln for ln in lines[2:]}
    assert "0.55" in by_label["OpenVPN tap AES-256-GCM"] and by_label["OpenVPN tap AES-256-GCM"].endswith("ok")
    fastd = by_label["fastd salsa2012+umac"]
    assert fastd.endswith("FAILED: fastd: timed out")
    assert "0." not in fastd  # no numbers for a tunnel that never came up
    veth = by_label["baseline veth (no tunnel)"]
    assert "14.00" in veth and " 40 " in veth  # Gbit/s and kpps
    # numeric columns line up: the status column starts at the same offset on every complete row
    starts = {ln.rindex("ok") for ln in lines[2:] if ln.endswith("ok")}
    assert len(starts) == 1


def test_targets_report_pass_fail_and_figures() -> None:
    lines = report.targets(rows(), "tapliance", PEERS)
    assert lines[0].startswith("  PASS  single-stream TCP >= 4x best peer (tinc): 4.68x")
    assert lines[1] == "  PASS  64-byte frame rate >= openvpn: 50 vs 40 kpps"
    assert lines[2] == "  PASS  added RTT <= openvpn's: added 0.200 vs 0.300 ms"
    assert lines[3] == "  PASS  daemon peak RSS <= 60 MiB: 45.5 MiB"
    r = rows()
    r["tapliance"].samples[0].update(hwm_mib=61.0, tcp1_bps=2.0e9)
    r["tapliance"].samples = r["tapliance"].samples[:1]
    lines = report.targets(r, "tapliance", PEERS)
    assert lines[0].startswith("  FAIL  single-stream TCP")
    assert lines[3] == "  FAIL  daemon peak RSS <= 60 MiB: 61.0 MiB"


def test_issue_16_targets_take_the_best_peer_at_each_figure() -> None:
    r = rows()
    for smp in r["tapliance"].samples:
        smp.update(tcp1_loss_bps=1.3e9, cpu_s_per_gb=3.0)
    for smp in r["openvpn"].samples:
        smp["tcp1_loss_bps"] = 0.6e9
    lines = report.fast_targets(r, "tapliance", PEERS)
    assert lines[0] == "  PASS  added RTT <= the best peer's: 0.2 vs tinc 0.25 ms (0.80x)"  # less veth's 0.05
    assert lines[1] == "  FAIL  64-byte frame rate >= 1.5x the best peer's: 50 vs openvpn 40 kpps (1.25x)"
    assert lines[2].startswith("  FAIL  single-stream TCP >= 6x the best peer's: 2.9 vs tinc 0.62 Gbit/s")
    assert lines[3] == "  PASS  single-stream TCP under loss >= 2x the best peer's: 1.3 vs openvpn 0.6 Gbit/s (2.17x)"
    assert lines[4] == "  PASS  CPU s/GB <= 1/6 of the best peer's: 3 vs openvpn 20 s/GB (0.15x)"
    assert lines[5] == "  PASS  daemon peak RSS <= 60 MiB: 45.5 MiB"
    assert all(ln.startswith("  n/a ") for ln in report.fast_targets({}, "tapliance", PEERS))


def test_legacy_target_compares_the_suite_with_the_original() -> None:
    r = {
        "quicktun": Row("quicktun", "QuickTun 2.2.6 nacltai", [sample(0.40e9)]),
        "tapliance-quicktun": Row("tapliance-quicktun", "tapliance quicktun-nacltai", [sample(0.45e9)]),
    }
    line = report.legacy_target(r, "tapliance-quicktun", "quicktun")
    assert line == "  PASS  tapliance quicktun-nacltai single-stream TCP >= QuickTun's own: 0.45 vs 0.40 Gbit/s"
    r["quicktun"].samples[0]["tcp1_bps"] = 0.5e9
    assert report.legacy_target(r, "tapliance-quicktun", "quicktun").startswith("  FAIL  ")
    r["quicktun"] = Row("quicktun", "QuickTun 2.2.6 nacltai", [], failures=["quicktun: exited"])
    assert report.legacy_target(r, "tapliance-quicktun", "quicktun").startswith("  n/a   tapliance quicktun-nacltai")


def test_targets_without_data_say_na() -> None:
    lines = report.targets({}, "tapliance", PEERS)
    assert all(ln.startswith("  n/a ") for ln in lines)


def test_document_is_json_with_rounds_and_medians() -> None:
    order = [rows()[n] for n in ("openvpn", "fastd")]
    doc = json.loads(json.dumps(report.document(order, {"rounds": 3}, 1.5)))
    assert doc["ratio"] == 1.5 and doc["meta"] == {"rounds": 3}
    ovpn, fastd = doc["tunnels"]
    assert ovpn["median"]["tcp1_bps"] == 0.55e9 and len(ovpn["rounds"]) == 3 and not ovpn["failed"]
    assert fastd["failed"] and fastd["median"]["tcp1_bps"] is None and fastd["status"].startswith("FAILED")
