"""The compiled path's worker thread between real daemons (issue 16, step 3): with both ends compiled the
worker owns the TAP and the socket; pings and sha256-checked transfers cross both ways with offloads and
without; the Python loop sees only what the worker hands up (the handshake, a few datagrams), and the
worker's counts reach the peer's status."""

from __future__ import annotations

import signal
import time

import pytest

from tapliance import fastpath
from tests.netns.transfer import transfer
from tests.netns.tunnel import OVERLAY, TunnelLab

pytestmark = pytest.mark.skipif(
    fastpath.fast is None or not hasattr(fastpath.fast, "Worker"),
    reason=f"compiled path not built: {fastpath.unavailable}",
)
ENV = {fastpath.ENV: "1", "TAPLIANCE_WORKER": ""}


def _udp(status: dict[str, object]) -> dict[str, object]:
    transports = status["transports"]
    assert isinstance(transports, list)
    return transports[0]  # type: ignore[no-any-return]


@pytest.mark.parametrize("offload", [True, False], ids=["offload", "plain"])
def test_the_worker_carries_checked_transfers_both_ways(lab: TunnelLab, offload: bool) -> None:
    for n in ("a", "b"):
        lab.write_config(n, iface_extra=f"offload = {str(offload).lower()}")
        lab.start(n, env=ENV)
    lab.wait_ping("a", OVERLAY["b"])
    assert lab.ping("a", OVERLAY["b"], count=3, size=8000)  # fragmented frames both ways
    transfer(lab.sides["a"].ns, lab.sides["b"].ns, OVERLAY["b"], 32 << 20)
    transfer(lab.sides["b"].ns, lab.sides["a"].ns, OVERLAY["a"], 32 << 20, port=5003)
    for n in ("a", "b"):
        s = lab.status(n)
        udp = _udp(s)
        assert udp.get("worker") is True, (n, udp)
        peer = s["peers"][0]  # type: ignore[index]
        assert peer["rx_bytes"] > 32 << 20 and peer["tx_bytes"] > 32 << 20, (n, peer)
        assert int(udp["handed_up"]) < 500, (n, udp)  # the handshake and stragglers, not the transfer
        drops = s["drops"]
        assert not {"decrypt", "internal_error", "bad_header", "worker_busy"} & set(drops), (n, drops)  # type: ignore[arg-type]
    log = lab.sides["a"].log.read_text()
    small = "libsodium" if fastpath.fast.SODIUM else "OpenSSL"  # type: ignore[union-attr]
    assert "worker thread owning the TAP" in log and f"small messages: {small}" in log


def test_without_the_worker_the_compiled_path_runs_in_the_loop(lab: TunnelLab) -> None:
    lab.start("a", env={**ENV, "TAPLIANCE_WORKER": "0"})
    lab.start("b", env=ENV)
    lab.wait_ping("a", OVERLAY["b"])
    transfer(lab.sides["a"].ns, lab.sides["b"].ns, OVERLAY["b"], 8 << 20)
    assert "worker" not in _udp(lab.status("a")) and _udp(lab.status("b")).get("worker") is True
    assert "no worker thread: TAPLIANCE_WORKER=0" in lab.sides["a"].log.read_text()


def test_a_reload_that_replaces_the_peer_and_a_rekey_keep_the_worker_carrying(lab: TunnelLab) -> None:
    for n in ("a", "b"):
        lab.write_config(n, tunnel_extra="rekey_after_seconds = 3")  # a rekey within the test
        lab.start(n, env=ENV)
    lab.wait_ping("a", OVERLAY["b"])
    transfer(lab.sides["a"].ns, lab.sides["b"].ns, OVERLAY["b"], 8 << 20)
    lab.write_config("a", tunnel_extra="rekey_after_seconds = 3", extra="keepalive = 1")  # peer b changed
    assert lab.sides["a"].proc is not None
    lab.sides["a"].proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 15  # the reload's new peer handshakes, then rekeys 3 s later
    while (peer := lab.status("a")["peers"][0])["handshakes"] < 2 and time.monotonic() < deadline:  # type: ignore[index]
        time.sleep(0.2)
    lab.wait_ping("a", OVERLAY["b"])
    transfer(lab.sides["b"].ns, lab.sides["a"].ns, OVERLAY["a"], 8 << 20, port=5003)
    assert peer["handshakes"] >= 2 and _udp(lab.status("a")).get("worker") is True, peer
    assert "handshake completed" in lab.sides["a"].log.read_text().split("reloading")[-1]


