"""virtio-net super-frames -> plain frames for a peer without offloads, checked bit by bit."""

from __future__ import annotations

import struct

import pytest

from tapliance.proto import offload as O
from tapliance.proto.native import constants as K
from tests.unit.pair import MAC_A, MAC_B, pair

SRC4, DST4 = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
SRC6, DST6 = bytes(15) + b"\x01", bytes(15) + b"\x02"


def _tcp(payload_len: int, v6: bool, flags: int = 0x18 | 0x01 | 0x80) -> tuple[bytes, bytes]:
    """An Ethernet/IP/TCP super-frame as a TAP with TSO hands it out (pseudo-header sum in the
    checksum field, NEEDS_CSUM and GSO set), plus its payload."""
    payload = bytes(i % 251 for i in range(payload_len))
    tcp = struct.pack("!HHIIBBHHH", 1234, 80, 1000, 0, 5 << 4, flags, 65535, 0, 0)
    l4_len = len(tcp) + len(payload)
    if v6:
        ip = struct.pack("!IHBB", 6 << 28, l4_len, 6, 64) + SRC6 + DST6
        pseudo = O.checksum(SRC6 + DST6 + struct.pack("!HH", 6, l4_len))
        et, gso = b"\x86\xdd", O.GSO_TCPV6
    else:
        ip = bytearray(struct.pack("!BBHHHBBH", 0x45, 0, 20 + l4_len, 7, 0x4000, 64, 6, 0) + SRC4 + DST4)
        ip[10:12] = struct.pack("!H", ~O.checksum(ip) & 0xFFFF)
        pseudo = O.checksum(SRC4 + DST4 + struct.pack("!HH", 6, l4_len))
        et, gso = b"\x08\x00", O.GSO_TCPV4
    tcp = tcp[:16] + struct.pack("!H", pseudo) + tcp[18:]
    frame = MAC_B + MAC_A + et + bytes(ip) + tcp + payload
    l4 = 14 + len(ip)
    hdr = O.HDR.pack(O.F_NEEDS_CSUM, gso, l4 + 20, 1448, l4, 16)
    return hdr + frame, payload


def _verify_tcp(seg: bytes, v6: bool) -> tuple[int, int, bytes]:
    l3 = 14
    if v6:
        l4 = l3 + 40
        plen = struct.unpack("!H", seg[l3 + 4 : l3 + 6])[0]
        assert plen == len(seg) - l4
        pseudo = O.checksum(seg[l3 + 8 : l3 + 40] + struct.pack("!HH", 6, plen))
    else:
        l4 = l3 + 20
        assert struct.unpack("!H", seg[l3 + 2 : l3 + 4])[0] == len(seg) - l3
        assert O.checksum(seg[l3:l4]) == 0xFFFF  # IP header checksum verifies
        pseudo = O.checksum(seg[l3 + 12 : l3 + 20] + struct.pack("!HH", 6, len(seg) - l4))
    assert O.checksum(seg[l4:], pseudo) == 0xFFFF  # TCP checksum verifies
    seq = struct.unpack("!I", seg[l4 + 4 : l4 + 8])[0]
    return seq, seg[l4 + 13], seg[l4 + 20 :]


