"""The compiled path's worker thread in-process (tapliance/fastpath/worker.h), without root: a datagram
socketpair stands in for the TAP (one message, one frame) and UDP sockets on loopback for the underlay.

What the worker sends is what the Python path seals for the same keys and counters; what it takes it opens
and writes to the TAP, counts replays and forgeries, and hands everything that is not its to open up to the
loop unchanged: other addresses, unknown indices, other message types, lone fragments, empty datagrams,
TAP frames without a session, and the datagrams the core's reassembler still needs (its hold)."""

from __future__ import annotations

import os
import random
import select
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tapliance.fastpath import fast as F
from tapliance.proto.native import wire as W
from tapliance.proto.native.handshake import Keys
from tapliance.proto.native.keypair import Keypair

pytestmark = pytest.mark.skipif(F is None or not hasattr(F, "Worker"), reason="compiled path not built here")
MAX_CHUNK = 1400
FOREVER = 1e12


class Rig:
    """A worker (ours) with its TAP socketpair and UDP socket; a peer socket with the far end's keypair."""

    def __init__(self, vnet: bool = False, v6: bool = False, loss_hold: int = 2) -> None:
        keys = Keys(bytes(range(32)), bytes(range(32, 64)))
        self.ours = Keypair(keys, "chacha20-poly1305", local_index=7, remote_index=9, initiator=True, created=0, fast=F)
        back = Keys(keys.recv, keys.send)
        self.theirs = Keypair(back, "chacha20-poly1305", local_index=9, remote_index=7, initiator=False, created=0)
        self.twin = Keypair(keys, "chacha20-poly1305", local_index=7, remote_index=9, initiator=True, created=0)
        self.tap, self.tap_far = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.tap.setblocking(False)
        self.udp = _udp(v6)
        self.udp.setsockopt(17, 104, 1)  # UDP_GRO, as the daemon's socket (runtime/udp.py)
        _big_rcvbuf(self.udp)
        self.peer = _udp(v6)
        self.other = _udp(v6)
        assert F is not None
        self.w: Any = F.Worker(self.tap.fileno(), self.udp.fileno(), vnet, True, MAX_CHUNK, loss_hold=loss_hold)
        self.w.start()

    def install(self, tx: bool = True, python_rx: bool = False, until: float = FOREVER, hold: Any = None) -> None:
        host, port = self.peer.getsockname()[:2]
        fast = self.ours.fast
        self.w.install(fast if tx else None, 9, until, host, port, [(7, fast, until, hold)], python_rx)

    def close(self) -> None:
        self.w.stop()
        for s in (self.tap, self.tap_far, self.udp, self.peer, self.other):
            s.close()

    def to_worker(self, datagram: bytes, via: socket.socket | None = None) -> None:
        (via or self.peer).sendto(datagram, self.udp.getsockname())

    def tap_frames(self, n: int) -> list[bytes]:
        return [_recv(self.tap_far) for _ in range(n)]

    def handed_up(self, n: int) -> list[tuple[Any, ...]]:
        """``n`` items: (kind, bytes, addr), and for a held frame run (kind 3) its stride, too."""
        out: list[tuple[Any, ...]] = []
        deadline = time.monotonic() + 5
        while len(out) < n and time.monotonic() < deadline:
            select.select([self.w.fileno()], [], [], 0.2)
            out += [(k, d, a, s) if k == 3 else (k, d, a) for k, d, a, s in self.w.take()]
        return out

    def opened(self, n: int) -> None:
        """Wait until the worker has opened ``n`` frames (its stats; they reset at every call)."""
        deadline, seen = time.monotonic() + 5, 0
        while seen < n and time.monotonic() < deadline:
            seen += self.w.stats()["rx_frames"]
            time.sleep(0.01)

    def to_worker_gso(self, frame: bytes) -> None:
        """The far end's frame as it sends it: all its datagrams in one GSO send."""
        buf, seg = self.theirs.seal_frame(frame, MAX_CHUNK)
        opt = [(17, 103, seg.to_bytes(2, "little"))] if len(buf) > seg else []  # UDP_SEGMENT
        self.peer.sendmsg([buf], opt, 0, self.udp.getsockname())

    def sealed(self, frame: bytes) -> list[bytes]:
        buf, seg = self.theirs.seal_frame(frame, MAX_CHUNK)
        return [bytes(buf[o : o + seg]) for o in range(0, len(buf), seg)]

    def settle(self) -> dict[str, float]:
        time.sleep(0.1)
        return self.w.stats()  # type: ignore[no-any-return]


