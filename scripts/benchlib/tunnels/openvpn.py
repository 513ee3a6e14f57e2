"""OpenVPN 2.6, tap mode, peer-to-peer TLS with AES-256-GCM data channel.

Static-key mode cannot use AEAD ciphers, so this runs TLS: each side gets a self-signed P-256
certificate made here (offline, with ``cryptography``) and pins the other's SHA-256 fingerprint
(``--peer-fingerprint``, no CA). DCO is disabled explicitly (it has no tap mode anyway). Everything else
is OpenVPN's default for tap: tun-mtu 1500, so datagrams above the underlay MTU are IP-fragmented,
which is how tap deployments with a 1500-byte L2 MTU run.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

from ..lab import OVERLAY, SIDES, UNDERLAY, BenchError, Lab
from .base import Daemons, Tunnel, first_line

PORT = 1194


def self_signed(cn: str, key_path: Path, cert_path: Path) -> str:
    """Write a key and self-signed cert; return the cert's SHA-256 fingerprint as AA:BB:..."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


class OpenVpn(Tunnel):
    name = "openvpn"
    label = "OpenVPN tap AES-256-GCM"
    packages = ("openvpn",)
    underlay = ("udp", PORT)

    def __init__(self, tcp: bool = False) -> None:
        """``tcp``: over TCP (``--proto tcp-server`` on b, ``tcp-client`` on a), where only TCP gets through."""
        self.tcp = tcp
        if tcp:
            self.name, self.label, self.underlay = "openvpn-tcp", "OpenVPN tap TCP AES-256-GCM", ("tcp", PORT)

    def version(self) -> str:
        return first_line(["openvpn", "--version"])

    def describe(self) -> str:
        over = ", --proto tcp-server/tcp-client" if self.tcp else ""
        return (
            f"openvpn 2.6 --dev-type tap{over}, p2p TLS (self-signed + --peer-fingerprint), --data-ciphers AES-256-GCM"
        )

    def up(self, lab: Lab, work: Path) -> Daemons:
        fp = {s: self_signed(f"bench-{s}", work / f"ovpn-{s}.key", work / f"ovpn-{s}.crt") for s in SIDES}
        argv = {}
        for s in SIDES:
            other = "b" if s == "a" else "a"
            role = ["--tls-client"] if s == "a" else ["--tls-server", "--dh", "none"]
            proto = ("tcp-client" if s == "a" else "tcp-server") if self.tcp else "udp"
            argv[s] = [
                "openvpn",
                "--dev",
                "ovpn0",
                "--dev-type",
                "tap",
                "--proto",
                proto,
                "--disable-dco",
                "--local",
                UNDERLAY[s],
                "--lport",
                str(PORT),
                "--remote",
                UNDERLAY[other],
                "--rport",
                str(PORT),
                "--ifconfig",
                OVERLAY[s],
                "255.255.255.0",
                *role,
                "--cert",
                str(work / f"ovpn-{s}.crt"),
                "--key",
                str(work / f"ovpn-{s}.key"),
                "--peer-fingerprint",
                fp[other],
                "--data-ciphers",
                "AES-256-GCM",
                "--verb",
                "3",
                "--script-security",
                "1",
            ]
        d = self.start_pair(lab, work, argv, "tcp" if self.tcp else "udp", PORT)
        got = re.findall(r"Data Channel: cipher '([^']+)'", (work / f"{self.name}-a.log").read_text(errors="replace"))
        if got and got[-1] != "AES-256-GCM":
            self.down(lab, d)
            raise BenchError(f"data channel negotiated {got[-1]}, not AES-256-GCM")
        return d
