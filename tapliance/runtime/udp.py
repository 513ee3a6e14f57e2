"""The UDP transport: one socket, datagrams in and out for one datagram protocol.

Receive: ``recvmsg_into`` a preallocated buffer; with UDP_GRO one call returns many datagrams of the
same size, handed to the protocol as one batch (views, no copies). Send: a protocol's buffer of
equal-size datagrams back to back leaves with one ``sendmsg`` + UDP_SEGMENT (GSO), or one ``sendto``
per datagram where GSO is unavailable; runs of single-datagram frames of one size to one address are
joined into one GSO send too. I/O errors are counted drops (``tx_*``/``rx_error``), never fatal: a full
socket buffer or an unreachable peer must not stop the tunnel. The transport knows sockets and
addresses, not protocols: anything with ``on_datagram``/``on_datagram_batch`` and ``tx`` will do.
"""

from __future__ import annotations

import errno
import logging
import socket
from typing import Any

from tapliance.config import Endpoint
from tapliance.proto.drops import Drop, Drops
from tapliance.proto.protocol import DatagramProtocol
from tapliance.runtime.loop import BATCH, BATCH_BYTES, Poller  # one loop turn's budget, per readiness event

log = logging.getLogger("tapliance")
IP_MTU_DISCOVER = 10
IP_PMTUDISC_WANT = 1
IP_PMTUDISC_DO = 2
IPV6_MTU_DISCOVER = 23
IPV6_PMTUDISC_WANT = 1
IPV6_PMTUDISC_DO = 2
BUFFER = 4 << 20
SOL_UDP = 17
UDP_SEGMENT = 103  # linux/udp.h: send one buffer as many datagrams (GSO), kernel 4.18+
UDP_GRO = 104  # receive coalesced datagrams with their segment size (GRO), kernel 5.0+
GSO_MAX_BYTES = 65000  # a GSO send must fit one maximal UDP payload
GSO_MAX_SEGMENTS = 64
RECV_SIZE = 1 << 17
_GRO_CMSG = socket.CMSG_SPACE(4)
TxEntry = tuple[bytes | bytearray, tuple[str, int], int]


class UdpError(RuntimeError):
    pass


def bind(listen: Endpoint, *, fragment: bool = False) -> socket.socket:
    """A non-blocking UDP socket bound to ``listen``. DF is set: the native protocol sizes its datagrams
    to the underlay MTU, so the kernel must never fragment them (a too-big datagram fails loudly instead).

    ``fragment``: a legacy peer's socket. A predecessor's format has no fragments of its own and its
    originals send a frame too big for the underlay as one IP-fragmented datagram (the kernel's default,
    PMTUDISC_WANT), which their far ends reassemble and take. Our own TAP's frames fit (its MTU is what the
    format fits), but a hub also forwards frames from native peers, whose TAP MTU is 1500: with DF these
    would be refused (EMSGSIZE), a black hole for TCP between a native and a legacy client."""
    v6 = ":" in listen.host
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        if v6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            pmtu = IPV6_PMTUDISC_WANT if fragment else IPV6_PMTUDISC_DO
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, pmtu)
        else:
            s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_WANT if fragment else IP_PMTUDISC_DO)
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


