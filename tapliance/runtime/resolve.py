"""Name resolution off the event loop: a DNS name (an endpoint like ``vpn.example.net:443``) is looked up in
a short-lived thread, and the answer comes back into the loop through a socket pair, so a slow or dead
resolver never stalls the tunnel. At start, ``resolve_now`` answers synchronously (nothing runs yet)."""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
from collections.abc import Callable

from tapliance.runtime.loop import Poller

Answer = Callable[[list[str], str | None], None]  # addresses (v4 first), or [] and why


def resolve_now(host: str) -> tuple[list[str], str | None]:
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as e:
        return [], str(e.strerror or e)
    addrs = list(dict.fromkeys(str(i[4][0]) for i in infos))
    return sorted(addrs, key=lambda a: ":" in a), None


class Resolver:
    def __init__(self) -> None:
        self._r, self._w = socket.socketpair()
        self._r.setblocking(False)
        self._w.setblocking(False)
        self._done: queue.SimpleQueue[tuple[list[Answer], list[str], str | None]] = queue.SimpleQueue()
        self._waiting: dict[str, list[Answer]] = {}

    def attach(self, poller: Poller) -> None:
        poller.register(self._r.fileno(), self._drain)

    def lookup(self, host: str, answer: Answer) -> None:
        if host in self._waiting:
            self._waiting[host].append(answer)
            return
        answers = self._waiting[host] = [answer]

        def work() -> None:
            addrs, err = resolve_now(host)
            self._done.put((answers, addrs, err))
            with contextlib.suppress(OSError):
                self._w.send(b"x")

        threading.Thread(target=work, name=f"resolve {host}", daemon=True).start()

    def _drain(self, _now: float) -> None:
        with contextlib.suppress(BlockingIOError):
            self._r.recv(4096)
        while not self._done.empty():
            answers, addrs, err = self._done.get()
            for host, waiting in list(self._waiting.items()):
                if waiting is answers:
                    del self._waiting[host]
            for a in answers:
                a(addrs, err)

    def close(self) -> None:
        self._r.close()
        self._w.close()


class NameWatch:
    """Native peers whose endpoint is a DNS name: resolved at start, and again every ``EVERY`` seconds
    while the peer is unreachable (no session, or nothing received for 3 keepalives), so a
    dynamic-DNS site that changed its address is found again. The socket's family decides which
    addresses fit (an IPv4 socket takes A records only)."""

    EVERY = 5.0
    STALE_MIN = 10.0  # unreachable: nothing received for 3 keepalives (at least this long)

    def __init__(self, native: object, names: dict[bytes, object], v6_socket: bool) -> None:
        from tapliance.config import Endpoint
        from tapliance.proto.native.protocol import NativeProtocol

        assert isinstance(native, NativeProtocol)
        self.native = native
        self.names: dict[bytes, Endpoint] = {k: v for k, v in names.items() if isinstance(v, Endpoint)}
        self.v6 = v6_socket
        self.resolver = Resolver()

    def _pick(self, addrs: list[str]) -> str | None:
        fit = [a for a in addrs if self.v6 or ":" not in a]
        return fit[0] if fit else None

    def start(self) -> None:
        import logging

        for key, ep in self.names.items():
            addrs, err = resolve_now(ep.host)
            addr = self._pick(addrs)
            if addr is None:
                logging.getLogger("tapliance").warning(
                    "peer endpoint %s: cannot resolve (%s); trying again every %.0f s",
                    ep,
                    err or "no usable address",
                    self.EVERY,
                )
            else:
                self._set(key, addr, ep.port)

    def attach(self, poller: Poller) -> None:
        self.resolver.attach(poller)
        poller.every(self.EVERY, self.check)

    def check(self, now: float) -> None:
        for key, ep in self.names.items():
            peer = self.native.peers[key]
            stale = max(self.STALE_MIN, 3 * peer.keepalive)
            fresh = peer.usable(now, self.native.reject_after) is not None and now - peer.last_received < stale
            if not fresh:
                self.resolver.lookup(ep.host, self._answer(key, ep.port))

    def _answer(self, key: bytes, port: int) -> Answer:
        def found(addrs: list[str], _err: str | None) -> None:
            addr = self._pick(addrs)
            if addr is not None:
                self._set(key, addr, port)

        return found

    def _set(self, key: bytes, host: str, port: int) -> None:
        import logging

        peer = self.native.peers[key]
        if peer.endpoint != (host, port):
            logging.getLogger("tapliance").info(
                "peer %s: endpoint %s resolves to %s", peer.name, self.names[key], f"{host}:{port}"
            )
            peer.endpoint = (host, port)
            peer.endpoint_changes += 1

    def flush(self) -> None:
        pass

    def stats(self) -> None:
        return None

    def close(self) -> None:
        self.resolver.close()
