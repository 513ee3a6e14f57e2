"""The registry of suites: every name a config may give for how a peer's traffic is carried.

A suite is a wire protocol plus its choices. Today there are the native protocol's two data AEADs;
the predecessors' formats join here as further entries. The config's choices, `check-config`, the
Ansible role's ``argument_specs`` (checked by a test) and the docs all read the names from here.

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

Buffer = Any  # bytes-like (collections.abc.Buffer is 3.12+)


class Aead(Protocol):
    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...
    def decrypt(self, nonce: bytes, data: Buffer, associated_data: Buffer) -> bytes: ...
    def encrypt_into(self, nonce: bytes, data: Buffer, associated_data: Buffer, buf: Buffer) -> int: ...
    def decrypt_into(self, nonce: bytes, data: Buffer, associated_data: Buffer, buf: Buffer) -> int: ...


@dataclass(frozen=True)
class Suite:
    name: str
    protocol: str  # which wire protocol carries it
    doc: str  # one line for docs and check-config
    wire_id: int = 0  # native: the suite id in the handshake
    aead: Callable[[bytes], Aead] | None = None  # native: the data AEAD's constructor


REGISTRY: dict[str, Suite] = {
    s.name: s
    for s in (
        Suite("chacha20-poly1305", "native", "native protocol, ChaCha20-Poly1305 data", 1, ChaCha20Poly1305),
        Suite("aes-256-gcm", "native", "native protocol, AES-256-GCM data (fast where the CPU has AES-NI)", 2, AESGCM),
    )
}
NATIVE = tuple(name for name, s in REGISTRY.items() if s.protocol == "native")


def suite_id(name: str) -> int:
    return REGISTRY[name].wire_id


def make_aead(name: str, key: bytes) -> Aead:
    ctor = REGISTRY[name].aead
    assert ctor is not None, f"{name} has no data AEAD"
    return ctor(key)