def _big_rcvbuf(s: socket.socket) -> None:
    """4 MiB for a 65000-byte frame's 47-datagram burst on a busy host: SO_RCVBUFFORCE (33) as root, so the
    host's net.core.rmem_max does not decide it; SO_RCVBUF (capped by rmem_max) as any other user."""
    try:
        s.setsockopt(socket.SOL_SOCKET, 33, 1 << 22)
    except PermissionError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)


def _udp(v6: bool = False) -> socket.socket:
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("::1" if v6 else "127.0.0.1", 0))
    return s


def _recv(s: socket.socket, timeout: float = 5.0) -> bytes:
    r, _, _ = select.select([s], [], [], timeout)
    assert r, "nothing arrived"
    return s.recv(1 << 17)


@pytest.fixture
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    """A running rig; ``@pytest.mark.parametrize("rig", [{...}], indirect=True)`` gives Rig's arguments."""
    r = Rig(**getattr(request, "param", {}))
    try:
        yield r
    finally:
        r.close()


def frame(n: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(n)


def test_what_the_worker_sends_is_what_the_python_path_seals(rig: Rig) -> None:
    rig.install()
    for n in (60, 1400, 1401, 9000, 65000):
        f = frame(n, n)
        rig.tap_far.send(f)
        buf, seg = rig.twin.seal_frame(f, MAX_CHUNK)
        want = [bytes(buf[o : o + seg]) for o in range(0, len(buf), seg)]
        assert [_recv(rig.peer) for _ in want] == want, n
    assert rig.ours.counter == rig.twin.counter and rig.ours.sent_bytes == rig.twin.sent_bytes
    st = rig.settle()
    assert st["tx_frames"] == 5 and st["tx_bytes"] == 60 + 1400 + 1401 + 9000 + 65000 and st["last_sent"] > 0


def test_the_loop_and_the_worker_share_one_counter(rig: Rig) -> None:
    rig.install()
    seen = set()
    for i in range(20):
        if i % 2:
            buf, _ = rig.ours.seal_frame(b"", MAX_CHUNK)  # a keepalive from the loop
            rig.peer.sendto(bytes(buf), rig.peer.getsockname())
        else:
            rig.tap_far.send(frame(100, i))
        seen.add(W.DATA_HEADER.unpack_from(_recv(rig.peer))[5])
    assert seen == set(range(20))


def test_datagrams_from_the_peer_are_opened_to_the_tap(rig: Rig) -> None:
    rig.install()
    for n in (60, 1500, 20000):
        f = frame(n, n)
        rig.to_worker_gso(f)  # one GRO batch: a whole run of the frame's fragments
        assert rig.tap_frames(1) == [f]
    st = rig.settle()
    assert st["rx_frames"] == 3 and st["rx_bytes"] == 60 + 1500 + 20000 and st["handed_up"] == 0


def test_replays_and_forgeries_are_counted_drops(rig: Rig) -> None:
    rig.install()
    (d,) = rig.sealed(frame(100))
    rig.to_worker(d)
    assert rig.tap_frames(1) == [frame(100)]
    rig.to_worker(d)
    forged = bytearray(rig.sealed(frame(100, 2))[0])
    forged[40] ^= 1
    rig.to_worker(bytes(forged))
    st = rig.settle()
    assert (st["replay"], st["decrypt"], st["rx_frames"], st["handed_up"]) == (1, 1, 1, 0)


@pytest.mark.parametrize("rig", [{"v6": False}, {"v6": True}], ids=["ipv4", "ipv6"], indirect=True)
def test_what_is_not_the_workers_goes_up_unchanged(rig: Rig) -> None:
    rig.install()
    rig.to_worker_gso(frame(70))  # from the peer's own address: opened
    assert rig.tap_frames(1) == [frame(70)]
    lone = rig.sealed(frame(3000))[1]  # the second of three fragments, alone
    unknown = bytearray(rig.sealed(frame(80))[0])
    unknown[4:8] = (1234).to_bytes(4, "little")
    initiation = bytes([W.MSG_INITIATION]) + os.urandom(147)
    from_elsewhere = rig.sealed(frame(90))[0]
    for d in (lone, bytes(unknown), initiation, b""):
        rig.to_worker(d)
    rig.to_worker(from_elsewhere, via=rig.other)
    got = rig.handed_up(5)
    assert [g[1] for g in got] == [lone, bytes(unknown), initiation, b"", from_elsewhere]
    assert {g[0] for g in got} == {1}
    assert got[-1][2] == rig.other.getsockname()[:2] and got[0][2] == rig.peer.getsockname()[:2]


def test_without_a_session_tap_frames_go_up(rig: Rig) -> None:
    rig.install(tx=False)
    rig.tap_far.send(frame(200))
    assert rig.handed_up(1) == [(0, frame(200), None)]
    rig.install(until=time.monotonic() - 1)  # expired: the same
    rig.tap_far.send(frame(201))
    assert rig.handed_up(1) == [(0, frame(201), None)]


def test_while_python_reassembles_every_datagram_goes_up(rig: Rig) -> None:
    rig.install(python_rx=True)
    d = rig.sealed(frame(100))[0]
    rig.to_worker(d)
    assert rig.handed_up(1) == [(1, d, rig.peer.getsockname())]


@pytest.mark.parametrize("rig", [{"vnet": True}], indirect=True)
def test_a_plain_frame_for_a_tap_with_headers_gets_a_zero_header(rig: Rig) -> None:
    rig.install()
    f = frame(100)
    rig.to_worker(rig.sealed(f)[0])
    assert rig.tap_frames(1) == [bytes(10) + f]


def test_bad_installs_are_refused(rig: Rig) -> None:
    fast = rig.ours.fast
    with pytest.raises(ValueError, match="at most 3"):
        rig.w.install(fast, 9, FOREVER, "127.0.0.1", 1, [(7, fast, 1.0)] * 4, False)
    with pytest.raises(ValueError, match="numeric address"):
        rig.w.install(fast, 9, FOREVER, "localhost", 1, [], False)
    with pytest.raises(TypeError):
        rig.w.install("not a session", 9, FOREVER, None, 0, [], False)
    with pytest.raises(RuntimeError, match="runs already"):
        rig.w.start()


# -- frame runs collected across receive calls (wrun.c): an underlay without GRO, or a batch ending mid-frame --


def test_a_frame_sent_datagram_by_datagram_is_joined_and_opened(rig: Rig) -> None:
    rig.install()
    for n in (3000, 20000, 65000):
        for d in rig.sealed(frame(n, n)):
            rig.to_worker(d)
        assert rig.tap_frames(1) == [frame(n, n)]
    st = rig.settle()
    assert (st["runs_joined"], st["runs_handed_up"], st["handed_up"], st["rx_frames"]) == (3, 0, 0, 3)


def test_a_run_with_a_gap_goes_up_unchanged_and_in_order(rig: Rig) -> None:
    rig.install()
    first, _, last = rig.sealed(frame(3000))  # counters 0-2; 1 is lost
    (single,) = rig.sealed(frame(100))  # 3
    for d in (first, last, single):
        rig.to_worker(d)
    peer = rig.peer.getsockname()[:2]
    assert rig.handed_up(3) == [(1, first, peer), (1, last, peer), (1, single, peer)]
    (later,) = rig.sealed(frame(101))  # 4: the core reassembles now, and the worker holds the session for it
    rig.to_worker(later)  # (to loss_hold = 2 counters past the frame with the gap)
    assert rig.handed_up(1) == [(1, later, peer)]
    for d in rig.sealed(frame(5000)):  # 5-8: past the hold, at a frame's start: the worker's again
        rig.to_worker(d)
    assert rig.tap_frames(1) == [frame(5000)]
    st = rig.settle()
    assert (st["runs_handed_up"], st["runs_joined"], st["handed_up"]) == (1, 1, 4)


def test_frames_opened_while_the_core_has_datagrams_waiting_come_behind_them(rig: Rig) -> None:
    rig.install()
    first, _, last = rig.sealed(frame(3000))
    for d in (first, last, *rig.sealed(frame(100)), *rig.sealed(frame(101))):
        rig.to_worker(d)  # up (the hold), and not taken yet
    for d in rig.sealed(frame(5000)):
        rig.to_worker(d)  # the worker's: opened, but for the TAP behind what waits
    rig.opened(1)  # before anything is taken: taken first, the frame would find nothing to wait behind
    got = rig.handed_up(5)
    assert [g[0] for g in got] == [1, 1, 1, 1, 2] and got[-1][1:] == (frame(5000), None)


def test_frames_do_not_wait_behind_handshakes(rig: Rig) -> None:
    """Only what may reach the TAP through the core holds frames back: under a handshake flood every frame
    would otherwise take the Python path (torture's flood row kept 68% of its throughput so)."""
    rig.install()
    rig.to_worker(bytes([W.MSG_INITIATION]) + os.urandom(147))  # up, and not taken yet
    rig.to_worker_gso(frame(70))
    assert rig.tap_frames(1) == [frame(70)]  # straight to the TAP
    assert [g[0] for g in rig.handed_up(1)] == [1]


def test_an_incomplete_run_goes_up_after_a_short_wait(rig: Rig) -> None:
    rig.install()
    parts = rig.sealed(frame(3000))
    for d in parts[:2]:
        rig.to_worker(d)
    t0 = time.monotonic()
    assert [g[1] for g in rig.handed_up(2)] == parts[:2]
    assert time.monotonic() - t0 < 1.0


@pytest.mark.parametrize("rig", [{"loss_hold": 0}], indirect=True)
def test_forged_replayed_or_withdrawn_runs_go_up_for_the_core_to_count(rig: Rig) -> None:
    rig.install()  # loss_hold 0: a hold ends with the frame that started it
    parts = rig.sealed(frame(3000))  # 0-2
    for d in parts:
        rig.to_worker(d)
    assert rig.tap_frames(1) == [frame(3000)]
    for d in parts:  # again: a replay, up for the core to count
        rig.to_worker(d)
    assert [g[1] for g in rig.handed_up(3)] == parts
    nxt = rig.sealed(frame(3001))  # 3-5
    forged = [nxt[0], bytes(nxt[1][:-1]) + bytes([nxt[1][-1] ^ 1]), nxt[2]]
    for d in forged:
        rig.to_worker(d)
    assert [g[1] for g in rig.handed_up(3)] == forged
    more = rig.sealed(frame(3002))  # 6-8
    rig.to_worker(more[0])
    time.sleep(0.001)
    rig.w.install(None, 0, 0.0, None, 0, [], False)  # the session withdrawn: what was collected goes up
    assert rig.handed_up(1)[0][1] == more[0]
    st = rig.settle()
    assert (st["decrypt"], st["replay"], st["runs_joined"], st["runs_handed_up"]) == (0, 0, 1, 3)


def test_the_cores_hold_hands_up_what_it_needs_then_the_worker_takes_over(rig: Rig) -> None:
    peer = rig.peer.getsockname()[:2]
    rig.install(hold=5)  # the core needs counters up to 5
    a, b = rig.sealed(frame(5000)), rig.sealed(frame(3000))  # 0-3, 4-6: 6 is past 5, but in 5's frame
    for d in a + b:
        rig.to_worker(d)  # whole frame runs of a held session: up as one item each, for the core to open
    assert rig.handed_up(2) == [(3, b"".join(r), peer, len(r[0])) for r in (a, b)]
    for d in rig.sealed(frame(3001)):  # 7-9: the worker's
        rig.to_worker(d)
    assert rig.tap_frames(1) == [frame(3001)]
    rig.install(hold=9)  # the core asks for counters the worker opened itself (a partial frame from elsewhere):
    more = rig.sealed(frame(3002))  # 10-12: the worker holds, so the core's rules see what follows
    for d in more:
        rig.to_worker(d)
    assert [g[1] for g in rig.handed_up(1)] == [b"".join(more)]
    c = rig.sealed(frame(3003))  # 13-15, 13 lost: a gap widens the hold to 15 + loss_hold
    d2 = rig.sealed(frame(3004))  # 16-18: 18 is past 17, but in 17's frame
    for d in c[1:] + d2:
        rig.to_worker(d)  # what has a gap goes up datagram by datagram
    assert [g[1] for g in rig.handed_up(3)] == [*c[1:], b"".join(d2)]
    for d in rig.sealed(frame(3005)):
        rig.to_worker(d)
    assert rig.tap_frames(1) == [frame(3005)]
    st = rig.settle()
    assert (st["runs_joined"], st["handed_up"], st["runs_held"], st["rx_frames"]) == (2, 6, 4, 2)


def test_an_install_keeps_the_workers_hold_and_what_it_handed_up(rig: Rig) -> None:
    parts = rig.sealed(frame(5000))  # counters 0-3
    rig.install(hold=3)
    for d in parts[:2]:
        rig.to_worker(d)
    assert [g[1] for g in rig.handed_up(2)] == parts[:2]
    rig.install(hold=3)  # the core had not seen them yet when it installed: the worker's progress stays
    rig.install()  # and a core that asks for nothing does not end the worker's hold
    for d in parts[2:]:
        rig.to_worker(d)
    assert [g[1] for g in rig.handed_up(2)] == parts[2:]
    rig.to_worker_gso(frame(80))
    assert rig.tap_frames(1) == [frame(80)]


def test_a_held_sessions_whole_runs_go_up_as_one_item_each(rig: Rig) -> None:
    """Under a hold a frame run that is whole goes up as one item, the way it would reach the core in a GRO
    batch (its datagrams seg bytes apart), from one batch or collected across receive calls; one with a gap
    goes up datagram by datagram, as before."""
    peer = rig.peer.getsockname()[:2]
    rig.install(hold=20)
    buf, seg = rig.theirs.seal_frame(frame(9000), MAX_CHUNK)  # 0-6, in one GSO send: one GRO batch
    opt = [(17, 103, seg.to_bytes(2, "little"))]
    rig.peer.sendmsg([buf], opt, 0, rig.udp.getsockname())
    assert rig.handed_up(1) == [(3, bytes(buf), peer, seg)]
    gap = rig.sealed(frame(3000))  # 7-9, 8 lost
    whole = rig.sealed(frame(4000))  # 10-12, datagram by datagram
    for d in (gap[0], gap[2], *whole):
        rig.to_worker(d)
    assert rig.handed_up(3) == [(1, gap[0], peer), (1, gap[2], peer), (3, b"".join(whole), peer, len(whole[0]))]
    st = rig.settle()
    assert (st["runs_held"], st["runs_joined"], st["rx_frames"]) == (2, 0, 0)
