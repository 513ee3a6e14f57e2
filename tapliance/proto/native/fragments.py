"""Splitting frames into datagram-sized chunks and putting them back together.

Why: L2 bridging needs the TAP to keep a 1500-byte MTU (and offloads hand us 64 KiB super-frames),
while the underlay carries only ~1500-byte IP packets. Every chunk travels in its own data datagram,
sealed on its own, so a lost datagram costs at most its frame and a forged one is rejected alone.

The fragments of one frame take consecutive data counters, so the frame id is ``counter - index``:
no extra header bytes, and the id is authenticated with the rest of the header.

Reassembly is bounded: at most ``max_frames`` frames in progress and ``max_bytes`` buffered; the
oldest partial frame is evicted past either bound, and a partial frame older than the timeout is
dropped. Drops are counted by reason in ``drops`` (a dict the owner shares with its other counters).

Loss: a sender seals frames in counter order, so a partial frame that later datagrams of its session have
passed has lost a fragment (``overtaken``), unless the network reordered them. How much reordering is
allowed before it counts as loss: ``window`` counters, or ``reorder_time`` after the first later datagram
(whichever comes first: the last frame of a burst has nothing far behind it, and waiting for the 2 s
timeout there stalls TCP). Measured through the torture relay (docs/reliability.md): giving up at the
first later frame made depth-8 reordering alone cut a TCP transfer from 300 to 65 Mbit/s; waiting for 32
or 128 later datagrams without the time bound left 5% loss at 4-10 Mbit/s. If the frame is a GSO
super-frame (virtio-net header in chunk 0),
the TCP/UDP segments whose bytes all arrived are salvaged and delivered, each run of them that arrived whole
as one smaller super-frame (a virtio-net header that leaves segmenting and checksums to the kernel, as the
super-frame's did: no pass over the payload here, and one TAP write per run; offload.salvage_from ``runs``):
a lost datagram
then costs TCP one or two segments instead of a 64 KiB burst, which it otherwise must retransmit through
the same lossy path (1% loss would cut throughput ~50x).
"""

from __future__ import annotations

from tapliance.proto import offload
from tapliance.proto.drops import Drop, Drops
from tapliance.proto.native import wire as W
from tapliance.proto.native.constants import REASSEMBLY_TIMEOUT, REORDER_TIME, REORDER_WINDOW


