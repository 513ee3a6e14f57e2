"""The protocol node: one local identity, its peers, and everything between the TAP and the wire.

Sans-IO: the runtime calls ``on_frame`` (a frame read from the TAP), ``on_datagram`` (a UDP datagram
and its source) and ``on_timer`` (at the deadline it returned), each with the current time, then
drains ``tx`` (datagrams to send), ``to_tap`` (frames to write) and ``events``. Drops are counted in
``drops`` by reason; a malformed or unauthenticated packet never raises and never creates state.

Receive pipeline for data (the hot path):
    header -> receiver index -> keypair -> replay.check -> AEAD open -> replay.commit
    -> (authenticated from here) key confirmation, roaming -> reassembly -> switch -> TAP / relay
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence

from cryptography.exceptions import InvalidTag

from tapliance.proto import handshake as hs
from tapliance.proto import offload
from tapliance.proto import primitives as P
from tapliance.proto import timers as T
from tapliance.proto import wire as W
from tapliance.proto.events import Addr, EndpointChanged, Event, HandshakeCompleted, PeerDown
from tapliance.proto.fragments import Reassembler
from tapliance.proto.peer import Peer, PeerSpec
from tapliance.proto.ratelimit import TokenBucket
from tapliance.proto.session import Keypair
from tapliance.proto.switch import MacTable
from tapliance.proto.wire import Frame
from tapliance.suites import suite_id

_unpack_data = W.DATA_HEADER.unpack_from
_nonce = W.nonce96
LOCAL = "local"  # the switch port of our own TAP
PASSIVE_KEEPALIVE = 10.0


class Node:
    def __init__(self, *, static_private: bytes, peers: Sequence[PeerSpec], random: Callable[[int], bytes],
                 now: float, unix_offset: float, suite: str = "chacha20-poly1305", underlay_mtu: int = 1500,
                 ipv6: bool = False, rekey_after_seconds: float = 120.0, rekey_after_bytes: int = 1 << 36,
                 handshake_rate: int = 50, vnet: bool = False) -> None:
        self.static_private = static_private
        self.static_public = P.dh_public(static_private)
        self.random = random
        self.unix_offset = unix_offset
        self.suite = suite
        self.suite_id = suite_id(suite)
        self.my_mac1_key = hs.mac1_key(self.static_public)
        self.my_cookie_key = hs.cookie_key(self.static_public)
        self.rekey_after = rekey_after_seconds
        self.rekey_after_bytes = rekey_after_bytes
        self.reject_after = T.reject_after_time(rekey_after_seconds)
        self.max_chunk = W.max_chunk(underlay_mtu, ipv6)
        # Our TAP speaks virtio-net headers (offloads): frames from it carry one, frames to it need one.
        self.vnet = vnet
        self.tap_flags = W.FLAG_VNET if vnet else 0
        self.tap_off = offload.HDR_LEN if vnet else 0
        self.peers: dict[bytes, Peer] = {}
        for spec in peers:
            self.peers[spec.public_key] = Peer(spec, P.dh(static_private, spec.public_key))
        self.peer_list = list(self.peers.values())
        self.hub = len(self.peer_list) > 1
        self.indices: dict[int, tuple[Peer, Keypair | None]] = {}  # None: our pending initiation
        # (buffer, destination, segment size): one datagram, or GSO-laid-out datagrams of `seg` bytes
        self.tx: list[tuple[bytes | bytearray, Addr, int]] = []
        self.to_tap: list[Frame] = []
        self.events: list[Event] = []
        self.drops: dict[str, int] = {}
        self.reasm = Reassembler(self.drops)
        self.macs: MacTable[object] = MacTable()
        self.bucket = TokenBucket(handshake_rate, handshake_rate, now)
        self._cookie_secret = random(32)
        self._cookie_secret_time = now

    def drop(self, reason: str) -> None:
        self.drops[reason] = self.drops.get(reason, 0) + 1

    # ---- frames from the TAP -------------------------------------------------------------------

    def on_frame(self, frame: bytes, now: float) -> None:
        o, flags = self.tap_off, self.tap_flags
        if len(frame) < 14 + o:
            self.drop("tap_runt")
            return
        if not self.hub:
            if self.peer_list:
                self._send_frame(self.peer_list[0], frame, now, flags)
            return
        self.macs.learn(frame[o + 6 : o + 12], LOCAL, now)
        port = None if frame[o] & 1 else self.macs.lookup(frame[o : o + 6], now)
        if isinstance(port, Peer):
            self._send_frame(port, frame, now, flags)
        elif port is None:  # broadcast, multicast, unknown unicast: flood
            for p in self.peer_list:
                self._send_frame(p, frame, now, flags, flood=True)

    def _send_frame(self, peer: Peer, frame: Frame, now: float, flags: int, flood: bool = False) -> None:
        kp = peer.usable(now, self.reject_after)
        if kp is None or peer.endpoint is None:
            if flood and peer.endpoint is None:
                return  # a hub does not queue floods for clients it has never heard from
            if len(peer.queue) == peer.queue.maxlen:
                self.drop("queue_full")
            peer.queue.append((frame, flags))
            self._maybe_initiate(peer, now)
            return
        try:
            buf, seg = kp.seal_frame(frame, self.max_chunk, flags)
        except ValueError:
            self.drop("frame_too_big")
            return
        self.tx.append((buf, peer.endpoint, seg))
        peer.tx_bytes += len(frame) - (offload.HDR_LEN if flags else 0)
        peer.tx_frames += 1
        self._sent(peer, now)
        if (kp.sent_bytes > self.rekey_after_bytes or kp.counter > T.REKEY_AFTER_MESSAGES
                or (kp.initiator and now - kp.created > self.rekey_after)):
            self._maybe_initiate(peer, now)

    def _sent(self, peer: Peer, now: float) -> None:
        peer.last_sent = now
        if peer.awaiting_reply_since is None:
            peer.awaiting_reply_since = now

    # ---- datagrams from the wire -----------------------------------------------------------------

    def on_datagram(self, data: bytes | memoryview, addr: Addr, now: float) -> None:
        """One datagram. ``data`` may be a view into the runtime's receive buffer: nothing keeps it."""
        n = len(data)
        if n < W.DATA_OVERHEAD:
            self.drop("short")
            return
        t = data[0]
        if t == W.MSG_DATA:
            self._on_data(data, addr, now)
            return
        data = bytes(data)  # handshake messages are rare: plain bytes for the crypto helpers
        if t == W.MSG_INITIATION:
            self._on_initiation(data, addr, now)
        elif t == W.MSG_RESPONSE:
            self._on_response(data, addr, now)
        elif t == W.MSG_COOKIE:
            self._on_cookie(data, now)
        else:
            self.drop("bad_type")

    def on_datagram_batch(self, view: memoryview, seg: int, addr: Addr, now: float) -> None:
        """Datagrams of ``seg`` bytes back to back in ``view`` (the last may be shorter), all from
        ``addr``: what one UDP GRO receive returns.

        Fast path: when all fragments of a frame sit in the batch in order (the common case, since
        the sender sent them as one GSO burst), they are checked against the replay window, opened
        straight into the frame's buffer and committed, and the per-frame bookkeeping runs once.
        Anything else (handshakes, a frame split across batches, a failed tag) takes the general
        per-datagram path, which produces the same results and drop counts.
        """
        n = len(view)
        off = 0
        unpack, indices = _unpack_data, self.indices
        while off < n:
            first = view[off : off + seg]
            if len(first) < W.DATA_OVERHEAD or first[0] != W.MSG_DATA:
                self.on_datagram(first, addr, now)
                off += seg
                continue
            _, flags, fidx, fcnt, receiver, counter = unpack(first)
            end = off + fcnt * seg
            entry = indices.get(receiver)
            kp = entry[1] if entry is not None else None
            if (fidx != 0 or fcnt == 1 or end - seg >= n or kp is None or flags & ~W.FLAGS_KNOWN
                    or now - kp.created >= self.reject_after
                    or not self._open_run(view, off, seg, min(end, n), fcnt, receiver, counter, flags, kp, addr, now)):
                self.on_datagram(first, addr, now)
                off += seg
                continue
            off = end

    def _open_run(self, view: memoryview, off: int, seg: int, end: int, fcnt: int, receiver: int, counter: int,
                  flags: int, kp: Keypair, addr: Addr, now: float) -> bool:
        """Open a whole in-order frame run; False (nothing changed) if it is not one or fails.

        Only the first and the last header are compared field by field. Each datagram in between is
        opened with the nonce of ``counter + i`` and its own header as associated data, so it
        authenticates only if the peer sealed exactly that header under that counter, and a peer seals
        a frame's fragments under consecutive counters with one flags, count and receiver value (a
        datagram of another frame or session fails its tag and the run takes the general path)."""
        h = _unpack_data(view, off + (fcnt - 1) * seg)
        if h[1] != flags or h[2] != fcnt - 1 or h[3] != fcnt or h[4] != receiver or h[5] != counter + fcnt - 1:
            return False
        if not kp.replay.check_run(counter, fcnt):
            return False
        size = seg - W.DATA_OVERHEAD
        last = end - (off + (fcnt - 1) * seg) - W.DATA_OVERHEAD
        frame = bytearray(size * (fcnt - 1) + last)
        out = memoryview(frame)
        dec, nonce, H = kp.decrypt_into, W.nonce96, W.DATA_HEADER_LEN
        o = off
        try:
            for i in range(fcnt - 1):
                dec(nonce(counter + i), view[o + H : o + seg], view[o : o + H], out[i * size : (i + 1) * size])
                o += seg
            dec(nonce(counter + fcnt - 1), view[o + H : end], view[o : o + H], out[(fcnt - 1) * size :])
        except InvalidTag:
            return False  # let the per-datagram path find and count the bad one
        kp.replay.commit_run(counter, fcnt)
        peer = self.indices[receiver][0]
        self._authenticated(peer, kp, addr, now)
        self._salvage((kp.local_index << 64) | counter, now)
        self._frame_in(peer, frame, flags, now)
        return True

    def _salvage(self, frame_id: int, now: float) -> None:
        """A frame completed: deliver what can be saved of older ones of its session that lost a datagram."""
        for owner, segments in self.reasm.overtaken(frame_id):
            if isinstance(owner, Peer):
                for seg in segments:
                    self._frame_in(owner, seg, 0, now)

    def _on_data(self, data: bytes | memoryview, addr: Addr, now: float) -> None:
        _, flags, fidx, fcnt, receiver, counter = _unpack_data(data)
        entry = self.indices.get(receiver)
        kp = entry[1] if entry is not None else None
        if entry is None or kp is None:
            self.drop("unknown_index")
            return
        peer = entry[0]
        if fidx >= fcnt or flags & ~W.FLAGS_KNOWN:
            self.drop("bad_header")
            return
        if not kp.replay.check(counter):
            self.drop("replay")
            return
        if now - kp.created >= self.reject_after:
            self.drop("expired_key")
            return
        try:
            chunk = kp.decrypt(_nonce(counter), data[W.DATA_HEADER_LEN :], data[: W.DATA_HEADER_LEN])
        except InvalidTag:
            self.drop("decrypt")
            return
        if not kp.replay.commit(counter):
            self.drop("replay")
            return
        self._authenticated(peer, kp, addr, now)
        if fcnt == 1:
            if not chunk:
                return  # keepalive
            frame = chunk
        else:
            key = (kp.local_index << 64) | counter
            whole = self.reasm.add(key, fidx, fcnt, chunk, now, peer, flags)
            if whole is None:
                return
            self._salvage(key - fidx, now)
            frame = whole
        self._frame_in(peer, frame, flags, now)

    def _authenticated(self, peer: Peer, kp: Keypair, addr: Addr, now: float) -> None:
        """Bookkeeping for an authenticated data message: key confirmation, liveness, roaming."""
        if kp is peer.next:
            self._free(peer.confirm_next())
            self._flush(peer, now)
        peer.last_received = now
        peer.awaiting_reply_since = None
        peer.down = False
        if addr != peer.endpoint:
            self._set_endpoint(peer, addr)

    def _frame_in(self, peer: Peer, frame: Frame, flags: int, now: float) -> None:
        o = offload.HDR_LEN if flags else 0
        if len(frame) < 14 + o:
            self.drop("runt")
            return
        peer.rx_bytes += len(frame) - o
        peer.rx_frames += 1
        if not self.hub:
            self._deliver(frame, flags)
        else:
            self._switch(peer, frame, flags, o, now)

    def _deliver(self, frame: Frame, flags: int) -> None:
        """To our TAP, converting between the sender's and our TAP's framing when they differ."""
        if flags == self.tap_flags:
            self.to_tap.append(frame)
        elif self.vnet:
            self.to_tap.append(offload.ZERO_HDR + frame)
        else:
            try:
                self.to_tap.extend(offload.to_plain(frame))
            except offload.OffloadError:
                self.drop("offload_bad")

    def _switch(self, src: Peer, frame: Frame, flags: int, o: int, now: float) -> None:
        """Hub forwarding of a frame that arrived from peer ``src`` (``o``: its vnet header length)."""
        self.macs.learn(bytes(frame[o + 6 : o + 12]), src, now)  # may be a bytearray: keys must be bytes
        port = None if frame[o] & 1 else self.macs.lookup(bytes(frame[o : o + 6]), now)
        if isinstance(port, Peer):
            if port is not src:
                self._send_frame(port, frame, now, flags)
            return
        self._deliver(frame, flags)
        if port is None:
            for p in self.peer_list:
                if p is not src:
                    self._send_frame(p, frame, now, flags, flood=True)

    # ---- handshake messages ----------------------------------------------------------------------

    def _under_load(self, data: bytes, mac2_off: int, sender: int, addr: Addr, now: float) -> bool:
        """True (and a cookie reply sent) when we are over the handshake rate and the message's mac2
        does not prove its source address."""
        if self.bucket.take(now):
            return False
        cookie = self._cookie_for(addr, now)
        if hs.check_mac2(data, mac2_off, cookie):
            return False
        nonce = self.random(24)
        reply = hs.create_cookie_reply(data, mac2_off - 16, sender, cookie, self.my_cookie_key, nonce)
        self.tx.append((reply, addr, len(reply)))
        self.drop("handshake_under_load")
        return True

    def _cookie_for(self, addr: Addr, now: float) -> bytes:
        if now - self._cookie_secret_time > T.COOKIE_SECRET_LIFETIME:
            self._cookie_secret = self.random(32)
            self._cookie_secret_time = now
        return P.mac(self._cookie_secret, f"{addr[0]}|{addr[1]}".encode())

    def _on_initiation(self, data: bytes, addr: Addr, now: float) -> None:
        if len(data) != W.INIT_LEN:
            self.drop("bad_length")
            return
        if not P.equal(P.mac(self.my_mac1_key, data[: W.INIT_MAC1_OFF]), data[W.INIT_MAC1_OFF : W.INIT_MAC2_OFF]):
            self.drop("bad_mac1")
            return
        sender = int.from_bytes(data[4:8], "little")
        if self._under_load(data, W.INIT_MAC2_OFF, sender, addr, now):
            return
        try:
            init = hs.consume_initiation(data, suite=self.suite_id, static_private=self.static_private,
                                         static_public=self.static_public, my_mac1_key=self.my_mac1_key,
                                         lookup_ss=lambda pk: p.ss if (p := self.peers.get(pk)) else None)
        except hs.HandshakeError as e:
            self.drop(e.reason)
            return
        peer = self.peers[init.peer_public]
        if init.timestamp <= peer.last_timestamp:
            self.drop("stale_timestamp")  # a replayed initiation
            return
        peer.last_timestamp = init.timestamp
        idx = self._new_index(peer)
        msg, keys = hs.create_response(init, sender_index=idx, ephemeral_private=self.random(32),
                                       psk=peer.psk, peer_mac1_key=peer.mac1_key, cookie=None)
        kp = Keypair(keys, self.suite, local_index=idx, remote_index=init.sender_index, initiator=False,
                     created=now)
        self.indices[idx] = (peer, kp)
        self._free(peer.install(kp, confirmed=False))
        self._set_endpoint(peer, addr)
        self.tx.append((msg, addr, len(msg)))
        self._completed(peer, addr, now, initiator=False)

    def _on_response(self, data: bytes, addr: Addr, now: float) -> None:
        if len(data) != W.RESP_LEN:
            self.drop("bad_length")
            return
        receiver = int.from_bytes(data[8:12], "little")
        entry = self.indices.get(receiver)
        st = entry[0].handshake if entry is not None and entry[1] is None else None
        if entry is None or st is None or st.sender_index != receiver:
            self.drop("unknown_index")
            return
        peer = entry[0]
        sender = int.from_bytes(data[4:8], "little")
        if self._under_load(data, W.RESP_MAC2_OFF, sender, addr, now):
            return
        try:
            remote, keys = hs.consume_response(data, st, static_private=self.static_private,
                                               my_mac1_key=self.my_mac1_key, psk=peer.psk)
        except hs.HandshakeError as e:
            self.drop(e.reason)
            return
        kp = Keypair(keys, self.suite, local_index=receiver, remote_index=remote, initiator=True, created=now)
        self.indices[receiver] = (peer, kp)
        peer.handshake = None
        self._free(peer.install(kp, confirmed=True))
        peer.last_received = now
        peer.awaiting_reply_since = None
        if addr != peer.endpoint:
            self._set_endpoint(peer, addr)
        self._completed(peer, addr, now, initiator=True)
        if not self._flush(peer, now):
            self._keepalive(peer, kp, now)  # key confirmation for the responder

    def _on_cookie(self, data: bytes, now: float) -> None:
        receiver = int.from_bytes(data[4:8], "little")
        entry = self.indices.get(receiver)
        st = entry[0].handshake if entry is not None and entry[1] is None else None
        if entry is None or st is None:
            self.drop("unknown_index")
            return
        try:
            _, cookie = hs.consume_cookie_reply(data, entry[0].cookie_key, st.mac1)
        except hs.HandshakeError as e:
            self.drop(e.reason)
            return
        entry[0].cookie, entry[0].cookie_time = cookie, now

    def _completed(self, peer: Peer, addr: Addr, now: float, *, initiator: bool) -> None:
        rekey = peer.last_handshake > 0
        peer.last_handshake = now
        peer.handshakes += 1
        peer.down = False
        self.events.append(HandshakeCompleted(peer.name, addr, initiator, rekey))

    def _set_endpoint(self, peer: Peer, addr: Addr) -> None:
        self.events.append(EndpointChanged(peer.name, peer.endpoint, addr))
        peer.endpoint = addr

    def _flush(self, peer: Peer, now: float) -> bool:
        if not peer.queue:
            return False
        frames = list(peer.queue)
        peer.queue.clear()
        for f, flags in frames:
            self._send_frame(peer, f, now, flags)
        return True

    def _keepalive(self, peer: Peer, kp: Keypair, now: float) -> None:
        if peer.endpoint is not None:
            buf, seg = kp.seal_frame(b"", self.max_chunk)
            self.tx.append((buf, peer.endpoint, seg))
            self._sent(peer, now)

    # ---- handshake initiation and timers ---------------------------------------------------------

    def _new_index(self, peer: Peer, kp: Keypair | None = None) -> int:
        while True:
            idx = int.from_bytes(self.random(4), "little")
            if idx not in self.indices:
                self.indices[idx] = (peer, kp)
                return idx

    def _free(self, dropped: Keypair | list[Keypair] | None) -> None:
        for kp in dropped if isinstance(dropped, list) else [dropped] if dropped else []:
            self.indices.pop(kp.local_index, None)

    def _maybe_initiate(self, peer: Peer, now: float) -> None:
        if peer.handshake is not None or peer.endpoint is None:
            return
        if now - peer.last_initiation < T.HANDSHAKE_MIN_INTERVAL:
            return
        peer.handshake_started = now
        self._send_initiation(peer, now)

    def _send_initiation(self, peer: Peer, now: float) -> None:
        assert peer.endpoint is not None
        if peer.handshake is not None:
            self.indices.pop(peer.handshake.sender_index, None)
        idx = self._new_index(peer)
        cookie = peer.cookie if now - peer.cookie_time < T.COOKIE_SECRET_LIFETIME else None
        msg, peer.handshake = hs.create_initiation(
            suite=self.suite_id, static_private=self.static_private, static_public=self.static_public,
            peer_public=peer.public_key, peer_mac1_key=peer.mac1_key, sender_index=idx,
            ephemeral_private=self.random(32), unix_time=now + self.unix_offset, cookie=cookie)
        peer.last_initiation = now
        peer.retransmit_at = now + T.REKEY_TIMEOUT + self.random(1)[0] / 768  # up to 1/3 s jitter
        self.tx.append((msg, peer.endpoint, len(msg)))

    def _give_up(self, peer: Peer) -> None:
        if peer.handshake is not None:
            self.indices.pop(peer.handshake.sender_index, None)
        peer.handshake = None
        self._free(peer.erase())
        peer.queue.clear()
        peer.awaiting_reply_since = None
        if not peer.down:
            peer.down = True
            self.events.append(PeerDown(peer.name, f"no handshake answer for {T.REKEY_ATTEMPT_TIME:.0f} s"))

    def on_timer(self, now: float) -> float:
        """Run due timers; return the time of the next deadline."""
        self.reasm.expire(now)
        deadline = now + 1.0
        for peer in self.peer_list:
            deadline = min(deadline, self._peer_timers(peer, now))
        return deadline

    def _peer_timers(self, peer: Peer, now: float) -> float:
        far = now + 3600.0
        if peer.handshake is not None and now >= peer.retransmit_at:
            if now - peer.handshake_started >= T.REKEY_ATTEMPT_TIME:
                self._give_up(peer)
            else:
                self._send_initiation(peer, now)
        if peer.current is not None and now - peer.current.created >= self.reject_after:
            self._free(peer.erase())
        kp = peer.usable(now, self.reject_after)
        deadlines = [far]
        if kp is not None:
            rekey_at = kp.created + self.rekey_after + (0 if kp.initiator else 2 * T.REKEY_TIMEOUT)
            if now >= rekey_at:
                self._maybe_initiate(peer, now)
            deadlines.append(max(rekey_at, now + T.HANDSHAKE_MIN_INTERVAL))
            interval = peer.keepalive or (PASSIVE_KEEPALIVE if peer.last_received > peer.last_sent else 0)
            if interval:
                if now - peer.last_sent >= interval:
                    self._keepalive(peer, kp, now)
                deadlines.append(peer.last_sent + interval)
        elif peer.keepalive > 0 and peer.endpoint is not None:
            self._maybe_initiate(peer, now)  # keep a configured tunnel up without waiting for traffic
            deadlines.append(peer.last_initiation + T.HANDSHAKE_MIN_INTERVAL)
        if peer.awaiting_reply_since is not None:
            dead_at = peer.awaiting_reply_since + (peer.keepalive or PASSIVE_KEEPALIVE) + T.REKEY_TIMEOUT
            if now >= dead_at and peer.handshake is None:
                peer.awaiting_reply_since = None
                self._maybe_initiate(peer, now)
            else:
                deadlines.append(dead_at)
        if peer.handshake is not None:
            deadlines.append(peer.retransmit_at)
        return min(deadlines)

    def status(self, now: float) -> dict[str, object]:
        return {
            "public_key": base64.b64encode(self.static_public).decode(),
            "suite": self.suite,
            "peers": [p.status(now, self.unix_offset) for p in self.peer_list],
            "drops": dict(sorted(self.drops.items())),
            "reassembly_pending": len(self.reasm),
            "reassembly_salvaged": self.reasm.salvaged,
            "mac_table": len(self.macs),
            "hub": self.hub,
        }
