"""The UDP transport on real loopback sockets (no root): runs of equal-size single-datagram frames
to one peer leave as one GSO send, and the receiver gets every datagram intact and in order; a dual-stack
socket reaches v4 peers and reports them to the node in plain v4 form."""

from __future__ import annotations

import socket
from types import SimpleNamespace
from typing import Any

import pytest

from tapliance.config import Endpoint
from tapliance.proto.drops import Drops
from tapliance.runtime.udp import (
    GSO_MAX_SEGMENTS,
    IP_MTU_DISCOVER,
    IP_PMTUDISC_DO,
    IP_PMTUDISC_WANT,
    UdpTransport,
    bind,
)


class CountingSocket(socket.socket):
    """A UDP socket that counts its send calls (sendmsg = one GSO send, sendto = one datagram)."""

    calls: list[tuple[str, int, int]]

    def sendmsg(self, buffers: Any, ancdata: Any = (), flags: int = 0, address: Any = None) -> int:
        seg = int.from_bytes(ancdata[0][2], "little") if ancdata else 0
        self.calls.append(("sendmsg", sum(len(b) for b in buffers), seg))
        return super().sendmsg(buffers, ancdata, flags, address)

    def sendto(self, data: Any, *args: Any) -> int:
        self.calls.append(("sendto", len(data), 0))
        return super().sendto(data, *args)


@pytest.fixture
def pair() -> Any:
    tx = CountingSocket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.calls = []
    rxs = []
    for _ in range(2):
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(2)
        rxs.append(rx)
    yield tx, rxs
    tx.close()
    for rx in rxs:
        rx.close()


def transport(sock: socket.socket, gso: bool = True, **kw: Any) -> UdpTransport:
    proto: Any = SimpleNamespace(tx=[])
    return UdpTransport(sock, proto, Drops(), gso=gso, **kw)


def recv_all(rx: socket.socket, n: int) -> list[bytes]:
    return [rx.recv(65535) for _ in range(n)]


def dgram(i: int, size: int) -> bytearray:
    return bytearray(i.to_bytes(2, "big") * (size // 2))


@pytest.mark.parametrize("gso", [True, False], ids=["gso", "no-gso"])
def test_small_frames_to_one_peer_leave_as_one_gso_send_and_arrive_intact(pair: Any, gso: bool) -> None:
    tx, (rx, other) = pair
    a, b = rx.getsockname(), other.getsockname()
    sent = [dgram(i, 120) for i in range(10)] + [dgram(10, 80)]  # ten full ones, a shorter last one
    queue: list[tuple[bytes | bytearray, Any, int]] = [(d, a, 1400) for d in sent]
    queue += [(dgram(11, 120), b, 1400), (dgram(12, 120), a, 1400)]  # another peer breaks the run
    transport(tx, gso).send_all(queue)
    assert recv_all(rx, 12) == [bytes(d) for d in sent] + [bytes(dgram(12, 120))]
    assert recv_all(other, 1) == [bytes(dgram(11, 120))]
    if gso:
        assert tx.calls == [("sendmsg", 10 * 120 + 80, 120), ("sendto", 120, 0), ("sendto", 120, 0)]
    else:
        assert [c[0] for c in tx.calls] == ["sendto"] * 13


def test_a_longer_datagram_or_a_multi_datagram_frame_is_not_coalesced(pair: Any) -> None:
    tx, (rx, _) = pair
    a = rx.getsockname()
    frame = bytearray(b"F" * 300)  # a sealed frame of three 100-byte datagrams (its own GSO send)
    queue: list[tuple[bytes | bytearray, Any, int]] = [
        (dgram(0, 100), a, 1400),
        (dgram(1, 100), a, 1400),
        (dgram(2, 140), a, 1400),
        (frame, a, 100),
    ]
    transport(tx).send_all(queue)
    got = recv_all(rx, 6)
    assert got[:3] == [bytes(dgram(0, 100)), bytes(dgram(1, 100)), bytes(dgram(2, 140))]
    assert got[3:] == [b"F" * 100] * 3
    assert tx.calls == [("sendmsg", 200, 100), ("sendto", 140, 0), ("sendmsg", 300, 100)]


def test_a_long_run_is_split_at_the_gso_segment_limit(pair: Any) -> None:
    tx, (rx, _) = pair
    a = rx.getsockname()
    n = GSO_MAX_SEGMENTS + 5
    transport(tx).send_all([(dgram(i, 64), a, 1400) for i in range(n)])
    assert recv_all(rx, n) == [bytes(dgram(i, 64)) for i in range(n)]
    assert tx.calls == [("sendmsg", GSO_MAX_SEGMENTS * 64, 64), ("sendmsg", 5 * 64, 64)]


def test_a_legacy_peers_socket_fragments_what_does_not_fit_a_native_one_sets_df() -> None:
    # A hub forwards 1514-byte frames from native peers (TAP MTU 1500) to a legacy peer whose format fits
    # less: with DF they were refused (EMSGSIZE, tx_too_big) and TCP between the two clients hung. The
    # originals (QuickTun, OTPTunnel) leave the kernel's default, fragmenting, and their far ends take it.
    native, legacy = bind(Endpoint("127.0.0.1", 0)), bind(Endpoint("127.0.0.1", 0), fragment=True)
    try:
        assert native.getsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER) == IP_PMTUDISC_DO
        assert legacy.getsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER) == IP_PMTUDISC_WANT
    finally:
        native.close()
        legacy.close()