@pytest.mark.parametrize("v6", [False, True])
@pytest.mark.parametrize("size", [1, 1448, 1449, 60000])
def test_tcp_segmentation(v6: bool, size: int) -> None:
    sf, payload = _tcp(size, v6)
    segs = O.to_plain(sf)
    assert len(segs) == -(-size // 1448)
    got = b""
    for i, s in enumerate(segs):
        seq, flags, data = _verify_tcp(s, v6)
        assert seq == 1000 + i * 1448
        last = i == len(segs) - 1
        assert bool(flags & O.TCP_FIN) == last and bool(flags & O.TCP_PSH) == last
        assert bool(flags & O.TCP_CWR) == (i == 0)
        got += data
        assert len(s) <= 14 + (40 if v6 else 20) + 20 + 1448
    assert got == payload
    if not v6:
        ids = [struct.unpack("!H", s[18:20])[0] for s in segs]
        assert ids == list(range(7, 7 + len(segs)))


def test_checksum_only_frame_is_finished() -> None:
    sf, _ = _tcp(100, False)
    no_gso = O.HDR.pack(O.F_NEEDS_CSUM, O.GSO_NONE, 0, 0, 34, 16) + sf[O.HDR_LEN :]
    (seg,) = O.to_plain(no_gso)
    _verify_tcp(seg, False)


@pytest.mark.parametrize(
    "hdr",
    [
        O.HDR.pack(0, 99, 0, 1448, 0, 0),  # unknown GSO type
        O.HDR.pack(O.F_NEEDS_CSUM, O.GSO_NONE, 0, 0, 5000, 16),  # offsets outside the frame
        O.HDR.pack(O.F_NEEDS_CSUM, O.GSO_TCPV6, 54, 1448, 34, 16),  # v6 GSO on a v4 frame
        O.HDR.pack(0, O.GSO_TCPV4, 54, 0, 34, 16),  # zero segment size
    ],
)
def test_bad_headers_raise(hdr: bytes) -> None:
    sf, _ = _tcp(3000, False)
    with pytest.raises(O.OffloadError):
        O.to_plain(hdr + sf[O.HDR_LEN :])


def test_mixed_pair_interoperates() -> None:
    """An offload peer's super-frame reaches a plain peer as MSS-sized, checksummed frames, and a
    plain peer's frame reaches the offload peer with an empty virtio-net header in front."""
    net, a, b = pair(vnet=(True, False))  # a's TAP speaks vnet, b's does not
    net.advance(1)
    sf, payload = _tcp(20000, False)
    net.send_frame(a, sf)
    net.run()
    assert len(b.tap_out) == 14
    assert b"".join(_verify_tcp(s, False)[2] for s in b.tap_out) == payload
    plain = MAC_A + MAC_B + b"\x08\x00" + bytes(50)
    net.send_frame(b, plain)
    net.run()
    assert a.tap_out == [O.ZERO_HDR + plain]


def _chunks(sf: bytes, size: int) -> list[bytes]:
    return [sf[i : i + size] for i in range(0, len(sf), size)]


@pytest.mark.parametrize("v6", [False, True])
@pytest.mark.parametrize("lost", [[1], [5], [2, 3], [-1]], ids=["second", "middle", "two", "last"])
def test_salvage_delivers_exactly_the_segments_whose_bytes_arrived(v6: bool, lost: list[int]) -> None:
    sf, _payload = _tcp(20000, v6)
    size = 1380  # chunk size not aligned to the MSS: a lost chunk spoils the segments it overlaps
    chunks: list[bytes | None] = list(_chunks(sf, size))
    for i in lost:
        chunks[i] = None
    full = O.to_plain(sf)
    head = O.HDR_LEN + 14 + (40 if v6 else 20) + 20

    def intact(j: int) -> bool:
        start, end = head + j * 1448, min(head + (j + 1) * 1448, len(sf))
        return all(chunks[i] is not None for i in range(start // size, (end - 1) // size + 1))

    want = [seg for j, seg in enumerate(full) if intact(j)]
    got = O.salvage(chunks)
    assert got == want  # bit for bit what software segmentation of the whole frame gives
    assert 0 < len(got) < len(full)
    assert len(full) - len(got) <= 2 * len(lost)  # a lost datagram costs at most two segments
    for seg in got:
        _verify_tcp(seg, v6)
    runs = O.salvage_from(chunks, runs=True)  # for offload TAPs: each run of intact segments one frame
    assert [s for _, f in runs for s in O.to_plain(f)] == want  # the kernel's segmenting gives the same bytes
    assert sum(len(starts) for starts, _ in runs) == len(want) and len(runs) <= len(lost) + 1
    for starts, f in runs:
        flags, gso, hdr_len, mss, csum_start, csum_offset = O.HDR.unpack_from(f)
        assert flags == O.F_NEEDS_CSUM and (csum_start, csum_offset) == (hdr_len - 20, 16)
        assert (gso & ~O.GSO_ECN, mss) == (((O.GSO_TCPV6 if v6 else O.GSO_TCPV4), 1448) if len(starts) > 1 else (0, 0))


def test_salvage_needs_the_first_chunk_and_a_gso_frame() -> None:
    sf, _ = _tcp(20000, False)
    chunks: list[bytes | None] = list(_chunks(sf, 1380))
    assert O.salvage([None, *chunks[1:]]) == []  # headers lost: nothing to rebuild segments from
    plain = O.ZERO_HDR + MAC_B + MAC_A + b"\x08\x00" + bytes(3000)
    assert O.salvage([plain[:1380], None, plain[2760:]]) == []  # not a super-frame
    assert O.salvage([sf[:40], None]) == []  # headers do not fit in chunk 0


def test_lost_datagram_of_a_super_frame_costs_only_its_segments() -> None:
    """Offload peers: a super-frame loses one datagram; when the next frame completes, the segments
    that fully arrived are delivered first (each run of them one smaller super-frame, with a virtio-net
    header that leaves segmenting and the TCP checksum to the kernel, as the super-frame's did) and counted;
    the partial frame is given up REORDER_TIME later, delivering nothing twice."""
    net, a, b = pair(vnet=(True, True))
    net.advance(1)
    sf, payload = _tcp(30000, False)
    net.filter = lambda d, s, t: not (d[0] == 4 and d[2] == 7)  # lose fragment #7 of the super-frame
    net.send_frame(a, sf)
    net.run()
    assert b.tap_out == [] and len(b.p.reasm) == 1
    net.filter = lambda d, s, t: True
    sf2, _ = _tcp(3000, False)
    net.send_frame(a, sf2)
    net.run()
    assert b.n.drops == {}
    net.advance(K.REORDER_TIME, step=K.REORDER_TIME)
    assert b.n.drops == {"frag_overtaken": 1}
    *salvaged, last = b.tap_out
    assert last == sf2
    assert all(O.HDR.unpack_from(f)[0] == O.F_NEEDS_CSUM for f in salvaged)
    assert len(salvaged) == 2  # the runs of segments before and after the loss, a smaller super-frame each
    segs = [_verify_tcp(s, False) for f in salvaged for s in O.to_plain(f)]  # segmented and finished, as a kernel
    assert 18 <= len(segs) <= 20 and b.p.reasm.salvaged == len(segs)  # 21 segments, one or two lost
    for seq, _flags, data in segs:
        assert data == payload[seq - 1000 : seq - 1000 + len(data)]
    assert b.n.status(net.now)["reassembly_salvaged"] == len(segs)


@pytest.mark.parametrize("vnet", [(True, False), (False, True), (True, True)], ids=["a-only", "b-only", "both"])
def test_offloads_are_negotiated_in_the_handshake_both_ways(vnet: tuple[bool, bool]) -> None:
    """Each side announces CAP_VNET only if its TAP has offloads, as initiator (A) or responder (B); a side
    sends virtio-net headers and super-frames only to a side that announced it, and plain, segmented
    Ethernet frames to one that did not, so a peer without offloads never has to segment or checksum."""
    net, a, b = pair(vnet=vnet)
    net.advance(1)
    init = next(d for d, _, _ in net.captured if d[0] == 1)
    resp = next(d for d, _, _ in net.captured if d[0] == 2)
    assert (init[2], resp[1]) == (int(vnet[0]), int(vnet[1]))
    assert a.p.ports[0].vnet is vnet[1] and b.p.ports[0].vnet is vnet[0]
    net.captured.clear()
    for src, has in ((a, vnet[0]), (b, vnet[1])):
        sf, _ = _tcp(20000, False)
        net.send_frame(src, sf if has else O.to_plain(sf)[0])
        net.run()
    flags = {(s, d[1]) for d, s, _ in net.captured if d[0] == 4}
    assert flags == {(a.addr, int(vnet == (True, True))), (b.addr, int(vnet == (True, True)))}
    assert a.n.drops == b.n.drops == {}
