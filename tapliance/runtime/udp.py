"""The underlay UDP socket."""

from __future__ import annotations

import socket

from tapliance.config import Endpoint

IP_MTU_DISCOVER = 10
IP_PMTUDISC_DO = 2
IPV6_MTU_DISCOVER = 23
IPV6_PMTUDISC_DO = 2
BUFFER = 4 << 20
SOL_UDP = 17
UDP_SEGMENT = 103  # linux/udp.h: send one buffer as many datagrams (GSO), kernel 4.18+
UDP_GRO = 104  # receive coalesced datagrams with their segment size (GRO), kernel 5.0+
GSO_MAX_BYTES = 65000  # a GSO send must fit one maximal UDP payload
GSO_MAX_SEGMENTS = 64


class UdpError(RuntimeError):
    pass


def bind(listen: Endpoint) -> socket.socket:
    """A non-blocking UDP socket bound to ``listen``. DF is set: datagrams are sized to the underlay MTU
    by the core, so the kernel must never fragment them (a too-big datagram fails loudly instead)."""
    v6 = ":" in listen.host
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        if v6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO)
        else:
            s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
        for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            s.setsockopt(socket.SOL_SOCKET, opt, BUFFER)
        s.bind((listen.host, listen.port))
    except OSError as e:
        s.close()
        raise UdpError(f"cannot listen on UDP {listen}: {e.strerror}") from None
    s.setblocking(False)
    return s


def enable_gro(s: socket.socket) -> bool:
    try:
        s.setsockopt(SOL_UDP, UDP_GRO, 1)
        return True
    except OSError:
        return False


def normalize(addr: tuple[str, int] | tuple[str, int, int, int]) -> tuple[str, int]:
    """(host, port) from a v4 or v6 socket address; v4-mapped v6 addresses become plain v4."""
    host = addr[0]
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    return (host, addr[1])


def sendable(sock: socket.socket, addr: tuple[str, int]) -> tuple[str, int]:
    """Address form ``sock`` can send to (v4 peers via a dual-stack v6 socket need the mapped form)."""
    if sock.family == socket.AF_INET6 and ":" not in addr[0]:
        return (f"::ffff:{addr[0]}", addr[1])
    return addr
