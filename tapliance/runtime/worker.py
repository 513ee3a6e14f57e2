"""The compiled path's worker (issue 16, step 3): a C thread that owns the TAP and the UDP socket of a
point-to-point peer and runs its established session with the GIL released (tapliance/fastpath/worker.h).

To the loop it is a transport in front of the peer's UdpTransport:
    attach  -> the TAP and the socket leave the loop's epoll; the worker's eventfd joins it; the thread starts
    ready   -> what the worker handed up (TAP frames it had no session for, datagrams that are not its to
               open: handshakes, other addresses, unknown or unconfirmed indices, control frames, fragments
               that do not make a whole run, collected runs it gave up on) goes to the node as if the loop
               had read it; the whole frame runs of a session the core holds (its reassembler is at work)
               as one GRO batch each; frames it opened while such datagrams waited come behind them, for the TAP
    flush   -> the UdpTransport sends what Python queued, then ``resync`` installs in the worker what the
               core decided: the usable keypair and endpoint to send with, the keypairs to open with
               (current, previous), and for each what the reassembler still needs of its datagrams
               (``Reassembler.hold``: up to which counter; the worker holds a session itself, too, whenever
               it hands a fragment up)
    sync    -> (every SYNC seconds, and before a status snapshot) the worker's counts become the peer's
               and the drops', its send and receive times the peer's, and volume rekeys are checked
With a two-queue TAP (runtime/tap.py queues_wanted, TAPLIANCE_TAP_QUEUES=2) there is a C worker per queue:
the first as above, the others only read their queue, seal and send; the first writes each frame it opens to
a queue by a hash of its flow, which is where the kernel then sends that flow's replies out
(docs/architecture.md).
The core stays the one authority: it installs, the worker only follows; keypairs are withdrawn by the
next ``resync`` after the core dropped them, and each has its expiry time in the worker too.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from typing import Any

from tapliance import fastpath
from tapliance.proto.drops import Drop
from tapliance.proto.native import constants as K
from tapliance.proto.native.peer import Peer
from tapliance.proto.native.protocol import NativeProtocol
from tapliance.proto.node import Node
from tapliance.runtime.loop import Poller, Transport
from tapliance.runtime.udp import UdpTransport, normalize, sendable

log = logging.getLogger("tapliance")
ENV = "TAPLIANCE_WORKER"  # 0: the compiled path without its thread (diagnostics, comparisons)
SYNC = 0.2
DROPS = {
    "replay": Drop.REPLAY,
    "expired_key": Drop.EXPIRED_KEY,
    "decrypt": Drop.DECRYPT,
    "runt": Drop.RUNT,
    "tap_busy": Drop.TAP_BUSY,
    "tap_error": Drop.TAP_ERROR,
    "tx_busy": Drop.TX_BUSY,
    "tx_error": Drop.TX_ERROR,
    "tx_too_big": Drop.TX_TOO_BIG,
    "rx_error": Drop.RX_ERROR,
    "worker_queue_full": Drop.WORKER_BUSY,
}
TOTALS = (
    "handed_up",
    "gso_sends",
    "gso_datagrams",
    "gro_receives",
    "gro_datagrams",
    "runs_joined",
    "runs_handed_up",
    "runs_held",
)


def why_not(node: Node, transports: list[Transport]) -> str | None:
    """None if a worker can take this daemon's data path; else why not, for the log."""
    if os.environ.get(ENV, "").strip() in ("0", "off", "no", "false"):
        return f"{ENV}=0"
    if len(transports) != 1 or not isinstance(transports[0], UdpTransport):
        return "more than one transport (TCP, legacy or shared ports)"
    proto = transports[0].protocol
    if not isinstance(proto, NativeProtocol) or proto.fast is None or not hasattr(proto.fast, "Worker"):
        return "not the compiled native protocol"
    ports = node.switch.ports
    if len(ports) != 1 or ports[0].protocol is not proto:
        return "not point to point (a hub or several peers)"
    return None