def test_datagrams_above_gso_max_leave_one_by_one(pair: Any) -> None:
    # the kernel refuses GSO segments above the path MTU (EINVAL, which would turn GSO off for good):
    # datagrams that need IP fragmentation are sent one by one, smaller runs still as one GSO send
    tx, (rx, _) = pair
    a = rx.getsockname()
    big = [dgram(i, 1546) for i in range(3)]
    small = [dgram(i, 1000) for i in range(3)]
    transport(tx, gso_max=1472).send_all([(d, a, len(d)) for d in big + small])
    assert recv_all(rx, 6) == [bytes(d) for d in big + small]
    assert tx.calls == [("sendto", 1546, 0)] * 3 + [("sendmsg", 3000, 1000)]


def test_a_dual_stack_socket_reaches_v4_peers_through_the_mapped_address() -> None:
    """A v6 listen socket (``listen = "[::]:port"``) sends to v4 peers as ::ffff:a.b.c.d, one datagram and a
    coalesced run alike; the node only ever sees the plain v4 form."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this kernel")
    tx = CountingSocket(socket.AF_INET6, socket.SOCK_DGRAM)
    tx.calls = []
    tx.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(2)
    try:
        a = rx.getsockname()
        transport(tx).send_all([(dgram(0, 100), a, 1400), (dgram(1, 100), a, 1400)])
        transport(tx).send_all([(dgram(2, 90), a, 1400)])
        assert recv_all(rx, 3) == [bytes(dgram(0, 100)), bytes(dgram(1, 100)), bytes(dgram(2, 90))]
        assert [c[0] for c in tx.calls] == ["sendmsg", "sendto"]
    finally:
        tx.close()
        rx.close()


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6], ids=["v4", "dual-stack"])
def test_the_node_sees_a_v4_sender_in_plain_form(family: int) -> None:
    rx = socket.socket(family, socket.SOCK_DGRAM)
    if family == socket.AF_INET6:
        rx.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    rx.bind(("::" if family == socket.AF_INET6 else "127.0.0.1", 0))
    rx.setblocking(False)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    seen: list[tuple[bytes, Any]] = []
    proto: Any = SimpleNamespace(
        tx=[], on_datagram=lambda d, addr, now: seen.append((bytes(d), addr)), on_datagram_batch=None
    )
    try:
        tx.sendto(b"x" * 40, ("127.0.0.1", rx.getsockname()[1]))
        t = UdpTransport(rx, proto, Drops(), gso=True)
        for _ in range(100):
            t.on_readable(0.0)
            if seen:
                break
        assert seen == [(b"x" * 40, ("127.0.0.1", tx.getsockname()[1]))]
    finally:
        tx.close()
        rx.close()
