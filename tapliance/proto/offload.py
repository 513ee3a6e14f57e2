"""virtio-net headers: what a TAP with IFF_VNET_HDR puts in front of every frame, and how to turn a
super-frame into plain frames for a peer whose TAP has no offloads.

Why this exists: with offloads on (TUNSETOFFLOAD), the kernel hands the TAP reader TCP super-frames
of up to 64 KiB ("GSO"), with a partial checksum, and accepts such frames back on write. Carrying the
10-byte header end to end lets both kernels skip segmentation and checksumming entirely: one read,
one write and ~46 datagrams per 64 KiB instead of ~46 reads and writes. A peer without offloads
receives the same bytes and segments them here in software (and finishes partial checksums), so a
mixed pair interoperates without negotiation: the FLAG_VNET bit on each data message says what the
chunk holds. Reference: the virtio spec 5.1.6 ("struct virtio_net_hdr") and linux/virtio_net.h.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import NamedTuple

HDR = struct.Struct("<BBHHHH")  # flags, gso_type, hdr_len, gso_size, csum_start, csum_offset
HDR_LEN = 10
ZERO_HDR = bytes(HDR_LEN)
F_NEEDS_CSUM = 1
GSO_NONE, GSO_TCPV4, GSO_UDP, GSO_TCPV6, GSO_UDP_L4 = 0, 1, 3, 4, 5  # GSO_UDP (UFO): never offered by us
GSO_ECN = 0x80
TCP_FIN, TCP_PSH, TCP_CWR = 0x01, 0x08, 0x80


class OffloadError(ValueError):
    """A header we cannot honour; the caller counts a drop."""


def checksum(data: bytes | bytearray | memoryview, initial: int = 0) -> int:
    """Internet checksum (RFC 1071) of ``data``, folded, not inverted. Uses the identity that the
    ones'-complement sum of 16-bit words is the big-endian integer modulo 0xFFFF."""
    if len(data) % 2:
        data = bytes(data) + b"\x00"
    s = (int.from_bytes(data, "big") + initial) % 0xFFFF
    return s or (0xFFFF if (initial or any(data)) else 0)


def _finish_csum(f: bytearray, start: int, offset: int) -> None:
    """The kernel left the pseudo-header sum in the checksum field; sum the rest and store it."""
    pos = start + offset
    if pos + 2 > len(f) or start >= len(f):
        raise OffloadError("checksum offsets outside the frame")
    f[pos : pos + 2] = struct.pack("!H", ~checksum(memoryview(f)[start:]) & 0xFFFF)


def _l3(f: bytes | bytearray) -> tuple[int, int]:
    """(offset of the IP header, ethertype), skipping 802.1Q/802.1ad tags."""
    off = 12
    et = int.from_bytes(f[off : off + 2], "big")
    while et in (0x8100, 0x88A8):
        off += 4
        et = int.from_bytes(f[off : off + 2], "big")
    return off + 2, et


def _pseudo(f: bytearray, l3: int, v6: bool, proto: int, length: int) -> int:
    src_dst = f[l3 + 8 : l3 + 40] if v6 else f[l3 + 12 : l3 + 20]
    return checksum(bytes(src_dst) + struct.pack("!HH", proto, length))


def to_plain(frame: bytes | bytearray) -> list[bytes]:
    """Frames without virtio-net header, segmented and checksummed as the header asks."""
    return [seg for _, seg in _segments(frame)]


def salvage(chunks: list[bytes | None]) -> list[bytes]:
    """What can still be delivered of a GSO super-frame some of whose chunks were lost: the plain,
    checksummed TCP/UDP segments whose bytes all arrived (headers come from chunk 0; without it,
    nothing). The chunks are a fragmented frame's: all the same size but the last."""
    return [seg for _, seg in salvage_from(chunks)]


