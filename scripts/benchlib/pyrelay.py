"""Reference only, not a tunnel: the least any Python TAP <-> UDP data path can do.

One frame per read, one datagram per frame, one selector loop: no protocol, no handshake, no offloads,
no batching. ``--aead`` seals each frame with ChaCha20-Poly1305 under a fixed bench key (8-byte counter in
clear + ciphertext + tag; nothing checks replays). The bench runs it beside the real tunnels so that the
per-packet cost of waking a Python process and of one AEAD call is measured in the same run as OpenVPN
and tapliance: it is the floor of the RTT a Python data path can reach on the machine.

    python -m benchlib.pyrelay --tap NAME --address CIDR --listen HOST:PORT --peer HOST:PORT [--aead]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import selectors
import socket
import struct
import subprocess

TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000
MTU = 1400  # a 1414-byte frame + counter + tag + UDP/IP headers fits a 1500-byte underlay unfragmented
KEY = bytes(range(32))  # fixed: this is a measuring instrument, not a VPN
CTR = struct.Struct("<Q")


def hostport(s: str) -> tuple[str, int]:
    host, _, port = s.rpartition(":")
    return host, int(port)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tap", required=True)
    p.add_argument("--address", required=True)
    p.add_argument("--listen", type=hostport, required=True)
    p.add_argument("--peer", type=hostport, required=True)
    p.add_argument("--aead", action="store_true")
    a = p.parse_args()
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", a.tap.encode(), IFF_TAP | IFF_NO_PI))
    for cmd in (["addr", "add", a.address, "dev", a.tap], ["link", "set", a.tap, "mtu", str(MTU), "up"]):
        subprocess.run(["ip", *cmd], check=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(a.listen)
    sock.setblocking(False)
    peer = a.peer
    counter = 0
    if a.aead:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

        aead = ChaCha20Poly1305(KEY)
        nonce = struct.Struct("<4xQ").pack

    def from_tap() -> None:
        nonlocal counter
        while True:
            try:
                frame = os.read(fd, 65536)
            except BlockingIOError:
                return
            if a.aead:
                counter += 1
                frame = CTR.pack(counter) + aead.encrypt(nonce(counter), frame, None)
            with contextlib.suppress(OSError):  # a full buffer drops, as in a tunnel
                sock.sendto(frame, peer)

    def from_udp() -> None:
        while True:
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                return
            if a.aead:
                try:
                    data = aead.decrypt(nonce(CTR.unpack_from(data)[0]), data[8:], None)
                except (InvalidTag, struct.error):
                    continue
            with contextlib.suppress(OSError):
                os.write(fd, data)

    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ, from_tap)
    sel.register(sock, selectors.EVENT_READ, from_udp)
    try:
        while True:
            for key, _ in sel.select():
                key.data()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
