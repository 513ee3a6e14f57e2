"""tinc 1.0, switch mode (L2), one meta connection a -> b, tinc's default cipher and digest.

RSA keys are made here with ``cryptography`` (PKCS#1 PEM, the format tinc 1.0 reads) so no interactive
``tincd -K`` is needed. tinc-up assigns the tunnel address.
"""

from __future__ import annotations

from pathlib import Path

from ..lab import OVERLAY, SIDES, UNDERLAY, Lab
from .base import Daemons, Tunnel, first_line

PORT = 655


def rsa_pair() -> tuple[bytes, bytes]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    priv = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    return priv, pub


class Tinc(Tunnel):
    name = "tinc"
    label = "tinc 1.0 switch"
    packages = ("tinc",)
    underlay = ("udp", PORT)

    def __init__(self, tcp_only: bool = False) -> None:
        """``tcp_only``: ``TCPOnly = yes``, every packet over the meta connection (TCP)."""
        self.tcp_only = tcp_only
        if tcp_only:
            self.name, self.label, self.underlay = "tinc-tcp", "tinc 1.0 switch TCPOnly", ("tcp", PORT)

    def version(self) -> str:
        return first_line(["tincd", "--version"])

    def describe(self) -> str:
        only = ", TCPOnly = yes" if self.tcp_only else ""
        return f"tincd 1.0 Mode = switch, DeviceType = tap{only}, default Cipher/Digest (blowfish/sha1), MTU 1500"

    def up(self, lab: Lab, work: Path) -> Daemons:
        keys = {s: rsa_pair() for s in SIDES}
        for s in SIDES:
            other = "b" if s == "a" else "a"
            conf = work / f"{self.name}-{s}.d"
            (conf / "hosts").mkdir(parents=True, exist_ok=True)
            (conf / "tinc.conf").write_text(
                f"Name = {s}\nMode = switch\nDeviceType = tap\nInterface = tinc0\nAddressFamily = ipv4\n"
                f"BindToAddress = {UNDERLAY[s]}\n" + (f"ConnectTo = {other}\n" if s == "a" else "")
            )
            for h in SIDES:
                only = "TCPOnly = yes\n" if self.tcp_only else ""
                host = f"Address = {UNDERLAY[h]}\nPort = {PORT}\n{only}\n"
                (conf / "hosts" / h).write_bytes(host.encode() + keys[h][1])
            (conf / "rsa_key.priv").write_bytes(keys[s][0])
            (conf / "rsa_key.priv").chmod(0o600)
            up = conf / "tinc-up"
            up.write_text(f"#!/bin/sh\nip addr add {OVERLAY[s]}/24 dev $INTERFACE\nip link set $INTERFACE up\n")
            up.chmod(0o755)
        argv = {
            s: [
                "tincd",
                "-c",
                str(work / f"{self.name}-{s}.d"),
                "-D",
                "-d",
                "1",
                "--pidfile",
                str(work / f"{self.name}-{s}.d" / "pid"),
            ]
            for s in SIDES
        }
        return self.start_pair(lab, work, argv, "tcp", PORT)
