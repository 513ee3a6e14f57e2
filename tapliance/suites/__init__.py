"""Data-plane cipher suites. Each suite builds one AEAD object per key (built once per keypair, never
per packet) exposing ``encrypt(nonce, data, aad)`` / ``decrypt(nonce, data, aad)``.

The suite id travels in byte 1 of the handshake initiation and is mixed into the handshake hash, so
two peers configured with different suites fail the handshake with a clear ``suite_mismatch`` drop
instead of exchanging undecryptable data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

Buffer = Any  # bytes-like (collections.abc.Buffer is 3.12+)


class Aead(Protocol):
    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...
    def decrypt(self, nonce: bytes, data: Buffer, associated_data: Buffer) -> bytes: ...
    def encrypt_into(self, nonce: bytes, data: Buffer, associated_data: Buffer, buf: Buffer) -> int: ...
    def decrypt_into(self, nonce: bytes, data: Buffer, associated_data: Buffer, buf: Buffer) -> int: ...


# name -> (wire id, constructor)
SUITES: dict[str, tuple[int, Callable[[bytes], Aead]]] = {
    "chacha20-poly1305": (1, ChaCha20Poly1305),
    "aes-256-gcm": (2, AESGCM),
}
SUITE_NAMES = {wire_id: name for name, (wire_id, _) in SUITES.items()}


def suite_id(name: str) -> int:
    return SUITES[name][0]


def make_aead(name: str, key: bytes) -> Aead:
    return SUITES[name][1](key)
