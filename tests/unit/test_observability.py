"""Metrics exposition, the status page's reasons and history, structured logs, systemd notify: from real
snapshots of a peer pair (tests/unit/pair.py), with no root and no daemon."""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tapliance import logs
from tapliance.control.diagnosis import reason
from tapliance.control.history import History
from tapliance.control.metrics import METRICS, exposition, markdown
from tapliance.proto.drops import Drop
from tapliance.runtime import systemd
from tests.unit.pair import MAC_A, MAC_B, frame, pair

ROOT = Path(__file__).resolve().parents[2]


def snapshot() -> dict[str, object]:
    net, a, b = pair()
    net.advance(1)
    net.send_frame(a, frame(MAC_B, MAC_A, b"x" * 500))
    net.run()
    b.p.on_datagram(b"\x04" + bytes(40), ("203.0.113.1", 1), net.now)  # a counted drop
    s = b.n.status(net.now)
    s.update(
        interface="tl0",
        uptime=12.0,
        transports=[
            {"listen": "0.0.0.0:9123", "gro_receives": 3, "gro_datagrams": 40, "gso_sends": 2, "gso_datagrams": 9}
        ],
    )
    return s


def test_the_exposition_parses_and_carries_every_listed_metric() -> None:
    snap = snapshot()
    fams = {f.name: f for f in text_string_to_metric_families(exposition(lambda: snap).decode())}
    assert {f"tapliance_{name}" for name, *_ in METRICS} == set(fams)
    rx = [s for s in fams["tapliance_peer_receive_bytes"].samples if s.name.endswith("_total")]
    assert rx[0].labels == {"peer": "a", "suite": "chacha20-poly1305"} and rx[0].value == 514
    drops = {s.labels["reason"]: s.value for s in fams["tapliance_drops"].samples if s.name.endswith("_total")}
    assert set(drops) == {d.value for d in Drop} and drops["unknown_index"] == 1
    up = [s.value for s in fams["tapliance_peer_up"].samples]
    assert up == [1.0]
    assert [s.value for s in fams["tapliance_udp_gro_datagrams"].samples if s.name.endswith("_total")] == [40]


def test_docs_metrics_lists_them() -> None:
    assert markdown() in (ROOT / "docs" / "metrics.md").read_text(), "docs/metrics.md is stale: scripts/docs-tables"


@pytest.mark.parametrize(
    ("peer", "drops", "want"),
    [
        ({"state": "up", "last_received_ago": 2}, {}, None),
        ({"state": "up", "last_received_ago": 600}, {}, "nothing received for 10 min"),
        ({"state": "handshaking", "endpoint": "1.2.3.4:5"}, {"handshake_decrypt": 3}, "fail authentication: wrong key"),
        ({"state": "handshaking", "endpoint": "1.2.3.4:5"}, {"suite_mismatch": 1}, "another suite"),
        ({"state": "down", "endpoint": "1.2.3.4:5"}, {}, "no handshake answer for 90 s"),
        ({"state": "idle", "endpoint": None}, {}, "waiting for the peer to connect"),
        ({"state": "handshaking", "endpoint": "1.2.3.4:5", "last_handshake_ago": 200}, {}, "no handshake for 3 min"),
        ({"state": "idle", "suite": "tappet", "endpoint": "1.2.3.4:5"}, {"legacy_auth": 2}, "wrong key, pad or nonce"),
    ],
)
def test_the_reason_a_peer_is_not_up(peer: dict[str, object], drops: dict[str, int], want: str | None) -> None:
    got = reason(peer, drops)
    assert got == want if want is None else (got is not None and want in got), got


def test_history_gives_rates_and_recent_drops() -> None:
    h = History(step=10, window=60)
    for i in range(10):
        h.sample(
            1000.0 + 10 * i,
            {"peers": [{"name": "b", "rx_bytes": 1250 * i, "tx_bytes": 0}], "drops": {"replay": i // 5}},
        )
    series = h.series()
    assert len(series["t"]) == 6 and series["peers"]["b"]["rx"] == [1000] * 6  # 1250 B per 10 s = 1 kbit/s
    assert h.recent_drops({"replay": 2}) == {"replay": 2}  # 60 s ago (t = 1030) it stood at 0
    assert h.recent_drops({"replay": 2}, age=30) == {"replay": 1}  # 30 s ago (t = 1060) at 1


def test_text_and_json_log_lines(capsys: pytest.CaptureFixture[str]) -> None:
    record = logging.LogRecord("tapliance", logging.INFO, __file__, 1, "peer %s: up", ("b",), None)
    record.fields = {"event": "handshake", "peer": "b", "initiator": True, "reason": "two words"}
    text = logs.TextFormatter("%(message)s").format(record)
    assert text == 'peer b: up event=handshake peer=b initiator=yes reason="two words"'
    doc = json.loads(logs.JsonFormatter().format(record))
    assert doc["msg"] == "peer b: up" and doc["event"] == "handshake" and doc["initiator"] is True


def test_journal_entries_use_the_native_protocol(tmp_path: Path) -> None:
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(str(tmp_path / "journal"))
    h = logs.JournalHandler(str(tmp_path / "journal"))
    record = logging.LogRecord("tapliance", logging.WARNING, __file__, 1, "peer b: down\nsecond line", (), None)
    record.fields = {"peer": "b", "event": "down"}
    h.emit(record)
    entry = rx.recv(65536)
    assert b"PRIORITY=4\n" in entry and b"SYSLOG_IDENTIFIER=tapliance\n" in entry and b"TAPLIANCE_PEER=b\n" in entry
    msg = b"peer b: down\nsecond line"
    assert b"MESSAGE\n" + len(msg).to_bytes(8, "little") + msg + b"\n" in entry  # multi-line: binary form
    rx.close()


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_systemd_notify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, abstract: bool) -> None:
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"\0tapliance-test-{os.getpid()}" if abstract else str(tmp_path / "notify")
    rx.bind(name)
    monkeypatch.setenv("NOTIFY_SOCKET", "@" + name[1:] if abstract else name)
    assert systemd.notify("READY=1\nSTATUS=up")
    assert rx.recv(256) == b"READY=1\nSTATUS=up"
    rx.close()
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert not systemd.notify("READY=1")  # no systemd: nothing happens


def test_watchdog_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert systemd.watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    assert systemd.watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", "1")  # meant for another process
    assert systemd.watchdog_interval() is None


def test_an_otp_peer_shows_its_pad_left(tmp_path: Path) -> None:
    from tests.unit.legacy_pair import LegacyNet

    net = LegacyNet(tmp_path, "otp")
    net.send(net.a, frame(MAC_B, MAC_A, b"x" * 100))
    net.run()
    snap = net.b.node.status(net.now)
    fams = {f.name: f for f in text_string_to_metric_families(exposition(lambda: snap).decode())}
    left = {s.labels["direction"]: s.value for s in fams["tapliance_otp_pad_remaining_bytes"].samples}
    assert set(left) == {"send", "receive"} and 0 < left["receive"] < left["send"]