def test_without_gro_the_worker_joins_each_frames_datagrams_itself(lab: TunnelLab) -> None:
    """a's underlay segments its GSO bursts (as a NIC without USO would), so every datagram of a super-frame
    reaches b in its own receive call: b's worker collects each frame's run across receive calls and opens it
    whole (tapliance/fastpath/wrun.c) instead of handing every fragment up."""
    lab.sh("a", ["ethtool", "-K", "ul0", "tx-udp-segmentation", "off"])
    for n in ("a", "b"):
        lab.start(n, env=ENV)
    lab.wait_ping("a", OVERLAY["b"])
    transfer(lab.sides["a"].ns, lab.sides["b"].ns, OVERLAY["b"], 32 << 20)
    udp = _udp(lab.status("b"))
    # not "little handed up": a datagram the kernel drops under load (a full socket buffer) makes the worker hold
    # the session for the reassembler, 1024 datagrams at a time (whold.c), by design
    seen = {k: udp[k] for k in ("runs_joined", "runs_handed_up", "handed_up", "gro_receives")}
    seen["drops"] = lab.status("b")["drops"]
    assert int(udp["runs_joined"]) > 200, seen
    assert int(udp["gro_receives"]) < 10, seen  # the test's premise: no GRO batches reached b


FLOWS = """
import socket, sys
for port in range(40000, 40016):  # 16 flows: the kernel spreads them over the TAP's queues by a hash
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("", port))
    for _ in range(50):
        s.sendto(b"x" * 1000, (sys.argv[1], 9))
    s.close()
"""


@pytest.mark.parametrize("queues", ["2", "1"])
def test_a_two_queue_tap_gives_each_queue_a_worker(lab: TunnelLab, queues: str) -> None:
    """TAPLIANCE_TAP_QUEUES=2: a's kernel sends flows out of both TAP queues, and
    each queue's worker seals its own; checked transfers cross both ways; =1: one queue, one worker."""
    env = {**ENV, "TAPLIANCE_TAP_QUEUES": queues}
    for n in ("a", "b"):
        lab.start(n, env=env)
    lab.wait_ping("a", OVERLAY["b"])
    transfer(lab.sides["a"].ns, lab.sides["b"].ns, OVERLAY["b"], 16 << 20)
    transfer(lab.sides["b"].ns, lab.sides["a"].ns, OVERLAY["a"], 16 << 20, port=5003)
    lab.sh("a", ["python3", "-c", FLOWS, OVERLAY["b"]])
    udp = _udp(lab.status("a"))
    assert udp["tap_queues"] == int(queues), udp
    per_queue = udp["queue_tx_frames"]
    assert isinstance(per_queue, list) and len(per_queue) == int(queues), udp
    assert all(n > 0 for n in per_queue), per_queue
    drops = lab.status("b")["drops"]
    assert not {"decrypt", "replay", "internal_error"} & set(drops), drops  # type: ignore[arg-type]


def test_a_bad_queue_count_is_one_line_and_no_tap(lab: TunnelLab) -> None:
    lab.write_config("a")
    s = lab.start("a", wait=False, env={**ENV, "TAPLIANCE_TAP_QUEUES": "3"})
    assert s.proc is not None
    assert s.proc.wait(timeout=10) != 0
    assert "TAPLIANCE_TAP_QUEUES='3': must be 1 (the default) or 2" in s.log.read_text()
    assert lab.sh("a", ["ip", "link", "show", "tl0"], check=False).returncode != 0
