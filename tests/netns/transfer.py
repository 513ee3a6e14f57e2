"""A TCP transfer with a checksum on both ends (run inside namespaces):

python transfer.py recv PORT            -> prints "<bytes> <sha256>" of everything received
python transfer.py send HOST PORT BYTES -> sends BYTES pseudo-random bytes, prints "<bytes> <sha256>"
"""

from __future__ import annotations

import hashlib
import random
import socket
import sys


def recv(port: int) -> None:
    srv = socket.create_server(("", port), family=socket.AF_INET)
    srv.settimeout(60)
    print("listening", flush=True)
    conn, _ = srv.accept()
    conn.settimeout(60)
    h, n = hashlib.sha256(), 0
    while data := conn.recv(1 << 16):
        h.update(data)
        n += len(data)
    print(n, h.hexdigest(), flush=True)


def send(host: str, port: int, total: int) -> None:
    rnd = random.Random(total)
    s = socket.create_connection((host, port), timeout=60)
    h, n = hashlib.sha256(), 0
    while n < total:
        chunk = rnd.randbytes(min(1 << 16, total - n))
        s.sendall(chunk)
        h.update(chunk)
        n += len(chunk)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    s.close()
    print(n, h.hexdigest(), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "recv":
        recv(int(sys.argv[2]))
    else:
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
