#!/usr/bin/env python3
"""A TCP transfer with a SHA-256 on both ends, for verifying a deployment (standard library only).

transfer.py recv PORT [TIMEOUT]          accept one connection, print JSON {bytes, sha256, peer}
transfer.py send HOST PORT BYTES [TIMEOUT]   connect (retrying), send BYTES pseudo-random bytes,
                                         print JSON {bytes, sha256, local}
"""

import hashlib
import json
import random
import socket
import sys
import time

CHUNK = 65536


def recv(port, timeout):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(1)
    srv.settimeout(timeout)
    conn, peer = srv.accept()
    conn.settimeout(timeout)
    h, n = hashlib.sha256(), 0
    while True:
        b = conn.recv(CHUNK)
        if not b:
            break
        h.update(b)
        n += len(b)
    print(json.dumps({"bytes": n, "sha256": h.hexdigest(), "peer": peer[0]}))


def send(host, port, total, timeout):
    deadline = time.monotonic() + timeout
    while True:
        try:
            s = socket.create_connection((host, port), timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    s.settimeout(timeout)
    rnd = random.Random(total)
    h, left = hashlib.sha256(), total
    while left:
        b = rnd.getrandbits(8 * min(CHUNK, left)).to_bytes(min(CHUNK, left), "little")
        s.sendall(b)
        h.update(b)
        left -= len(b)
    local = s.getsockname()[0]
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    s.close()
    print(json.dumps({"bytes": total, "sha256": h.hexdigest(), "local": local}))


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[:1] == ["recv"]:
        recv(int(a[1]), float(a[2]) if len(a) > 2 else 60)
    elif a[:1] == ["send"]:
        send(a[1], int(a[2]), int(a[3]), float(a[4]) if len(a) > 4 else 60)
    else:
        sys.exit(__doc__)
