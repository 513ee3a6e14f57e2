"""`tapliance status` against a real control socket (no root): --peer, --json, --watch with rates, and the
one-line errors; `up --log-format` is offered."""

from __future__ import annotations

import json
import select
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tapliance import cli
from tapliance.control import watch
from tapliance.control.server import ControlServer
from tests.unit.pair import MAC_A, MAC_B, frame, pair


@pytest.fixture
def control(tmp_path: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    net, a, b = pair()
    net.advance(1)
    net.send_frame(a, frame(MAC_B, MAC_A, b"x" * 1000))
    net.run()
    snap: dict[str, Any] = {
        **b.n.status(net.now),
        "interface": "tl0",
        "listen": "0.0.0.0:9123",
        "pid": 1,
        "uptime": 5.0,
    }
    path = tmp_path / "c.sock"
    server = ControlServer(path, lambda: snap)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            if select.select([server.fileno()], [], [], 0.05)[0]:
                server.handle()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield path, snap
    stop.set()
    t.join()
    server.close()


def test_status_peer_shows_every_detail(
    control: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = control
    assert cli.main(["status", "-s", str(path), "--peer", "a"]) == 0
    out = capsys.readouterr().out
    assert "peer: a" in out and "handshakes: 1" in out and "handshake_rtt" not in out  # b responded
    assert cli.main(["status", "-s", str(path), "--peer", "a", "--json"]) == 0
    assert [p["name"] for p in json.loads(capsys.readouterr().out)["peers"]] == ["a"]


def test_status_peer_that_does_not_exist(
    control: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = control
    assert cli.main(["status", "-s", str(path), "--peer", "zz"]) == 1
    assert capsys.readouterr().err == "tapliance: no peer named 'zz' (peers: a)\n"


def test_watch_redraws_with_rates(
    control: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, snap = control
    turns = []

    def sleep(_s: float) -> None:
        turns.append(1)
        snap["peers"][0]["rx_bytes"] += 125_000  # 1 Mbit in the next second
        if len(turns) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(watch.time, "sleep", sleep)
    assert cli.main(["status", "-s", str(path), "--watch"]) == 0
    out = capsys.readouterr().out
    assert out.count("peer             state") == 2 and "1.0 Mbit/s" in out


def test_watch_interval_is_bounded(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["status", "-s", "/nonexistent", "--watch", "--interval", "0"]) == 2
    assert "between 0.1 and 3600" in capsys.readouterr().err


def test_up_offers_json_logs() -> None:
    help_text = cli.build_parser()._subparsers._group_actions[0].choices["up"].format_help()  # type: ignore[union-attr]
    assert "--log-format {text,json}" in help_text
