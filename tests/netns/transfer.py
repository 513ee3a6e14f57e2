"""A TCP transfer with a checksum on both ends (run inside namespaces):

python transfer.py recv PORT            -> prints "<bytes> <sha256>" of everything received
python transfer.py send HOST PORT BYTES -> sends BYTES pseudo-random bytes, prints "<bytes> <sha256>"

and ``transfer()``, which the netns tests call: both ends started in their namespaces, the hashes compared.
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


def transfer(src_ns: str, dst_ns: str, dst_ip: str, nbytes: int, port: int = 5001, timeout: float = 120) -> float:
    """``nbytes`` over TCP from ``src_ns`` to ``dst_ip`` (in ``dst_ns``), sha256 compared at both ends;
    returns the seconds it took."""
    import subprocess
    import time

    from tapliance.lab import netns

    rx = subprocess.Popen(
        ["ip", "netns", "exec", dst_ns, sys.executable, __file__, "recv", str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert rx.stdout is not None and rx.stdout.readline().strip() == "listening"
        t0 = time.monotonic()
        tx = netns.ns_exec(src_ns, [sys.executable, __file__, "send", dst_ip, str(port), str(nbytes)], timeout=timeout)
        took = time.monotonic() - t0
        out_rx, _ = rx.communicate(timeout=60)
    finally:
        if rx.poll() is None:
            rx.kill()
            rx.wait()
    sent = tx.stdout.decode().split()
    assert sent[0] == str(nbytes)
    assert out_rx.split() == sent, "sha256 differs across the tunnel"
    return took


if __name__ == "__main__":
    if sys.argv[1] == "recv":
        recv(int(sys.argv[2]))
    else:
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