class UdpTransport:
    def __init__(
        self,
        sock: socket.socket,
        protocol: DatagramProtocol[Any],
        drops: Drops,
        *,
        gso: bool = True,
        gro: bool = False,
        gso_max: int = GSO_MAX_BYTES,
    ) -> None:
        """``gso_max``: datagrams longer than this are never joined into a GSO send (the kernel refuses
        segments above the path MTU; a fragmenting socket sends such datagrams one by one instead)."""
        self.sock = sock
        self.gso_max = gso_max
        self.protocol = protocol
        self.drops = drops
        self.gso = gso
        self.gro = gro
        self._rbuf = bytearray(RECV_SIZE)
        self._rview = memoryview(self._rbuf)
        self.v6 = sock.family == socket.AF_INET6  # v4 peers need the mapped form, source addresses the plain one
        # batch statistics (metrics): per receive or send call, never per datagram
        self.gro_receives = self.gro_datagrams = self.gso_sends = self.gso_datagrams = 0
        host, port = sock.getsockname()[:2]
        self.listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def attach(self, poller: Poller) -> None:
        """Give the event loop our file descriptor and what to call when it is readable."""
        poller.register(self.sock.fileno(), self.on_readable)

    def on_readable(self, now: float) -> None:
        proto = self.protocol
        on_dgram, on_batch = proto.on_datagram, proto.on_datagram_batch
        recv, view = self.sock.recvmsg_into, self._rview
        bufs = [self._rbuf]
        v6 = self.v6
        budget = BATCH_BYTES
        for _ in range(BATCH):
            try:
                n, anc, _flags, addr = recv(bufs, _GRO_CMSG)
            except BlockingIOError:
                break
            except OSError as e:  # e.g. ICMP port unreachable reported on the socket
                self.drops.count(Drop.RX_ERROR)
                log.debug("UDP receive: %s", e)
                continue
            src = normalize(addr) if v6 else addr
            seg = n
            for level, kind, data in anc:
                if level == SOL_UDP and kind == UDP_GRO:
                    seg = int.from_bytes(data[:4], "little") or n
            if seg >= n:
                on_dgram(view[:n], src, now)
            else:
                self.gro_receives += 1
                self.gro_datagrams += -(-n // seg)
                on_batch(view[:n], seg, src, now)
            budget -= n
            if budget <= 0:
                break

    def flush(self) -> None:
        tx = self.protocol.tx
        if tx:
            self.send_all(tx)
            tx.clear()

    def send_all(self, tx: list[TxEntry]) -> None:
        """Send what the protocol queued. Runs of single-datagram frames of one size to one peer (a flood
        of small packets, e.g. VoIP or 64-byte UDP) leave as one GSO send like a super-frame's fragments;
        the receiver's GRO path takes them apart again. Each datagram stays sealed on its own."""
        sock, i, m = self.sock, 0, len(tx)
        while i < m:
            buf, addr, seg = tx[i]
            n = len(buf)
            j = i + 1
            if self.gso and n <= seg and n <= self.gso_max and j < m:
                limit = i + min(GSO_MAX_SEGMENTS, GSO_MAX_BYTES // n)
                while j < m and j < limit:
                    b2, a2, s2 = tx[j]
                    k = len(b2)
                    if a2 != addr or k > n or k > s2:
                        break
                    j += 1
                    if k < n:  # only the last datagram of a GSO send may be shorter
                        break
            if self.v6:
                addr = sendable(sock, addr)
            if j - i > 1:
                self._send(b"".join(t[0] for t in tx[i:j]), addr, n)
            else:
                self._send(buf, addr, seg)
            i = j

    def _send(self, buf: bytes | bytearray, addr: tuple[str, int], seg: int) -> None:
        n = len(buf)
        try:
            if n <= seg:
                self.sock.sendto(buf, addr)
                return
            mv = memoryview(buf)
            if self.gso:
                step = min(GSO_MAX_SEGMENTS, GSO_MAX_BYTES // seg) * seg
                opt = [(SOL_UDP, UDP_SEGMENT, seg.to_bytes(2, "little"))]
                try:
                    for off in range(0, n, step):
                        self.sock.sendmsg([mv[off : off + step]], opt, 0, addr)
                    self.gso_sends += -(-n // step)
                    self.gso_datagrams += -(-n // seg)
                    return
                except OSError as e:
                    if e.errno not in (errno.EIO, errno.EINVAL, errno.ENOPROTOOPT, errno.EOPNOTSUPP):
                        raise
                    log.warning("UDP GSO not usable here (%s): sending datagrams one by one", e.strerror)
                    self.gso = False
            for off in range(0, n, seg):
                self.sock.sendto(mv[off : off + seg], addr)
        except BlockingIOError:
            self.drops.count(Drop.TX_BUSY)
        except OSError as e:
            self.drops.count(Drop.TX_TOO_BIG if e.errno == errno.EMSGSIZE else Drop.TX_ERROR)
            log.debug("UDP send to %s: %s", addr, e)

    def stats(self) -> dict[str, object]:
        return {
            "listen": self.listen,
            "gro_receives": self.gro_receives,
            "gro_datagrams": self.gro_datagrams,
            "gso_sends": self.gso_sends,
            "gso_datagrams": self.gso_datagrams,
        }

    def close(self) -> None:
        self.sock.close()
