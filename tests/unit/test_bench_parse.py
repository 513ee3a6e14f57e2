"""scripts/bench: the pure parsers (iperf3 JSON, ping output, /proc files) and tunnel selection."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.benchlib import measure, procstat, tunnels
from scripts.benchlib.cli import parse_args
from scripts.benchlib.lab import BenchError, one_line

TCP = {
    "start": {"connected": []},
    "end": {
        "sum_sent": {"seconds": 4.0, "bytes": 1_500_000_000, "bits_per_second": 3.0e9, "retransmits": 12},
        "sum_received": {"seconds": 4.0, "bytes": 1_450_000_000, "bits_per_second": 2.9e9},
        "cpu_utilization_percent": {"host_total": 50.0},
    },
}
UDP_NEW = {
    "end": {
        "sum": {"seconds": 1.0, "bytes": 17758720, "packets": 277480, "lost_packets": 3305, "sender": True},
        "sum_received": {"seconds": 1.000278, "bytes": 17546304, "packets": 277466, "lost_packets": 3305},
    }
}
PING = """PING 10.99.0.2 (10.99.0.2) 56(84) bytes of data.
64 bytes from 10.99.0.2: icmp_seq=1 ttl=64 time=0.125 ms
64 bytes from 10.99.0.2: icmp_seq=2 ttl=64 time=0.027 ms
64 bytes from 10.99.0.2: icmp_seq=4 ttl=64 time=1.50 ms

