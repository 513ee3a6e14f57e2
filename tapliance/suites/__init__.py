"""The registry of suites: every name a config may give for how a peer's traffic is carried.

A suite is a wire protocol plus its choices: the native protocol with one of its two data AEADs, or a
predecessor's format (a codec, carried by tapliance.proto.legacy). The config's choices, `check-config`,
the Ansible role's ``argument_specs`` (checked by a test) and the docs all read the names from here.

A native suite's id travels in byte 1 of the handshake initiation and is mixed into the handshake
hash, so two peers configured with different suites fail the handshake with a clear
``suite_mismatch`` drop instead of exchanging undecryptable data. Its AEAD object is built once per
key (once per keypair, never per packet).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from tapliance.suites.codec import Codec
from tapliance.suites.otp import Otp
from tapliance.suites.otptunnel import OtpTunnel
from tapliance.suites.quicktun import Nacl0, NaclTai, Raw
from tapliance.suites.salty import Salty
from tapliance.suites.tappet import Tappet
from tapliance.suites.tinytaptunnel import TinyTapTunnel

Buffer = Any  # bytes-like (collections.abc.Buffer is 3.12+)


class Aead(Protocol):
    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...
    def decrypt(self, nonce: bytes, data: Buffer, associated_data: Buffer) -> bytes: ...
    def encrypt_into(self, nonce: bytes, data: Buffer, associated_data: Buffer, buf: Buffer) -> int: ...
    def decrypt_into(self, nonce: bytes, data: Buffer, associated_data: Buffer, buf: Buffer) -> int: ...


@dataclass(frozen=True)
class Suite:
    name: str
    protocol: str  # which wire protocol carries it: "native" or "legacy"
    doc: str  # one line for docs and check-config
    wire_id: int = 0  # native: the suite id in the handshake
    aead: Callable[[bytes], Aead] | None = None  # native: the data AEAD's constructor
    codec: type[Codec] | None = None  # legacy: the codec class

    @property
    def insecure(self) -> str | None:
        """The weakness that makes this suite need ``allow_insecure = true``, in one line (None: none)."""
        return self.codec.insecure if self.codec is not None else None


REGISTRY: dict[str, Suite] = {
    s.name: s
    for s in (
        Suite("chacha20-poly1305", "native", "native protocol, ChaCha20-Poly1305 data", 1, ChaCha20Poly1305),
        Suite("aes-256-gcm", "native", "native protocol, AES-256-GCM data (fast where the CPU has AES-NI)", 2, AESGCM),
        Suite("tinytaptunnel", "legacy", "tinytaptunnel 1.4: HMAC-SHA256, plaintext frames", codec=TinyTapTunnel),
        Suite("quicktun-raw", "legacy", "QuickTun raw: frames as they are", codec=Raw),
        Suite("quicktun-nacl0", "legacy", "QuickTun nacl0: crypto_box with one fixed nonce", codec=Nacl0),
        Suite("quicktun-nacltai", "legacy", "QuickTun nacltai: crypto_box, TAI64NA labels", codec=NaclTai),
        Suite("quicktun-salty", "legacy", "QuickTun salty: crypto_box, ephemeral keys", codec=Salty),
        Suite("tappet", "legacy", "tappet: crypto_box, one key both ways, monotonic nonces", codec=Tappet),
        Suite("otptunnel", "legacy", "OTPTunnel (2013): pad XOR with an MD5 check", codec=OtpTunnel),
        Suite("otp", "legacy", "one-time pad: pad XOR, Poly1305 keyed by fresh pad, no pad byte used twice", codec=Otp),
    )
}
NATIVE = tuple(name for name, s in REGISTRY.items() if s.protocol == "native")
LEGACY = tuple(name for name, s in REGISTRY.items() if s.protocol == "legacy")
PEER_SUITES = ("native", *LEGACY)  # what a [[peer]] may name: "native" is the tunnel's native suite


def suite_id(name: str) -> int:
    return REGISTRY[name].wire_id


def make_aead(name: str, key: bytes) -> Aead:
    ctor = REGISTRY[name].aead
    assert ctor is not None, f"{name} has no data AEAD"
    return ctor(key)