def wrap(node: Node, transports: list[Transport], tap_fds: list[int], tap_vnet: bool) -> list[Transport]:
    """The transports with the worker in front of the UDP one, where it can run (else unchanged)."""
    reason = why_not(node, transports)
    if reason is not None:
        for t in transports:
            proto = t.protocol if isinstance(t, UdpTransport) else None
            if isinstance(proto, NativeProtocol) and proto.fast is None and fastpath.fast is not None:
                log.info("data path: Python (tunnel.fastpath = false, or %s=0)", fastpath.ENV)
            elif isinstance(proto, NativeProtocol) and proto.fast is not None:
                if proto.params.fastpath is None:  # auto: the loop's compiled calls cost latency, not worth it
                    proto.python_path()
                    log.info("data path: Python (no worker thread: %s; fastpath = true compiles it anyway)", reason)
                else:
                    log.info("data path: compiled, in the loop (no worker thread: %s)", reason)
        return transports
    udp = transports[0]
    assert isinstance(udp, UdpTransport)
    fast = getattr(udp.protocol, "fast", None)
    small = "libsodium" if getattr(fast, "SODIUM", False) else "OpenSSL (no libsodium23)"
    log.info("data path: compiled, with a worker thread owning the TAP and the UDP socket; small messages: %s", small)
    return [DataWorker(node, udp, tap_fds, tap_vnet)]


