"""The native protocol's receive path: datagrams in, frames to the switch.

Pipeline for data (the hot path):
    header -> receiver index -> keypair -> replay.check -> AEAD open -> replay.commit
    -> (authenticated from here) key confirmation, liveness, roaming -> reassembly -> switch
Handshake messages are rare and leave for initiator.py / responder.py after the type byte.

A UDP GRO batch usually holds whole frames, because the sender sent each frame's fragments as one
GSO burst; such a run is checked against the replay window once, opened straight into the frame's
buffer and committed once (``_open_run``). Anything else takes the per-datagram path, which gives the
same results and drop counts.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag

from tapliance.proto.drops import Drop
from tapliance.proto.events import Addr
from tapliance.proto.native import wire as W
from tapliance.proto.native.base import NativeBase
from tapliance.proto.native.keypair import Keypair
from tapliance.proto.native.peer import Peer
from tapliance.proto.native.state import Input

_unpack_data = W.DATA_HEADER.unpack_from
_nonce = W.nonce96
# what a compiled session's open() returns instead of a chunk (tl_verdict in tapliance/fastpath/core.h)
FAST_DROPS = {1: Drop.REPLAY, 2: Drop.EXPIRED_KEY, 3: Drop.DECRYPT}


class Receive(NativeBase):
    def on_datagram(self, data: bytes | memoryview, addr: Addr, now: float) -> None:
        """One datagram. ``data`` may be a view into the runtime's receive buffer: nothing keeps it."""
        n = len(data)
        if n < W.DATA_OVERHEAD:
            self.drops.count(Drop.SHORT)
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
        elif t == W.MSG_PAIR_INIT:
            self._on_pair_init(data, addr, now)
        elif t == W.MSG_PAIR_REPLY:
            self._on_pair_reply(data, addr, now)
        elif t == W.MSG_PAIR_CONFIRM:
            self._on_pair_confirm(data, addr, now)
        else:
            self.drops.count(Drop.BAD_TYPE)

    def on_datagram_batch(self, view: memoryview, seg: int, addr: Addr, now: float) -> None:
        """A GRO batch: whole in-order frame runs take ``_open_run``, everything else ``on_datagram``."""
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
            if (
                fidx != 0
                or fcnt == 1
                or end - seg >= n
                or kp is None
                or flags & ~W.FLAGS_KNOWN
                or now - kp.created >= self.reject_after
                or not self._open_run(view, off, seg, min(end, n), fcnt, receiver, counter, flags, kp, addr, now)
            ):
                self.on_datagram(first, addr, now)
                off += seg
                continue
            off = end

    def _open_run(
        self,
        view: memoryview,
        off: int,
        seg: int,
        end: int,
        fcnt: int,
        receiver: int,
        counter: int,
        flags: int,
        kp: Keypair,
        addr: Addr,
        now: float,
    ) -> bool:
        """Open a whole in-order frame run; False (nothing changed) if it is not one or fails.

        Only the first and the last header are compared field by field. Each datagram in between is
        opened with the nonce of ``counter + i`` and its own header as associated data, so it
        authenticates only if the peer sealed exactly that header under that counter, and a peer seals
        a frame's fragments under consecutive counters with one flags, count and receiver value (a
        datagram of another frame or session fails its tag and the run takes the general path)."""
        fast = kp.fast
        frame = (
            _open_frames(view, off, seg, end, fcnt, receiver, counter, flags, kp)
            if fast is None
            else fast.open_run(view, off, seg)  # the same checks, in C (tapliance/fastpath/core.c)
        )
        if frame is None:
            return False  # let the per-datagram path find and count the bad one
        peer = self.indices[receiver][0]
        self._authenticated(peer, kp, addr, now)
        if self.reasm.pending:
            self._salvage((kp.local_index << 64) | (counter + fcnt - 1), now, delivering=True)
        if flags & W.FLAG_CONTROL:
            self._control_in(peer, frame, flags, now)
            return True
        self._ingress(peer, frame, flags, now)
        return True

    def _salvage(self, key: int, now: float, *, delivering: bool) -> None:
        """Datagram ``key`` (session and counter) arrived: deliver what can be saved of the session's partial
        frames it overtook, and, when it completes a frame (``delivering``), what has arrived whole of the
        older ones (fragments.py): older than what it brings, so first."""
        out = self.reasm.overtaken(key, now)
        if delivering:
            out += self.reasm.early(key)
        self._deliver_salvaged(out, now)

    def _on_data(self, data: bytes | memoryview, addr: Addr, now: float) -> None:
        _, flags, fidx, fcnt, receiver, counter = _unpack_data(data)
        entry = self.indices.get(receiver)
        kp = entry[1] if entry is not None else None
        if entry is None or kp is None:
            self.drops.count(Drop.UNKNOWN_INDEX)
            return
        peer = entry[0]
        if fidx >= fcnt or flags & ~W.FLAGS_KNOWN:
            self.drops.count(Drop.BAD_HEADER)
            return
        fast = kp.fast
        if fast is not None:  # replay check, expiry, open, commit in one call: the same checks, in C
            chunk = fast.open(data, now - kp.created >= self.reject_after)
            if chunk.__class__ is int:
                self.drops.count(FAST_DROPS[chunk])
                return
        else:
            if not kp.replay.check(counter):
                self.drops.count(Drop.REPLAY)
                return
            if now - kp.created >= self.reject_after:
                self.drops.count(Drop.EXPIRED_KEY)
                return
            try:
                chunk = kp.decrypt(_nonce(counter), data[W.DATA_HEADER_LEN :], data[: W.DATA_HEADER_LEN])
            except InvalidTag:
                self.drops.count(Drop.DECRYPT)
                return
            if not kp.replay.commit(counter):
                self.drops.count(Drop.REPLAY)
                return
        self._authenticated(peer, kp, addr, now)
        if fcnt == 1:
            if self.reasm.pending:
                self._salvage((kp.local_index << 64) | counter, now, delivering=bool(chunk))
            if not chunk:
                return  # keepalive
            frame = chunk
        else:
            key = (kp.local_index << 64) | counter
            whole = self.reasm.add(key, fidx, fcnt, chunk, now, peer, flags)
            if self.reasm.pending:
                self._salvage(key, now, delivering=whole is not None)
            if whole is None:
                return
            if isinstance(whole, list):  # the rest of a super-frame whose first segments went early
                for seg in whole:
                    self._ingress(peer, seg, W.FLAG_VNET, now)
                return
            frame = whole
        if flags & W.FLAG_CONTROL:
            self._control_in(peer, frame, flags, now)
            return
        self._ingress(peer, frame, flags, now)

    def _authenticated(self, peer: Peer, kp: Keypair, addr: Addr, now: float) -> None:
        """Bookkeeping for an authenticated data message: key confirmation, liveness, roaming."""
        if kp is peer.next:
            peer.transition(Input.CONFIRM)
            self.indices.free(peer.confirm_next())
            self._flush(peer, now)
        peer.last_received = now
        peer.awaiting_reply_since = None
        if addr != peer.endpoint:
            self._set_endpoint(peer, addr)


