"""A load generator for the hub benchmark: N tapliance clients in one process, built on the sans-IO core
(the real protocol, the real handshake, cookies included) over real UDP sockets, one per client, no TAP.

    python -m benchlib.loadgen --hub 10.98.0.2:9123 --hub-key KEY --keys FILE --listen 10.98.0.1 \\
        --out FILE [--keepalive 25]

``--keys``: a JSON list of base64 private keys (the hub's config lists their public keys). Runs until
SIGTERM; writes ``--out`` (JSON) whenever a client's handshake completes: ``{"started": t, "up": {i: t}}``
with times on the monotonic clock of this process.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import socket
import time
from pathlib import Path

from tapliance import keyfile
from tapliance.assembly import native_params
from tapliance.config import TunnelConfig
from tapliance.proto.events import HandshakeCompleted
from tapliance.proto.native.peer import PeerSpec
from tapliance.proto.native.protocol import NativeProtocol
from tapliance.proto.node import Node
from tapliance.proto.protocol import Context


def _client(private: bytes, hub: tuple[str, int], hub_key: bytes, keepalive: float, now: float) -> Node:
    ctx = Context(os.urandom, time.time() - now)
    proto = NativeProtocol(ctx, native_params(TunnelConfig(), offload=False), static_private=private,
                           peers=[PeerSpec(hub_key, "hub", hub, None, keepalive)], now=now)  # fmt: skip
    return Node(ctx, [proto], tap_vnet=False)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--hub", required=True)
    p.add_argument("--hub-key", required=True)
    p.add_argument("--keys", type=Path, required=True)
    p.add_argument("--listen", required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--keepalive", type=float, default=25.0)
    a = p.parse_args()
    host, port = a.hub.rsplit(":", 1)
    hub, hub_key = (host, int(port)), keyfile.decode(a.hub_key)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    now = time.monotonic()
    privates = [keyfile.decode(k) for k in json.loads(a.keys.read_text())]
    nodes, socks = [], []
    ep = select.epoll()
    for priv in privates:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((a.listen, 0))
        s.setblocking(False)
        socks.append(s)
        nodes.append(_client(priv, hub, hub_key, a.keepalive, now))
        ep.register(s.fileno(), select.EPOLLIN)
    by_fd = {s.fileno(): i for i, s in enumerate(socks)}
    up: dict[str, float] = {}
    state = {"started": now, "up": up}
    deadlines = [n.on_timer(now) for n in nodes]
    while not stop:
        for fd, _ in ep.poll(max(0.0, min(deadlines) - time.monotonic())):
            i = by_fd[fd]
            while True:
                try:
                    data, src = socks[i].recvfrom(2048)
                except BlockingIOError:
                    break
                nodes[i].protocols[0].on_datagram(data, src, time.monotonic())  # type: ignore[attr-defined]
        t = time.monotonic()
        for i, n in enumerate(nodes):
            if t >= deadlines[i]:
                deadlines[i] = n.on_timer(t)
            proto = n.protocols[0]
            for buf, dst, seg in proto.tx:  # type: ignore[attr-defined]
                for off in range(0, len(buf), seg):
                    socks[i].sendto(buf[off : off + seg], dst)
            proto.tx.clear()  # type: ignore[attr-defined]
            if n.events:
                if any(isinstance(e, HandshakeCompleted) for e in n.events) and str(i) not in up:
                    up[str(i)] = t
                    a.out.write_text(json.dumps(state))
                n.events.clear()


if __name__ == "__main__":
    main()