def layout(n: int, max_chunk: int) -> tuple[int, int]:
    """(count, size): a frame of ``n`` bytes travels as ``count`` chunks of ``size`` bytes, the last one
    possibly shorter, where ``count = ceil(n / max_chunk)`` (at least 1: an empty frame is one empty
    chunk, a keepalive) and ``size = ceil(n / count)``, so chunk sizes are even and there is no tiny
    tail datagram. Raises ValueError past MAX_FRAGMENTS chunks."""
    count = -(-n // max_chunk) or 1
    if count > W.MAX_FRAGMENTS:
        raise ValueError(f"frame of {n} bytes needs {count} fragments (max {W.MAX_FRAGMENTS})")
    return count, -(-n // count)


INF = float("inf")


class _Partial:
    __slots__ = ("chunks", "end", "flags", "have", "owner", "passed", "sent", "size", "started", "tried")

    def __init__(self, frame_id: int, count: int, now: float, owner: object, flags: int) -> None:
        self.end = frame_id + count - 1  # the counter (and session) of its last fragment
        self.chunks: list[bytes | None] = [None] * count
        self.have = 0
        self.size = 0
        self.started = now
        self.passed: float | None = None  # when a later datagram of its session first arrived
        self.sent: set[int] = set()  # super-frames: where the segments delivered early start
        self.tried = 0  # how many chunks it had when its segments were last delivered early
        self.owner = owner
        self.flags = flags


class Reassembler:
    def __init__(
        self,
        drops: Drops,
        *,
        max_frames: int = 64,
        max_bytes: int = 4 << 20,
        timeout: float = REASSEMBLY_TIMEOUT,
        window: int = REORDER_WINDOW,
        reorder_time: float = REORDER_TIME,
    ) -> None:
        self.drops = drops
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.window = window
        self.reorder_time = reorder_time
        self.deadline = INF  # when ``expire`` must next give up passed partial frames
        self._pending: dict[int, _Partial] = {}  # frame id -> partial; insertion order = age
        self.pending = self._pending  # read by the receive path: "anything to give up?" costs no call
        self._bytes = 0
        self.salvaged = 0  # segments delivered out of overtaken super-frames

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def buffered(self) -> int:
        return self._bytes

    def add(
        self, counter: int, index: int, count: int, chunk: bytes, now: float, owner: object = None, flags: int = 0
    ) -> bytes | list[bytes] | None:
        """Take one authenticated fragment; return the whole frame once its last fragment arrives (or, of a
        super-frame some of whose segments were delivered early, the rest of them, as runs of segments: frames
        with a virtio-net header, FLAG_VNET).
        ``owner`` and ``flags`` (the data header's) come back with segments ``overtaken`` salvages."""
        frame_id = counter - index
        p = self._pending.get(frame_id)
        if p is None:
            if len(self._pending) >= self.max_frames:
                self._evict_oldest(Drop.FRAG_EVICTED)
            p = self._pending[frame_id] = _Partial(frame_id, count, now, owner, flags)
        elif len(p.chunks) != count:
            self._drop(frame_id, Drop.FRAG_INCONSISTENT)
            return None
        if p.chunks[index] is not None:
            self.drops.count(Drop.FRAG_DUPLICATE)
            return None
        p.chunks[index] = chunk
        p.have += 1
        p.size += len(chunk)
        self._bytes += len(chunk)
        if p.size > W.MAX_FRAME:
            self._drop(frame_id, Drop.FRAG_OVERSIZE)
            return None
        while self._bytes > self.max_bytes and self._pending:
            self._evict_oldest(Drop.FRAG_EVICTED)
        if frame_id not in self._pending:
            return None
        if p.have == count:
            del self._pending[frame_id]
            self._bytes -= p.size
            return self._segments_of(p) if p.sent else b"".join(p.chunks)  # type: ignore[arg-type]
        return None

    def early(self, counter: int) -> list[tuple[object, list[bytes]]]:
        """A frame sealed at ``counter`` (the session in the bits above 64) is about to be delivered. First,
        the segments that have fully arrived of the session's older partial super-frames are delivered (each
        segment once; the partial frame waits on for what is missing): a datagram lost or late then costs TCP
        only its own segments, and what did arrive reaches TCP in order, before the later frame."""
        session = counter >> 64
        out: list[tuple[object, list[bytes]]] = []
        for fid, p in self._pending.items():
            if p.end < counter and p.flags & W.FLAG_VNET and p.have > p.tried and fid >> 64 == session:
                p.tried = p.have
                segments = self._segments_of(p)
                if segments:
                    out.append((p.owner, segments))
        return out

    def hold(self, session: int) -> int | None:
        """Up to which counter a compiled worker must hand ``session``'s datagrams up for these rules to see
        what they need (runtime/worker.py installs it; worker.h ``tl_rx_slot``): each partial frame's rest and
        ``window`` more, by which it is complete, served early or given up. None: nothing (no partial frame,
        or only ones already passed and served, which the timer gives up)."""
        ends = [
            p.end
            for fid, p in self._pending.items()
            if fid >> 64 == session and (p.passed is None or (p.flags & W.FLAG_VNET and p.have > p.tried))
        ]
        return ((max(ends) + self.window + 1) & ((1 << 64) - 1)) if ends else None

    def _segments_of(self, p: _Partial) -> list[bytes]:
        """The segments of ``p`` that arrived whole and were not delivered yet (now marked delivered), in runs."""
        got = offload.salvage_from(p.chunks, p.sent, runs=True)
        for starts, _ in got:
            p.sent.update(starts)
            self.salvaged += len(starts)
        return [seg for _, seg in got]

    def overtaken(self, counter: int, now: float) -> list[tuple[object, list[bytes]]]:
        """An authenticated datagram with ``counter`` (the session in the bits above 64) arrived. The same
        session's partial frames it passes are lost once it is more than ``window`` counters past their last
        fragment, or ``reorder_time`` after the first datagram passed them (``expire``: a burst's last frame
        has nothing far behind it). Lost ones are dropped (``frag_overtaken``); returns, per owner, the
        segments salvaged from those that were GSO super-frames (runs of them, frames with a virtio-net header)."""
        if not self._pending:
            return []
        session, limit = counter >> 64, counter - self.window
        lost = []
        for fid, p in self._pending.items():
            if p.end >= counter or fid >> 64 != session:
                continue
            if p.end < limit:
                lost.append(fid)
            elif p.passed is None:
                p.passed = now
                self.deadline = min(self.deadline, now + self.reorder_time)
        return self._give_up(lost)

    def expire(self, now: float) -> list[tuple[object, list[bytes]]]:
        """The timer: give up partial frames passed ``reorder_time`` ago (salvaging, as ``overtaken``), and
        drop those older than the timeout (``frag_timeout``). Call it at ``deadline`` and every second."""
        out: list[tuple[object, list[bytes]]] = []
        if now >= self.deadline:
            due = now - self.reorder_time
            out = self._give_up([f for f, p in self._pending.items() if p.passed is not None and p.passed <= due])
            passed = [p.passed for p in self._pending.values() if p.passed is not None]
            self.deadline = min(passed) + self.reorder_time if passed else INF
        limit = now - self.timeout
        while self._pending:
            fid, p = next(iter(self._pending.items()))
            if p.started > limit:
                break
            self._drop(fid, Drop.FRAG_TIMEOUT)
        return out

    def _give_up(self, lost: list[int]) -> list[tuple[object, list[bytes]]]:
        out: list[tuple[object, list[bytes]]] = []
        for fid in lost:
            p = self._pending[fid]
            self._drop(fid, Drop.FRAG_OVERTAKEN)
            if p.flags & W.FLAG_VNET:
                segments = self._segments_of(p)
                if segments:
                    out.append((p.owner, segments))
        return out

    def _evict_oldest(self, reason: Drop) -> None:
        self._drop(next(iter(self._pending)), reason)

    def _drop(self, frame_id: int, reason: Drop) -> None:
        p = self._pending.pop(frame_id)
        self._bytes -= p.size
        self.drops.count(reason)