def _open_frames(
    view: memoryview,
    off: int,
    seg: int,
    end: int,
    fcnt: int,
    receiver: int,
    counter: int,
    flags: int,
    kp: Keypair,
) -> bytearray | None:
    """The Python path of ``_open_run``: the frame, or None with nothing changed."""
    o = off + (fcnt - 1) * seg
    if end - o < W.DATA_OVERHEAD:
        return None  # the batch's last datagram is too short to be the frame's last fragment
    h = _unpack_data(view, o)
    if h[1] != flags or h[2] != fcnt - 1 or h[3] != fcnt or h[4] != receiver or h[5] != counter + fcnt - 1:
        return None
    if not kp.replay.check_run(counter, fcnt):
        return None
    size = seg - W.DATA_OVERHEAD
    frame = bytearray(size * (fcnt - 1) + end - o - W.DATA_OVERHEAD)
    out = memoryview(frame)
    dec, nonce, H = kp.decrypt_into, W.nonce96, W.DATA_HEADER_LEN
    o = off
    try:
        for i in range(fcnt - 1):
            dec(nonce(counter + i), view[o + H : o + seg], view[o : o + H], out[i * size : (i + 1) * size])
            o += seg
        dec(nonce(counter + fcnt - 1), view[o + H : end], view[o : o + H], out[(fcnt - 1) * size :])
    except InvalidTag:
        return None
    kp.replay.commit_run(counter, fcnt)
    return frame
