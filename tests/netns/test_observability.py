"""What an operator sees of a running tunnel: Prometheus metrics that rise with traffic and count injected
bad packets, a bearer token that keeps others out, the status page rendered by a real headless Chromium
(screenshot in docs/img/status-page.png), and systemd's READY=1 and WATCHDOG=1."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.netns.tunnel import OVERLAY, PORT, UNDERLAY, TunnelLab

TOKEN = "t0ken-for-the-metrics-test"
METRICS = '[metrics]\nlisten = ":9124"\ntoken_file = "metrics.token"\n'
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "status-page.png"  # TAPLIANCE_SCREENSHOT=1


def get(lab: TunnelLab, path: str, token: str | None = TOKEN) -> tuple[int, bytes]:
    code = (
        "import sys,urllib.request as u,urllib.error as e\n"
        f"r=u.Request('http://127.0.0.1:9124{path}')\n"
        + (f"r.add_header('Authorization','Bearer {token}')\n" if token else "")
        + "try:\n x=u.urlopen(r,timeout=5);print(x.status);sys.stdout.flush();sys.stdout.buffer.write(x.read())\n"
        "except e.HTTPError as h:\n print(h.code)\n"
    )
    out = lab.sh("a", [sys.executable, "-c", code]).stdout
    status, _, body = out.partition(b"\n")
    return int(status), body


def samples(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(body.decode())
        for s in f.samples
    }


@pytest.fixture
def observed(lab: TunnelLab, tmp_path: Path) -> TunnelLab:
    (tmp_path / "metrics.token").write_text(TOKEN + "\n")
    (tmp_path / "metrics.token").chmod(0o640)
    lab.write_config("a", extra=METRICS)
    lab.start("a")
    lab.start("b")
    lab.wait_ping("a", OVERLAY["b"])
    return lab


def test_metrics_rise_with_traffic_and_count_bad_packets(observed: TunnelLab) -> None:
    lab = observed
    status, body = get(lab, "/metrics")
    assert status == 200
    before = samples(body)
    rx = ("tapliance_peer_receive_bytes_total", (("peer", "b"), ("suite", "chacha20-poly1305")))
    assert before[("tapliance_peer_up", (("peer", "b"), ("suite", "chacha20-poly1305")))] == 1
    assert lab.ping("a", OVERLAY["b"], count=5, size=1000)
    junk = (
        "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
        f"for i in range(7):s.sendto(b'\\x04'+bytes(60),('{UNDERLAY['a']}',{PORT}))"
    )
    lab.sh("b", [sys.executable, "-c", junk])
    time.sleep(0.3)
    after = samples(get(lab, "/metrics")[1])
    assert after[rx] >= before[rx] + 5 * 1000
    assert after[("tapliance_drops_total", (("reason", "unknown_index"),))] == 7
    assert after[("tapliance_peer_handshakes_total", (("peer", "b"),))] >= 1


def test_the_token_keeps_others_out(observed: TunnelLab) -> None:
    assert get(observed, "/metrics", token=None)[0] == 401
    assert get(observed, "/api/status", token="wrong-token-wrong-token")[0] == 401
    status, body = get(observed, "/api/status")
    assert status == 200 and b'"interface": "tl0"' in body


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is installed by scripts/bootstrap")
def test_the_status_page_in_a_real_browser(observed: TunnelLab, tmp_path: Path) -> None:
    lab = observed
    assert lab.ping("a", OVERLAY["b"], count=3, size=1200)
    time.sleep(11)  # one history interval: the chart has two samples to draw between
    assert lab.ping("a", OVERLAY["b"], count=20, size=1200)
    url = f"http://127.0.0.1:9124/?token={TOKEN}"
    args = [
        "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chrome'}",
        "--virtual-time-budget=4000",
        "--window-size=1200,820",
    ]
    dom = lab.sh("a", [*args, "--dump-dom", url], timeout=60).stdout.decode()
    assert 'data-loaded="yes"' in dom, dom[:500]
    assert '<tr data-peer="b">' in dom and 'class="state up"' in dom
    assert '<div class="chart" data-peer="b">' in dom and '<path class="rx" d="M' in dom
    shot = tmp_path / "page.png"
    lab.sh("a", [*args, f"--screenshot={shot}", url], timeout=60)
    assert shot.stat().st_size > 10_000
    if os.environ.get("TAPLIANCE_SCREENSHOT") == "1":  # refresh the one in the docs
        shutil.copy(shot, SCREENSHOT)


def test_systemd_ready_and_watchdog(lab: TunnelLab, tmp_path: Path) -> None:
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(str(tmp_path / "notify"))
    rx.settimeout(10)
    try:
        lab.start("a", env={"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "1000000"})
        first = rx.recv(512).decode()
        assert first.startswith("READY=1\nSTATUS=up: tl0, 1 peer(s)")
        assert rx.recv(512) == b"WATCHDOG=1"  # every half second
        lab.stop("a")
        rest = []
        while True:
            try:
                rest.append(rx.recv(512))
            except TimeoutError:
                break
            if rest[-1] == b"STOPPING=1":
                break
        assert rest[-1] == b"STOPPING=1"
    finally:
        rx.close()
