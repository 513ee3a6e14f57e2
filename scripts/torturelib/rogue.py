"""A rogue peer: configured on b (so its datagrams authenticate), and misbehaving on purpose.

It is tapliance's own sans-IO core (a NativeProtocol in this process, its socket in namespace x) for the
handshake; after it, datagrams are sealed by hand under the session's keys, so that their fragment fields
say whatever an attack needs: partial super-frames that never complete, a fragment sent twice or with
other bytes, fragments of one frame that disagree on the count, frames larger than any frame may be,
fragment indexes past the count.
"""

from __future__ import annotations

import os
import select
import time

from tapliance import keyfile
from tapliance.proto.native import wire as W
from tapliance.proto.native.base import NativeParams
from tapliance.proto.native.keypair import Keypair
from tapliance.proto.native.peer import PeerSpec
from tapliance.proto.native.protocol import NativeProtocol
from tapliance.proto.node import Node
from tapliance.proto.protocol import Context

from .kernel import udp_rx_queue
from .lab import Lab, LabError

PARAMS = NativeParams(
    suite="chacha20-poly1305",
    underlay_mtu=1500,
    ipv6=False,
    rekey_after_seconds=120,
    rekey_after_bytes=1 << 36,
    handshake_rate=50,
    handshake_cpu=0.01,
    passphrase_guesses=10,
    offload=False,
    fastpath=False,
)
QUEUE_LIMIT = 1 << 20


class Rogue:
    def __init__(self, lab: Lab, target: tuple[str, int], target_public: bytes, target_pid: int) -> None:
        self.key = keyfile.generate_private()
        self.target, self.target_pid = target, target_pid
        self.sock = lab.udp_socket("x")
        self.sock.setblocking(False)
        now = time.monotonic()
        ctx = Context(os.urandom, time.time() - now)
        spec = PeerSpec(target_public, "b", target, None, 0)
        self.proto = NativeProtocol(ctx, PARAMS, static_private=self.key, peers=[spec], now=now)
        self.node = Node(ctx, [self.proto], tap_vnet=False)
        self.sent = 0

    @property
    def public(self) -> bytes:
        return keyfile.public_from_private(self.key)

    def handshake(self, timeout: float = 10) -> Keypair:
        """Complete a handshake (with one broadcast frame, which confirms the keys) and return the keypair."""
        frame = b"\xff" * 6 + bytes.fromhex("02aa00000001") + b"\x08\x06" + bytes(46)
        self.node.on_frame(frame, time.monotonic())
        deadline = time.monotonic() + timeout
        peer = self.proto.ports[0]
        while peer.current is None:
            self._flush()
            if time.monotonic() > deadline:
                raise LabError("the rogue peer's handshake with b did not complete")
            if select.select([self.sock], [], [], 0.2)[0]:
                data, addr = self.sock.recvfrom(65536)
                self.proto.on_datagram(data, addr, time.monotonic())
            self.node.on_timer(time.monotonic())
        self._flush()
        return peer.current

    def _flush(self) -> None:
        for buf, addr, seg in self.proto.tx:
            for off in range(0, len(buf), seg):
                self.sock.sendto(bytes(buf[off : off + seg]), addr)
        self.proto.tx.clear()

    def counters(self, kp: Keypair, n: int) -> int:
        """Take ``n`` consecutive send counters (a frame's worth); the first one."""
        base = kp.counter
        kp.counter += n
        return base

    def seal(self, kp: Keypair, counter: int, index: int, count: int, chunk: bytes, flags: int = 0) -> bytes:
        hdr = W.DATA_HEADER.pack(W.MSG_DATA, flags, index, count, kp.remote_index, counter)
        return hdr + kp._send.encrypt(W.nonce96(counter), chunk, hdr)

    def send(self, datagram: bytes) -> None:
        """Send one datagram, pausing while b's socket holds more than QUEUE_LIMIT bytes."""
        while True:
            try:
                self.sock.sendto(datagram, self.target)
                break
            except BlockingIOError:
                time.sleep(0.001)
        self.sent += 1
        if self.sent % 100 == 0:
            while udp_rx_queue(self.target_pid, self.target[1]) > QUEUE_LIMIT:
                time.sleep(0.001)

    def close(self) -> None:
        self.sock.close()
