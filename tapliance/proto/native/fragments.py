"""Splitting frames into datagram-sized chunks and putting them back together.

Why: L2 bridging needs the TAP to keep a 1500-byte MTU (and offloads hand us 64 KiB super-frames),
while the underlay carries only ~1500-byte IP packets. Every chunk travels in its own data datagram,
sealed on its own, so a lost datagram costs at most its frame and a forged one is rejected alone.

The fragments of one frame take consecutive data counters, so the frame id is ``counter - index``:
no extra header bytes, and the id is authenticated with the rest of the header.

Reassembly is bounded: at most ``max_frames`` frames in progress and ``max_bytes`` buffered; the
oldest partial frame is evicted past either bound, and a partial frame older than the timeout is
dropped. Drops are counted by reason in ``drops`` (a dict the owner shares with its other counters).

Loss: a sender seals frames in counter order, so when a frame completes, a partial frame of the same
session with a lower id has lost a fragment (``overtaken``). If it is a GSO super-frame (virtio-net
header in chunk 0), the TCP/UDP segments whose bytes all arrived are salvaged and delivered as plain
frames: a lost datagram then costs TCP one or two segments instead of a 64 KiB burst, which it
otherwise must retransmit through the same lossy path (1% loss would cut throughput ~50x).
"""

from __future__ import annotations

from tapliance.proto import offload
from tapliance.proto.drops import Drop, Drops
from tapliance.proto.native import wire as W
from tapliance.proto.native.constants import REASSEMBLY_TIMEOUT


def layout(n: int, max_chunk: int) -> tuple[int, int]:
    """(count, size): a frame of ``n`` bytes travels as ``count`` chunks of ``size`` bytes, the last one
    possibly shorter, where ``count = ceil(n / max_chunk)`` (at least 1: an empty frame is one empty
    chunk, a keepalive) and ``size = ceil(n / count)``, so chunk sizes are even and there is no tiny
    tail datagram. Raises ValueError past MAX_FRAGMENTS chunks."""
    count = -(-n // max_chunk) or 1
    if count > W.MAX_FRAGMENTS:
        raise ValueError(f"frame of {n} bytes needs {count} fragments (max {W.MAX_FRAGMENTS})")
    return count, -(-n // count)


class _Partial:
    __slots__ = ("chunks", "flags", "have", "owner", "size", "started")

    def __init__(self, count: int, now: float, owner: object, flags: int) -> None:
        self.chunks: list[bytes | None] = [None] * count
        self.have = 0
        self.size = 0
        self.started = now
        self.owner = owner
        self.flags = flags


class Reassembler:
    def __init__(
        self, drops: Drops, *, max_frames: int = 64, max_bytes: int = 4 << 20, timeout: float = REASSEMBLY_TIMEOUT
    ) -> None:
        self.drops = drops
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._pending: dict[int, _Partial] = {}  # frame id -> partial; insertion order = age
        self._bytes = 0
        self.salvaged = 0  # segments delivered out of overtaken super-frames

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def buffered(self) -> int:
        return self._bytes

    def add(
        self, counter: int, index: int, count: int, chunk: bytes, now: float, owner: object = None, flags: int = 0
    ) -> bytes | None:
        """Take one authenticated fragment; return the whole frame once its last fragment arrives.
        ``owner`` and ``flags`` (the data header's) come back with segments ``overtaken`` salvages."""
        frame_id = counter - index
        p = self._pending.get(frame_id)
        if p is None:
            if len(self._pending) >= self.max_frames:
                self._evict_oldest(Drop.FRAG_EVICTED)
            p = self._pending[frame_id] = _Partial(count, now, owner, flags)
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
            return b"".join(p.chunks)  # type: ignore[arg-type]
        return None

    def overtaken(self, frame_id: int) -> list[tuple[object, list[bytes]]]:
        """Frame ``frame_id`` (counter of its first fragment; the session in the bits above 64) is
        complete: drop the same session's older partial frames as lost (``frag_overtaken``) and
        return, per owner, the plain segments salvaged from those that were GSO super-frames."""
        if not self._pending:
            return []
        session = frame_id >> 64
        out: list[tuple[object, list[bytes]]] = []
        for fid in [f for f in self._pending if f < frame_id and f >> 64 == session]:
            p = self._pending[fid]
            self._drop(fid, Drop.FRAG_OVERTAKEN)
            if p.flags & W.FLAG_VNET:
                segments = offload.salvage(p.chunks)
                if segments:
                    self.salvaged += len(segments)
                    out.append((p.owner, segments))
        return out

    def expire(self, now: float) -> None:
        """Drop partial frames older than the timeout (call from the timer tick)."""
        limit = now - self.timeout
        while self._pending:
            fid, p = next(iter(self._pending.items()))
            if p.started > limit:
                break
            self._drop(fid, Drop.FRAG_TIMEOUT)

    def _evict_oldest(self, reason: Drop) -> None:
        self._drop(next(iter(self._pending)), reason)

    def _drop(self, frame_id: int, reason: Drop) -> None:
        p = self._pending.pop(frame_id)
        self._bytes -= p.size
        self.drops.count(reason)