--- 10.99.0.2 ping statistics ---
4 packets transmitted, 3 received, 25% packet loss, time 48ms
rtt min/avg/max/mdev = 0.027/0.550/1.500/0.049 ms
"""


def test_tcp_result_reads_the_receiver_side() -> None:
    assert measure.tcp_result(json.loads(json.dumps(TCP))) == (2.9e9, 1_450_000_000)


@pytest.mark.parametrize("doc", [{"error": "unable to connect to server: Connection refused"}, {"start": {}}])
def test_iperf_errors_become_one_line_bench_errors(doc: dict[str, object]) -> None:
    with pytest.raises(BenchError, match="iperf3"):
        measure.tcp_result(doc)
    with pytest.raises(BenchError, match="iperf3"):
        measure.udp_pps(doc)


def test_udp_pps_counts_received_datagrams_per_second() -> None:
    assert measure.udp_pps(UDP_NEW) == pytest.approx((277466 - 3305) / 1.000278)


def test_udp_pps_falls_back_to_sum_on_old_iperf3_and_clamps_negative_loss() -> None:
    old = {"end": {"sum": {"seconds": 2.0, "packets": 1000, "lost_packets": -4}}}
    assert measure.udp_pps(old) == 500.0
    all_lost = {"end": {"sum": {"seconds": 2.0, "packets": 10, "lost_packets": 11}}}
    assert measure.udp_pps(all_lost) == 0.0


def test_ping_rtts_and_summary() -> None:
    rtts = measure.ping_rtts(PING)
    assert rtts == [0.125, 0.027, 1.5]
    s = measure.summarize_rtts(rtts, 4)
    assert (s.median_ms, s.answered, s.sent) == (0.125, 3, 4)
    assert s.avg_ms == pytest.approx(1.652 / 3)


def test_ping_with_no_answers_is_an_error() -> None:
    assert measure.ping_rtts("PING x\n\n--- x ping statistics ---\n5 packets transmitted, 0 received\n") == []
    with pytest.raises(BenchError, match="none of 5"):
        measure.summarize_rtts([], 5)


def test_parse_stat_counts_fields_after_the_last_paren() -> None:
    fields = " ".join(str(i) for i in range(4, 53))  # each field holds its proc(5) number: ppid=4 .. 52
    line = f"4242 (we ird) (name)) S {fields}\n"  # a command name with spaces and parens
    assert procstat.parse_stat(line) == (4, 14, 15)  # ppid, utime, stime


def test_parse_stat_real_shape() -> None:
    line = (
        "1234 (tapliance) S 1 1234 1234 0 -1 4194560 5000 0 0 0 250 75 0 0 20 0 1 0 100 "
        "50000000 10000 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
    )
    assert procstat.parse_stat(line) == (1, 250, 75)


def test_parse_status_reads_rss_and_peak_in_kib() -> None:
    text = "Name:\tfastd\nVmPeak:\t  9000 kB\nVmHWM:\t    4100 kB\nVmRSS:\t    3900 kB\nThreads:\t1\n"
    assert procstat.parse_status(text) == {"VmHWM": 4100, "VmRSS": 3900}
    assert procstat.parse_status("Name:\tkthreadd\nState:\tS\n") == {}


def test_one_line_keeps_the_last_meaningful_line_short() -> None:
    assert one_line(b"warning\nError: it broke\n\n") == "Error: it broke"
    assert one_line("x" * 500, limit=20) == "x" * 17 + "..."
    assert one_line("") == ""


def test_select_tunnels() -> None:
    names = [t.name for t in tunnels.select(None)]
    assert names == [
        "veth",
        "vxlan",
        "openvpn",
        "tinc",
        "fastd",
        "tapliance",
        "tapliance-aes",
        "tapliance-python",
        "tapliance-fast-loop",
        "quicktun",
        "tapliance-quicktun",
        "pyrelay",
        "pyrelay-aead",
        "openvpn-tcp",
        "tinc-tcp",
        "tapliance-tcp",
    ]
    assert [t.name for t in tunnels.select("tapliance, openvpn")] == [
        "openvpn",
        "tapliance",
        "tapliance-aes",
        "tapliance-python",
        "tapliance-fast-loop",
    ]
    assert [t.name for t in tunnels.select("tapliance-fast,veth")] == ["veth", "tapliance-fast"]
    assert [t.name for t in tunnels.select("tapliance-aes")] == ["tapliance-aes"]
    assert [t.name for t in tunnels.select("quicktun,tapliance-quicktun")] == ["quicktun", "tapliance-quicktun"]
    assert [t.underlay for t in tunnels.select("openvpn-tcp,tinc-tcp,tapliance-tcp")] == [
        ("tcp", 1194),
        ("tcp", 655),
        ("tcp", 8443),
    ]
    with pytest.raises(ValueError, match=r"unknown tunnel.*wireguard"):
        tunnels.select("wireguard,tinc")


def test_quick_means_one_short_round() -> None:
    a = parse_args(["--quick", "--only", "veth"])
    assert (a.rounds, a.duration, a.pings) == (1, 1.0, 10)
    assert [t.name for t in a.tunnels] == ["veth"]
    a = parse_args([])
    assert (a.rounds, a.duration, a.pings, len(a.tunnels)) == (3, 4.0, 50, 16)
    with pytest.raises(SystemExit):
        parse_args(["--rounds", "0"])


def test_loss_ruleset_drops_per_mille_of_underlay_udp_but_never_iperf3() -> None:
    rules = measure.loss_ruleset(15)
    assert 'iifname "ul0" meta l4proto udp udp dport != 5201 numgen random mod 1000 < 15 counter drop' in rules
    assert rules.startswith(f"table inet {measure.LOSS_TABLE} {{")
    tcp = measure.loss_ruleset(10, "tcp", 8443)
    assert 'iifname "ul0" tcp dport 8443 numgen random mod 1000 < 10 counter drop' in tcp


def test_dropped_packets_sums_rule_counters() -> None:
    doc = {
        "nftables": [
            {"metainfo": {}},
            {"table": {"name": "benchloss"}},
            {"rule": {"expr": [{"match": {}}, {"counter": {"packets": 41, "bytes": 9}}, {"drop": None}]}},
            {"rule": {"expr": [{"counter": {"packets": 1, "bytes": 1}}]}},
        ]
    }
    assert measure.dropped_packets(doc) == 42
    assert measure.dropped_packets({"nftables": []}) == 0


@pytest.mark.parametrize("bad", ["-1", "51"])
def test_loss_must_be_a_sane_percentage(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--loss", bad])
    assert "--loss must be a percentage" in capsys.readouterr().err


def test_a_relative_results_dir_is_made_absolute() -> None:
    # the configs the bench writes there name their key files by this path, read from another directory
    a = parse_args(["--results-dir", "bench-results/x"])
    assert a.results_dir.is_absolute() and a.results_dir.parts[-2:] == ("bench-results", "x")


def test_a_baseline_row_runs_the_trees_code_even_from_the_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """scripts/bench runs in the repo: without -P, ``python -m`` put the repo's tapliance in front of the
    tree's, and --baseline measured the current code."""
    from scripts.benchlib.tunnels import tapliance as T
    from scripts.benchlib.tunnels.tapliance import REPO, Tapliance

    monkeypatch.setattr(T, "PYTHON", Path(sys.executable))  # the repo's .venv is not everywhere (an sdist)

    fake = tmp_path / "tapliance"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "cli.py").write_text("print('the tree of the baseline')\n")
    cmd = Tapliance("tapliance-baseline", "chacha20-poly1305", tree=tmp_path, commit="0" * 40).command()
    out = subprocess.run([*cmd, "--version"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "the tree of the baseline"


def test_a_baseline_tree_has_its_compiled_data_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--baseline exported only the package: its row ran the Python path ("the compiled data path is not built
    here"), and an A/B of a fast-path change compared it with the wrong path."""
    import shutil

    from scripts.benchlib import baseline
    from scripts.benchlib.tunnels.tapliance import REPO

    git = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, check=False)
    if git.returncode != 0 or shutil.which("gcc") is None:  # an sdist; or a user git calls a stranger to the repo
        pytest.skip("needs the git repository (readable by this user) and gcc")
    monkeypatch.setattr(baseline, "PYTHON", Path(sys.executable))
    t = baseline.tunnel("HEAD", tmp_path)
    assert t.tree is not None and list((t.tree / "tapliance" / "fastpath").glob("_fast*.so"))


def test_the_cold_seal_micro_benchmark_builds_and_runs() -> None:
    """scripts/benchlib/coldseal (the figure behind fastpath/sodium.c): both lines, two rounds without sleep."""
    import shutil

    if shutil.which("gcc") is None:
        pytest.skip("no gcc")
    from scripts.benchlib.tunnels.tapliance import REPO

    env = {"PYTHONPATH": str(REPO / "scripts"), "PATH": "/usr/bin:/bin"}
    argv = [sys.executable, "-m", "benchlib.coldseal", "2", "0"]
    p = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("OpenSSL: seal after 0 ms idle"), p.stdout


def test_no_install_with_a_peer_missing_is_a_one_line_error_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from scripts.benchlib import cli, install

    monkeypatch.setattr(cli.os, "geteuid", lambda: 0)
    monkeypatch.setattr(install, "missing_debs", lambda pkgs: [p for p in pkgs if p == "fastd"])
    assert cli.main(["--no-install", "--only", "veth,fastd", "--results-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing: fastd" in err, err
    assert not (tmp_path / "work").exists()  # no lab, no namespaces