def salvage_from(
    chunks: list[bytes | None], skip: set[int] | frozenset[int] = frozenset(), *, runs: bool = False
) -> list[tuple[list[int], bytes]]:
    """``salvage`` as (where the payload of each segment a frame holds starts in the super-frame, frame),
    leaving out the segments starting at an offset in ``skip`` (those delivered already). ``runs``: for a TAP
    or peer with offloads, each run of consecutive TCP segments that all arrived is one frame with a
    virtio-net header that leaves segmenting and checksums to the kernel, as the super-frame itself did
    (GSO, ``F_NEEDS_CSUM``: the pseudo-header sum in the field); a lone segment, or a UDP one, one frame
    whose checksum is left to the kernel. ``to_plain`` finishes them for a plain TAP or peer."""
    first = chunks[0]
    if first is None or len(first) < HDR_LEN + 14:
        return []
    _flags, gso_type, _hdr_len, gso_size, _cs, _co = HDR.unpack_from(first)
    if gso_type & ~GSO_ECN not in (GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4) or gso_size == 0:
        return []
    size = len(first)
    last = chunks[-1]
    frame = bytearray(size * (len(chunks) - 1) + (len(last) if last is not None else size))
    for i, c in enumerate(chunks):
        if c is not None:
            frame[i * size : i * size + len(c)] = c

    def arrived(start: int, end: int) -> bool:
        return start not in skip and all(chunks[i] is not None for i in range(start // size, (end - 1) // size + 1))

    try:
        return list(_segments(frame, arrived, header_within=size, runs=runs))
    except OffloadError:
        return []


class _Layout(NamedTuple):
    """Where a super-frame's headers are, as ``_segments`` needs them for every segment."""

    l3: int  # offset of the IP header in the frame (virtio-net header stripped)
    l4: int  # offset of the TCP/UDP header
    l4_len: int
    head: int  # offset of the payload
    v6: bool
    tcp: bool
    seq: int  # TCP sequence number of the first segment
    ip_id: int  # IPv4 identification of the first segment
    mss: int  # the payload bytes per segment (the virtio-net header's gso_size)


def _layout(f: bytearray, flags: int, kind: int, csum_start: int, gso_size: int, header_within: int | None) -> _Layout:
    l3, et = _l3(f)
    v6 = et == 0x86DD
    if (kind == GSO_TCPV4 and et != 0x0800) or (kind == GSO_TCPV6 and not v6):
        raise OffloadError("GSO type does not match the IP version")
    l4 = csum_start if flags & F_NEEDS_CSUM else l3 + (40 if v6 else (f[l3] & 0x0F) * 4)
    tcp = kind != GSO_UDP_L4
    l4_len = (f[l4 + 12] >> 4) * 4 if tcp else 8
    head = l4 + l4_len
    if head > len(f) or l4 <= l3 or (header_within is not None and HDR_LEN + head > header_within):
        raise OffloadError("header lengths outside the frame")
    seq = int.from_bytes(f[l4 + 4 : l4 + 8], "big") if tcp else 0
    ip_id = int.from_bytes(f[l3 + 4 : l3 + 6], "big") if not v6 else 0
    return _Layout(l3, l4, l4_len, head, v6, tcp, seq, ip_id, gso_size)


def _segments(
    frame: bytes | bytearray,
    keep: Callable[[int, int], bool] | None = None,
    header_within: int | None = None,
    runs: bool = False,
) -> Iterator[tuple[list[int], bytes]]:
    """(starts, plain frame) per segment of ``frame``, starts holding where the segment's payload starts in
    ``frame``; segments for which ``keep(start, end)`` (their payload's byte range) is false are skipped,
    and with ``header_within`` the headers must lie in the first that many bytes. ``runs``: see
    salvage_from (then a frame may hold several segments, and starts has each one's)."""
    if len(frame) < HDR_LEN + 14:
        raise OffloadError("frame shorter than its headers")
    flags, gso_type, _hdr_len, gso_size, csum_start, csum_offset = HDR.unpack_from(frame)
    f = bytearray(frame[HDR_LEN:])
    kind = gso_type & ~GSO_ECN
    if kind == GSO_NONE:
        if flags & F_NEEDS_CSUM:
            _finish_csum(f, csum_start, csum_offset)
        yield [HDR_LEN], bytes(f)
        return
    if kind not in (GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4) or gso_size == 0:
        raise OffloadError(f"unsupported GSO type {gso_type}")
    lay = _layout(f, flags, kind, csum_start, gso_size, header_within)
    payload = memoryview(f)[lay.head :]
    n = -(-len(payload) // gso_size) or 1
    group: list[int] = []  # consecutive segments kept, for one frame (runs)
    for i in range(n + 1):
        start = HDR_LEN + lay.head + i * gso_size
        kept = i < n and (keep is None or keep(start, min(start + gso_size, len(frame))))
        if group and (not kept or not (runs and lay.tcp)):
            first, count = group[0], len(group)
            chunk = payload[first * gso_size : (first + count) * gso_size]
            yield [HDR_LEN + lay.head + j * gso_size for j in group], _segment(f, lay, chunk, first, n, runs, count)
            group = []
        if kept:
            group.append(i)


def _segment(f: bytearray, lay: _Layout, chunk: memoryview, i: int, n: int, partial: bool, count: int = 1) -> bytes:
    """Segments ``i`` .. ``i + count - 1`` of ``n`` as one frame: the super-frame's headers with lengths, ids,
    sequence number, flags and checksums rewritten for ``chunk``. ``partial``: the L4 checksum left to the
    kernel (salvage_from), as is the segmenting of a frame of more than one."""
    l3, l4, head = lay.l3, lay.l4, lay.head
    s = bytearray(f[:head])
    s += chunk
    l4_total = lay.l4_len + len(chunk)
    if lay.v6:
        s[l3 + 4 : l3 + 6] = struct.pack("!H", (head - l3 - 40) + len(chunk))
    else:
        s[l3 + 2 : l3 + 4] = struct.pack("!H", head - l3 + len(chunk))
        s[l3 + 4 : l3 + 6] = struct.pack("!H", (lay.ip_id + i) & 0xFFFF)
        s[l3 + 10 : l3 + 12] = b"\x00\x00"
        s[l3 + 10 : l3 + 12] = struct.pack("!H", ~checksum(s[l3:l4]) & 0xFFFF)
    gso = GSO_NONE
    if lay.tcp:
        s[l4 + 4 : l4 + 8] = struct.pack("!I", (lay.seq + i * lay.mss) & 0xFFFFFFFF)
        fl = s[l4 + 13]
        if i + count < n:
            fl &= ~(TCP_FIN | TCP_PSH)
        if i > 0:
            fl &= ~TCP_CWR
        s[l4 + 13] = fl
        cpos = l4 + 16
        if count > 1:
            gso = (GSO_TCPV6 if lay.v6 else GSO_TCPV4) | (GSO_ECN if fl & TCP_CWR else 0)
    else:
        s[l4 + 4 : l4 + 6] = struct.pack("!H", l4_total)
        cpos = l4 + 6
    pseudo = _pseudo(s, l3, lay.v6, 6 if lay.tcp else 17, l4_total)
    if partial:
        s[cpos : cpos + 2] = struct.pack("!H", pseudo)
        return HDR.pack(F_NEEDS_CSUM, gso, head, lay.mss if count > 1 else 0, l4, cpos - l4) + s
    s[cpos : cpos + 2] = b"\x00\x00"
    c = ~checksum(memoryview(s)[l4:], pseudo) & 0xFFFF
    s[cpos : cpos + 2] = struct.pack("!H", c if (c or lay.tcp) else 0xFFFF)
    return bytes(s)