class DataWorker:
    def __init__(self, node: Node, udp: UdpTransport, tap_fds: list[int], tap_vnet: bool) -> None:
        proto = udp.protocol
        assert isinstance(proto, NativeProtocol) and proto.fast is not None
        self.node, self.udp, self.proto, self.tap_fd, self.tap_vnet = node, udp, proto, tap_fds[0], tap_vnet
        sock, gso, chunk = udp.sock.fileno(), udp.gso, proto.max_chunk
        # one per TAP queue: the first sends and receives, the others (a multi-queue TAP) only send
        steer = tap_fds[1] if len(tap_fds) > 1 else -1  # the first writes half the flows to the second queue
        self.workers: list[Any] = [
            proto.fast.Worker(fd, sock, tap_vnet, gso, chunk, queue=q, steer_fd=steer if q == 0 else -1)
            for q, fd in enumerate(tap_fds)
        ]
        self.worker = self.workers[0]
        if len(tap_fds) > 1:
            log.info("TAP with %d queues: a send-only worker thread on each queue past the first", len(tap_fds))
        self._installed: tuple[object, ...] = ("nothing yet",)
        self.totals = dict.fromkeys(TOTALS, 0)
        self.queue_tx_frames = [0] * len(self.workers)  # what each queue's worker sealed
        self.started = False

    def attach(self, poller: Poller) -> None:
        poller.unregister(self.tap_fd)  # the worker reads the TAP and the socket from now on
        for w in self.workers:
            poller.register(w.fileno(), functools.partial(self._on_ready, worker=w))
        poller.every(SYNC, self.sync)
        self.resync(time.monotonic())
        for w in self.workers:
            w.start()
        self.started = True

    def _peer(self) -> Peer | None:
        ports = self.node.switch.ports  # a reload may have changed them: then the worker installs nothing
        p = ports[0] if len(ports) == 1 else None
        return p if isinstance(p, Peer) and p.protocol is self.proto else None

    def _on_ready(self, now: float, worker: Any) -> None:
        on_frame, on_datagram, v6, to_tap = self.node.on_frame, self.proto.on_datagram, self.udp.v6, self.node.to_tap
        for kind, data, addr, seg in worker.take():
            if kind == 1:
                on_datagram(data, normalize(addr) if v6 else addr, now)
            elif kind == 2:  # opened by the worker, queued behind datagrams of the core's: in their order
                to_tap.append(data)
            elif kind == 3:  # a whole frame run of a session the core holds: as if it came in one GRO batch
                self.proto.on_datagram_batch(memoryview(data), seg, normalize(addr) if v6 else addr, now)
            else:
                on_frame(data, now)

    def flush(self) -> None:
        self.udp.flush()
        self.resync(time.monotonic())

    def resync(self, now: float) -> None:
        """Install what the core decided, if it changed since the last time."""
        peer, proto = self._peer(), self.proto
        if peer is None:
            if self._installed != ():
                self._installed = ()
                for w in self.workers:
                    w.install(None, 0, 0.0, None, 0, [], True)  # nothing to open: all goes up
            return
        kp = peer.usable(now, proto.reject_after)
        tx = kp if kp is not None and peer.endpoint is not None and (peer.vnet or not self.tap_vnet) else None
        keypairs = [k for k in (peer.current, peer.previous) if k is not None]
        holds = tuple(proto.reasm.hold(k.local_index) for k in keypairs) if proto.reasm.pending else ()
        want = (tx, peer.endpoint, peer.current, peer.previous, holds)
        if want == self._installed:
            return
        self._installed = want
        host, port = (None, 0) if peer.endpoint is None else self._sendable(peer.endpoint)
        rx = [
            (k.local_index, k.fast, k.created + proto.reject_after, holds[i] if holds else None)
            for i, k in enumerate(keypairs)
        ]
        fast, remote, until = (
            (None, 0, 0.0) if tx is None else (tx.fast, tx.remote_index, tx.created + proto.reject_after)
        )
        for w in self.workers:
            w.install(fast, remote, until, host, port, rx, False)

    def _sendable(self, endpoint: tuple[str, int]) -> tuple[str, int]:
        return sendable(self.udp.sock, endpoint) if self.udp.v6 else endpoint

    def sync(self, now: float) -> None:
        """The worker's counts and times into the peer's and the drops'; volume rekeys."""
        st = self.worker.stats()
        self.queue_tx_frames[0] += st["tx_frames"]
        awaiting = [st["awaiting"]]  # the first's: its first send since it last received
        for q, w in enumerate(self.workers[1:], 1):  # a send-only worker's: its first send since the last sync
            more = w.stats()
            self.queue_tx_frames[q] += more["tx_frames"]
            awaiting.append(more["awaiting"])
            for name, n in more.items():
                if name != "awaiting":  # a time each, kept apart above
                    st[name] = max(st[name], n) if name.startswith("last_") else st[name] + n
        drops = self.node.drops
        for name, reason in DROPS.items():
            if st[name]:
                drops.count(reason, st[name])
        for name in TOTALS:
            self.totals[name] += st[name]
        peer = self._peer()
        if peer is None:
            return
        peer.tx_bytes += st["tx_bytes"]
        peer.tx_frames += st["tx_frames"]
        peer.rx_bytes += st["rx_bytes"]
        peer.rx_frames += st["rx_frames"]
        peer.last_sent = max(peer.last_sent, st["last_sent"])
        if st["last_received"] > peer.last_received:
            peer.last_received = st["last_received"]
            peer.awaiting_reply_since = None
        unanswered = [t for t in awaiting if t and t > peer.last_received]
        if unanswered and peer.awaiting_reply_since is None:
            peer.awaiting_reply_since = min(unanswered)
        kp = peer.current
        proto = self.proto
        if kp is not None and (kp.sent_bytes > proto.rekey_after_bytes or kp.counter > K.REKEY_AFTER_MESSAGES):
            proto._maybe_initiate(peer, now)

    def stats(self) -> dict[str, object]:
        self.sync(time.monotonic())
        st: dict[str, object] = dict(self.udp.stats())
        st["worker"] = True
        st["tap_queues"] = len(self.workers)
        st["queue_tx_frames"] = list(self.queue_tx_frames)
        for name in ("gso_sends", "gso_datagrams", "gro_receives", "gro_datagrams"):
            st[name] = int(st[name]) + self.totals[name]  # type: ignore[call-overload]
        for name in ("handed_up", "runs_joined", "runs_handed_up", "runs_held"):
            st[name] = self.totals[name]
        return st

    def stop(self) -> None:
        """Stop the thread (before the TAP and the socket close)."""
        if self.started:
            for w in self.workers:
                w.stop()
            self.started = False

    def close(self) -> None:
        self.stop()
        self.udp.close()
